"""Convolution and pooling over one or two spatial dimensions.

A convolution is im2col and one matrix product: every window of the (padded) input is a row
of a matrix ``cols``, made by ``sliding_window_view`` and one copy, and the output is
``cols @ Wᵀ``. With ``groups``, channels and filters split into that many independent blocks
and the product is batched over them.

The convolution y = conv(x, w) is bilinear, so its two VJPs are bilinear maps too, and the three
close under differentiation, since

    ⟨ȳ, conv(x, w)⟩ = ⟨x, conv_input_grad(ȳ, w)⟩ = ⟨w, conv_weight_grad(x, ȳ)⟩:

    conv             x̄ = conv_input_grad(ȳ, w)    w̄ = conv_weight_grad(x, ȳ)
    conv_input_grad  ḡ = conv(h, w)               w̄ = conv_weight_grad(h, g)
    conv_weight_grad x̄ = conv_input_grad(g, h)    ḡ = conv(x, h)

so gradients of gradients need nothing more.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy

from .. import backend
from ..tensor import Tensor
from .primitive import Rejects, Sample, ShapeError, composite, constant, primitive
from .shape import getitem
from .linalg import matmul


def _per_dimension(value, spatial: int, name: str, op: str) -> tuple:
    if isinstance(value, numbers.Integral):
        return (int(value),) * spatial
    value = tuple(int(v) for v in value)
    if len(value) != spatial:
        raise ValueError(f"{op}: {name} {value} should give {spatial} sizes, one per spatial "
                         "dimension")
    return value


@dataclass(frozen=True)
class Geometry:
    """Where the windows of a convolution lie: per spatial dimension, the kernel size, stride,
    padding, dilation and output size; and the number of groups."""
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out: tuple

    @property
    def spans(self) -> tuple:
        """How far a dilated kernel reaches: d(k − 1) + 1."""
        return tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel))


def geometry(op: str, input_shape, weight_shape, stride, padding, dilation, groups) -> Geometry:
    spatial = len(weight_shape) - 2
    if len(input_shape) != spatial + 2:
        raise ShapeError(f"{op}: expected an input of {spatial + 2} dimensions (N, C and "
                         f"{spatial} spatial) for a weight of shape {tuple(weight_shape)}, got "
                         f"shape {tuple(input_shape)}")
    stride, padding, dilation = (_per_dimension(v, spatial, name, op) for v, name in
                                 ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    if min(stride + dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be at least 1 and padding at least 0, "
                         f"got stride={stride}, dilation={dilation}, padding={padding}")
    channels, filters = input_shape[1], weight_shape[0]
    if groups < 1 or filters % groups:
        raise ValueError(f"{op}: groups={groups} must divide the {filters} output channels")
    if weight_shape[1] * groups != channels:
        raise ShapeError(f"{op}: the weight of shape {tuple(weight_shape)} with groups={groups} "
                         f"expects {weight_shape[1] * groups} input channels, but the input of "
                         f"shape {tuple(input_shape)} has {channels}")
    kernel = tuple(weight_shape[2:])
    spans = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    out = tuple((n + 2 * p - span) // s + 1
                for n, p, span, s in zip(input_shape[2:], padding, spans, stride))
    if min(out) < 1:
        raise ShapeError(f"{op}: the input of shape {tuple(input_shape)} (padded by {padding}) is "
                         f"smaller than the kernel's reach {spans}")
    return Geometry(kernel, stride, padding, dilation, groups, out)


def _windows(x, g: Geometry, fill=0):
    """Every window of the padded input, as a view: (N, C, *out, *kernel)."""
    xp = backend.xp
    if any(g.padding):
        x = xp.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in g.padding), constant_values=fill)
    spatial = len(g.kernel)
    views = xp.lib.stride_tricks.sliding_window_view(x, g.spans, axis=tuple(range(2, 2 + spatial)))
    picked = (slice(None), slice(None)) + tuple(slice(None, s * (n - 1) + 1, s)
                                                for s, n in zip(g.stride, g.out))
    return views[picked + tuple(slice(None, None, d) for d in g.dilation)]


def _im2col(x, g: Geometry):
    """(groups, C/groups · K, N·L): a row per input channel and kernel tap, a column per output
    position. Channel-major rows copy about twice as fast as one row per output position: the
    copy reads each tap's positions in the input's own order."""
    windows = _windows(x, g)
    n, channels, spatial = x.shape[0], x.shape[1], len(g.kernel)
    windows = windows.reshape((n, g.groups, channels // g.groups) + windows.shape[2:])
    positions, taps = tuple(range(3, 3 + spatial)), tuple(range(3 + spatial, 3 + 2 * spatial))
    rows_by_tap = windows.transpose((1, 2) + taps + (0,) + positions)
    return rows_by_tap.reshape(g.groups, -1, n * math.prod(g.out))


def _col2im(cols, g: Geometry, input_shape):
    """The adjoint of im2col: each row added back at the input positions it was read from."""
    xp = backend.xp
    n, channels = input_shape[0], input_shape[1]
    cols = cols.reshape((channels,) + g.kernel + (n,) + g.out)
    padded_shape = tuple(size + 2 * p for size, p in zip(input_shape[2:], g.padding))
    padded = xp.zeros((n, channels) + padded_shape, dtype=cols.dtype)
    for tap in numpy.ndindex(*g.kernel):
        reach = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                      for t, d, s, o in zip(tap, g.dilation, g.stride, g.out))
        padded[(slice(None), slice(None)) + reach] += cols[(slice(None),) + tap].swapaxes(0, 1)
    inside = tuple(slice(p, p + size) for p, size in zip(g.padding, input_shape[2:]))
    return padded[(slice(None), slice(None)) + inside]


def _signal_matrix(signal, g: Geometry):
    """(N, F, *out) as (groups, F/groups, N·L), the layout of im2col's columns."""
    n, filters = signal.shape[0], signal.shape[1]
    signal = signal.reshape((n, g.groups, filters // g.groups, -1))
    return signal.transpose(1, 2, 0, 3).reshape(g.groups, filters // g.groups, -1)


def _check_signal(signal, batch: int, filters: int, g: Geometry) -> None:
    if tuple(signal.shape) != (batch, filters) + g.out:
        raise ShapeError(f"conv: a signal of shape {tuple(signal.shape)} does not fit the "
                         f"convolution's output of shape {(batch, filters) + g.out}")


def _weight_matrix(w, g: Geometry):
    return w.reshape(g.groups, w.shape[0] // g.groups, -1)


_SETTINGS = ("stride", "padding", "dilation", "groups")
CONV_SAMPLES = [
    Sample(((2, 3, 7), (4, 3, 3), (4,))),
    Sample(((2, 4, 8), (6, 2, 3), (6,)), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
    Sample(((2, 2, 5, 6), (3, 2, 3, 2), (3,)), {"padding": 1}),
    Sample(((1, 4, 6, 5), (4, 2, 2, 3)), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2),
                                          "groups": 2}),
]


@primitive(samples=CONV_SAMPLES,
           rejects=[Rejects(((2, 3, 5, 5), (4, 2, 3, 3)), {}, ShapeError),
                    Rejects(((2, 3, 2, 2), (4, 3, 3, 3)), {}, ShapeError)])
def conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, f, i] = b[f] + Σ_{c, k} w[f, c, k] · x_padded[n, group(f)·C/groups + c, s·i + d·k],
    for 1 or 2 spatial dimensions (from the weight's shape)."""
    settings = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = geometry("conv", x.shape, weight.shape, **settings)
    out = backend.xp.matmul(_weight_matrix(weight.data, g), _im2col(x.data, g))
    n, filters = x.shape[0], weight.shape[0]
    out = out.reshape((filters, n) + g.out).swapaxes(0, 1)
    if bias is not None:
        if tuple(bias.shape) != (filters,):
            raise ShapeError(f"conv: bias of shape {tuple(bias.shape)} for {filters} filters; "
                             f"expected ({filters},)")
        out = out + bias.data.reshape((filters,) + (1,) * len(g.kernel))
    vjps = (lambda s, out: conv_input_grad(s, weight, input_shape=x.shape, **settings),
            lambda s, out: conv_weight_grad(x, s, weight_shape=weight.shape, **settings))
    if bias is None:
        return out, vjps
    channels_only = (0,) + tuple(range(2, x.ndim))
    return out, vjps + (lambda s, out: s.sum(dim=channels_only),)


GRAD_SAMPLES = [
    Sample(((2, 4, 5), (4, 3, 3)), {"input_shape": (2, 3, 7)}),
    Sample(((2, 6, 5), (6, 2, 3)), {"input_shape": (2, 4, 9), "stride": 2, "padding": 2,
                                    "dilation": 2, "groups": 2}),
    Sample(((1, 4, 4, 2), (4, 2, 2, 3)), {"input_shape": (1, 4, 6, 6), "stride": (2, 1),
                                          "padding": (1, 0), "dilation": (1, 2), "groups": 2}),
]


@primitive(samples=GRAD_SAMPLES)
def conv_input_grad(signal, weight, input_shape=None, stride=1, padding=0, dilation=1, groups=1):
    """x̄ of a convolution (a transposed convolution of the signal): cols = ȳ W, added back
    by col2im to the input positions each window read."""
    settings = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = geometry("conv", tuple(input_shape), weight.shape, **settings)
    _check_signal(signal, input_shape[0], weight.shape[0], g)
    cols = backend.xp.matmul(_weight_matrix(weight.data, g).transpose(0, 2, 1),
                             _signal_matrix(signal.data, g))
    out = _col2im(cols, g, tuple(input_shape))
    return out, (lambda h, out: conv(h, weight, **settings),
                 lambda h, out: conv_weight_grad(h, signal, weight_shape=weight.shape, **settings))


@primitive(samples=[Sample(((2, 3, 7), (2, 4, 5)), {"weight_shape": (4, 3, 3)}),
                    Sample(((2, 4, 9), (2, 6, 5)), {"weight_shape": (6, 2, 3), "stride": 2,
                                                    "padding": 2, "dilation": 2, "groups": 2}),
                    Sample(((1, 4, 6, 6), (1, 4, 4, 2)), {"weight_shape": (4, 2, 2, 3),
                                                          "stride": (2, 1), "padding": (1, 0),
                                                          "dilation": (1, 2), "groups": 2})])
def conv_weight_grad(x, signal, weight_shape=None, stride=1, padding=0, dilation=1, groups=1):
    """w̄ of a convolution: ȳᵀ cols, the signal against the windows it came from."""
    settings = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = geometry("conv", x.shape, tuple(weight_shape), **settings)
    _check_signal(signal, x.shape[0], weight_shape[0], g)
    out = backend.xp.matmul(_signal_matrix(signal.data, g), _im2col(x.data, g).transpose(0, 2, 1))
    return out.reshape(weight_shape), (
        lambda h, out: conv_input_grad(signal, h, input_shape=x.shape, **settings),
        lambda h, out: conv(x, h, **settings))


# ---------------------------------------------------------------- pooling
def _pool_geometry(op: str, x, kernel_size, stride, padding, dilation=1) -> Geometry:
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected an input of shape (N, C, H, W), got {tuple(x.shape)}")
    kernel = _per_dimension(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None or stride == () else stride
    g = geometry(op, (x.shape[0], 1) + tuple(x.shape[2:]), (1, 1) + kernel, stride, padding,
                 dilation, 1)
    if any(2 * p > k for p, k in zip(g.padding, g.kernel)):
        raise ValueError(f"{op}: padding {g.padding} should be at most half the kernel size "
                         f"{g.kernel}")
    return g


_POOL_SAMPLES = [Sample(((2, 3, 6, 6),), {"kernel_size": 2}),
                 Sample(((1, 2, 7, 6),), {"kernel_size": 3, "stride": 2, "padding": 1}),
                 Sample(((1, 2, 7, 7),), {"kernel_size": (3, 2), "stride": (2, 1)})]


@composite(samples=_POOL_SAMPLES + [Sample(((1, 2, 7, 7),), {"kernel_size": 2, "dilation": 2})],
           rejects=[Rejects(((2, 3, 6),), {"kernel_size": 2}, ShapeError)])
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """The largest element of each window; its gradient goes to that element (the first, where
    several tie, as PyTorch's CPU kernel picks)."""
    g = _pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation)
    xp = backend.xp
    windows = _windows(x.data, g, fill=-xp.inf if backend.is_floating(x.dtype) else
                       xp.iinfo(x.dtype).min)
    n, channels, (rows, cols) = x.shape[0], x.shape[1], x.shape[2:]
    # the winning tap of each window, one pass per tap over the window view: no copy of the
    # windows; a strict > keeps the first of tied maxima, and a NaN wins, as in PyTorch
    has_nan = backend.is_floating(x.dtype) and bool(xp.isnan(x.data).any())
    best = windows[..., 0, 0]
    tap = xp.zeros(best.shape, dtype=backend.int64)
    for number, (i, j) in enumerate(numpy.ndindex(*g.kernel)):
        if number:
            candidate = windows[..., i, j]
            better = candidate > best
            if has_nan:
                better |= xp.isnan(candidate)
            best = xp.where(better, candidate, best) if has_nan else xp.maximum(candidate, best)
            tap += better * (number - tap)
    tap_row, tap_col = xp.divmod(tap, g.kernel[1])
    out_rows = xp.arange(g.out[0]).reshape(-1, 1)
    out_cols = xp.arange(g.out[1])
    row = out_rows * g.stride[0] + tap_row * g.dilation[0] - g.padding[0]
    col = out_cols * g.stride[1] + tap_col * g.dilation[1] - g.padding[1]
    plane = xp.arange(n * channels).reshape(n, channels, 1, 1)
    flat = (plane * rows + row) * cols + col
    return getitem(x.reshape(-1), index=(flat,))


@composite(samples=_POOL_SAMPLES + [Sample(((1, 2, 5, 5),), {"kernel_size": 2, "padding": 1,
                                                              "count_include_pad": False})],
           rejects=[Rejects(((2, 3, 6),), {"kernel_size": 2}, ShapeError)])
def avg_pool2d(x, kernel_size, stride=None, padding=0, *, count_include_pad=True) -> Tensor:
    """The mean of each window: a convolution of each channel with a kernel of 1/K. Windows
    that overlap the padding divide by K (``count_include_pad``) or by the elements inside."""
    g = _pool_geometry("avg_pool2d", x, kernel_size, stride, padding)
    n, channels = x.shape[:2]
    ones = backend.xp.ones((1, 1) + g.kernel, dtype=x.dtype)
    settings = dict(stride=g.stride, padding=g.padding)
    planes = x.reshape(n * channels, 1, *x.shape[2:])
    if count_include_pad:
        summed = conv(planes, constant(ones / ones.size), **settings)
    else:
        inside = backend.xp.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
        counts = conv(constant(inside), constant(ones), **settings)
        summed = conv(planes, constant(ones), **settings) / counts
    return summed.reshape(n, channels, *g.out)


def _averaging_matrix(size: int, bins: int, dtype):
    """Row i averages elements ⌊i·size/bins⌋ up to ⌈(i+1)·size/bins⌉, PyTorch's adaptive bins."""
    matrix = numpy.zeros((bins, size))
    for i in range(bins):
        start, end = (i * size) // bins, -(-((i + 1) * size) // bins)
        matrix[i, start:end] = 1 / (end - start)
    return constant(backend.xp.asarray(matrix, dtype=dtype))


@composite(samples=[Sample(((2, 3, 6, 6),), {"output_size": 2}),
                    Sample(((1, 2, 7, 5),), {"output_size": (3, None)}),
                    Sample(((1, 2, 5, 7),), {"output_size": (2, 3)})],
           rejects=[Rejects(((2, 6),), {"output_size": 2}, ShapeError)])
def adaptive_avg_pool2d(x, output_size) -> Tensor:
    """Average over ``output_size`` bins of rows and of columns: A_rows · x · A_colsᵀ."""
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d: expected an input of shape (N, C, H, W) or "
                         f"(C, H, W), got {tuple(x.shape)}")
    sizes = (output_size, output_size) if isinstance(output_size, numbers.Integral) \
        else tuple(output_size)
    rows, cols = x.shape[-2:]
    out_rows = rows if sizes[0] is None else sizes[0]
    out_cols = cols if sizes[1] is None else sizes[1]
    return matmul(matmul(_averaging_matrix(rows, out_rows, x.dtype), x),
                  _averaging_matrix(cols, out_cols, x.dtype).mT)
