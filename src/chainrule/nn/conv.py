"""Convolution and pooling layers: ``Conv1d``, ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``,
``AdaptiveAvgPool2d`` (PyTorch's names, arguments and initialisation)."""
from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


def _sizes(value, spatial: int) -> tuple:
    return (value,) * spatial if isinstance(value, int) else tuple(value)


class _ConvNd(Module):
    _spatial = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide both in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, not "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _sizes(kernel_size, self._spatial)
        self.stride = _sizes(stride, self._spatial)
        self.padding = padding if isinstance(padding, str) else _sizes(padding, self._spatial)
        self.dilation = _sizes(dilation, self._spatial)
        self.groups = groups
        dtype = backend.as_dtype(dtype)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(backend.xp.empty(shape, dtype=dtype))
        self.bias = Parameter(backend.xp.empty((out_channels,), dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default, U(−1/√fan_in, 1/√fan_in) for weight and bias, with fan_in =
        in_channels/groups · kernel elements (its kaiming_uniform_ with a = √5)."""
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in ((0,) * self._spatial, "valid"):
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv1d(_ConvNd):
    """A 1-D convolution over (N, C, L): ``Conv1d(in_channels, out_channels, kernel_size)``."""
    _spatial = 1

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv2d(_ConvNd):
    """A 2-D convolution over (N, C, H, W), with stride, padding, dilation and groups."""
    _spatial = 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class MaxPool2d(Module):
    """The largest value of each kernel_size window (stride: kernel_size unless given)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}")


class AvgPool2d(Module):
    """The mean of each kernel_size window (stride: kernel_size unless given)."""

    def __init__(self, kernel_size, stride=None, padding=0, *, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.count_include_pad = padding, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            count_include_pad=self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Averages into a fixed ``output_size`` grid, whatever the input's height and width."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
