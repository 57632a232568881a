"""Batch normalisation layers: ``BatchNorm1d`` over (N, C) or (N, C, L), ``BatchNorm2d`` over
(N, C, H, W), with running statistics for evaluation (PyTorch's arguments and buffers)."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, as_tensor
from . import functional as F
from .module import Module, Parameter


class _BatchNorm(Module):
    _dims = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = backend.as_dtype(dtype)
        xp = backend.xp
        self.weight = Parameter(xp.ones((num_features,), dtype=dtype)) if affine else None
        self.bias = Parameter(xp.zeros((num_features,), dtype=dtype)) if affine else None
        if track_running_stats:
            shape = (num_features,)
            self.register_buffer("running_mean", as_tensor(xp.zeros(shape, dtype=dtype)))
            self.register_buffer("running_var", as_tensor(xp.ones(shape, dtype=dtype)))
            self.register_buffer("num_batches_tracked",
                                 as_tensor(xp.zeros((), dtype=backend.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected an input of "
                             f"{' or '.join(map(str, self._dims))} dimensions, got shape "
                             f"{tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: the input of shape {tuple(x.shape)} has "
                             f"{x.shape[1]} channels, not num_features={self.num_features}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if momentum is None:  # a cumulative average of every batch seen
                momentum = 1 / float(self.num_batches_tracked.data)
        use_batch = self.training or not self.track_running_stats
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch, momentum=momentum or 0.0, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalises each feature of (N, C) or (N, C, L) over the batch (and L)."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalises each channel of (N, C, H, W) over the batch and the image."""
    _dims = (4,)
