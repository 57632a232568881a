"""Softmax regression (multinomial logistic regression): p(k | x) = softmax(Wx + b)ₖ.

The loss of one example is the cross-entropy −log softmax(z)ₜ with z = Wx + b, fused with the
log-softmax for stability (``cross_entropy``); its gradient with respect to z is
softmax(z) − onehot(t). With ``alpha`` the objective adds the L2 penalty (α/2)‖W‖²:

    J(W, b) = (1/N) Σₙ −log softmax(W xₙ + b)_{tₙ} + (α/2) ‖W‖²
"""
from __future__ import annotations

import numpy

from .. import backend, nn
from ..estimators import SGDClassifierMixin, SGDEstimator


class SoftmaxRegression(SGDClassifierMixin, SGDEstimator):
    """Multi-class linear classifier trained on the cross-entropy (scikit-learn's estimator API).

    alpha       L2 penalty strength on W (not on b).
    lr, epochs, batch_size, optimizer ("sgd" or "adam"), momentum: the SGD settings.
    lr_schedule, tol, n_iter_no_change, warm_start, random_state, compile, verbose: as
                ``LinearRegression``'s.

    Learned: ``classes_``, ``coef_`` (K, d), ``intercept_`` (K,), ``module_``, ``history_``,
    ``n_iter_``.
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
        return nn.Linear(n_features, n_outputs)

    @property
    def coef_(self) -> numpy.ndarray:
        return backend.to_numpy(self.module_.weight.data).astype(numpy.float64)

    @property
    def intercept_(self) -> numpy.ndarray:
        return backend.to_numpy(self.module_.bias.data).astype(numpy.float64)
