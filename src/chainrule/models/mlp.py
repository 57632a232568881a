"""Multilayer perceptrons: the decision function is a stack of Linear layers with a nonlinearity
between them, h₁ = g(W₁x + b₁), …, y = W_L h_{L−1} + b_L (``nn.MLP``), trained by minibatch SGD
(or Adam) on the cross-entropy (classifier) or the mean squared error (regressor), with an
optional L2 penalty (α/2) Σ ‖W_l‖² on the weight matrices.
"""
from __future__ import annotations

from .. import nn
from ..estimators import ClassifierMixin, RegressorMixin, SGDEstimator


class _MLPEstimator(SGDEstimator):
    def __init__(self, hidden: tuple = (100,), activation: str = "relu", dropout: float = 0.0,
                 alpha: float = 0.0, lr: float = 0.001, epochs: int = 50,
                 batch_size: int | None = 64, optimizer: str = "adam", momentum: float = 0.0,
                 random_state: int = 0, verbose: bool = False):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.random_state = random_state
        self.verbose = verbose

    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        return nn.MLP([n_features, *self.hidden, n_outputs], activation=self.activation,
                      dropout=self.dropout)


class MLPClassifier(ClassifierMixin, _MLPEstimator):
    """A multilayer perceptron classifier (softmax outputs, cross-entropy loss).

    hidden      sizes of the hidden layers, e.g. (256, 256).
    activation  "relu", "sigmoid", "tanh" or "gelu"; dropout: probability after each hidden layer.
    alpha       L2 penalty strength on the weight matrices.
    lr, epochs, batch_size, optimizer ("adam" or "sgd"), momentum: the training settings.
    random_state  seeds the initial weights, the dropout masks and the shuffling order.
    """


class MLPRegressor(RegressorMixin, _MLPEstimator):
    """A multilayer perceptron regressor (linear outputs, mean squared error).

    The settings are those of ``MLPClassifier``. Scale the targets (e.g. ``data.Standardizer``)
    when they are far from unit size: the last layer starts near zero.
    """
