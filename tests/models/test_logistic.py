"""LogisticRegression against scikit-learn's optimum with the same L2 penalty (α = 1 / (C·N))."""
import numpy
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from chainrule.errors import DataError
from chainrule.models import LogisticRegression

# Several fits here are short on purpose; their ConvergenceWarnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0,
                                                        stratify=y)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def test_training_log_loss_matches_scikit_learn_with_the_same_penalty(breast_cancer):
    X_train, X_test, y_train, y_test = breast_cancer
    C = 1.0
    theirs = SklearnLogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X_train, y_train)
    ours = LogisticRegression(alpha=1 / (C * len(X_train)), lr=0.5, momentum=0.9, epochs=400,
                              batch_size=None, n_iter_no_change=None).fit(X_train, y_train)
    their_loss = log_loss(y_train, theirs.predict_proba(X_train))
    our_loss = log_loss(y_train, ours.predict_proba(X_train))
    assert abs(our_loss - their_loss) < 1e-3
    assert ours.score(X_test, y_test) >= 0.95


def test_string_labels_come_back_as_given(breast_cancer):
    X_train, _, y_train, _ = breast_cancer
    names = numpy.array(["malignant", "benign"])[y_train]
    model = LogisticRegression(epochs=5).fit(X_train, names)
    assert list(model.classes_) == ["benign", "malignant"]
    assert set(model.predict(X_train)) <= {"benign", "malignant"}
    probabilities = model.predict_proba(X_train)
    numpy.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_more_than_two_classes_is_refused_with_a_suggestion():
    X = numpy.random.default_rng(0).normal(size=(9, 2))
    with pytest.raises(DataError, match=r"y has 3 class\(es\); use SoftmaxRegression"):
        LogisticRegression().fit(X, [0, 1, 2] * 3)


def test_fit_is_repeatable_for_a_seed(breast_cancer):
    X_train, _, y_train, _ = breast_cancer
    first = LogisticRegression(epochs=3, random_state=4).fit(X_train, y_train)
    second = LogisticRegression(epochs=3, random_state=4).fit(X_train, y_train)
    numpy.testing.assert_array_equal(first.coef_, second.coef_)
