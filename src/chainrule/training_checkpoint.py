"""What ``fit`` saves at an epoch's end and ``resume=True`` reads back.

``checkpoint_dir/checkpoint.safetensors`` holds the last epoch's model, optimizer, scheduler and
random-generator state, with the history and the early-stopping state in its JSON metadata;
``checkpoint_dir/best.safetensors`` the weights of the best epoch so far. The best weights are
written before the last-epoch checkpoint: a crash between the two makes the resumed run redo
that epoch, which reproduces the same weights and so the same best file.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy

from . import backend, schema
from .errors import CheckpointError, TrainingError
from .metrics import History
from .tensor import as_tensor

BEST_WEIGHTS = "best.safetensors"
# A checkpoint is a few fsync'd writes (10–20 ms, more on a busy disk), longer than an epoch of a
# small table: fit saves at most once a second, and always after the last epoch. A resumed run
# redoes the epochs since the last save, which (shuffled by seed and epoch) give the same weights.
CHECKPOINT_INTERVAL_SECONDS = 1.0


def copy_state(model) -> dict:
    """The model's parameters and buffers, copied."""
    return {name: as_tensor(value.data.copy()) for name, value in model.state_dict().items()}


def has_checkpoint(checkpoint_dir) -> bool:
    from .checkpoint import CHECKPOINT_FILE

    return (Path(checkpoint_dir) / CHECKPOINT_FILE).is_file()


# What a checkpoint's "extra" metadata must hold for fit to resume from it.
_EPOCH = schema.Record({"epoch": schema.Integer(1), "loss": schema.Number()})
CHECKPOINT_EXTRA = schema.Record({
    "history": schema.Record({"monitor": schema.Text(), "best_epoch": schema.Integer(1),
                              "stopped_early": schema.Boolean(),
                              "epochs": schema.ListOf(_EPOCH, min_length=1)}),
    "early_stopping": schema.Record({"best": schema.Nullable(schema.Number()),
                                     "best_epoch": schema.Integer(1), "waited": schema.Integer(0),
                                     "stopped": schema.Boolean()})},
    optional={"first_loss": schema.Nullable(schema.Number()),  # absent before divergence checks
              "run": schema.Record({  # absent before resumes were checked against it
                  "samples": schema.Integer(1), "batch_size": schema.Integer(1),
                  "seed": schema.Integer(), "clip_grad_norm": schema.Nullable(schema.Number()),
                  "loss": schema.Text(), "data": schema.Nullable(schema.Text())},
                  optional={"schedule": schema.Nullable(schema.Text())})})


def run_fingerprint(train, validation, batch_size: int, seed: int, clip_grad_norm, loss,
                    scheduler=None) -> dict:
    """What a resumed run must share with its checkpoint's for its remaining epochs to be the
    run's: the settings that shape the steps, and the SHA-256 of the training and validation
    arrays (None for a dataset that is not arrays: it is not checked). A run resumed with
    another batch size, or an edited table, would otherwise go on silently as if it were the
    same run. The schedule is its settings as the run starts (a cosine's length, a step's
    gamma, the base rates): a checkpoint restores the old ones over a new schedule's, so a run
    resumed with more epochs for its cosine went past its end, where the rate rises again."""
    from .data import TensorDataset

    data = None
    if all(isinstance(each, TensorDataset) for each in (train, validation) if each is not None):
        digest = hashlib.sha256()
        for dataset in (train, validation):
            for array in (dataset.arrays if dataset is not None else ()):
                array = numpy.ascontiguousarray(backend.to_numpy(array))
                digest.update(f"{array.dtype.str}{array.shape};".encode())
                digest.update(array.data)
            digest.update(b"|")
        data = digest.hexdigest()
    return {"samples": len(train), "batch_size": int(batch_size), "seed": int(seed),
            "clip_grad_norm": None if clip_grad_norm is None else float(clip_grad_norm),
            "loss": getattr(loss, "__qualname__", type(loss).__name__), "data": data,
            "schedule": None if scheduler is None else f"{type(scheduler).__name__}"
                        f"{sorted(scheduler.state_dict().items())}"}


def _check_same_run(folder: Path, saved: dict | None, now: dict) -> None:
    if saved is None:  # a checkpoint from before runs were fingerprinted
        return
    for key, value in now.items():
        if key not in saved or saved[key] == value or (key == "data" and None in (value,
                                                                                  saved[key])):
            continue  # (a key the checkpoint's version did not keep is not checked)
        what = ("other training or validation data than the checkpoint's run (their SHA-256 "
                "differs)" if key == "data" else f"{key}={value!r}, but the checkpoint's run "
                f"was trained with {key}={saved[key]!r}")
        raise TrainingError(f"{folder}: fit(resume=True) with {what}; its remaining epochs would "
                            "not be that run's: resume with the same settings and data, or "
                            "train anew without resume")


def save_checkpoint(folder: Path, model, optimizer, scheduler, history: History, state,
                    best_changed: bool, first_loss: float, run: dict) -> None:
    from . import checkpoint

    if best_changed:
        last = copy_state(model)
        model.load_state_dict(state.best_weights)
        checkpoint.save_weights(folder / BEST_WEIGHTS, model)
        model.load_state_dict(last)
    checkpoint.save_checkpoint(folder, model, optimizer, scheduler,
                               extra={"history": history.to_dict(),
                                      "early_stopping": state.to_dict(),
                                      "first_loss": first_loss, "run": run})
    history.save(folder / "history.json")


def check_readable(folder: Path, keeps_best: bool, model, optimizer, scheduler) -> int:
    """Read a checkpoint's files into a ``model``, ``optimizer`` and ``scheduler`` built as the
    resumed run builds its own, to be thrown away: a resume does this before its first write,
    so that a damaged or missing file, or one that does not fit the run's model, is refused
    with the run left as it was, before a finished run is copied to be extended. ``keeps_best`` as
    ``load_checkpoint`` takes it. Returns the last epoch the checkpoint holds (0: none)."""
    from . import checkpoint

    if not has_checkpoint(folder):
        return 0  # a run killed before its first checkpoint starts again from epoch 1
    loaded = checkpoint.load_checkpoint(folder, model, optimizer, scheduler, restore_rng=False)
    saved = schema.validate(loaded["extra"], CHECKPOINT_EXTRA, loaded["path"], "metadata extra")
    _check_best_weights(folder, saved["early_stopping"].get("best_epoch"), keeps_best)
    if (folder / BEST_WEIGHTS).is_file():
        checkpoint.load_weights(folder / BEST_WEIGHTS, model)
    return saved["history"]["epochs"][-1]["epoch"]


def _check_best_weights(folder: Path, best_epoch, keeps_best: bool) -> None:
    if keeps_best and best_epoch is not None and not (folder / BEST_WEIGHTS).is_file():
        raise CheckpointError(f"{folder / BEST_WEIGHTS}: file not found; the checkpoint's run "
                              f"kept its best epoch's ({best_epoch}) weights there, and "
                              "would end with another epoch's without them; put the file back, "
                              "or train anew")


def load_checkpoint(folder: Path, model, optimizer, scheduler, monitor: str, state,
                    keeps_best: bool, run: dict) -> tuple:
    """(history, early-stopping state, first loss) of the checkpoint, restored into the model,
    optimizer and scheduler (and into ``state``); ``keeps_best``: the run puts the best epoch's
    weights back at its end, so they must be there; ``run``: this run's ``run_fingerprint``,
    which must be the checkpoint's (checked before anything is restored)."""
    from . import checkpoint

    read = {}

    def check(extra, path):
        saved = read["saved"] = schema.validate(extra, CHECKPOINT_EXTRA, path, "metadata extra")
        _check_same_run(folder, saved.get("run"), run)
        if saved["history"]["monitor"] != monitor:
            raise TrainingError(f"{folder}: the checkpoint's run monitored "
                                f"{saved['history']['monitor']!r}, this one {monitor!r}; resume "
                                "with the same settings")
        _check_best_weights(folder, saved["early_stopping"]["best_epoch"], keeps_best)

    checkpoint.load_checkpoint(folder, model, optimizer, scheduler, before_restoring=check)
    saved = read["saved"]
    history = History.from_dict(saved["history"])
    for key, value in saved["early_stopping"].items():
        setattr(state, key, value)
    if (folder / BEST_WEIGHTS).is_file():
        last = copy_state(model)
        checkpoint.load_weights(folder / BEST_WEIGHTS, model)
        state.best_weights = copy_state(model)
        model.load_state_dict(last)
    return history, state, saved.get("first_loss")
