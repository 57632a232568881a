"""Activations, losses, convolutions, pooling and batch norm as functions, with PyTorch's names
(``chainrule.nn.functional as F``)."""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..ops import (adaptive_avg_pool2d, avg_pool2d, binary_cross_entropy_with_logits_per_element,
                   conv, cross_entropy_per_sample, getitem, leaky_relu, log_softmax, logsigmoid,
                   max_pool2d, normalize, relu, sigmoid, softmax, softplus, tanh, where)
from ..ops import layer_norm as _layer_norm
from ..ops import linear as _linear
from ..ops.fused import cross_entropy_mean, labels_in_range
from ..ops.primitive import Rejects, Sample, ShapeError, composite, constant
from ..tensor import Tensor
from .pointwise_losses import huber_loss, kl_div, l1_loss, smooth_l1_loss
from .reduction import as_target as _as_target
from .reduction import check_reduction as _check_reduction
from .reduction import reduce_loss as _reduce

__all__ = ["linear", "relu", "leaky_relu", "sigmoid", "logsigmoid", "softplus", "tanh", "gelu",
           "softmax", "log_softmax", "dropout", "layer_norm", "normalize", "mse_loss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy_with_logits",
           "binary_cross_entropy", "cross_entropy", "nll_loss", "one_hot", "conv1d", "conv2d",
           "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b (the fused op), with ``bias`` also accepted by name, as in PyTorch."""
    return _linear(input, weight, bias)


@composite(samples=[Sample(((3, 4),)), Sample(((3, 4),), {"approximate": "tanh"})])
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x) = ½x(1 + erf(x/√2)); ``approximate="tanh"`` uses
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as GPT-2 did."""
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
    return 0.5 * x * (1 + (x * (1 / math.sqrt(2))).erf())


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x − μ)/√(σ² + ε) ∘ w + b over the last dimension (the fused op; see ``nn.LayerNorm``),
    with w = 1 when no weight is given. ``normalized_shape`` is that dimension's size, as an int
    or a 1-tuple; normalising over more dimensions is not provided."""
    sizes = (tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list))
             else (int(normalized_shape),))
    if len(sizes) != 1:
        raise ValueError(f"layer_norm: normalises over the last dimension only; "
                         f"normalized_shape {sizes} names {len(sizes)} dimensions")
    if input.ndim == 0 or input.shape[-1] != sizes[0]:
        raise ShapeError(f"layer_norm: normalized_shape {sizes} does not fit input of shape "
                         f"{tuple(input.shape)}: its last dimension must be {sizes[0]}")
    if weight is None:  # no affine map: a scale of ones, a constant
        weight = constant(backend.xp.ones(sizes, dtype=input.dtype))
    return _layer_norm(input, weight, bias, eps=eps)


def one_hot(labels, num_classes: int = -1) -> Tensor:
    """Row i is 1 at column labels[i] and 0 elsewhere: shape (*labels.shape, num_classes), int64,
    as in PyTorch. With num_classes=-1 the count is the largest label + 1."""
    labels = _as_target(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: the labels must be integers, not {labels.dtype}; convert them "
                        "with labels.long()")
    values = labels.data
    largest = int(values.max()) if values.size else -1
    if num_classes == -1:
        num_classes = largest + 1
    if values.size and (int(values.min()) < 0 or largest >= num_classes):
        raise ValueError(f"one_hot: the labels must lie in [0, {num_classes}), but they span "
                         f"[{int(values.min())}, {largest}]")
    columns = backend.xp.arange(num_classes)
    return constant((values[..., None] == columns).astype(backend.int64))


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1 − p) (inverted dropout)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = backend.random_array("uniform", x.shape, x.dtype, generator) >= p
    return x * constant(keep.astype(x.dtype) * x.dtype.type(1 / (1 - p)))


@composite(samples=[Sample(((3, 4), (3, 4))), Sample(((5,), (5,)), {"reduction": "sum"})],
           rejects=[Rejects(((3, 4), (4, 3)), {}, ShapeError)])
def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """The mean of (y − t)² over every element. The slides' ½‖y − t‖² per example differs by the
    constant factor ½ (and by averaging rather than summing), which scales the gradient but
    moves no minimum: ``mse_loss(y, t, reduction="sum") / 2`` is the slides' loss exactly."""
    _check_reduction(reduction, "mse_loss")
    target = _as_target(target)
    if target.shape != input.shape:
        raise ShapeError(f"mse_loss: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} differ; reshape one so they match")
    difference = input - target
    return _reduce(difference * difference, reduction)


@composite(samples=[Sample(((3, 4), (3, 4)), low=-3, high=3),
                    Sample(((3, 4), (3, 4)), {"pos_weight": numpy.array([1.0, 2.0, 0.5, 3.0]),
                                              "weight": numpy.array([[0.5], [1.0], [2.0]])},
                           low=-3, high=3)],
           rejects=[Rejects(((3, 4), (3,)), {}, ShapeError)])
def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean", *,
                                     weight=None, pos_weight=None) -> Tensor:
    """−[t log σ(z) + (1 − t) log(1 − σ(z))], from the logits z: stable for any magnitude.
    PyTorch's options: ``pos_weight`` p scales the positive term, −[p t log σ(z) + (1 − t)
    log(1 − σ(z))], and ``weight`` w scales each element's loss (both broadcast)."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits", takes_weight=True)
    target = _as_target(target)
    if target.shape != input.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: logits of shape {tuple(input.shape)} "
                         f"and target of shape {tuple(target.shape)} differ")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    losses = binary_cross_entropy_with_logits_per_element(input, target)
    if pos_weight is not None:
        # the extra (p − 1)·t·(−log σ(z)); −log σ(z) is the loss of z at target 1
        at_one = binary_cross_entropy_with_logits_per_element(input, constant(
            backend.xp.ones_like(input.data)))
        losses = losses + (_class_weight(pos_weight, input) - 1) * target * at_one
    if weight is not None:
        losses = losses * _class_weight(weight, input)
    return _reduce(losses, reduction)


@composite(samples=[Sample(((3, 4), (3, 4)), low=0.05, high=0.95),
                    Sample(((5,), numpy.array([0.0, 1.0, 1.0, 0.0, 0.3])), {"reduction": "sum"},
                           low=0.05, high=0.95)],
           rejects=[Rejects(((3, 1), (3,)), {}, ShapeError)])
def binary_cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """−[t log y + (1 − t) log(1 − y)] from probabilities y (prefer the logits version), each log
    at least −100, as in PyTorch: a probability of exactly 0 or 1 (a float32 sigmoid saturates
    there from |z| ≈ 17) costs at most 100, and 0 · log 0 is 0, not nan."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = _as_target(target).to(input.dtype)
    if target.shape != input.shape:
        raise ShapeError(f"binary_cross_entropy: input of shape {tuple(input.shape)} and target "
                         f"of shape {tuple(target.shape)} differ; reshape one so they match")
    losses = -(target * _log_at_least_minus_100(input)
               + (1 - target) * _log_at_least_minus_100(1 - input))
    return _reduce(losses, reduction)


def _log_at_least_minus_100(p: Tensor) -> Tensor:
    """max(log p, −100). Where it is −100 its gradient is 0; p is replaced by 1 there before the
    log, whose derivative 1/p would be 0 · inf = nan at p = 0 even behind a clamp. (PyTorch's
    gradient at such a p is (y − t)/10⁻¹²: the two differ only for p below e⁻¹⁰⁰.)"""
    clamped = constant(p.data < math.exp(-100))
    return where(clamped, -100.0, where(clamped, 1.0, p).log())


def _flatten_classes(input: Tensor, target: Tensor):
    """(N, C, d...) logits with (N, d...) labels become (N·d…, C) and (N·d…,), as in PyTorch."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape(1)
    if input.ndim > 2:
        classes = input.shape[1]
        moved = input.permute(0, *range(2, input.ndim), 1).reshape(-1, classes)
        return moved, target.reshape(-1)
    return input, target


def _none_ignored(labels, ignore_index: int, classes: int) -> bool:
    """Whether no label is ``ignore_index``. PyTorch's −100 can't be a class, so labels all in
    range hold none of it: one pass (``labels_in_range``) instead of a comparison and an any()."""
    if 0 <= ignore_index < classes:
        return not (labels == ignore_index).any()
    return labels_in_range(labels, classes) or not (labels == ignore_index).any()


def _picked_losses(logp: Tensor, labels: Tensor, weight, ignore_index: int, op: str):
    """Per row −w[t]·logp[t] (0 where t = ignore_index, picked rather than multiplied by 0: an
    ignored row's logp may be −inf, a class masked out) and the weight each row counts with in a
    mean: w[t] (1 without class weights), or 0 for an ignored row."""
    classes = logp.shape[1]
    keep = labels.data != ignore_index
    safe = backend.xp.where(keep, labels.data, 0)
    bad = (safe < 0) | (safe >= classes)
    if bad.any():
        raise IndexError(f"{op}: label {int(safe[bad][0])} is out of range for {classes} classes")
    counted = constant(keep.astype(logp.dtype))
    if weight is not None:
        counted = counted * getitem(weight, index=(safe,))
    rows = backend.xp.arange(logp.shape[0])
    picked = where(constant(keep), getitem(logp, index=(rows, safe)), 0.0)
    return -picked * counted, counted


def _reduce_counted(losses: Tensor, counted: Tensor, reduction: str, shape) -> Tensor:
    """As PyTorch: the mean divides by the total weight of the rows kept, not by their number.
    With no weight kept (a batch of padding only) the mean is 0/0, nan as in PyTorch, and the
    gradient 0, also as in PyTorch: the division's would be nan, and reach every weight."""
    if reduction == "mean":
        total = counted.sum()
        nothing_kept = total == 0
        mean = losses.sum() / where(nothing_kept, 1.0, total)
        return where(nothing_kept, math.nan, mean)
    if reduction == "none" and shape is not None:
        losses = losses.reshape(shape)  # one loss per label: (N, d...) for (N, C, d...) input
    return _reduce(losses, reduction)


def _class_weight(weight, input: Tensor):
    return None if weight is None else _as_target(weight).to(input.dtype)


def _soft_cross_entropy(input: Tensor, target: Tensor, weight, reduction: str,
                        label_smoothing: float) -> Tensor:
    """−Σ_c w_c t_c log softmax(z)_c, for class probabilities t of the logits' shape."""
    if target.shape != input.shape:
        raise ShapeError(f"cross_entropy: probabilities as the target need the logits' shape; got "
                         f"logits {tuple(input.shape)} and target {tuple(target.shape)}")
    class_dim = 0 if input.ndim == 1 else 1
    classes = input.shape[class_dim]
    target = target.to(input.dtype)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    logp = log_softmax(input, dim=class_dim)
    if weight is not None:  # along the class dimension: (C,), (C, 1), (C, 1, 1)...
        logp = logp * weight.reshape((classes,) + (1,) * (input.ndim - class_dim - 1))
    return _reduce(-(logp * target).sum(dim=class_dim), reduction)


_WEIGHTS = numpy.array([1.0, 2.0, 0.5, 1.5])


@composite(samples=[Sample(((3, 4), numpy.array([0, 3, 1]))),
                    Sample(((3, 4), numpy.array([2, 2, 0])), {"reduction": "sum"}),
                    Sample(((3, 4), numpy.array([0, 3, 1])), {"weight": _WEIGHTS}),
                    Sample(((3, 4), numpy.array([0, -100, 1])), {"label_smoothing": 0.2}),
                    Sample(((3, 4), numpy.array([2, 1, 2])),
                           {"weight": _WEIGHTS, "ignore_index": 1, "label_smoothing": 0.1,
                            "reduction": "none"}),
                    Sample(((2, 4, 3), (2, 4, 3)), {"weight": _WEIGHTS, "label_smoothing": 0.1})],
           rejects=[Rejects(((3, 4), numpy.array([0, 7, 1])), {}, IndexError),
                    Rejects(((3, 4), numpy.array([0, -1, 1])), {"weight": _WEIGHTS}, IndexError),
                    Rejects(((3, 4), (3, 3)), {}, ShapeError)])
def cross_entropy(input: Tensor, target, reduction: str = "mean", *, weight=None,
                  ignore_index: int = -100, label_smoothing: float = 0.0) -> Tensor:
    """−log softmax(z)[t] for integer class labels t, from the logits z (log-softmax fused in).
    Its gradient with respect to z is softmax(z) − onehot(t).

    PyTorch's options, with p = softmax(z), class weights w (default 1) and smoothing ε:
    ℓᵢ = (1 − ε) w[tᵢ] (−log pᵢ[tᵢ]) + (ε/C) Σ_c w_c (−log pᵢ[c]), and ℓᵢ = 0 where
    tᵢ = ``ignore_index``; the mean is Σ ℓᵢ / Σ w[tᵢ] over the rows kept. A float target of the
    logits' shape holds class probabilities: ℓᵢ = −Σ_c w_c tᵢ_c log pᵢ[c]."""
    _check_reduction(reduction, "cross_entropy", takes_weight=True)
    target = _as_target(target)
    weight = _class_weight(weight, input)
    if backend.is_floating(target.dtype):
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    logits, labels = _flatten_classes(input, target)
    shape = None if input.ndim == 2 else target.shape
    if weight is None and not label_smoothing and _none_ignored(labels.data, ignore_index,
                                                                 logits.shape[-1]):
        if reduction == "mean":
            return cross_entropy_mean(logits, labels)  # fused: one op, one node
        losses = cross_entropy_per_sample(logits, labels)
        if reduction == "none" and shape is not None:
            losses = losses.reshape(shape)
        return _reduce(losses, reduction)
    logp = log_softmax(logits, dim=1)
    losses, counted = _picked_losses(logp, labels, weight, ignore_index, "cross_entropy")
    if label_smoothing:
        spread = -(logp if weight is None else logp * weight).sum(dim=1)
        spread = where(constant(labels.data != ignore_index), spread, 0.0)
        losses = (1 - label_smoothing) * losses + (label_smoothing / logp.shape[1]) * spread
    return _reduce_counted(losses, counted, reduction, shape)


@composite(samples=[Sample(((3, 4), numpy.array([0, 3, 1]))),
                    Sample(((3, 4), numpy.array([0, 3, 1])), {"weight": _WEIGHTS}),
                    Sample(((3, 4), numpy.array([2, -100, 1])), {"reduction": "sum"})],
           rejects=[Rejects(((3, 4), numpy.array([0, 1])), {}, ShapeError),
                    Rejects(((3, 4), numpy.array([0, -1, 1])), {}, IndexError)])
def nll_loss(input: Tensor, target, reduction: str = "mean", *, weight=None,
             ignore_index: int = -100) -> Tensor:
    """−w[t]·input[t]: the negative log-likelihood, given log-probabilities (e.g. from log_softmax);
    0 where t = ``ignore_index``, and the mean divides by Σ w[t] over the rows kept (PyTorch's)."""
    _check_reduction(reduction, "nll_loss", takes_weight=True)
    target = _as_target(target)
    logp, labels = _flatten_classes(input, target)
    if labels.ndim != 1 or labels.shape[0] != logp.shape[0]:
        raise ShapeError(f"nll_loss: expected log-probabilities (N, C) and labels (N,), got "
                         f"{tuple(input.shape)} and {tuple(target.shape)}")
    losses, counted = _picked_losses(logp, labels, _class_weight(weight, input), ignore_index,
                                     "nll_loss")
    shape = None if input.ndim == 2 else target.shape
    return _reduce_counted(losses, counted, reduction, shape)


def _same_padding(weight: Tensor, stride, dilation, op: str) -> tuple:
    """padding="same": d(k − 1)/2 on each side, so the output keeps the input's size."""
    spatial = weight.ndim - 2
    strides = (stride,) * spatial if isinstance(stride, int) else tuple(stride)
    dilations = (dilation,) * spatial if isinstance(dilation, int) else tuple(dilation)
    if any(s != 1 for s in strides):
        raise ValueError(f"{op}: padding='same' needs stride 1, got stride={stride}")
    totals = [d * (k - 1) for d, k in zip(dilations, weight.shape[2:])]
    if any(total % 2 for total in totals):
        raise ValueError(f"{op}: padding='same' with kernel {tuple(weight.shape[2:])} and dilation "
                         f"{dilation} would pad one side more than the other, which chainrule "
                         "does not do; use an odd kernel size")
    return tuple(total // 2 for total in totals)


def _convolve(op: str, spatial: int, input, weight, bias, stride, padding, dilation, groups):
    if weight.ndim != spatial + 2:
        raise ShapeError(f"{op}: expected a weight of {spatial + 2} dimensions (out, in/groups, "
                         f"kernel...), got shape {tuple(weight.shape)}")
    if padding == "valid":
        padding = 0
    elif padding == "same":
        padding = _same_padding(weight, stride, dilation, op)
    return conv(input, weight, bias, stride=stride, padding=padding, dilation=dilation,
                groups=groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """y[n, f, i] = b[f] + Σ_{c,k} w[f, c, k] x[n, c, s·i + d·k − p], input (N, C, L)."""
    return _convolve("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """The 2-D convolution (cross-correlation, as in PyTorch) of input (N, C, H, W) with weight
    (F, C/groups, kH, kW); stride, padding ("valid", "same" or sizes) and dilation as in PyTorch."""
    return _convolve("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


_STATISTICS = numpy.array([0.2, -0.5, 1.0])
_SPREADS = numpy.array([0.5, 1.5, 2.0])


@composite(name="batch_norm", samples=[
    Sample(((4, 3), (3,), (3,)), {"training": True}),
    Sample(((2, 3, 2, 3), (3,), (3,)), {"training": True, "eps": 1e-3}),
    Sample(((2, 3, 4), (3,), (3,)), {"running_mean": _STATISTICS, "running_var": _SPREADS})],
    rejects=[Rejects(((1, 3), (3,), (3,)), {"training": True}, ValueError)])
def _batch_norm_registered(input, weight, bias, running_mean=None, running_var=None, **settings):
    """batch_norm with its parameters first and the running statistics as arrays: the order
    the registry's samples take."""
    statistics = [None if s is None else Tensor(s) for s in (running_mean, running_var)]
    return batch_norm(input, *statistics, weight, bias, **settings)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """y = (x − μ)/√(σ² + ε) ∘ w + b per channel (dimension 1), over the batch and any spatial
    dimensions. Training uses the batch's μ and biased σ², and moves the running statistics
    toward them: r ← (1 − momentum) r + momentum · stat (the variance unbiased, n/(n − 1) σ²);
    evaluation uses the running statistics."""
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C, ...), got "
                         f"{tuple(input.shape)}")
    channels = input.shape[1]
    axes = (0,) + tuple(range(2, input.ndim))
    per_channel = (1, channels) + (1,) * (input.ndim - 2)
    if training or running_mean is None:
        count = input.numel() // channels
        if training and count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(input.shape)}")
        mean = input.mean(dim=axes, keepdim=True)
        variance = input.var(dim=axes, correction=0, keepdim=True)
        if training and running_mean is not None:
            unbiased = variance.data.reshape(-1) * (count / (count - 1))
            running_mean.data[...] = ((1 - momentum) * running_mean.data
                                      + momentum * mean.data.reshape(-1))
            running_var.data[...] = (1 - momentum) * running_var.data + momentum * unbiased
    else:
        mean = running_mean.reshape(per_channel).to(input.dtype)
        variance = running_var.reshape(per_channel).to(input.dtype)
    out = (input - mean) * (variance + eps) ** -0.5
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out
