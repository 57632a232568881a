"""What chainrule train asks of the estimators: a cosine learning-rate schedule, a regressor's
validation RMSE in the targets' units, a classifier's mean loss on given rows, and compile."""
import numpy
import pytest
from sklearn import datasets
from sklearn.metrics import log_loss

from chainrule.models import LinearRegression, MLPClassifier, MLPRegressor, SoftmaxRegression

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def iris():
    X, y = datasets.load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[::2], y[::2], X[1::2], y[1::2]


def test_a_cosine_schedule_lowers_the_rate_to_zero_over_the_epochs():
    X, y, _, _ = iris()
    constant = SoftmaxRegression(epochs=4, n_iter_no_change=None).fit(X, y)
    cosine = SoftmaxRegression(epochs=4, n_iter_no_change=None, lr_schedule="cosine").fit(X, y)
    # epoch 1 runs at the full rate in both, the later ones at a lower rate with the schedule
    assert cosine.history_["loss"][0] == constant.history_["loss"][0]
    assert cosine.history_["loss"][-1] != constant.history_["loss"][-1]
    assert cosine._optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert constant._optimizer.param_groups[0]["lr"] == 0.1


def test_an_unknown_schedule_is_refused_naming_the_argument():
    X, y, _, _ = iris()
    with pytest.raises(ValueError, match="lr_schedule must be 'constant' or 'cosine', not 'step'"):
        SoftmaxRegression(epochs=1, lr_schedule="step").fit(X, y)


@pytest.mark.parametrize("estimator", [
    LinearRegression(epochs=5, n_iter_no_change=None),
    MLPRegressor(hidden=(8,), epochs=5, n_iter_no_change=None),
])
def test_a_regressors_validation_rmse_is_in_the_targets_units(estimator):
    X, y = datasets.load_diabetes(return_X_y=True)
    y = 1000 * y  # thousands: an RMSE in standardised units would be near 1
    model = estimator.fit(X[:300], y[:300], validation=(X[300:], y[300:]))
    best = model.history_.records[model.history_.best_epoch - 1]
    rmse = numpy.sqrt(numpy.mean((model.predict(X[300:]) - y[300:]) ** 2))
    assert best["val_rmse"] == pytest.approx(rmse, rel=1e-5)
    assert best["val_rmse"] > 1000


def test_a_classifiers_log_loss_is_its_mean_cross_entropy():
    X, y, X_val, y_val = iris()
    model = SoftmaxRegression(epochs=5, n_iter_no_change=None).fit(X, y,
                                                                   validation=(X_val, y_val))
    assert model.log_loss(X_val, y_val) == pytest.approx(
        log_loss(y_val, model.predict_proba(X_val)), rel=1e-5)
    best = model.history_.records[model.history_.best_epoch - 1]  # the weights fit keeps
    assert model.log_loss(X_val, y_val) == best["val_loss"]


def test_a_regressor_learns_the_targets_a_standardizer_of_the_default_dtype_makes():
    """chainrule train's regressors learned Standardizer-scaled float32 targets before they were
    built on the estimators; the same targets bit for bit keep its published numbers."""
    from chainrule.data import Standardizer

    y = numpy.random.default_rng(0).lognormal(11, 0.6, size=(997, 1)) + 0.1
    model = MLPRegressor(hidden=(4,), epochs=1)
    model._fit_target_scaling(y)
    expected = Standardizer().fit(y.astype(numpy.float32)).transform(y.astype(numpy.float32))
    scaled = model._scaled(y)
    assert scaled.dtype == numpy.float32 and numpy.array_equal(scaled, expected)
    # the float64 rule, rounded once at the end, differs in the last bit on many rows: the test
    # could fail
    assert not numpy.array_equal(((y - y.mean()) / y.std()).astype(numpy.float32), expected)


def test_compile_false_set_and_cloned_fits_eagerly_to_the_compiled_weights_bit_for_bit():
    from sklearn.base import clone

    X, y, _, _ = iris()
    compiled = MLPClassifier(hidden=(8,), dropout=0.2, epochs=3, batch_size=16).fit(X, y)
    eager = clone(MLPClassifier(hidden=(8,), dropout=0.2, epochs=3, batch_size=16)
                  .set_params(compile=False))
    assert eager.get_params()["compile"] is False
    eager.fit(X, y)
    assert compiled.history_.compiled is True and eager.history_.compiled is False
    for kept, learned in zip(compiled.module_.parameters(), eager.module_.parameters()):
        numpy.testing.assert_array_equal(learned.data, kept.data)


def test_partial_fit_steps_eagerly_whatever_compile_says():
    X, y, _, _ = iris()
    model = MLPClassifier(hidden=(8,), batch_size=16)
    model.partial_fit(X, y, classes=[0, 1, 2])
    assert model.compile is True and model.history_.compiled is False
