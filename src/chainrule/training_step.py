"""The training step of ``fit`` and ``lm.train``: compiled by default, eager where it can't be.

``TrainingStep(function, model, optimizer)`` calls ``function(*batch)`` (forward, backward,
update) through ``chainrule.compile``: the first call with a batch shape runs eagerly, the
second records, later ones replay the same floating-point operations, so a compiled run ends
with the same weights, bit for bit, as an eager one. It runs eagerly instead

- when asked (``compile=False``),
- when the caller knows the step can't be recorded (``why_eager``: under
  ``DistributedDataParallel`` gradients are averaged across processes by hooks that run inside
  backward, and a replay would not run them),
- on a GPU (``backend.use("cupy")``): a recording is made of NumPy arrays,
- from the call whose recording fails with a ``CompileError`` (a hook on a module or tensor, a
  loss that reads ``.item()``, a tensor made from Python data inside the loss, a state that
  changes on every call, so that it would record every time...) or any other error: the
  second call with a batch shape, or any later one that records again (a state the guards
  tell apart). That call is undone first (the model's weights and buffers, the optimiser's
  state, the learning-rate schedule given as ``scheduler`` when the step steps it, and the
  random generator put back as they were before it, and its gradients let go of) and then
  run eagerly, so the run goes on exactly as an eager run would; an error of the step itself
  (a label out of range) comes again from the eager call, as eager mode raises it.

Either way one note says why it runs eagerly.
"""
from __future__ import annotations

import copy
from typing import Callable

from . import backend
from .compile import CompileError, compile as compile_function

# why a step under DistributedDataParallel runs eagerly
AVERAGED_IN_HOOKS = ("DistributedDataParallel averages the gradients across processes in hooks "
                     "during backward, which a replay would not run")


class TrainingStep:
    """``step(*batch)``: one training step on a batch, compiled unless it can't be."""

    def __init__(self, function: Callable, model, optimizer, compile: bool = True,
                 why_eager: str | None = None, note: Callable[[str], None] | None = None,
                 scheduler=None):
        self.function, self.model, self.optimizer = function, model, optimizer
        self.scheduler = scheduler  # stepped inside the step, so undone with it
        self.note = note or (lambda message: None)
        if backend.name != "numpy" and why_eager is None:
            why_eager = (f"chainrule.compile records NumPy arrays, and the {backend.name} backend "
                         "computes with its own")
        self.compiled = compile_function(function) if compile and why_eager is None else None
        self.snapshots: list = []  # the state before this call's recording, if it records
        if self.compiled is not None:
            self.compiled.before_recording = lambda: self.snapshots.append(self._snapshot())
        if compile and why_eager is not None:
            self.note(f"training eagerly (not compiled): {why_eager}")

    @property
    def is_compiled(self) -> bool:
        """Whether the steps are being replayed (False once it has fallen back to eager)."""
        return self.compiled is not None

    def __call__(self, *batch):
        if self.compiled is None:
            return self.function(*batch)
        try:
            return self.compiled(*batch)
        except Exception as error:
            if not self.snapshots:  # not a recording: an eager call's or a replay's, as eager's
                raise
            failure, before = error, self.snapshots[0]  # the step's own error comes again below
        finally:
            self.snapshots.clear()
        self._restore(before)
        self.compiled = None
        result = self.function(*batch)  # the step's own error, if it has one, is raised here
        self.note("training eagerly (not compiled): " + (
            str(failure) if isinstance(failure, CompileError)
            else f"recording the step failed ({type(failure).__name__}: {failure})"))
        return result

    def _snapshot(self) -> tuple:
        weights = {name: value.data.copy() for name, value in self.model.state_dict().items()}
        schedule = None if self.scheduler is None else copy.deepcopy(self.scheduler.state_dict())
        return backend.get_rng_state(), weights, self.optimizer.state_dict(), schedule

    def _restore(self, snapshot: tuple) -> None:
        random_state, weights, optimizer_state, schedule = snapshot
        backend.set_rng_state(random_state)
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(optimizer_state)
        self.optimizer.zero_grad()  # (what the failed call left: fit and lm.train zero last)
        if schedule is not None:
            self.scheduler.load_state_dict(schedule)
