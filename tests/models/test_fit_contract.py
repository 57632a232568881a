"""What a fit leaves behind when it fails, and what a continued fit (``warm_start``,
``partial_fit``) refuses rather than silently mixing with what the estimator learned before."""
import re
import warnings

import numpy
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError

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
                                        f"model is fitted on {first_columns}"):
        again(X, targets[then_columns])


def test_a_single_hidden_size_is_one_hidden_layer_as_in_scikit_learn(iris):
    X, y = iris
    model = MLPClassifier(hidden=8, epochs=2).fit(X, y)  # was: "Value after * must be an iterable"
    assert [layer.weight.shape for layer in model.module_.modules()
            if hasattr(layer, "weight")] == [(8, 4), (3, 8)]


def test_validation_data_with_nan_is_refused_by_that_name(iris):
    X, y = iris
    X_val = X.copy()
    X_val[3, 2] = numpy.nan  # fit's X is clean: a message naming "X" would send the user there
    with pytest.raises(DataError, match="validation X has 1 NaN or infinite values, the first at "
                                        "row 3, column 2$"):
        SoftmaxRegression(epochs=2).fit(X, y, validation=(X_val, y))


def test_validation_rows_and_labels_of_different_counts_are_refused_by_that_name(iris):
    X, y = iris
    with pytest.raises(DataError, match=r"validation=\(X_val, y_val\): Found input variables with "
                                        r"inconsistent numbers of samples: \[10, 150\]"):
        SoftmaxRegression(epochs=2).fit(X, y, validation=(X[:10], y))


def test_regression_validation_targets_are_checked_before_training():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(DataError, match="validation y has 1 NaN or infinite values"):
        LinearRegression(epochs=2).fit(X, y, validation=(X, numpy.where(y == y.max(), numpy.nan,
                                                                        y)))
    # One validation column against a model of two was broadcast: both outputs were scored
    # against the first column, and training stopped on that score.
    with pytest.raises(DataError, match=r"validation y has 1 target column\(s\), but the model "
                                        r"is fitted on 2"):
        LinearRegression(epochs=2).fit(X, numpy.stack([y, -y], axis=1), validation=(X, y))


def test_a_value_beyond_float32s_range_is_refused_as_such(iris):
    X, y = iris
    X = X.copy()
    X[4, 1] = 1e40  # finite in float64; the estimators learn in float32, where it is inf
    with pytest.warns(RuntimeWarning, match="overflow"):  # NumPy's, from the cast
        with pytest.raises(DataError, match=r"X has 1 NaN or infinite values, the first at row "
                                            r"4, column 1 \(inf as float32: it may be a finite "
                                            r"number beyond ±3.4e\+38\)$"):
            SoftmaxRegression(epochs=2).fit(X, y)


def test_log_loss_refuses_rows_and_labels_of_different_counts(iris):
    X, y = iris
    model = SoftmaxRegression(epochs=2).fit(X, y)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[10, 150\]"):
        model.log_loss(X[:10], y)


def test_a_convergence_warning_made_an_error_leaves_the_fitted_model(iris):
    # It is raised once training has finished: the model is whole, as scikit-learn's would be.
    X, y = iris
    model = SoftmaxRegression(epochs=2, n_iter_no_change=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            model.fit(X, y)
    assert model.predict(X).shape == (150,) and model.n_iter_ == 2


@pytest.mark.parametrize("change", [{"hidden": (16,)}, {"activation": "tanh"},
                                    {"dropout": 0.5}, {"init": "nn.MLP"}])
@pytest.mark.parametrize("continued", ["warm_start", "partial_fit"])
def test_a_continued_fit_refuses_a_setting_the_fitted_network_was_built_without(iris, change,
                                                                                continued):
    # the network is built once: a continued fit went on training it with the old layers,
    # activation or dropout, the new setting ignored silently
    X, y = iris
    model = MLPClassifier(hidden=(8,), epochs=5, warm_start=continued == "warm_start")
    model.fit(X, y)
    before = model.predict_proba(X)
    model.set_params(**change)
    (name, value), = change.items()
    with pytest.raises(ValueError, match=re.escape(f"{name}={value!r}, but the fitted network "
                                                   f"was built with {name}=")):
        model.fit(X, y) if continued == "warm_start" else model.partial_fit(X, y)
    numpy.testing.assert_array_equal(model.predict_proba(X), before)  # left as it was
    model.set_params(**{name: MLPClassifier(hidden=(8,)).get_params()[name]})
    model.fit(X, y) if continued == "warm_start" else model.partial_fit(X, y)  # as built: goes on


@pytest.mark.parametrize("same", [[8, 4], numpy.array([8, 4]), (numpy.int64(8), 4)])
def test_a_continued_fit_takes_the_same_layers_written_another_way(iris, same):
    # (8, 4), [8, 4] and an array of them build the same network: nothing changed. The list
    # was refused as a change, and the array ended in NumPy's "truth value ... is ambiguous".
    X, y = iris
    model = MLPClassifier(hidden=(8, 4), epochs=2, warm_start=True).fit(X, y)
    model.set_params(hidden=same)
    model.fit(X, y)
    assert model.n_iter_ == 4


def test_a_continued_fit_takes_one_layer_size_alone_as_its_one_tuple(iris):
    X, y = iris
    model = MLPClassifier(hidden=(8,), epochs=2, warm_start=True).fit(X, y)
    model.set_params(hidden=8)  # one layer of 8, as built
    model.fit(X, y)
    assert model.n_iter_ == 4


def test_a_continued_fit_takes_a_dropout_of_0_for_0_0(iris):
    X, y = iris
    model = MLPClassifier(hidden=(8,), epochs=2, warm_start=True).fit(X, y)  # dropout=0.0
    model.set_params(dropout=0)
    model.fit(X, y)
    assert model.n_iter_ == 4
