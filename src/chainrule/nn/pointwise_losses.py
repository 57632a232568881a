"""Losses of one value per element: the L1, smooth L1 and Huber losses of the difference
d = y − t, and the KL divergence of a distribution given by its log-probabilities."""
from __future__ import annotations

import warnings

from ..ops import where
from ..ops.primitive import Rejects, Sample, ShapeError, composite, constant
from ..tensor import Tensor
from .reduction import as_target, check_reduction, reduce_loss

_SAME_SHAPES = [Sample(((3, 4), (3, 4))), Sample(((5,), (5,)), {"reduction": "sum"})]
_OTHER_SHAPES = [Rejects(((3, 4), (4, 3)), {}, ShapeError)]


def _difference(input: Tensor, target, op: str) -> Tensor:
    """y − t, for a target of the input's shape: as for ``mse_loss``, (N,) against (N, 1) is
    refused rather than broadcast to an N × N matrix of differences (PyTorch warns)."""
    target = as_target(target)
    if target.shape != input.shape:
        raise ShapeError(f"{op}: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} differ; reshape one so they match")
    return input - target


@composite(samples=_SAME_SHAPES, rejects=_OTHER_SHAPES)
def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """|y − t|, averaged over every element by default; its slope is sign(y − t) (0 at 0)."""
    check_reduction(reduction, "l1_loss")
    return reduce_loss(_difference(input, target, "l1_loss").abs(), reduction)


@composite(samples=_SAME_SHAPES + [Sample(((3, 4), (3, 4)), {"delta": 0.5})],
           rejects=_OTHER_SHAPES + [Rejects(((3,), (3,)), {"delta": 0.0}, ValueError)])
def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """ℓ = ½d² where |d| < δ, and δ(|d| − ½δ) elsewhere: the squared error near the target,
    the absolute error (times δ) beyond δ, so that outliers pull with a force of at most δ.
    ℓ′(d) = d clamped to [−δ, δ]."""
    check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    difference = _difference(input, target, "huber_loss")
    size = difference.abs()
    losses = where(size < delta, 0.5 * difference * difference, delta * (size - 0.5 * delta))
    return reduce_loss(losses, reduction)


@composite(samples=_SAME_SHAPES + [Sample(((3, 4), (3, 4)), {"beta": 0.5}),
                                   Sample(((3, 4), (3, 4)), {"beta": 0.0})],
           rejects=_OTHER_SHAPES + [Rejects(((3,), (3,)), {"beta": -1.0}, ValueError)])
def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", *,
                   beta: float = 1.0) -> Tensor:
    """ℓ = ½d²/β where |d| < β, and |d| − ½β elsewhere: the Huber loss with δ = β divided by β,
    so that its slope beyond β is ±1 whatever β; β = 0 is the L1 loss (PyTorch's). ``beta`` is
    by name (PyTorch's third and fourth positional arguments are its old size_average and
    reduce)."""
    check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be 0 or more, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    difference = _difference(input, target, "smooth_l1_loss")
    size = difference.abs()
    losses = where(size < beta, (0.5 / beta) * difference * difference, size - 0.5 * beta)
    return reduce_loss(losses, reduction)


_KL_SAMPLES = [Sample(((3, 4), (3, 4)), {"reduction": "batchmean"}, low=0.1, high=1.0),
               Sample(((3, 4), (3, 4)), {"reduction": "sum", "log_target": True}, low=-2, high=0),
               Sample(((5,), (5,)), {"reduction": "none"}, low=0.1, high=1.0)]


@composite(samples=_KL_SAMPLES, rejects=_OTHER_SHAPES)
def kl_div(input: Tensor, target, reduction: str = "mean", *, log_target: bool = False) -> Tensor:
    """KL(t ‖ p) = Σ t (log t − log p), in PyTorch's order: ``input`` holds the model's
    log-probabilities log p (from ``log_softmax``), ``target`` the reference probabilities t,
    or their logarithms with ``log_target=True``. Each element is t(log t − log p), 0 where
    t = 0 (t log t → 0). ``reduction="batchmean"`` divides the sum by the batch size
    input.shape[0], which is the KL divergence per example; "mean" divides by the number of
    elements, which is not, and warns as PyTorch does. ``log_target`` is by name (PyTorch's
    third and fourth positional arguments are its old size_average and reduce)."""
    check_reduction(reduction, "kl_div", ("mean", "batchmean", "sum", "none"))
    target = as_target(target)
    if target.shape != input.shape:
        raise ShapeError(f"kl_div: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} differ; reshape one so they match")
    if log_target:
        losses = target.exp() * (target - input)
    else:  # log 1 = 0 stands in for log 0, where t log t is 0
        losses = target * (where(constant(target.data == 0), 1.0, target).log() - input)
    if reduction == "batchmean":
        total = losses.sum()
        return total / input.shape[0] if input.ndim else total
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the sum by the number of elements, not "
                      "by the batch size; reduction='batchmean' gives the KL divergence per "
                      "example (as in PyTorch, which warns too)", stacklevel=2)
    return reduce_loss(losses, reduction)
