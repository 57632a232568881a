"""Learning-rate schedules with PyTorch's interface (``chainrule.optim.lr_scheduler``).

A scheduler sets ``group["lr"]`` of its optimizer. Building one applies the rate for step 0;
call ``scheduler.step()`` after each ``optimizer.step()`` to move to the next. Each schedule
has its closed form, ``lr_at(t)`` for step t, to read and test. ``StepLR``, ``LinearLR`` and
``CosineAnnealingLR`` step as PyTorch's do, from the rate the group has now (PyTorch's
recursive ``get_lr``): so two schedulers stepped on one optimizer multiply (a warm-up under a
step decay), and a rate changed by hand carries on, as in PyTorch; alone and untouched they
follow the closed form (to the last bits of rounding, which are PyTorch's).
``ReduceLROnPlateau`` is the one that follows the training instead of a formula:
``scheduler.step(val_loss)`` after each epoch.
"""
from __future__ import annotations

import bisect
import math
from typing import Callable, Sequence

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR",
           "CosineAnnealingLR", "LambdaLR", "SequentialLR", "WarmupCosineLR", "warmup_cosine",
           "ReduceLROnPlateau"]


class LRScheduler:
    """Base: remembers each group's starting rate (``group["initial_lr"]``, as PyTorch) in
    ``base_lrs`` and the step count in ``last_epoch``; subclasses define the closed form
    ``_lr(base_lr, t)`` (or ``lr_at``), and ``_next_rates`` where PyTorch steps from the
    current rate."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                               "'initial_lr' in every parameter group (load the optimizer first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch + 1
        self._apply(self._first_rates())

    def lr_at(self, epoch: int) -> list[float]:
        """The learning rate of every group at step ``epoch`` (the closed form)."""
        return [self._lr(base_lr, epoch) for base_lr in self.base_lrs]

    def get_lr(self) -> list[float]:
        return self.lr_at(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The rates applied by the last ``step()`` (or by construction)."""
        return self._last_lr

    def step(self) -> None:
        self.last_epoch += 1
        self._apply(self._next_rates())

    def _next_rates(self) -> list[float]:
        """The rates of step ``last_epoch``: the closed form, unless the schedule chains."""
        return self.get_lr()

    def _first_rates(self) -> list[float]:
        """The rates set when the scheduler is built (step ``last_epoch``)."""
        return self._next_rates()

    def _current_rates(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def _apply(self, rates: list[float]) -> None:
        for group, rate in zip(self.optimizer.param_groups, rates):
            group["lr"] = rate
        self._last_lr = list(rates)

    def state_dict(self) -> dict:
        """Every setting and counter, JSON-able (no optimizer, no functions)."""
        return {key: value for key, value in self.__dict__.items()
                if key != "optimizer" and not callable(value) and key != "lr_lambdas"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr(t) = base_lr · γ^⌊t / step_size⌋: divide the rate by 1/γ every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        if step_size <= 0:
            raise ValueError(f"StepLR: step_size must be positive, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)

    def _next_rates(self) -> list[float]:
        # PyTorch's get_lr: the group's rate times γ at each multiple of step_size.
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_rates()
        return [rate * self.gamma for rate in self._current_rates()]


class MultiStepLR(LRScheduler):
    """lr(t) = base_lr · γ^(number of milestones ≤ t): multiply the rate by γ at each milestone
    (a milestone listed twice, by γ²), as PyTorch's scheduler of that name."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1):
        self.milestones = sorted(int(milestone) for milestone in milestones)  # JSON-able
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)

    def _next_rates(self) -> list[float]:
        # PyTorch's get_lr: the group's rate, times γ^(times t is a milestone).
        reached = self.milestones.count(self.last_epoch)
        if not reached:
            return self._current_rates()
        return [rate * self.gamma ** reached for rate in self._current_rates()]


class ExponentialLR(LRScheduler):
    """lr(t) = base_lr · γᵗ: the rate times γ at every step, as PyTorch's scheduler."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** epoch

    def _first_rates(self) -> list[float]:
        return self._current_rates()  # PyTorch's: building the scheduler keeps the rate

    def _next_rates(self) -> list[float]:
        return [rate * self.gamma for rate in self._current_rates()]


class LinearLR(LRScheduler):
    """A linear ramp of the factor from ``start_factor`` to ``end_factor`` over ``total_iters``
    steps, constant after (warm-up): lr(t) = base_lr · (s + (e − s) · min(t, T) / T)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1):
            raise ValueError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        if total_iters <= 0:
            raise ValueError(f"LinearLR: total_iters must be positive, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        progress = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)

    def _first_rates(self) -> list[float]:
        # PyTorch: a fresh scheduler scales the rate by start_factor; one resumed at a later
        # step (last_epoch given) keeps the rate the group has.
        if self.last_epoch == 0:
            return [rate * self.start_factor for rate in self._current_rates()]
        return self._current_rates()

    def _next_rates(self) -> list[float]:
        # PyTorch's get_lr: the rate times factor(t) / factor(t − 1), once t is past 0.
        if self.last_epoch == 0:
            return [rate * self.start_factor for rate in self._current_rates()]
        if self.last_epoch > self.total_iters:
            return self._current_rates()
        slope = self.end_factor - self.start_factor
        ratio = 1.0 + slope / (self.total_iters * self.start_factor
                               + (self.last_epoch - 1) * slope)
        return [rate * ratio for rate in self._current_rates()]


class CosineAnnealingLR(LRScheduler):
    """lr(t) = η_min + (base_lr − η_min) · (1 + cos(π t / T_max)) / 2: half a cosine from
    base_lr down to η_min over T_max steps (SGDR without restarts)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2

    def _first_rates(self) -> list[float]:
        return self._current_rates()  # PyTorch's: building the scheduler keeps the rate

    def _next_rates(self) -> list[float]:
        # PyTorch's get_lr: the distance to η_min scaled by the ratio of successive cosine
        # factors; past T_max the cosine climbs again, from its minimum by a fixed amount.
        t, period = self.last_epoch, self.T_max
        if (t - 1 - period) % (2 * period) == 0:
            return [rate + (base_lr - self.eta_min) * (1 - math.cos(math.pi / period)) / 2
                    for rate, base_lr in zip(self._current_rates(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (rate - self.eta_min) + self.eta_min for rate in self._current_rates()]


class LambdaLR(LRScheduler):
    """lr(t) = base_lr · f(t), for a function f (or one function per parameter group).
    The functions are not saved by ``state_dict``: rebuild the scheduler, then load."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence,
                 last_epoch: int = -1):
        groups = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * groups
        else:
            if len(lr_lambda) != groups:
                raise ValueError(f"LambdaLR: {len(lr_lambda)} functions for {groups} groups")
            self.lr_lambdas = list(lr_lambda)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch: int) -> list[float]:
        return [base_lr * function(epoch) for base_lr, function in zip(self.base_lrs, self.lr_lambdas)]


class SequentialLR(LRScheduler):
    """One schedule after another: ``schedulers[i]`` runs from ``milestones[i-1]`` (its own step
    0) to ``milestones[i]``. E.g. ``SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=100),
    CosineAnnealingLR(opt, T_max=900)], milestones=[100])``."""

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must drive the same optimizer")
        if any(isinstance(s, ReduceLROnPlateau) for s in schedulers):
            raise ValueError("SequentialLR: ReduceLROnPlateau has no schedule to follow (its "
                             "step needs the metric); step it on its own")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        if last_epoch == -1:
            # As PyTorch: undo what building the schedulers did to the rates and their counts;
            # the first schedule then starts from the initial rates.
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"]
            for scheduler in self._schedulers:
                scheduler.last_epoch -= 1
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch: int) -> list[float]:
        index = bisect.bisect_right(self._milestones, epoch)
        start = self._milestones[index - 1] if index > 0 else 0
        return self._schedulers[index].lr_at(epoch - start)

    def _first_rates(self) -> list[float]:
        if self.last_epoch != 0:  # resumed at a later step: the closed form
            return self.lr_at(self.last_epoch)
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first.last_epoch += 1
        first._apply(first._first_rates())
        return first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        active = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            # A new schedule starts at its step 0 from its closed form (PyTorch's step(0)).
            active.last_epoch = 0
            active._apply(active.lr_at(0))
        else:
            active.step()
        self._last_lr = list(active.get_last_lr())

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state.pop("_schedulers")):
            scheduler.load_state_dict(saved)
        self.__dict__.update(state)


def warmup_cosine(step: int, base_lr: float, warmup_steps: int, decay_steps: int,
                  min_lr: float = 0.0) -> float:
    """nanoGPT's schedule: a linear warm-up, then half a cosine down to ``min_lr``, then flat.

        step < W:         base_lr · (step + 1) / (W + 1)
        W ≤ step ≤ D:     min_lr + (base_lr − min_lr) · (1 + cos(π (step − W) / (D − W))) / 2
        step > D:         min_lr
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    if step > decay_steps:
        return min_lr
    decay_ratio = (step - warmup_steps) / (decay_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * decay_ratio))


class WarmupCosineLR(LRScheduler):
    """Linear warm-up for ``warmup_steps`` then cosine decay to ``min_lr`` at ``decay_steps``
    (nanoGPT's ``get_lr``; see ``warmup_cosine``). ``min_lr`` is the same for every group."""

    def __init__(self, optimizer: Optimizer, warmup_steps: int, decay_steps: int,
                 min_lr: float = 0.0, last_epoch: int = -1):
        if warmup_steps < 0 or decay_steps <= warmup_steps:
            raise ValueError(f"WarmupCosineLR: need 0 ≤ warmup_steps < decay_steps, got "
                             f"warmup_steps={warmup_steps}, decay_steps={decay_steps}")
        self.warmup_steps, self.decay_steps, self.min_lr = warmup_steps, decay_steps, min_lr
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, epoch: int) -> float:
        return warmup_cosine(epoch, base_lr, self.warmup_steps, self.decay_steps, self.min_lr)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when the metric passed to ``step(metric)`` has not improved
    for more than ``patience`` epochs, as PyTorch's scheduler of that name does.

    mode: "min" (a loss: lower is better) or "max" (an accuracy).
    threshold, threshold_mode: what counts as better than the best so far: with "rel", a metric
        below best · (1 − threshold) (above best · (1 + threshold) in "max" mode); with "abs",
        below best − threshold (above best + threshold).
    cooldown: epochs to wait after a reduction before counting bad epochs again.
    min_lr: the rate never goes below it (one number, or one per parameter group).
    eps: a reduction smaller than eps is not made.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', not {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', not "
                             f"{threshold_mode!r}")
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(f"ReduceLROnPlateau: {len(min_lr)} min_lr values for {groups} "
                                 "parameter groups")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * groups
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, metric: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return metric < best * (1 - self.threshold)
        if self.mode == "min":
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1 + self.threshold)
        return metric > best + self.threshold

    def step(self, metrics=None) -> None:
        """Count this epoch's ``metrics`` (a number or a 0-d tensor) as good or bad; after more
        than ``patience`` bad ones in a row, reduce the rate of every group."""
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step needs the metric it watches, e.g. "
                            "scheduler.step(val_loss), once per epoch")
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                reduced = max(float(group["lr"]) * self.factor, min_lr)
                if float(group["lr"]) - reduced > self.eps:
                    group["lr"] = reduced
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def lr_at(self, epoch: int) -> list[float]:
        raise TypeError("ReduceLROnPlateau has no formula lr(t): its rates follow the metrics "
                        "given to step(); get_last_lr() gives the current ones")
