"""Fused primitives: functions that could be composed from smaller ops, but are one op here
because that is measurably faster or numerically safer. Each has its derived VJP."""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..tensor import Tensor
from .linalg import _matmul, matmul
from .primitive import Rejects, Sample, ShapeError, constant, fast_vjp, primitive
from .reduce import kept_shape, normalize_dims

SOFTMAX_SAMPLES = [Sample(((3, 5),), {"dim": 1}), Sample(((2, 3, 4),), {"dim": 0}),
                   Sample(((4,),), {"dim": -1})]


def _shifted(a, axis):
    """a − max(a): exponentials of this never overflow, whatever the magnitude of a. An empty
    tensor has no maximum and nothing to shift."""
    if a.data.size == 0:
        return a.data.copy()
    return a.data - a.data.max(axis=axis, keepdims=True)


def _softmax_axis(a, dim, op: str):
    """The axis ``dim`` names, as PyTorch checks it; None for a 0-d tensor (dim 0 or -1), whose
    softmax is 1 and log-softmax 0, as in PyTorch."""
    axes = normalize_dims(dim, a.ndim, op)
    return axes[0] if axes else None


@primitive(samples=[Sample(((3, 5),), {"dim": 1}), Sample(((2, 3, 4),), {"dim": (0, 2)}),
                    Sample(((3, 4),))], saves=("a", "out"))
def logsumexp(a, dim=None, keepdim=False):
    """log Σ eᵃ, computed as m + log Σ eᵃ⁻ᵐ with m = max a. Its gradient is softmax(a)."""
    axes = normalize_dims(dim, a.ndim, "logsumexp")
    shape = kept_shape(a.shape, axes)
    if a.data.size:
        peak = a.data.max(axis=axes, keepdims=True)
        peak = backend.xp.where(backend.xp.isfinite(peak), peak, 0)
        out = backend.xp.log(backend.xp.exp(a.data - peak).sum(axis=axes, keepdims=True)) + peak
    else:  # no maximum to shift by: a sum of no exponentials is 0, its log −inf (PyTorch's)
        out = backend.xp.full(shape, -backend.xp.inf, dtype=a.dtype)
    if not keepdim:
        out = out.reshape(tuple(n for i, n in enumerate(a.shape) if i not in axes))
    return out, lambda g, out: g.reshape(shape) * (a - out.reshape(shape)).exp()


@primitive(samples=SOFTMAX_SAMPLES, saves=("out",))
def softmax(a, dim=-1):
    """yₖ = eᶻᵏ / Σⱼ eᶻʲ. VJP: z̄ = y ∘ (ȳ − Σₖ ȳₖ yₖ)."""
    axis = _softmax_axis(a, dim, "softmax")
    exps = backend.xp.exp(_shifted(a, axis))
    out = exps / exps.sum(axis=axis, keepdims=True)
    return out, lambda g, out: out * (g - (g * out).sum(dim=axis, keepdim=True))


@primitive(samples=SOFTMAX_SAMPLES, saves=("out",))
def log_softmax(a, dim=-1):
    """log yₖ = zₖ − logsumexp(z). VJP: z̄ = ḡ − softmax(z) Σₖ ḡₖ."""
    axis = _softmax_axis(a, dim, "log_softmax")
    shifted = _shifted(a, axis)
    if shifted.size:  # (an empty tensor has nothing to normalise, and log of its empty sum warns)
        shifted -= backend.xp.log(backend.xp.exp(shifted).sum(axis=axis, keepdims=True))
    out = shifted
    return out, lambda g, out: g - out.exp() * g.sum(dim=axis, keepdim=True)


def _check_labels(logits: Tensor, target: Tensor, op: str):
    z, labels = logits.data, target.data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: the target must hold integer class labels, not {labels.dtype}; "
                        "for probabilities use a soft-target loss")
    if z.ndim != 2 or labels.ndim != 1 or labels.shape[0] != z.shape[0]:
        raise ShapeError(f"{op}: expected logits of shape (N, C) and labels of shape (N,), got "
                         f"{tuple(z.shape)} and {tuple(labels.shape)}")
    classes = z.shape[1]
    if not labels_in_range(labels, classes):
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise IndexError(f"{op}: label {int(bad)} is out of range for {classes} classes")


def labels_in_range(labels, classes: int) -> bool:
    """Whether every integer label is one of 0 … classes − 1. One pass: read as unsigned
    integers, a negative label wraps round to one above every signed value, so a single maximum
    finds both kinds of stray label (a compiled step replays one reduction and one check, not
    two of each). Where the classes outnumber the signed values (int8 labels, 200 classes) a
    wrapped label could pass for a class, and both ends are checked."""
    if not labels.size:
        return True
    if labels.dtype.kind == "u":
        return not labels.max() >= classes
    if classes > 2 ** (8 * labels.dtype.itemsize - 1):
        return not (labels.min() < 0 or labels.max() >= classes)
    return not labels.view(f"u{labels.dtype.itemsize}").max() >= classes


_LABELS = numpy.array([0, 3, 1])


def _cross_entropy(logits, target):
    """The forward shared by both reductions: per-sample losses Lᵢ = logsumexp(zᵢ) − zᵢ[tᵢ], and
    ``signal(scale)`` = (softmax(z) − onehot(t)) · scale as an array, from the same exponentials."""
    _check_labels(logits, target, "cross_entropy")
    rows = backend.xp.arange(logits.shape[0])
    shifted = _shifted(logits, 1)
    exps = backend.xp.exp(shifted)
    totals = exps.sum(axis=1, keepdims=True)
    losses = backend.xp.log(totals[:, 0]) - shifted[rows, target.data]

    def signal(scale):
        probabilities = exps / totals  # a new array: the VJP may run again (retain_graph)
        probabilities[rows, target.data] -= 1
        probabilities *= scale
        return probabilities

    def onehot():
        hot = backend.xp.zeros(logits.shape, dtype=logits.dtype)
        hot[rows, target.data] = 1
        return constant(hot)
    return losses, signal, onehot


_LABEL_REJECTS = [Rejects(((3, 4), numpy.array([0, 4, 1])), {}, IndexError),
                  Rejects(((3, 4), numpy.array([0, 1])), {}, ShapeError)]


@primitive(samples=[Sample(((3, 4), _LABELS))], rejects=_LABEL_REJECTS)
def cross_entropy_per_sample(logits, target):
    """Lᵢ = −log softmax(zᵢ)[tᵢ] = logsumexp(zᵢ) − zᵢ[tᵢ]. Its gradient is softmax(zᵢ) − onehot(tᵢ)."""
    losses, signal, onehot = _cross_entropy(logits, target)
    vjp = fast_vjp(lambda g, out: signal(g[:, None]),
                   lambda g, out: g.reshape((-1, 1)) * (softmax(logits, dim=1) - onehot()))
    return losses, (vjp, None)


@primitive(samples=[Sample(((3, 4), _LABELS)), Sample(((1, 5), numpy.array([4])))],
           rejects=_LABEL_REJECTS)
def cross_entropy_mean(logits, target):
    """L = (1/N) Σᵢ Lᵢ, the mean reduction fused in: one op and one graph node where the mean as
    its own op would add two of each. ∂L/∂z = (softmax(z) − onehot(t)) / N."""
    losses, signal, onehot = _cross_entropy(logits, target)
    count = logits.shape[0]
    vjp = fast_vjp(lambda g, out: signal(g / count),
                   lambda g, out: g * (softmax(logits, dim=1) - onehot()) / count)
    # sum / N rather than mean(): the same float32 arithmetic, without mean()'s Python layer
    return backend.xp.asarray(losses.sum() / count), (vjp, None)


@primitive(samples=[Sample(((3, 4), (3, 4)), low=-3, high=3)])
def binary_cross_entropy_with_logits_per_element(logits, target):
    """ℓ = −[t log σ(z) + (1 − t) log(1 − σ(z))] = max(z, 0) − z t + log(1 + e^−|z|), stable for any z.
    ∂ℓ/∂z = σ(z) − t,  ∂ℓ/∂t = −z."""
    z = logits.data
    out = backend.xp.maximum(z, 0) - z * target.data + backend.xp.log1p(backend.xp.exp(-backend.xp.abs(z)))
    return out, (lambda g, out: g * (logits.sigmoid() - target), lambda g, out: -g * logits)


@primitive(samples=[Sample(((5, 4), (3, 4), (3,))), Sample(((2, 5, 4), (3, 4), (3,))),
                    Sample(((4,), (3, 4), (3,))), Sample(((5, 4), (3, 4))),
                    # no outputs (PyTorch's (..., 0), x̄ = 0), or no inputs (y = b)
                    Sample(((2, 5, 4), (0, 4), (0,))), Sample(((4,), (0, 4))),
                    Sample(((5, 4), (0, 4))), Sample(((2, 5, 0), (3, 0), (3,)))],
           rejects=[Rejects(((5, 4), (3, 5), (3,)), {}, ShapeError)], saves=("x", "weight"))
def linear(x, weight, bias=None):
    """y = x Wᵀ + b, with W of shape (out, in). VJPs: x̄ = ȳ W, W̄ = ȳᵀ x, b̄ = Σ ȳ over the batch."""
    w = weight.data
    features, outputs = w.shape[1], w.shape[0]
    if x.data.shape[-1] != features:
        raise ShapeError(f"linear: input of shape {tuple(x.shape)} has {x.shape[-1]} features but "
                         f"the weight of shape {tuple(weight.shape)} expects {features}")
    batched = x.data.ndim != 2  # (..., in): the leading axes are flattened into one batch axis
    # the count of rows said, not -1: a reshape of no elements cannot infer it (in or out 0)
    flat = x.data.reshape(math.prod(x.shape[:-1]), features) if batched else x.data
    out = backend.xp.dot(flat, w.T)
    if bias is not None:
        out += bias.data
    if batched:
        out = out.reshape(x.shape[:-1] + (outputs,))

    # Each VJP in arrays as well as in Tensor ops: this op runs three times per step of an MLP,
    # and the array form skips eight op calls per step (measured: a small MLP's backward in 0.7x
    # the time).
    input_vjp = fast_vjp(lambda g, out: _linear_input_backward(g, w, batched),
                         lambda g, out: matmul(g, weight))  # matmul: a 1-D signal too
    weight_vjp = fast_vjp(lambda g, out: backend.xp.dot(_rows(g, batched).T, flat),
                          lambda g, out: _matmul(g.reshape((len(flat), outputs)).mT,
                                                 x.reshape((len(flat), features))))
    return out, (input_vjp, weight_vjp) if bias is None else (input_vjp, weight_vjp, _BIAS_VJP)


def _rows(g, batched: bool):
    """The error signal of ``linear`` as one row per example: (..., out) flattened to (N, out)."""
    return g.reshape(math.prod(g.shape[:-1]), g.shape[-1]) if batched else g


# b̄ = Σ ȳ over every axis but the last: it needs nothing from the call, so one VJP serves all.
_BIAS_VJP = fast_vjp(lambda g, out: _rows(g, g.ndim != 2).sum(axis=0),
                     lambda g, out: g.sum(dim=tuple(range(g.ndim - 1))))


def _linear_input_backward(g, w, batched: bool):
    """x̄ = ȳ W on arrays, of the input's shape (..., in). A batched signal as one matrix product
    over the flattened batch, not matmul's one product per leading index: 20% faster for a
    transformer's (32, 64, 512) signal with two BLAS threads."""
    if not batched:
        return backend.xp.dot(g, w)
    return backend.xp.dot(_rows(g, batched), w).reshape(g.shape[:-1] + (w.shape[1],))
