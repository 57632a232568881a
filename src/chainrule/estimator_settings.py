"""The settings an estimator of ``chainrule.estimators`` may have, each with its rule.

``fit`` checks them when it starts, as scikit-learn's own estimators do (``InvalidParameterError``,
a ``ValueError``): a negative ``alpha`` or ``dropout``, or a ``momentum`` of 1, would otherwise
train on, silently, an ``lr`` of 0 would keep the initial weights and call it a fit, and a NaN
``lr`` would end in "diverged: try a smaller learning rate".
"""
from __future__ import annotations

import math
import numbers

import numpy


def whole(value) -> bool:
    """An integer, Python's or NumPy's, and not a bool (``True`` is not one layer)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


SETTING_RULES = {
    "lr": (lambda value: 0 < value < math.inf, "a finite number > 0"),  # 0 would not train
    "epochs": (lambda value: whole(value) and value >= 1, "a whole number ≥ 1"),
    "batch_size": (lambda value: value in (None, "auto") or whole(value) and value >= 1,
                   "'auto', None or a whole number ≥ 1"),
    "optimizer": (lambda value: value in ("sgd", "adam"), "'sgd' or 'adam'"),
    "momentum": (lambda value: 0 <= value < 1, "in [0, 1)"),
    "lr_schedule": (lambda value: value in ("constant", "cosine"), "'constant' or 'cosine'"),
    "alpha": (lambda value: 0 <= value < math.inf, "a finite number ≥ 0"),
    "dropout": (lambda value: 0 <= value < 1, "a probability in [0, 1)"),
    "tol": (lambda value: 0 <= value < math.inf, "a finite number ≥ 0"),
    "n_iter_no_change": (lambda value: value is None or whole(value) and value >= 1,
                         "None or a whole number ≥ 1"),
    "hidden": (lambda value: whole(value) and value >= 1
               or all(whole(size) and size >= 1 for size in value),
               "positive layer sizes, e.g. (256, 256), or one size"),
}


def architecture(estimator) -> dict:
    """The settings the estimator's network is built from (its class's ``ARCHITECTURE``)."""
    return {name: getattr(estimator, name) for name in type(estimator).ARCHITECTURE}


def check_architecture(estimator) -> None:
    """A continued fit (``warm_start``, ``partial_fit``) trains the network already built: a
    ``ValueError`` if a setting it was built from has changed since, which it would ignore."""
    for name, value in architecture(estimator).items():
        built = estimator._built_with_[name]
        if not _same_setting(value, built):
            raise ValueError(f"{type(estimator).__name__}: {name}={value!r}, but the fitted "
                             f"network was built with {name}={built!r}, and a continued fit "
                             "(warm_start, partial_fit) trains that network; fit with "
                             "warm_start=False for a new one")


_SEQUENCES = (tuple, list, numpy.ndarray)  # of layer sizes


def _same_setting(value, built) -> bool:
    """Whether a setting is still the one the network was built from: layer sizes compared as
    sizes, whether given as a tuple, a list or an array, a size alone as its 1-tuple
    (``hidden=8`` is ``(8,)``); anything else by ``==`` (``dropout=0`` is ``0.0``)."""
    if isinstance(value, _SEQUENCES) or isinstance(built, _SEQUENCES):
        return _as_sizes(value) == _as_sizes(built)
    return value == built


def _as_sizes(value):
    if whole(value):
        return (int(value),)
    return tuple(numpy.ravel(value).tolist()) if isinstance(value, _SEQUENCES) else value


def check_settings(estimator) -> None:
    """A ``ValueError`` naming the first setting of ``estimator`` that breaks its rule."""
    for name, (holds, rule) in SETTING_RULES.items():
        if name in vars(estimator):
            try:
                good = holds(getattr(estimator, name))
            except TypeError:  # a string where a number belongs, or the other way round
                good = False
            if not good:
                raise ValueError(f"{type(estimator).__name__}: {name} must be {rule}, "
                                 f"not {getattr(estimator, name)!r}")
