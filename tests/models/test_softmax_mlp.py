"""SoftmaxRegression and the MLP estimators on small bundled datasets."""
import numpy
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from chainrule import estimators
from chainrule.errors import DataError
from chainrule.models import MLPClassifier, MLPRegressor, SoftmaxRegression

# Several fits here are short on purpose; their ConvergenceWarnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def test_softmax_regression_reaches_the_multinomial_optimum(iris):
    X, y = iris
    n = len(X)
    theirs = SklearnLogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(X, y)
    ours = SoftmaxRegression(alpha=1 / n, lr=0.5, momentum=0.9, epochs=400,
                             batch_size=None, n_iter_no_change=None).fit(X, y)
    numpy.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=2e-3)


def test_mlp_classifier_fits_iris(iris):
    X, y = iris
    model = MLPClassifier(hidden=(16,), lr=0.01, epochs=40, batch_size=16).fit(X, y)
    assert model.score(X, y) >= 0.95
    assert model.predict_proba(X[:3]).shape == (3, 3)


def test_mlp_classifier_records_validation_accuracy(iris):
    X, y = iris
    model = MLPClassifier(hidden=(8,), epochs=3).fit(X[::2], y[::2], validation=(X[1::2], y[1::2]))
    assert len(model.history_["val_accuracy"]) == 3
    assert all(0 <= value <= 1 for value in model.history_["val_accuracy"])


def test_unseen_validation_label_names_it(iris):
    X, y = iris
    with pytest.raises(DataError, match="label 7 was not among the classes"):
        MLPClassifier(epochs=1).fit(X, y, validation=(X[:2], [0, 7]))


def test_mlp_regressor_fits_a_smooth_function():
    rng = numpy.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(256, 1))
    y = numpy.sin(X[:, 0])
    model = MLPRegressor(hidden=(32,), activation="tanh", lr=0.01, epochs=150, batch_size=32)
    assert model.fit(X, y).score(X, y) > 0.98
    assert model.predict(X).shape == (256,)


def test_scikit_learn_tools_clone_and_cross_validate_the_estimators():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(lr=0.5, epochs=30)
    assert clone(model).get_params() == model.get_params()
    scores = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=3)
    assert scores.min() > 0.8


class TrainingReached(Exception):
    """Raised in place of training, carrying the parameters ``fit`` built to train."""


def initial_parameters(estimator, n_features: int, monkeypatch) -> dict:
    """The parameters ``fit`` starts from, as ``training.fit`` receives them (it stops there)."""
    def stop_before_training(module, *args, **kwargs):
        raise TrainingReached({name: parameter.data.astype(numpy.float64)
                               for name, parameter in module.named_parameters()})

    monkeypatch.setattr(estimators.training, "fit", stop_before_training)
    rng = numpy.random.default_rng(0)
    X, y = rng.normal(size=(40, n_features)), numpy.arange(40) % 3
    with pytest.raises(TrainingReached) as reached:
        estimator.set_params(epochs=1).fit(X, y)
    return reached.value.args[0]


@pytest.mark.parametrize("activation, factor", [("relu", 6), ("tanh", 6), ("sigmoid", 2)])
def test_mlp_default_init_is_scikit_learns_glorot_uniform_for_weights_and_biases(
        activation, factor, monkeypatch):
    parameters = initial_parameters(MLPClassifier(hidden=(300,), activation=activation), 500,
                                    monkeypatch)
    fans = {"0": (500, 300), "2": (300, 3)}
    for name, values in parameters.items():
        fan_in, fan_out = fans[name.split(".")[0]]
        bound = numpy.sqrt(factor / (fan_in + fan_out))
        assert numpy.abs(values).max() <= bound * (1 + 1e-6), name
        if values.size >= 300:  # U(±b): the draws reach the edges and their variance is b²/3
            assert numpy.abs(values).max() > 0.95 * bound, name
            assert values.var() == pytest.approx(bound ** 2 / 3, rel=0.2), name
    # 150,000 draws: the standard error of their variance is 0.2% of it
    assert parameters["0.weight"].var() == pytest.approx(numpy.sqrt(factor / 800) ** 2 / 3,
                                                         rel=0.01)


def test_mlp_init_nn_mlp_keeps_he_normal_weights_and_zero_biases(monkeypatch):
    parameters = initial_parameters(MLPClassifier(hidden=(300,), init="nn.MLP"), 500, monkeypatch)
    assert parameters["0.weight"].std() == pytest.approx(numpy.sqrt(2 / 500), rel=0.01)
    assert numpy.abs(parameters["0.weight"]).max() > 3 * numpy.sqrt(2 / 500)  # normal, not U
    assert not parameters["0.bias"].any() and not parameters["2.bias"].any()


def test_mlp_unknown_init_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="init must be 'glorot' or 'nn.MLP', not 'he'"):
        MLPRegressor(init="he", epochs=1).fit(numpy.zeros((4, 2)), numpy.zeros(4))
