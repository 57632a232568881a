"""A convolutional network for images, the last model of PyTorch's tutorials: two blocks of
convolution, ReLU and max-pooling find local patterns (strokes, then parts of digits), then
linear layers classify them.

    image (N, 1, 28, 28)
      → Conv2d(1, 32, 3, padding=1) → ReLU → MaxPool2d(2)     (N, 32, 14, 14)
      → Conv2d(32, 64, 3, padding=1) → ReLU → MaxPool2d(2)    (N, 64, 7, 7)
      → Flatten → Linear(3136, 128) → ReLU → [Dropout] → Linear(128, 10)   logits (N, 10)

``ConvNet`` is the module; ``CNNClassifier`` trains it with scikit-learn's API on rows of pixels
(each row reshaped to ``image_shape``), as the CLI's tables hold images.
"""
from __future__ import annotations

import math

from .. import nn
from ..estimators import SGDClassifierMixin, SGDEstimator
from ..errors import ShapeError
from ..tensor import Tensor


class ConvNet(nn.Module):
    """Convolution blocks (3×3, 'same' padding, ReLU, 2×2 max-pooling), one per entry of
    ``channels``, then a hidden linear layer and the ``classes`` logits. Rows of pixels
    (N, C·H·W) are reshaped to ``image_shape`` (C, H, W) first."""

    def __init__(self, image_shape: tuple = (1, 28, 28), channels: tuple = (32, 64),
                 hidden: int = 128, classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.image_shape = tuple(image_shape)
        blocks, previous = [], self.image_shape[0]
        height, width = self.image_shape[1:]
        for count in channels:
            blocks += [nn.Conv2d(previous, count, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            previous, height, width = count, height // 2, width // 2
        if height < 1 or width < 1:
            raise ValueError(f"ConvNet: {len(channels)} poolings halve {self.image_shape[1:]} "
                             "to nothing; use fewer convolution blocks")
        self.features = nn.Sequential(*blocks)
        head = [nn.Flatten(), nn.Linear(previous * height * width, hidden), nn.ReLU()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        self.classifier = nn.Sequential(*head, nn.Linear(hidden, classes))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            if x.shape[1] != math.prod(self.image_shape):
                raise ShapeError(f"ConvNet: rows of {x.shape[1]} pixels can't be images of shape "
                                 f"{self.image_shape}")
            x = x.reshape(x.shape[0], *self.image_shape)
        return self.classifier(self.features(x))


class CNNClassifier(SGDClassifierMixin, SGDEstimator):
    """A convolutional network classifier of images given as rows of pixels.

    image_shape  (channels, height, width) of each row; None: one channel, square images.
    channels     output channels of each convolution block; hidden: the linear layer's size.
    dropout      probability before the last layer.
    lr, epochs, batch_size, optimizer ("adam" or "sgd"), momentum: the training settings.
    lr_schedule, tol, n_iter_no_change, warm_start, compile: as the other estimators'.
    random_state seeds the initial weights, the dropout masks and the shuffling order.
    """
    ARCHITECTURE = ("image_shape", "channels", "hidden", "dropout")

    def __init__(self, *, image_shape: tuple | None = None, channels: tuple = (32, 64),
                 hidden: int = 128, dropout: float = 0.0, lr: float = 0.001, epochs: int = 10,
                 batch_size: int | None = 64, optimizer: str = "adam", momentum: float = 0.0,
                 lr_schedule: str = "constant", tol: float = 1e-4,
                 n_iter_no_change: int | None = 10, warm_start: bool = False,
                 random_state: int = 0, compile: bool = True, verbose: bool = False):
        self.image_shape = image_shape
        self.channels = channels
        self.hidden = hidden
        self.dropout = dropout
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
        shape = self.image_shape
        if shape is None:
            side = math.isqrt(n_features)
            if side * side != n_features:
                raise ShapeError(f"CNNClassifier: {n_features} features are not a square image; "
                                 "give image_shape=(channels, height, width)")
            shape = (1, side, side)
        return ConvNet(shape, self.channels, self.hidden, n_outputs, self.dropout)
