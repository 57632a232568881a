"""Multilayer perceptrons: the decision function is a stack of Linear layers with a nonlinearity
between them, h₁ = g(W₁x + b₁), …, y = W_L h_{L−1} + b_L (``nn.MLP``), trained by minibatch SGD
(or Adam) on the cross-entropy (classifier) or the mean squared error (regressor), with an
optional L2 penalty (α/2) Σ ‖W_l‖² on the weight matrices.
"""
from __future__ import annotations

from .. import nn
from ..estimators import SGDClassifierMixin, SGDEstimator, SGDRegressorMixin


class _MLPEstimator(SGDEstimator):
    def __init__(self, *, hidden: tuple = (100,), activation: str = "relu", dropout: float = 0.0,
                 alpha: float = 0.0, lr: float = 0.001, epochs: int = 200,
                 batch_size: int | str | None = "auto", optimizer: str = "adam",
                 momentum: float = 0.0, lr_schedule: str = "constant",
                 tol: float = 1e-4, n_iter_no_change: int | None = 10,
                 warm_start: bool = False, random_state=0, verbose: bool = False):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
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
        self.verbose = verbose

    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        return nn.MLP([n_features, *self.hidden, n_outputs], activation=self.activation,
                      dropout=self.dropout)


class MLPClassifier(SGDClassifierMixin, _MLPEstimator):
    """A multilayer perceptron classifier (softmax outputs, cross-entropy loss).

    hidden      sizes of the hidden layers, e.g. (256, 256).
    activation  "relu", "sigmoid", "tanh" or "gelu"; dropout: probability after each hidden layer.
    alpha       L2 penalty strength on the weight matrices.
    lr, epochs, batch_size, optimizer ("adam" or "sgd"), momentum: the training settings.
    lr_schedule, tol, n_iter_no_change, warm_start, random_state, verbose: as
                ``LinearRegression``'s.

    The defaults are scikit-learn's ``MLPClassifier``'s: one hidden layer of 100 ReLUs, Adam at
    lr 0.001, batches of min(200, N) (``batch_size="auto"``), up to 200 epochs, stopping once
    the loss has not improved by 1e-4 for 10 epochs.
    """


class MLPRegressor(SGDRegressorMixin, _MLPEstimator):
    """A multilayer perceptron regressor (linear outputs, mean squared error).

    The settings and defaults are those of ``MLPClassifier``. The targets are standardised for
    training (``target_mean_``, ``target_scale_``) and mapped back by ``predict``.
    """
