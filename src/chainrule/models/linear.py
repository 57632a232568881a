"""Linear regression: y = Wx + b, fitted by SGD on the mean squared error or in closed form.

The goal is the least-squares fit, min over (W, b) of (1/N) Σₙ ‖W xₙ + b − tₙ‖². It has a closed
form: with the design matrix A = [X 1] (a column of ones for the bias), the normal equations
AᵀA θ = Aᵀ T give θ = A⁺ T, which ``solver="lstsq"`` computes with ``linalg.lstsq`` (an SVD, stable
even when AᵀA is singular). ``solver="sgd"`` walks down the same convex bowl by minibatch SGD;
the two should agree, which is how each checks the other.
"""
from __future__ import annotations

import numpy
from sklearn.utils.metaestimators import available_if

from .. import backend, nn
from ..estimators import SGDEstimator, SGDRegressorMixin


class LinearRegression(SGDRegressorMixin, SGDEstimator):
    """Least-squares linear regression (scikit-learn's estimator API).

    solver      "sgd" (minibatch SGD on the mean squared error) or "lstsq" (closed form).
    lr, epochs, batch_size, optimizer ("sgd" or "adam"), momentum: the SGD settings
                (``batch_size=None`` means the whole training set per step).
    lr_schedule "constant", or "cosine": half a cosine from ``lr`` down to 0 over the epochs.
    tol, n_iter_no_change  stop once the loss has not improved by ``tol`` for that many epochs
                (None: run every epoch); a ``ConvergenceWarning`` if ``epochs`` ran out first.
    warm_start  ``fit`` continues from the fitted weights instead of starting again.
    random_state  seeds the initial weights and the shuffling order (None: a fresh seed).
    compile     replay each recorded training step (``chainrule.compile``) rather than take it
                eagerly: the same weights bit for bit, faster (``partial_fit`` is always eager).
    verbose     print one line per epoch.

    The targets are standardised for training and mapped back for ``predict`` and ``coef_``.
    Learned: ``coef_`` (k, d) or (d,), ``intercept_``, ``module_`` (an ``nn.Linear``),
    ``history_``, ``n_iter_``.
    """

    def __init__(self, *, solver: str = "sgd", lr: float = 0.01, epochs: int = 200,
                 batch_size: int | str | None = 32, optimizer: str = "sgd",
                 momentum: float = 0.0, lr_schedule: str = "constant",
                 tol: float = 1e-4, n_iter_no_change: int | None = 10,
                 warm_start: bool = False, random_state=0, compile: bool = True,
                 verbose: bool = False):
        self.solver = solver
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

    def fit(self, X, y, validation=None, checkpoint_dir=None, resume: bool = False):
        if self.solver == "sgd":
            return super().fit(X, y, validation, checkpoint_dir, resume)
        if self.solver != "lstsq":
            raise ValueError(f"LinearRegression: solver must be 'sgd' or 'lstsq', "
                             f"not {self.solver!r}")
        if validation is not None or checkpoint_dir is not None or resume:
            raise ValueError("LinearRegression: solver='lstsq' solves in one step, with no "
                             "epochs to validate, checkpoint or resume: validation, "
                             "checkpoint_dir and resume need solver='sgd'")
        with self._unfitted_if_it_fails(fresh=True):
            X, targets = self._validate(X, y, reset=True)
            self._fit_target_scaling(targets)
            self.module_ = self._build_module(X.shape[1], targets.shape[1])
            weight, bias = least_squares(X, self._scaled(targets))
            self.module_.weight.data[...] = weight
            self.module_.bias.data[...] = bias
            self.module_.eval()
            self.history_, self.n_iter_ = None, 0
        return self

    def _takes_sgd_steps(self) -> bool:
        if self.solver == "lstsq":
            raise AttributeError("LinearRegression: partial_fit takes one epoch of SGD, and "
                                 "solver='lstsq' takes none: call fit, or use solver='sgd'")
        return True

    # As scikit-learn's MLPs with solver="lbfgs": no partial_fit at all (hasattr is False)
    @available_if(_takes_sgd_steps)
    def partial_fit(self, X, y):
        return super().partial_fit(X, y)

    @property
    def coef_(self) -> numpy.ndarray:
        weight = backend.to_numpy(self.module_.weight.data).astype(numpy.float64)
        weight = weight * self.target_scale_[:, None]
        return weight[0] if self.n_outputs_ is None else weight

    @property
    def intercept_(self):
        bias = backend.to_numpy(self.module_.bias.data).astype(numpy.float64)
        bias = bias * self.target_scale_ + self.target_mean_
        return float(bias[0]) if self.n_outputs_ is None else bias


def least_squares(X, targets):
    """(W, b) minimising Σₙ ‖W xₙ + b − tₙ‖², from θ = lstsq([X 1], T), computed in float64."""
    xp = backend.xp
    design = xp.concatenate([xp.asarray(X, dtype=xp.float64),
                             xp.ones((len(X), 1), dtype=xp.float64)], axis=1)
    theta, *_ = xp.linalg.lstsq(design, xp.asarray(targets, dtype=xp.float64), rcond=None)
    return theta[:-1].T, theta[-1]
