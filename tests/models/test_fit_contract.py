"""What a fit leaves behind when it fails, and what a continued fit (``warm_start``,
``partial_fit``) refuses rather than silently mixing with what the estimator learned before."""
import numpy
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import NotFittedError

from chainrule.errors import DataError
from chainrule.models import LinearRegression, MLPClassifier, SoftmaxRegression

# The fits here are short on purpose; their ConvergenceWarnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.mark.parametrize("bad_setting", [{"optimizer": "rmsprop"}, {"lr_schedule": "cos"},
                                         {"lr": -1.0}])
def test_a_refit_that_fails_on_a_setting_leaves_the_estimator_unfitted(iris, bad_setting):
    # The settings are checked after the new untrained weights replaced the fitted ones: the
    # estimator must not go on predicting with those (it scored 0.32 here, against 0.9 before).
    X, y = iris
    model = SoftmaxRegression(epochs=30).fit(X, y)
    with pytest.raises(ValueError):
        model.set_params(**bad_setting).fit(X, y)
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_a_refit_that_fails_does_not_pair_the_new_labels_with_the_old_weights(iris):
    X, y = iris
    model = MLPClassifier(hidden=(8,), epochs=30).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        model.set_params(activation="swish").fit(X, numpy.array(["a", "b", "c"])[y])
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_a_closed_form_refit_that_fails_leaves_the_estimator_unfitted_as_sgd_ones_do():
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression(solver="lstsq").fit(X, y)
    with pytest.raises(ValueError):
        model.fit(X, numpy.stack([y, y, y], axis=1)[:, :, None])  # 3-D targets: refused
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_partial_fit_refuses_classes_other_than_those_it_was_fitted_with(iris):
    X, y = iris
    model = SoftmaxRegression().partial_fit(X, y, classes=[0, 1, 2])
    model.partial_fit(X, y, classes=[2, 1, 0])  # the same classes, in any order
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2, 3\] differ from the classes it was "
                                         r"fitted with \(0, 1, 2\)"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])
    assert list(model.classes_) == [0, 1, 2] and model.n_iter_ == 2


@pytest.mark.parametrize("first_columns, then_columns", [(2, 1), (1, 2)])
@pytest.mark.parametrize("continue_fit", ["partial_fit", "warm_start"])
def test_a_continued_regression_refuses_another_number_of_target_columns(
        first_columns, then_columns, continue_fit):
    # One column after two broadcast over both outputs and trained each on it, silently.
    X, y = load_diabetes(return_X_y=True)
    targets = {1: y, 2: numpy.stack([y, -y], axis=1)}
    model = LinearRegression(epochs=3, warm_start=continue_fit == "warm_start")
    model.fit(X, targets[first_columns])
    again = model.partial_fit if continue_fit == "partial_fit" else model.fit
    with pytest.raises(DataError, match=f"y has {then_columns} target column\\(s\\), but the "
                                        f"fitted model that warm_start or partial_fit continues "
                                        f"has {first_columns}"):
        again(X, targets[then_columns])


def test_a_single_hidden_size_is_one_hidden_layer_as_in_scikit_learn(iris):
    X, y = iris
    model = MLPClassifier(hidden=8, epochs=2).fit(X, y)  # was: "Value after * must be an iterable"
    assert [layer.weight.shape for layer in model.module_.modules()
            if hasattr(layer, "weight")] == [(8, 4), (3, 8)]
