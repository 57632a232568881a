"""The estimators' defaults on small bundled datasets against scikit-learn's, and the parts of
scikit-learn's API that its own checks (tests/test_estimator_checks.py) leave implicit."""
import warnings

import numpy
import pytest
from sklearn import datasets
from sklearn import linear_model as sklearn_linear
from sklearn import neural_network as sklearn_mlp
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from chainrule.models import (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor,
                              SoftmaxRegression)

# Several fits here are short on purpose; their ConvergenceWarnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def split(name: str, classification: bool):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y if classification else None)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.mark.parametrize("name, ours, theirs", [
    ("iris", MLPClassifier(), sklearn_mlp.MLPClassifier(random_state=0)),
    ("iris", SoftmaxRegression(), sklearn_linear.LogisticRegression()),
    ("wine", MLPClassifier(), sklearn_mlp.MLPClassifier(random_state=0)),
    ("wine", SoftmaxRegression(), sklearn_linear.LogisticRegression()),
    ("breast_cancer", MLPClassifier(), sklearn_mlp.MLPClassifier(random_state=0)),
    ("breast_cancer", LogisticRegression(), sklearn_linear.LogisticRegression()),
    ("diabetes", MLPRegressor(), sklearn_mlp.MLPRegressor(random_state=0)),
    ("diabetes", LinearRegression(), sklearn_linear.LinearRegression()),
], ids=lambda value: value if isinstance(value, str) else type(value).__name__)
def test_defaults_score_within_two_points_of_scikit_learns_defaults(name, ours, theirs):
    X_train, X_test, y_train, y_test = split(name, name != "diabetes")
    ours_score = ours.fit(X_train, y_train).score(X_test, y_test)
    theirs_score = theirs.fit(X_train, y_train).score(X_test, y_test)
    assert ours_score >= theirs_score - 0.02


def test_mlp_regressor_learns_standardised_targets_and_predicts_in_their_units():
    X_train, X_test, y_train, y_test = split("diabetes", False)
    prices = 1000 * y_train + 250_000               # targets far from unit size
    model = MLPRegressor(hidden=(32,), epochs=100).fit(X_train, prices)
    assert model.target_mean_ == pytest.approx([prices.mean()])
    assert model.target_scale_ == pytest.approx([prices.std()])
    assert model.score(X_test, 1000 * y_test + 250_000) > 0   # better than the mean
    small = MLPRegressor(hidden=(32,), epochs=100).fit(X_train, y_train)
    numpy.testing.assert_allclose(model.predict(X_test), 1000 * small.predict(X_test) + 250_000,
                                  rtol=1e-4)


def test_a_fit_cut_short_warns_that_it_has_not_converged():
    X_train, _, y_train, _ = split("iris", True)
    with pytest.warns(ConvergenceWarning, match="still falling after 3 epochs"):
        MLPClassifier(epochs=3).fit(X_train, y_train)


def test_a_converged_fit_stops_early_without_a_warning():
    X_train, _, y_train, _ = split("diabetes", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LinearRegression().fit(X_train, y_train)
    assert model.history_.stopped_early and model.n_iter_ < model.epochs


def test_predict_before_fit_raises_not_fitted_error():
    with pytest.raises(NotFittedError):
        SoftmaxRegression().predict(numpy.zeros((2, 3)))


def test_the_binary_classifier_has_scikit_learns_coefficient_shapes():
    X_train, _, y_train, _ = split("breast_cancer", True)
    model = LogisticRegression(epochs=5).fit(X_train, y_train)
    assert model.coef_.shape == (1, 30) and model.intercept_.shape == (1,)
    theirs = sklearn_linear.LogisticRegression().fit(X_train, y_train)
    assert theirs.coef_.shape == model.coef_.shape


def test_probabilities_of_huge_logits_do_not_overflow():
    X = numpy.array([[-1.0], [1.0]] * 10)
    model = LogisticRegression(epochs=2).fit(X, [0, 1] * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        probabilities = model.predict_proba(numpy.array([[-1e6], [1e6]]))
    numpy.testing.assert_array_equal(probabilities.argmax(axis=1), [0, 1])
    assert numpy.isfinite(probabilities).all()


def test_hyper_parameters_are_keyword_only():
    with pytest.raises(TypeError):
        LogisticRegression(0.1)


def test_partial_fit_continues_one_epoch_at_a_time():
    X_train, _, y_train, _ = split("iris", True)
    model = SoftmaxRegression()
    with pytest.raises(ValueError, match="first call needs classes="):
        model.partial_fit(X_train, y_train)
    model.partial_fit(X_train[:20], y_train[:20], classes=[0, 1, 2])
    first_loss = model.history_["loss"][0]
    for _ in range(5):
        model.partial_fit(X_train, y_train)
    assert model.n_iter_ == 6 and model.history_["loss"][0] < first_loss
    assert list(model.classes_) == [0, 1, 2]


def test_warm_start_continues_from_the_fitted_weights():
    X_train, _, y_train, _ = split("diabetes", False)
    cold = MLPRegressor(hidden=(8,), epochs=5).fit(X_train, y_train)
    warm = MLPRegressor(hidden=(8,), epochs=5, warm_start=True).fit(X_train, y_train)
    first_weights = warm.module_.state_dict()["0.weight"].data.copy()
    warm.fit(X_train, y_train)
    assert warm.n_iter_ == 10
    assert not numpy.array_equal(warm.module_.state_dict()["0.weight"].data, first_weights)
    assert warm.history_["loss"][0] < cold.history_["loss"][0]
    assert cold.fit(X_train, y_train).n_iter_ == 5   # without warm_start, fit starts again


def test_random_state_none_draws_a_fresh_seed():
    X_train, _, y_train, _ = split("iris", True)
    first = SoftmaxRegression(epochs=1, random_state=None).fit(X_train, y_train)
    second = SoftmaxRegression(epochs=1, random_state=None).fit(X_train, y_train)
    assert not numpy.array_equal(first.coef_, second.coef_)
