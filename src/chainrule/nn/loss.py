"""Losses as modules over ``chainrule.nn.functional``: ``loss_fn = MSELoss(); loss_fn(y, t)``.

``reduction`` is "mean" (the default), "sum" or "none" (one loss per element or example).
"""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module
from .reduction import REDUCTIONS, as_target, check_reduction


class _Loss(Module):
    reductions = REDUCTIONS  # the ``reduction`` names the loss takes

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        check_reduction(reduction, type(self).__name__, self.reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def _register_weight(self, name: str, weight) -> None:
        """A class or element weight is a buffer, as in PyTorch: in ``state_dict`` under its
        name, cast by ``.to(dtype)``; a list or an array becomes a tensor."""
        self.register_buffer(name, None if weight is None else as_target(weight))


class MSELoss(_Loss):
    """(y − t)², averaged over every element by default; see ``functional.mse_loss`` for how it
    relates to the slides' ½‖y − t‖²."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """−log softmax(z)[t] from logits z and integer labels t; its gradient is softmax − one-hot.
    ``weight``, ``ignore_index`` and ``label_smoothing`` as in ``functional.cross_entropy``."""

    def __init__(self, weight=None, reduction: str = "mean", ignore_index: int = -100,
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self._register_weight("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(input, target, reduction=self.reduction, weight=self.weight,
                               ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """−input[t], for log-probabilities (the output of ``LogSoftmax``)."""

    def __init__(self, weight=None, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self._register_weight("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(input, target, reduction=self.reduction, weight=self.weight,
                          ignore_index=self.ignore_index)


class BCEWithLogitsLoss(_Loss):
    """−[t log σ(z) + (1 − t) log(1 − σ(z))] from logits z, stable for any magnitude."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self._register_weight("weight", weight)
        self._register_weight("pos_weight", pos_weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction,
                                                  weight=self.weight, pos_weight=self.pos_weight)


class L1Loss(_Loss):
    """|y − t|, averaged over every element by default."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """½d² where |d| < δ, δ(|d| − ½δ) elsewhere, for d = y − t (``functional.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """½d²/β where |d| < β, |d| − ½β elsewhere (``functional.smooth_l1_loss``). Give ``beta``
    by name: PyTorch's first two positional arguments are its old size_average and reduce."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class KLDivLoss(_Loss):
    """Σ t (log t − x) from log-probabilities x (``functional.kl_div``); ``reduction`` may also
    be "batchmean", the KL divergence per example."""
    reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, log_target={self.log_target}"

    def forward(self, input: Tensor, target) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
