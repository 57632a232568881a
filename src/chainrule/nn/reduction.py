"""What every loss shares: its target as a tensor, and its ``reduction`` checked and applied."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """The loss reduced as ``reduction`` says (checked by ``check_reduction`` first)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def check_reduction(reduction, op: str, allowed: tuple = REDUCTIONS,
                    takes_weight: bool = False) -> None:
    """Refuse a reduction other than the names allowed before any work: a tensor there is,
    for a loss that ``takes_weight`` by name, PyTorch's positional ``weight`` (its third
    argument), which compared with "mean" said only that a tensor's truth value is ambiguous."""
    if isinstance(reduction, str) and reduction in allowed:
        return  # (the names below only for the error: every loss call passes here)
    names = ", ".join(repr(name) for name in allowed[:-1]) + f" or {allowed[-1]!r}"
    if isinstance(reduction, str):
        raise ValueError(f"{op}: reduction must be {names}, not {reduction!r}")
    if takes_weight:
        raise TypeError(f"{op}: the third argument is reduction ({names}), "
                        f"not a {type(reduction).__name__}; pass weight and the other options "
                        "by name, e.g. weight=w (PyTorch's third positional argument is weight)")
    raise TypeError(f"{op}: reduction must be {names}, not a {type(reduction).__name__}")


def as_target(target) -> Tensor:
    return target if isinstance(target, Tensor) else Tensor(backend.xp.asarray(target))
