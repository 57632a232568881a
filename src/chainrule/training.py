"""The course's recipe as a loop: data → decision function → loss → goal → SGD.

``fit`` runs minibatch stochastic gradient descent for a number of epochs. Each step takes a
minibatch B, computes the decision function's outputs, the mean loss over B, its gradient by
backpropagation, and lets the optimizer move the parameters against it:

    θ ← θ − η · ∇θ (1/|B|) Σ_{(x, t) ∈ B} ℓ(f(x; θ), t)

After each epoch it measures the training loss (the mean over the epoch's steps, weighted by batch
size) and, given a validation set, the validation loss and metrics; it can stop early when a
validation metric stops improving and put back the best weights. With a checkpoint directory it
saves everything needed to continue at the end of an epoch (at most once a second, and after the
last epoch), and ``resume=True`` continues from there: the shuffling order of epoch e depends
only on (seed, e), and the model, optimizer, scheduler and random-generator states come back
exactly, so a resumed run ends with the same weights, bit for bit, as one that was never
interrupted. The step is recorded once per batch shape and replayed (``chainrule.compile``,
through ``training_step.TrainingStep``) unless ``compile=False``; either way the weights are the
same, bit for bit.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy

from . import backend, distributed
from .autograd import no_grad
from .divergence import DivergenceGuard, check_parameters
from .errors import DivergenceError, TrainingError
from .metrics import HIGHER_IS_BETTER, History, accuracy, r2, rmse
from .nn.utils import clip_grad_norm_
from .optim.lr_scheduler import ReduceLROnPlateau
from .progress import Progress, line
from .tensor import as_tensor
from .training_checkpoint import CHECKPOINT_INTERVAL_SECONDS, has_checkpoint, run_fingerprint
from .training_checkpoint import copy_state as _copy_state
from .training_checkpoint import load_checkpoint as _load_checkpoint
from .training_checkpoint import save_checkpoint as _save_checkpoint
from .training_step import AVERAGED_IN_HOOKS, TrainingStep

__all__ = ["fit", "evaluate", "predict", "History", "accuracy", "rmse", "r2", "TrainingError",
           "DivergenceError"]


# ---------------------------------------------------------------- progress
def format_record(record: dict, epochs: int) -> str:
    """``epoch  3/20  loss 0.1234  val_loss 0.1100  val_accuracy 0.9667  52,310 samples/s  0.4s``"""
    parts = [f"loss {record['loss']:.4f}"]
    parts += [f"{key} {value:.4f}" for key, value in record.items() if key.startswith("val_")]
    parts.append(f"{record['samples_per_second']:,.0f} samples/s")
    parts.append(f"{record['seconds']:.1f}s")
    return line("epoch", record["epoch"], epochs, "  ".join(parts))


# ---------------------------------------------------------------- batches
def as_dataset(data):
    """A Dataset from a Dataset, or from an (inputs, targets) pair of tensors or arrays."""
    from .data import Dataset, TensorDataset

    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return TensorDataset(*data)
    raise TypeError(f"expected a Dataset or an (inputs, targets) pair, not {type(data).__name__}")


def epoch_generator(seed: int, epoch: int) -> numpy.random.Generator:
    """The generator that shuffles epoch ``epoch``: a function of (seed, epoch) only, so that a run
    resuming at epoch e shuffles exactly as an uninterrupted one does."""
    return numpy.random.default_rng((seed, epoch))


# ---------------------------------------------------------------- evaluation
def predict(model, inputs, batch_size: int = 1024) -> numpy.ndarray:
    """The model's raw outputs for ``inputs`` as a host NumPy array, without building a graph."""
    from .data import DataLoader, TensorDataset

    was_training = getattr(model, "training", False)
    model.eval()
    with no_grad():
        outputs = [model(batch).data for (batch,) in
                   DataLoader(TensorDataset(inputs), batch_size=batch_size)]
    model.train(was_training)
    return backend.to_numpy(backend.xp.concatenate(outputs))


def evaluate(model, loss: Callable, data, metrics: dict | None = None,
             batch_size: int = 1024) -> dict:
    """``{"loss": mean loss, name: metric(outputs, targets), ...}`` over ``data`` (inputs, targets).

    The loss is averaged over examples (batch means weighted by batch size), as during training.
    No graph is built, and the model is in evaluation mode (no dropout) while it runs.
    """
    from .data import DataLoader

    was_training = getattr(model, "training", False)
    model.eval()
    outputs, targets, seen = [], [], 0
    total = backend.xp.zeros((), dtype=backend.float64)
    with no_grad():
        for batch_inputs, batch_targets in DataLoader(as_dataset(data), batch_size=batch_size):
            batch_outputs = model(batch_inputs)
            total = total + loss(batch_outputs, batch_targets).data * len(batch_inputs)
            seen += len(batch_inputs)
            outputs.append(batch_outputs.data)
            targets.append(batch_targets.data)
    model.train(was_training)
    results = {"loss": float(total) / seen}
    if metrics:
        all_outputs = backend.to_numpy(backend.xp.concatenate(outputs))
        all_targets = backend.to_numpy(backend.xp.concatenate(targets))
        for name, metric in metrics.items():
            results[name] = metric(all_outputs, all_targets)
    return results


# ---------------------------------------------------------------- fit
def fit(model, loss: Callable, optimizer, train, validation=None, *, epochs: int = 10,
        batch_size: int = 32, metrics: dict | None = None, monitor: str = "val_loss",
        patience: int | None = None, min_delta: float = 0.0, restore_best: bool = True,
        scheduler=None, clip_grad_norm: float | None = None, seed: int = 0, checkpoint_dir=None,
        resume: bool = False, progress: bool = True, stream=None,
        compile: bool = True) -> History:
    """Train ``model`` by minibatch SGD and return its ``History``.

    Each step is forward, loss, backward, clipping, ``optimizer.step()``, then
    ``optimizer.zero_grad()``: the optimizer's parameters have no ``.grad`` after ``fit``, and
    gradients they had before it are let go of before the first step.

    Arguments
      model        a ``chainrule.nn.Module``: ``model(inputs)`` is the decision function.
      loss         ``loss(outputs, targets)`` → the mean loss over the batch (a 0-d Tensor); a
                   penalty on the weights can be added inside it (a closure over the model).
      optimizer    a ``chainrule.optim`` optimizer over ``model.parameters()``.
      train        the training data: a ``TensorDataset(inputs, targets)`` or an (inputs, targets)
                   pair of tensors or arrays. ``validation`` likewise, or None.
      epochs, batch_size  passes over the data, and examples per step (the last batch of an
                   epoch may be smaller).
      metrics      ``{name: metric(outputs, targets)}`` computed on the validation set each epoch
                   and recorded as ``val_<name>`` (see ``accuracy``, ``rmse``, ``r2``).
      monitor      the validation quantity that decides the best epoch: ``"val_loss"`` or
                   ``"val_<metric>"``; accuracy and r2 are maximised, everything else minimised.
      patience     stop after this many epochs without improvement of ``monitor`` (None: never).
      min_delta    a change of ``monitor`` smaller than this is no improvement (scikit-learn's
                   ``tol``: with ``monitor="loss"`` and ``patience``, training stops once the
                   training loss has converged).
      restore_best put the weights of the best epoch back at the end (with a validation set).
      scheduler    a learning-rate schedule, stepped once per epoch. A ``ReduceLROnPlateau``
                   is stepped with the epoch's ``monitor`` (after the validation), so it must
                   watch it the same way: ``mode="max"`` for an accuracy or r2.
      clip_grad_norm  rescale the gradients so their global norm is at most this value.
      seed         decides the shuffling order of each epoch (dropout draws from the generator
                   that ``chainrule.manual_seed`` seeds).
      checkpoint_dir  where to save, at an epoch's end (at most once a second, and always after
                   the last epoch), what ``resume`` needs (and the history).
      resume       continue from the checkpoint in ``checkpoint_dir`` if there is one.
      progress     show a progress bar (tqdm) on a terminal, else one line per epoch, on ``stream``
                   (default standard error).
      compile      record the step (forward, loss, backward, clipping, update) once per batch
                   shape with ``chainrule.compile`` and replay it: the same weights, bit for bit,
                   in less time. The loss then runs as Python only on the first two calls of
                   each batch shape: a side effect in it (a counter, a print) happens only then.
                   Steps that can't be recorded (hooks, ``.item()`` in the loss, a world of
                   several processes) run eagerly, with a note; ``compile=False``: always eager.
                   ``history.compiled`` says which it was.
    """
    train, monitor = _check_arguments(train, validation, epochs, batch_size, metrics, monitor)
    maximise = monitor.removeprefix("val_") in HIGHER_IS_BETTER
    on_plateau = isinstance(scheduler, ReduceLROnPlateau)
    if on_plateau and (scheduler.mode == "max") != maximise:
        raise ValueError(f"fit: the ReduceLROnPlateau scheduler (mode={scheduler.mode!r}) is "
                         f"given {monitor!r}, which is {'max' if maximise else 'min'}imised; "
                         f"make it with mode={'max' if maximise else 'min'!r}")
    state, guard = _EarlyStopping(maximise, min_delta), DivergenceGuard()
    history, first_epoch, run = History(monitor=monitor), 1, None
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        run = run_fingerprint(train, validation if validation is None else as_dataset(validation),
                              batch_size, seed, clip_grad_norm, loss, scheduler)
        if distributed.is_main_process():  # under mpiexec, rank 0 alone writes
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
        if resume and has_checkpoint(checkpoint_dir):
            history, state, guard.first_loss = _load_checkpoint(
                checkpoint_dir, model, optimizer, scheduler, monitor, state,
                keeps_best=restore_best and validation is not None, run=run)
            first_epoch = history.last.get("epoch", 0) + 1
            if progress:
                _say_where_it_resumes(first_epoch, epochs, checkpoint_dir, stream or sys.stderr)
    elif resume:
        raise ValueError("fit: resume=True needs a checkpoint_dir to resume from")

    # Under mpiexec each rank steps on its shard of every global batch, gradients averaged
    # (chainrule.distributed); rank 0 alone prints and writes.
    world_size = distributed.init()
    stepping = distributed.DistributedDataParallel(model) if world_size > 1 else model
    main = distributed.is_main_process()
    bar = None  # the epoch's progress: a note made during an epoch goes above its bar, not in it

    def say(message: str) -> None:
        if bar is not None:
            bar.note(f"fit: {message}")
        else:
            print(f"fit: {message}", file=stream or sys.stderr, flush=True)
    step = _sgd_step(model, stepping, loss, optimizer, clip_grad_norm, compile,
                     say if progress and main else None)
    steps = math.ceil(len(train) / batch_size)
    model.train()
    next_checkpoint, best_unsaved = 0.0, False
    for epoch in range(first_epoch, epochs + 1):
        if state.stopped:
            break
        bar = Progress(steps, description=f"epoch {epoch}/{epochs}", leave=False,
                       enabled=progress and main, stream=stream)
        total, seen, seconds = _train_epoch(step, train, batch_size, seed, epoch, guard, bar)
        if stepping is not model:
            # the epoch's last backward, checked before rank 0 saves the epoch (a resume would
            # take that step's weights as sound): the next forward, which checks it, comes after
            # the save, and none comes after the last epoch
            stepping.check_last_backward()
        if scheduler is not None and not on_plateau:
            scheduler.step()
        record = _measure_epoch(model, loss, epoch, epochs, total, seen, seconds, guard, bar,
                                validation, metrics, batch_size, monitor)
        if on_plateau:
            scheduler.step(record[monitor])
        history.records.append(record)
        improved = state.update(record[monitor], epoch, patience)
        if improved and restore_best and validation is not None:
            state.best_weights = _copy_state(model)
        history.best_epoch, history.stopped_early = state.best_epoch, state.stopped
        bar.close(format_record(record, epochs))
        best_unsaved = best_unsaved or (improved and restore_best and validation is not None)
        last_epoch = epoch == epochs or state.stopped
        if checkpoint_dir is not None and main and (last_epoch or
                                                    time.perf_counter() >= next_checkpoint):
            _save_checkpoint(checkpoint_dir, model, optimizer, scheduler, history, state,
                             best_unsaved, guard.first_loss, run)
            best_unsaved = False
            next_checkpoint = time.perf_counter() + CHECKPOINT_INTERVAL_SECONDS
    if stepping is not model:
        stepping.remove_hooks()
    distributed.barrier()  # the others wait for rank 0's last checkpoint
    if restore_best and validation is not None and state.best_weights is not None:
        model.load_state_dict(state.best_weights)
    model.eval()
    history.compiled = step.is_compiled
    return history


def _check_arguments(train, validation, epochs: int, batch_size: int, metrics, monitor: str):
    """(the training set as a Dataset, the quantity to monitor), or a ValueError saying why not."""
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"fit: epochs and batch_size must be positive, got {epochs} and "
                         f"{batch_size}")
    train = as_dataset(train)
    if len(train) == 0:
        raise ValueError("fit: the training set is empty")
    if validation is None and monitor != "loss":
        monitor = "loss"  # without a validation set the best epoch is the lowest training loss
    measured = ["loss"] + ([f"val_{name}" for name in ["loss", *(metrics or {})]]
                           if validation is not None else [])
    if monitor not in measured:
        raise ValueError(f"fit: monitor {monitor!r} is not measured; choose one of {measured}")
    return train, monitor


def _say_where_it_resumes(first_epoch: int, epochs: int, checkpoint_dir, stream) -> None:
    where = (f"resuming at epoch {first_epoch} of {epochs}" if first_epoch <= epochs
             else f"all {epochs} epochs were already trained")
    print(f"{where} (checkpoint in {checkpoint_dir})", file=stream, flush=True)


def _sgd_step(model, stepping, loss, optimizer, clip_grad_norm, compile: bool,
              say) -> TrainingStep:
    """θ ← θ − η ∇θ L on a batch: ``step(inputs, targets, weight)`` → the batch's loss.

    Each step lets go of its gradients once they are used (``zero_grad()`` after the update, as
    nanoGPT does), so none are kept between steps: a compiled step then updates each weight in
    place of its gradient, as the NumPy limit does (benchmarks/compile_steps.py)."""
    optimizer.zero_grad()  # (gradients the caller left)

    def sgd_step(batch_inputs, batch_targets, weight):
        batch_loss = loss(stepping(batch_inputs), batch_targets)
        (batch_loss if weight == 1 else batch_loss * weight).backward()
        if clip_grad_norm is not None:
            clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        optimizer.zero_grad()
        return batch_loss
    why_eager = AVERAGED_IN_HOOKS if stepping is not model else None
    return TrainingStep(sgd_step, model, optimizer, compile, why_eager, say)


def _train_epoch(step, train, batch_size: int, seed: int, epoch: int, guard, bar) -> tuple:
    """One pass over the shuffled training set: (the summed loss, the examples, the seconds)."""
    started = time.perf_counter()
    # The epoch's loss adds up on the device: reading it every step would wait for the GPU.
    total = backend.xp.zeros((), dtype=backend.float64)
    seen = 0
    for batch_inputs, batch_targets, weight in _epoch_batches(train, batch_size, seed, epoch):
        batch_loss = step(batch_inputs, batch_targets, weight)
        if guard.first_loss is None:  # the reference for divergence: the untrained loss
            # (the global batch's under mpiexec: a shard's would give each rank its own)
            guard.check(distributed.average(batch_loss.item() * weight), "in the first step")
        rows = len(batch_inputs) if weight else 0
        total = total + batch_loss.data * rows
        seen += rows
        bar.update(lambda: f"loss {batch_loss.item():.4f}  "
                           f"{seen / (time.perf_counter() - started):,.0f} samples/s")
    if distributed.get_world_size() > 1:  # Python's numbers, as in one process (not NumPy's)
        total, seen = distributed.all_reduce(numpy.array([float(total), seen])).tolist()
        seen = int(seen)
    return total, seen, time.perf_counter() - started


def _measure_epoch(model, loss, epoch: int, epochs: int, total, seen, seconds: float, guard, bar,
                   validation, metrics, batch_size: int, monitor: str) -> dict:
    """The epoch's record: its training loss, checked for divergence, and the validation
    loss and metrics (the loss and the monitored one must be finite numbers: NaN would make
    the first epoch the best forever)."""
    record = {"epoch": epoch, "loss": float(total) / seen}
    try:
        guard.check(record["loss"], f"in epoch {epoch}")
        check_parameters(model, f"after epoch {epoch}")
    except DivergenceError:
        bar.close(format_record({**record, "seconds": seconds,
                                 "samples_per_second": seen / seconds}, epochs))
        raise
    if validation is not None:
        measured = evaluate(model, loss, validation, metrics, batch_size=max(batch_size, 1024))
        record.update({f"val_{name}": value for name, value in measured.items()})
        model.train()
        for key in ("val_loss", monitor) if monitor.startswith("val_") else ("val_loss",):
            if not math.isfinite(record[key]):
                bar.close(format_record({**record, "seconds": seconds,
                                         "samples_per_second": seen / seconds}, epochs))
                raise DivergenceError(
                    f"training stopped: the validation {key[4:]} ({key}) became {record[key]} "
                    f"in epoch {epoch} while the training loss is {record['loss']:.4g}, so no "
                    "epoch can be judged the best; look for extreme values in the validation "
                    "data, or try a smaller learning rate")
    record["seconds"] = round(seconds, 4)
    record["samples_per_second"] = round(seen / seconds, 1)
    return record


def _epoch_batches(train, batch_size: int, seed: int, epoch: int):
    """(inputs, targets, weight) per step: the whole batch with weight 1 in a world of one
    process; under MPI this rank's shard and the weight that keeps the step exact."""
    from .data import DataLoader, TensorDataset

    if distributed.get_world_size() == 1:
        loader = DataLoader(train, batch_size, shuffle=True, generator=epoch_generator(seed, epoch))
        for batch_inputs, batch_targets in loader:
            yield batch_inputs, batch_targets, 1
        return
    sampler = distributed.DistributedSampler(len(train), seed=seed)
    sampler.set_epoch(epoch)
    for rows, weight in sampler.batches(batch_size):
        if isinstance(train, TensorDataset):
            batch = tuple(as_tensor(array) for array in train[rows])
        else:
            picked = [train[int(row)] for row in rows]
            batch = next(iter(DataLoader(picked, batch_size=len(picked))))
        yield (*batch, weight)


class _EarlyStopping:
    """Tracks the best value of the monitored quantity and the epochs since it improved."""

    def __init__(self, maximise: bool, min_delta: float = 0.0):
        self.maximise = maximise
        self.min_delta = min_delta
        self.best = None
        self.best_epoch = None
        self.waited = 0
        self.stopped = False
        self.best_weights = None

    def update(self, value: float, epoch: int, patience: int | None) -> bool:
        """Record this epoch's value; True when it is the best so far."""
        improved = self.best is None or (value > self.best + self.min_delta if self.maximise
                                         else value < self.best - self.min_delta)
        if improved:
            self.best, self.best_epoch, self.waited = value, epoch, 0
        else:
            self.waited += 1
            self.stopped = patience is not None and self.waited >= patience
        return improved

    def to_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "waited": self.waited,
                "stopped": self.stopped}
