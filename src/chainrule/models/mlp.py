"""Multilayer perceptrons: the decision function is a stack of Linear layers with a nonlinearity
between them, h₁ = g(W₁x + b₁), …, y = W_L h_{L−1} + b_L (``nn.MLP``), trained by minibatch SGD
(or Adam) on the cross-entropy (classifier) or the mean squared error (regressor), with an
optional L2 penalty (α/2) Σ ‖W_l‖² on the weight matrices.
"""
from __future__ import annotations

import math
import numbers

from .. import nn
from ..nn import init as initialise
from ..estimators import SGDClassifierMixin, SGDEstimator, SGDRegressorMixin


class _MLPEstimator(SGDEstimator):
    ARCHITECTURE = ("hidden", "activation", "init", "dropout")

    def __init__(self, *, hidden: tuple = (100,), activation: str = "relu", init: str = "glorot",
                 dropout: float = 0.0, alpha: float = 0.0, lr: float = 0.001, epochs: int = 200,
                 batch_size: int | str | None = "auto", optimizer: str = "adam",
                 momentum: float = 0.0, lr_schedule: str = "constant",
                 tol: float = 1e-4, n_iter_no_change: int | None = 10,
                 warm_start: bool = False, random_state=0, compile: bool = True,
                 verbose: bool = False):
        self.hidden = hidden
        self.activation = activation
        self.init = init
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
        self.compile = compile
        self.verbose = verbose

    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        if self.init not in ("glorot", "nn.MLP"):
            raise ValueError(f"{type(self).__name__}: init must be 'glorot' or 'nn.MLP', not "
                             f"{self.init!r}")
        # one layer's size alone, as scikit-learn's hidden_layer_sizes=100 is
        hidden = [self.hidden] if isinstance(self.hidden, numbers.Integral) else self.hidden
        module = nn.MLP([n_features, *hidden, n_outputs], activation=self.activation,
                        dropout=self.dropout)
        if self.init == "glorot":
            scikit_learns_glorot_uniform(module, self.activation)
        return module


def scikit_learns_glorot_uniform(module: nn.Module, activation: str) -> None:
    """Every weight and bias of ``module``'s Linear layers from U(±√(f / (fan_in + fan_out))),
    f = 2 for sigmoid units and 6 otherwise: scikit-learn's MLP initialisation (its biases are
    drawn too, not zeroed)."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            fan_out, fan_in = layer.weight.shape
            bound = math.sqrt(factor / (fan_in + fan_out))
            for parameter in layer.parameters():
                initialise.uniform_(parameter, -bound, bound)


class MLPClassifier(SGDClassifierMixin, _MLPEstimator):
    """A multilayer perceptron classifier (softmax outputs, cross-entropy loss).

    hidden      sizes of the hidden layers, e.g. (256, 256); a number alone is one layer.
    activation  "relu", "sigmoid", "tanh" or "gelu"; dropout: probability after each hidden layer.
    init        the initial weights: "glorot", scikit-learn's rule (weights and biases from
                U(±√(6/(fan_in + fan_out))), √(2/…) for sigmoid), or "nn.MLP", ``nn.MLP``'s own
                (He normal for ReLU and GELU, Glorot uniform for sigmoid and tanh, zero biases),
                which ``chainrule train`` uses.
    alpha       L2 penalty strength on the weight matrices: (α/2)‖W‖² on every batch's mean loss.
                scikit-learn divides its alpha by the batch's rows, so its alpha=1e-4 on batches
                of B rows is alpha=1e-4/B here.
    lr, epochs, batch_size, optimizer ("adam" or "sgd"), momentum: the training settings.
    lr_schedule, tol, n_iter_no_change, warm_start, random_state, compile, verbose: as
                ``LinearRegression``'s.

    The defaults are scikit-learn's ``MLPClassifier``'s: one hidden layer of 100 ReLUs, its
    initial weights, Adam at lr 0.001, batches of min(200, N) (``batch_size="auto"``), up to 200
    epochs, stopping once the loss has not improved by 1e-4 for 10 epochs.
    """


class MLPRegressor(SGDRegressorMixin, _MLPEstimator):
    """A multilayer perceptron regressor (linear outputs, mean squared error).

    The settings and defaults are those of ``MLPClassifier``. The targets are standardised for
    training (``target_mean_``, ``target_scale_``) and mapped back by ``predict``.
    """
