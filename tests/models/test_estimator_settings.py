"""Settings that cannot train are refused when ``fit`` starts, naming the setting, as
scikit-learn's own estimators refuse theirs; settings from NumPy (a grid search's) are welcome."""
import math

import numpy
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV

from chainrule.models import LinearRegression, MLPClassifier, SoftmaxRegression

# The fits here are short on purpose; their ConvergenceWarnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


SIZES = r"positive layer sizes, e\.g\. \(256, 256\), or one size"


@pytest.mark.parametrize("make, setting, value, rule", [
    # each of these trained before, silently, on an objective or a method that is not the one
    # its name promises (a negative penalty rewards large weights; a negative dropout was none)
    (SoftmaxRegression, "alpha", -1.0, "a finite number ≥ 0"),
    (MLPClassifier, "dropout", -0.5, r"a probability in \[0, 1\)"),
    (SoftmaxRegression, "momentum", 1.0, r"in \[0, 1\)"),
    (SoftmaxRegression, "tol", -1.0, "a finite number ≥ 0"),
    (SoftmaxRegression, "n_iter_no_change", 0, "None or a whole number ≥ 1"),
    # these failed, but with a message that did not say what was wrong
    (SoftmaxRegression, "lr", math.nan, "a finite number > 0"),             # "try a smaller lr"
    (MLPClassifier, "hidden", 0, SIZES),                                    # ZeroDivisionError
    (MLPClassifier, "hidden", (16, -1), SIZES),                             # "negative dimensions"
    (SoftmaxRegression, "epochs", 2.5, "a whole number ≥ 1"),               # "'float' object …"
])
def test_a_setting_that_cannot_train_is_refused_by_name(iris, make, setting, value, rule):
    X, y = iris
    model = make(epochs=2)
    model.set_params(**{setting: value})
    with pytest.raises(ValueError, match=f"{make.__name__}: {setting} must be {rule}, not "):
        model.fit(X, y)


@pytest.mark.parametrize("make", [SoftmaxRegression, MLPClassifier, LinearRegression])
@pytest.mark.parametrize("lr", [0, 0.0, -0.1, math.inf])
def test_a_learning_rate_that_cannot_learn_is_refused(iris, make, lr):
    # lr=0 kept the initial weights and reported a fit; scikit-learn's MLPClassifier refuses
    # learning_rate_init=0 (an InvalidParameterError, a ValueError) as chainrule's CLI --lr 0 is
    X, y = iris
    with pytest.raises(ValueError, match=f"{make.__name__}: lr must be a finite number > 0, "
                                         f"not {lr!r}"):
        make(epochs=2, lr=lr).fit(X, y)


def test_settings_that_hold_work_as_before(iris):
    X, y = iris
    for settings in ({"batch_size": None}, {"batch_size": "auto"}, {"n_iter_no_change": None},
                     {"hidden": ()}, {"hidden": [4, 4]}, {"lr": numpy.float32(0.01)}):
        assert MLPClassifier(epochs=2, **settings).fit(X, y).n_iter_ == 2


def test_a_grid_search_over_numpy_batch_sizes_runs(iris):
    # a grid of NumPy integers reached the DataLoader, which refused np.int64(16) in every fit
    X, y = iris
    search = GridSearchCV(SoftmaxRegression(epochs=3), {"batch_size": numpy.array([16, 32])},
                          cv=2, error_score="raise").fit(X, y)
    assert search.best_params_["batch_size"] in (16, 32)


def test_linear_regression_has_no_penalty_to_check(iris):
    X, y = iris
    assert LinearRegression(epochs=2).fit(X, X[:, 0]).n_iter_ == 2  # no alpha, no dropout
