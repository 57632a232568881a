"""Logistic regression: p(t = 1 | x) = σ(wᵀx + b), fitted by SGD on the log-loss.

The loss of one example is the negative log-likelihood of its label,
ℓ = −[t log σ(z) + (1 − t) log(1 − σ(z))] with z = wᵀx + b, computed from the logit z for stability
(``binary_cross_entropy_with_logits``); its gradient is (σ(z) − t) x. The objective adds an L2
penalty on w (not on b):

    J(w, b) = (1/N) Σₙ ℓₙ + (α/2) ‖w‖²

scikit-learn's ``LogisticRegression(C=...)`` minimises ½‖w‖² + C Σₙ ℓₙ instead. Dividing that by
C·N gives J with α = 1 / (C · N): the same minimiser. So to match ``LogisticRegression(C=1.0)``
on N training examples, use ``alpha = 1 / N``.
"""
from __future__ import annotations

import numpy

from .. import backend, nn
from ..errors import DataError
from ..estimators import SGDClassifierMixin, SGDEstimator, two_class_probabilities


class LogisticRegression(SGDClassifierMixin, SGDEstimator):
    """Binary logistic regression with an optional L2 penalty (scikit-learn's estimator API).

    alpha       L2 penalty strength α in (1/N) Σ ℓₙ + (α/2)‖w‖²; α = 1/(C·N) for sklearn's C.
    lr, epochs, batch_size, optimizer ("sgd" or "adam"), momentum: the SGD settings
                (``batch_size=None`` means the whole training set per step: gradient descent).
    lr_schedule, tol, n_iter_no_change, warm_start, random_state, compile, verbose: as
                ``LinearRegression``'s.

    Learned: ``classes_`` (the two labels), ``coef_`` (1, d), ``intercept_`` (1,), ``module_``,
    ``history_``, ``n_iter_``.
    """

    def __init__(self, *, alpha: float = 0.0, lr: float = 0.1, epochs: int = 200,
                 batch_size: int | str | None = 32, optimizer: str = "sgd",
                 momentum: float = 0.0, lr_schedule: str = "constant",
                 tol: float = 1e-4, n_iter_no_change: int | None = 10,
                 warm_start: bool = False, random_state=0, compile: bool = True,
                 verbose: bool = False):
        self.alpha = alpha
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.compile = compile
        self.verbose = verbose

    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        return nn.Linear(n_features, 1)

    def _n_outputs(self) -> int:
        if len(self.classes_) != 2:
            raise DataError(f"Only binary classification is supported. LogisticRegression "
                            f"separates two classes, but y has {len(self.classes_)} class(es); "
                            "use SoftmaxRegression")
        return 1

    def _encode(self, indices: numpy.ndarray) -> numpy.ndarray:
        """Class index 0/1 → the target t as a float column, (N, 1)."""
        return indices.astype(backend.get_default_dtype()).reshape(-1, 1)

    def _data_loss(self, logits, targets):
        return nn.functional.binary_cross_entropy_with_logits(logits, targets)

    def _probabilities(self, logits: numpy.ndarray) -> numpy.ndarray:
        return two_class_probabilities(logits)

    def decision_function(self, X) -> numpy.ndarray:
        """The logit z = wᵀx + b of each row (positive means the second class)."""
        return self._outputs(X).reshape(-1).astype(numpy.float64)

    @property
    def coef_(self) -> numpy.ndarray:
        return backend.to_numpy(self.module_.weight.data).astype(numpy.float64)

    @property
    def intercept_(self) -> numpy.ndarray:
        return backend.to_numpy(self.module_.bias.data).astype(numpy.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # binary; SoftmaxRegression takes K classes
        return tags
