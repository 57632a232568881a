"""Helpers on parameters: gradient clipping (``chainrule.nn.utils.clip_grad_norm_``) and the
numbers that show how well each layer learns (``gradient_stats``)."""
from __future__ import annotations

import math
from typing import Iterable

from .. import backend
from ..tensor import Tensor, as_tensor


def _with_grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    The global norm is ‖(g₁, …, gₙ)‖ over every element of every gradient; when it exceeds
    max_norm, each gradient becomes g · max_norm / (norm + 1e-6), as in PyTorch. Returns the
    norm before clipping, as a 0-d tensor. Gradients are replaced by new arrays, never scaled
    in place, because one gradient array may be shared by several tensors (and they are
    replaced even when the factor is 1, which changes no value: one path, no branch).
    """
    xp = backend.xp
    with_grads = _with_grads(parameters)
    if not with_grads:
        return as_tensor(xp.asarray(0.0, dtype=backend.get_default_dtype()))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        norms = [xp.max(xp.abs(p.grad.data)) for p in with_grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = [xp.linalg.norm(p.grad.data.reshape(-1), ord=norm_type) for p in with_grads]
        total = xp.linalg.norm(xp.stack(norms), ord=norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {float(total)}; "
                           "pass error_if_nonfinite=False to clip anyway")
    # min(1, max_norm / (norm + 1e-6)) in float64, as Python floats would compute it, but in
    # arrays and without a branch, so that chainrule.compile can replay it: a gradient times
    # exactly 1 is the same gradient, bit for bit.
    coefficient = xp.minimum(float(max_norm) / (xp.asarray(total, dtype=backend.float64) + 1e-6),
                             1.0)
    for p in with_grads:
        p.grad = as_tensor(p.grad.data * coefficient.astype(p.grad.dtype))
    return as_tensor(xp.asarray(total))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value] (new arrays, as above)."""
    for p in _with_grads(parameters):
        p.grad = as_tensor(backend.xp.clip(p.grad.data, -clip_value, clip_value))


class GradientStats(dict):
    """``gradient_stats``'s result: parameter name -> its numbers; prints as a table."""

    def __str__(self) -> str:
        lines = [f"{'parameter':<24} {'shape':<14} {'‖grad‖':>10} {'mean |grad|':>12} "
                 f"{'max |grad|':>11} {'‖grad‖/‖w‖':>11}"]
        for name, row in self.items():
            lines.append(f"{name:<24} {str(row['shape']):<14} {row['norm']:>10.3e} "
                         f"{row['mean_abs']:>12.3e} {row['max_abs']:>11.3e} "
                         f"{row['relative']:>11.3e}")
        return "\n".join(lines)


def gradient_stats(model) -> GradientStats:
    """For each parameter of ``model`` that has a gradient: the gradient's norm, mean and largest
    absolute value, and its norm relative to the weight's (how far one SGD step of learning
    rate 1 would move it). Layers whose gradients are orders of magnitude smaller than the rest
    learn orders of magnitude slower: the vanishing gradients of deep sigmoid networks."""
    xp = backend.xp
    stats = GradientStats()
    for name, parameter in model.named_parameters():
        if parameter.grad is None:
            continue
        grad = parameter.grad.data.astype(backend.float64)
        norm = float(xp.linalg.norm(grad.reshape(-1)))
        weight_norm = float(xp.linalg.norm(parameter.data.astype(backend.float64).reshape(-1)))
        stats[name] = {"shape": tuple(parameter.shape), "norm": norm,
                       "mean_abs": float(xp.abs(grad).mean()) if grad.size else 0.0,
                       "max_abs": float(xp.abs(grad).max()) if grad.size else 0.0,
                       "relative": norm / weight_norm if weight_norm > 0 else float("inf")}
    return stats
