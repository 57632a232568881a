"""scikit-learn's own estimator checks, over every estimator of the course, none expected to fail.

This is ``parametrize_with_checks`` written out with the generator it is built on, for one
reason: two of its checks need what a test machine may lack, and then report "skipped" while
checking nothing. They run where their dependency is present and are left out where it is not:

- ``check_classifier_data_not_an_array`` / ``check_regressor_data_not_an_array`` fit a pandas
  DataFrame after a non-array container; without pandas the non-array part runs alone, below.
- ``check_array_api_input`` needs the ``SCIPY_ARRAY_API`` variable set before SciPy is imported.

``check_dataframe_column_names_consistency`` (``feature_names_in_``, and refusing a DataFrame
whose columns are reordered) is not among the generated checks; it is added where pandas is.

The instances train briefly (20 epochs) so that the file stays fast; the checks that measure a
fit's quality (accuracy above 0.83, R² above 0.5) pass with these settings. The linear
regression trained by SGD uses Adam: a check fits features around 100, unscaled, on which plain
SGD at the default learning rate diverges.
"""
import functools
import importlib.util
import os
import warnings

import numpy
import pytest
from sklearn.base import is_classifier
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (check_dataframe_column_names_consistency,
                                            check_estimators_data_not_an_array,
                                            estimator_checks_generator)

from chainrule.models import (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor,
                              SoftmaxRegression)

ESTIMATORS = [
    LinearRegression(optimizer="adam", lr=0.05, epochs=20),
    LinearRegression(solver="lstsq"),
    LogisticRegression(epochs=20),
    SoftmaxRegression(epochs=20),
    MLPClassifier(hidden=(16,), lr=0.01, epochs=20),
    MLPRegressor(hidden=(16,), lr=0.01, epochs=20),
]
HAVE_PANDAS = importlib.util.find_spec("pandas") is not None
HAVE_ARRAY_API = "SCIPY_ARRAY_API" in os.environ


def check_name(check) -> str:
    function = check.func if isinstance(check, functools.partial) else check
    keywords = getattr(check, "keywords", {})
    return function.__name__ + (f"({', '.join(f'{k}={v}' for k, v in keywords.items())})"
                                if keywords else "")


def check_not_an_array(name, estimator):
    """The non-array half of ``check_*_data_not_an_array``, on the same data, without pandas."""
    if is_classifier(estimator):
        X = numpy.array([[3, 0], [0, 1], [0, 2], [1, 1], [1, 2], [2, 1], [0, 3], [1, 0], [2, 0],
                         [4, 4], [2, 3], [3, 2]])
        y = numpy.array([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
    else:
        X, y = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0,
                               noise=20, random_state=42)
        X = StandardScaler().fit_transform(X)
    check_estimators_data_not_an_array(name, estimator, X, y, "NotAnArray")


def all_checks():
    for estimator in ESTIMATORS:
        for instance, check in estimator_checks_generator(estimator):
            name = check_name(check)
            if name.startswith("check_array_api_input") and not HAVE_ARRAY_API:
                continue
            if name.endswith("data_not_an_array") and not HAVE_PANDAS:
                check = functools.partial(check_not_an_array, type(instance).__name__)
                name = "check_not_an_array"
            yield pytest.param(instance, check, id=f"{instance!r}-{name}")
        if HAVE_PANDAS:
            check = functools.partial(check_dataframe_column_names_consistency,
                                      type(estimator).__name__)
            yield pytest.param(estimator, check,
                               id=f"{estimator!r}-check_dataframe_column_names_consistency")


@pytest.mark.parametrize("estimator, check", list(all_checks()))
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 20 epochs are few, on purpose
        check(estimator)
