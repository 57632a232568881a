"""Divergence: when a training run stops instead of saving a broken model.

Every trainer (``training.fit``, ``lm.train``, REINFORCE's update) asks the same guard after its
steps. A run has diverged when

- its loss or its gradient norm is not a finite number (NaN or ±inf), or a parameter or a
  buffer (a running statistic) is not;
- or its loss has grown past ``GROWTH`` (1000) times the first loss it measured, or past 1000
  when that first loss was below 1 (a loss that starts near 0 may grow a little and still be
  fine; one a thousand times its start is not learning any more).

Then the run stops with a ``DivergenceError`` whose one line says where and suggests a smaller
learning rate (or, when the first loss measured, the untrained model's, is already not finite,
points at the data instead: no learning rate can have caused it); the trainer does not save the
weights (and ``checkpoint`` refuses to write a tensor that is not finite, whoever asks).
"""
from __future__ import annotations

import math

from . import backend
from .errors import DivergenceError

__all__ = ["GROWTH", "DivergenceGuard", "check_parameters", "gradient_norm", "DivergenceError"]

GROWTH = 1e3
ADVICE = "try a smaller learning rate"


class DivergenceGuard:
    """Checks a run's losses (and gradient norms) against its first loss.

    ``growth=None`` checks finiteness only, for losses with no fixed sign or scale (the
    policy-gradient loss). ``first_loss`` restores the reference of a resumed run.
    """

    def __init__(self, first_loss: float | None = None, growth: float | None = GROWTH):
        self.first_loss, self.growth = first_loss, growth

    def check(self, loss: float, where: str, gradient_norm: float | None = None) -> None:
        """Raise a DivergenceError if ``loss`` (measured ``where``, e.g. "in epoch 3") or
        ``gradient_norm`` shows the run has diverged."""
        for name, value in (("loss", loss), ("gradient norm", gradient_norm)):
            if value is None or math.isfinite(value):
                continue
            if self.first_loss is None:  # the untrained model's: no learning rate caused it
                raise DivergenceError(f"training cannot start: the {name} is {value} {where}, "
                                      "before any update, so a smaller learning rate will not "
                                      "help; look for NaN, infinite or huge values in the data")
            raise DivergenceError(f"training diverged: the {name} became {value} {where}; "
                                  f"{ADVICE}")
        if self.first_loss is None:
            self.first_loss = loss
        elif self.growth is not None and loss > self.growth * max(abs(self.first_loss), 1.0):
            raise DivergenceError(f"training diverged: the loss grew from {self.first_loss:.4g} "
                                  f"to {loss:.4g} {where} (more than {self.growth:g} times its "
                                  f"first value); {ADVICE}")


def gradient_norm(parameters) -> float:
    """‖(g₁, …, gₙ)‖₂ over every element of every parameter's gradient (in float64)."""
    xp = backend.xp
    squares = [xp.sum(xp.square(p.grad.data.astype(backend.float64)))
               for p in parameters if p.grad is not None]
    return math.sqrt(float(sum(squares))) if squares else 0.0


def check_parameters(module, where: str) -> None:
    """Raise a DivergenceError naming the first parameter of ``module`` that is not finite, or
    the first buffer (a running statistic such as BatchNorm's, which a loss and weights that
    are still finite do not reveal)."""
    xp = backend.xp
    for name, parameter in module.named_parameters():
        if not bool(xp.isfinite(parameter.data).all()):
            raise DivergenceError(f"training diverged: the parameter {name} holds NaN or "
                                  f"infinite values {where}; {ADVICE}")
    for name, buffer in module.named_buffers():
        if backend.is_floating(buffer.dtype) and not bool(xp.isfinite(buffer.data).all()):
            raise DivergenceError(f"training diverged: the buffer {name} holds NaN or infinite "
                                  f"values {where}; look for extreme values in the data, or "
                                  f"{ADVICE}")
