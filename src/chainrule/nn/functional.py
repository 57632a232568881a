"""Activations and losses as functions, with PyTorch's names (``chainrule.nn.functional as F``)."""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..ops import (binary_cross_entropy_with_logits_per_element, cross_entropy_per_sample,
                   getitem, log_softmax, relu, sigmoid, softmax, tanh)
from ..ops import linear as _linear
from ..ops.fused import cross_entropy_mean
from ..ops.primitive import Rejects, Sample, ShapeError, composite, constant
from ..tensor import Tensor

__all__ = ["linear", "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "dropout",
           "mse_loss", "binary_cross_entropy_with_logits", "binary_cross_entropy",
           "cross_entropy", "nll_loss"]


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def _as_target(target) -> Tensor:
    return target if isinstance(target, Tensor) else Tensor(backend.xp.asarray(target))


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
    target = _as_target(target)
    if target.shape != input.shape:
        raise ShapeError(f"mse_loss: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} differ; reshape one so they match")
    difference = input - target
    return _reduce(difference * difference, reduction, "mse_loss")


@composite(samples=[Sample(((3, 4), (3, 4)), low=-3, high=3)],
           rejects=[Rejects(((3, 4), (3,)), {}, ShapeError)])
def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """−[t log σ(z) + (1 − t) log(1 − σ(z))], from the logits z: stable for any magnitude."""
    target = _as_target(target)
    if target.shape != input.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: logits of shape {tuple(input.shape)} "
                         f"and target of shape {tuple(target.shape)} differ")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return _reduce(binary_cross_entropy_with_logits_per_element(input, target), reduction,
                   "binary_cross_entropy_with_logits")


def binary_cross_entropy(input: Tensor, target, reduction: str = "mean", eps: float = 1e-12):
    """−[t log y + (1 − t) log(1 − y)] from probabilities y (prefer the logits version)."""
    target = _as_target(target).to(input.dtype)
    y = input.clamp(min=eps, max=1 - eps)
    return _reduce(-(target * y.log() + (1 - target) * (1 - y).log()), reduction,
                   "binary_cross_entropy")


def _flatten_classes(input: Tensor, target: Tensor):
    """(N, C, d...) logits with (N, d...) labels become (N·d…, C) and (N·d…,), as in PyTorch."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape(1)
    if input.ndim > 2:
        classes = input.shape[1]
        moved = input.permute(0, *range(2, input.ndim), 1).reshape(-1, classes)
        return moved, target.reshape(-1)
    return input, target


@composite(samples=[Sample(((3, 4), numpy.array([0, 3, 1]))),
                    Sample(((3, 4), numpy.array([2, 2, 0])), {"reduction": "sum"})],
           rejects=[Rejects(((3, 4), numpy.array([0, 7, 1])), {}, IndexError)])
def cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """−log softmax(z)[t] for integer class labels t, from the logits z (log-softmax fused in).
    Its gradient with respect to z is softmax(z) − onehot(t)."""
    target = _as_target(target)
    logits, labels = _flatten_classes(input, target)
    if reduction == "mean":
        return cross_entropy_mean(logits, labels)  # fused: one op, one node
    losses = cross_entropy_per_sample(logits, labels)
    if reduction == "none" and input.ndim != 2:
        losses = losses.reshape(target.shape)
    return _reduce(losses, reduction, "cross_entropy")


@composite(samples=[Sample(((3, 4), numpy.array([0, 3, 1])))],
           rejects=[Rejects(((3, 4), numpy.array([0, 1])), {}, ShapeError)])
def nll_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """−input[t]: the negative log-likelihood, given log-probabilities (e.g. from log_softmax)."""
    target = _as_target(target)
    logp, labels = _flatten_classes(input, target)
    if labels.ndim != 1 or labels.shape[0] != logp.shape[0]:
        raise ShapeError(f"nll_loss: expected log-probabilities (N, C) and labels (N,), got "
                         f"{tuple(input.shape)} and {tuple(target.shape)}")
    rows = backend.xp.arange(logp.shape[0])
    losses = -getitem(logp, index=(rows, labels.data))
    if reduction == "none" and input.ndim != 2:
        losses = losses.reshape(target.shape)  # one loss per label, as cross_entropy gives
    return _reduce(losses, reduction, "nll_loss")
