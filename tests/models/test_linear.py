"""LinearRegression: the closed form against scikit-learn, and SGD against the closed form."""
import numpy
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression as SklearnLinearRegression

from chainrule.models import LinearRegression


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, (y - y.mean()) / y.std()


def test_closed_form_matches_scikit_learn(diabetes):
    X, y = diabetes
    ours = LinearRegression(solver="lstsq").fit(X, y)
    theirs = SklearnLinearRegression().fit(X, y)
    numpy.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-5)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-5)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=1e-6)


def test_sgd_reaches_the_closed_form_loss(diabetes):
    X, y = diabetes
    closed = LinearRegression(solver="lstsq").fit(X, y)
    sgd = LinearRegression(lr=0.1, momentum=0.9, epochs=300, batch_size=None,
                           n_iter_no_change=None).fit(X, y)
    closed_mse = numpy.mean((closed.predict(X) - y) ** 2)
    sgd_mse = numpy.mean((sgd.predict(X) - y) ** 2)
    assert sgd_mse == pytest.approx(closed_mse, rel=1e-3)


def test_two_target_columns_give_two_output_columns(diabetes):
    X, y = diabetes
    Y = numpy.stack([y, 2 * y + 1], axis=1)
    model = LinearRegression(solver="lstsq").fit(X, Y)
    assert model.predict(X).shape == (len(X), 2)
    numpy.testing.assert_allclose(model.coef_[1], 2 * model.coef_[0], rtol=1e-4, atol=1e-5)


def test_predict_refuses_a_different_number_of_features(diabetes):
    X, y = diabetes
    model = LinearRegression(solver="lstsq").fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but LinearRegression is expecting 10"):
        model.predict(X[:, :3])


def test_params_round_trip_and_repr_shows_changes():
    model = LinearRegression(lr=0.5, epochs=7)
    assert model.get_params()["lr"] == 0.5
    model.set_params(epochs=9)
    assert model.epochs == 9
    assert repr(model) == "LinearRegression(epochs=9, lr=0.5)"
    with pytest.raises(ValueError, match="Invalid parameter 'learning_rate'"):
        model.set_params(learning_rate=1)


@pytest.mark.parametrize("argument", ["validation", "checkpoint_dir", "resume"])
def test_the_closed_form_refuses_what_only_sgd_has(diabetes, argument, tmp_path):
    # each was ignored: no validation score (history_ None), no checkpoint, nothing resumed
    X, y = diabetes
    value = {"validation": (X, y), "checkpoint_dir": tmp_path, "resume": True}[argument]
    with pytest.raises(ValueError, match="solver='lstsq' solves in one step"):
        LinearRegression(solver="lstsq").fit(X, y, **{argument: value})


def test_partial_fit_is_not_the_closed_form(diabetes):
    # it took one epoch of SGD, silently, for a model that asked for the least-squares solution
    X, y = diabetes
    model = LinearRegression(solver="lstsq")
    assert not hasattr(model, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
        model.partial_fit(X, y)
    assert "partial_fit takes one epoch of SGD" in str(error.value.__cause__)  # why not, below it
    assert hasattr(LinearRegression(), "partial_fit")
