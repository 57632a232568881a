"""Checkpoints: weights in safetensors, settings in JSON, never pickle, always written atomically.

A training run's directory holds

- ``checkpoint.safetensors``: the model's tensors (``"model.<name>"``), the optimizer's buffers
  (``"optimizer.state.<index>.<buffer>"``), and in the file's text metadata, as JSON: the rest of
  the optimizer's state, the scheduler's state, the random generator's state, the config and any
  ``extra`` (epoch, best metric…). One file, so one atomic replace saves all of it together.
- ``config.json``: the config again, for people to read (the copy inside the checkpoint is the
  one that loading uses).

Every file is written to a temporary file in the same directory (``.NAME.<random>.tmp``, a
name no other writer uses), flushed to disk, then moved over the old one with ``os.replace``: a
crash mid-save leaves the previous checkpoint whole.

JSON is strict: a number that is not finite (NaN, ±inf, which JSON does not have) is written as
``null`` and refused when read. Weights are checked both ways: a model holding NaN or infinite
values is never saved, and a loaded tensor must have the model's dtype and finite values.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy

from . import backend
from .errors import CheckpointError, DivergenceError

__all__ = ["save_checkpoint", "load_checkpoint", "save_weights", "load_weights", "save_json",
           "load_json", "atomic_write", "atomic_path", "to_json", "check_file_holds", "CHECKPOINT_FILE", "CONFIG_FILE",
           "TEMPORARY_SUFFIX"]

CHECKPOINT_FILE = "checkpoint.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "chainrule.checkpoint/1"
TEMPORARY_SUFFIX = ".tmp"  # every temporary file is ".NAME.<random>.tmp" beside NAME


# ---------------------------------------------------------------- atomic files
def _write_bytes(handle, data: bytes) -> None:
    """The one write of a save (a separate function so that tests can make it fail halfway)."""
    handle.write(data)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a fresh temporary path beside ``path`` to write to; on success it replaces
    ``path`` (readers see the old file or the new one, never a part); on failure it is deleted.
    For writers that want a file name (``savefig``); ``atomic_write`` takes bytes."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name")
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=TEMPORARY_SUFFIX)
    os.close(descriptor)
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError) and error.filename is None:
            # a failed write names no file ("[Errno 28] No space left on device"): say which
            raise OSError(error.errno, error.strerror or str(error), str(path)) from None
        raise
    sync_directory(path.parent)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        _write_bytes(handle, data)


def sync_directory(directory: str | os.PathLike) -> None:
    """Make the renames in ``directory`` durable (POSIX; elsewhere a no-op)."""
    if hasattr(os, "O_DIRECTORY"):
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def json_value(value):
    """``json.dumps``'s ``default``: NumPy scalars as numbers, paths as strings."""
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite_only(value):
    """``value`` with every float that is not finite replaced by None (JSON's null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_only(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_only(item) for item in value]
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return _finite_only(value.item())
    return value


def to_json(value, what: str = "value", indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (a dataclass becomes a dict; NaN and ±inf become null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        return json.dumps(_finite_only(value), indent=indent, default=json_value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"the {what} must be JSON-able (numbers, strings, lists, dicts): {error}") \
            from None


def save_json(path: str | os.PathLike, value) -> None:
    """Write ``value`` (a dict, list… or a dataclass) as indented strict JSON, atomically."""
    atomic_write(path, (to_json(value, Path(path).name) + "\n").encode("utf-8"))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str | bytes, where: str):
    """Strict JSON (no NaN or Infinity) or a CheckpointError naming ``where``."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CheckpointError(f"{where}: not valid JSON: {error}") from None


def load_json(path: str | os.PathLike):
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CheckpointError(f"{path}: not UTF-8 text (byte {error.start}); a JSON file is UTF-8") \
            from None
    return parse_json(text, str(path))


# ---------------------------------------------------------------- safetensors files
def _safetensors():
    from .extras import require

    require("train", "safetensors", purpose="saving and loading weights")
    import safetensors.numpy

    return safetensors


def _host_array(tensor_or_array) -> numpy.ndarray:
    array = getattr(tensor_or_array, "data", tensor_or_array)
    return numpy.ascontiguousarray(backend.to_numpy(array))


def _all_finite(array: numpy.ndarray) -> bool:
    return not numpy.issubdtype(array.dtype, numpy.inexact) or bool(numpy.isfinite(array).all())


def _write_safetensors(path: Path, tensors: dict, metadata: dict) -> None:
    for name, array in tensors.items():
        if not _all_finite(array):  # the last guard: a diverged model is never written
            raise DivergenceError(f"{path}: refusing to save tensor {name!r}: it holds NaN or "
                                  "infinite values (the training diverged; try a smaller "
                                  "learning rate)")
    data = _safetensors().numpy.save(tensors, metadata=metadata)
    atomic_write(path, data)


def _check_loaded(path: Path, tensors: dict, model=None, prefix: str = "") -> None:
    """Refuse tensors that are not finite, or whose dtype is not the model's (never cast)."""
    own = {} if model is None else model.state_dict()
    for name, array in tensors.items():
        expected = own.get(name[len(prefix):]) if name.startswith(prefix) else None
        if expected is not None and numpy.dtype(array.dtype) != numpy.dtype(expected.dtype):
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {array.dtype} but the "
                                  f"model's is {numpy.dtype(expected.dtype)}; refusing to cast it")
        if not _all_finite(array):
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values; "
                                  "refusing to load it")


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    """(tensors, metadata) from a safetensors file; a CheckpointError naming the file if the file
    is missing or damaged."""
    safetensors = _safetensors()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint there (file not found)") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read the checkpoint: {error.strerror}") from None
    try:
        tensors = safetensors.numpy.load(data)
        header_size = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8:8 + header_size]).get("__metadata__") or {}
    except (safetensors.SafetensorError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file (damaged or cut "
                              f"short?): {error}") from None
    return tensors, metadata


# ---------------------------------------------------------------- nested state <-> tensors + JSON
def _split_arrays(tree, prefix: str, arrays: dict):
    """The tree with each array replaced by {"__tensor__": name}; the arrays go into ``arrays``."""
    if isinstance(tree, dict):
        return {str(key): _split_arrays(value, f"{prefix}.{key}", arrays)
                for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_split_arrays(value, f"{prefix}.{index}", arrays) for index, value in enumerate(tree)]
    if hasattr(tree, "shape") and hasattr(tree, "dtype"):
        if isinstance(tree, numpy.generic):  # a NumPy scalar: a plain number in JSON
            return tree.item()
        arrays[prefix] = _host_array(tree)
        return {"__tensor__": prefix}
    return tree


def _join_arrays(tree, arrays: dict):
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            return arrays[tree["__tensor__"]]
        return {key: _join_arrays(value, arrays) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_join_arrays(value, arrays) for value in tree]
    return tree


def _checkpoint_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / CHECKPOINT_FILE if path.suffix != ".safetensors" else path


# ---------------------------------------------------------------- the public API
def save_checkpoint(directory: str | os.PathLike, model, optimizer=None, scheduler=None,
                    config=None, extra=None, save_rng: bool = True) -> Path:
    """Save a training run's state to ``directory/checkpoint.safetensors`` (and the config to
    ``directory/config.json``), atomically; returns the checkpoint's path.

    ``config`` and ``extra`` are JSON-able values (a dataclass config is turned into a dict).
    The random generator's state is saved too, so a resumed run draws the same dropout masks
    and shuffles as an uninterrupted one.
    """
    directory = Path(directory)
    tensors = {f"model.{name}": _host_array(tensor) for name, tensor in model.state_dict().items()}
    metadata = {"format": FORMAT}
    if optimizer is not None:
        metadata["optimizer"] = to_json(_split_arrays(optimizer.state_dict(), "optimizer",
                                                       tensors), indent=None)
    if scheduler is not None:
        metadata["scheduler"] = to_json(_split_arrays(scheduler.state_dict(), "scheduler",
                                                       tensors), indent=None)
    if config is not None:
        metadata["config"] = to_json(config, "config")
    if extra is not None:
        metadata["extra"] = to_json(extra, "extra")
    if save_rng:
        metadata["rng"] = json.dumps(backend.get_rng_state())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_FILE
    _write_safetensors(path, tensors, metadata)
    if config is not None:
        save_json(directory / CONFIG_FILE, config)
    return path


def load_checkpoint(path: str | os.PathLike, model=None, optimizer=None, scheduler=None,
                    strict: bool = True, restore_rng: bool = True,
                    before_restoring: Callable[[dict, Path], None] | None = None) -> dict:
    """Read a checkpoint (a run directory or its ``.safetensors`` file) and restore what is given.

    Returns ``{"config", "extra", "model_state", "path"}``: ``model_state`` maps the model's
    tensor names to NumPy arrays, so a caller can read the config, build the model, then load.
    Loading into a model it does not fit raises a ``CheckpointError`` naming the file, the
    tensor and both shapes. With ``restore_rng`` the global random generator continues from
    where the saved run was. ``before_restoring(extra, path)`` is called with the metadata
    ``extra`` once the file is read and its tensors checked, before anything is restored: a
    caller's checks, which may refuse the checkpoint while nothing of it is in the model yet,
    from one reading of the file.
    """
    path = _checkpoint_path(path)
    tensors, metadata = _read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a chainrule checkpoint (no {FORMAT!r} format mark); "
                              "for a plain weights file use load_weights")
    saved = {key: parse_json(text, f"{path}: metadata {key!r}")
             for key, text in metadata.items() if key != "format"}
    _check_loaded(path, tensors, model, prefix="model.")
    if before_restoring is not None:
        before_restoring(saved.get("extra"), path)
    model_state = {name[len("model."):]: array for name, array in tensors.items()
                   if name.startswith("model.")}
    try:
        if model is not None:
            model.load_state_dict(model_state, strict=strict)
        if optimizer is not None:
            if "optimizer" not in saved:
                raise CheckpointError("it holds no optimizer state (saved without optimizer=)")
            optimizer.load_state_dict(_join_arrays(saved["optimizer"], tensors))
        if scheduler is not None:
            if "scheduler" not in saved:
                raise CheckpointError("it holds no scheduler state (saved without scheduler=)")
            scheduler.load_state_dict(_join_arrays(saved["scheduler"], tensors))
        if restore_rng and "rng" in saved:
            backend.set_rng_state(saved["rng"])
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, RecursionError) as error:
        # saved by a differently built optimizer, or metadata edited by hand (nested too deep)
        raise CheckpointError(f"{path}: the saved optimizer, scheduler or random state does not "
                              f"fit ({type(error).__name__}: {error})") from None
    return {"config": saved.get("config"), "extra": saved.get("extra"),
            "model_state": model_state, "path": path}


def check_file_holds(path: str | os.PathLike, parameters: int, where: str) -> None:
    """Refuse a config whose model (``parameters`` numbers) cannot be in the weights file at
    ``path``: each needs at least 4 bytes (float32). Checked before the model is built, so an
    absurd size in a config is one line, not a MemoryError."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    if size < 4 * parameters:
        raise CheckpointError(f"{where}: describes a model of {parameters:,} parameters, but "
                              f"{path} holds {size:,} bytes (at most {size // 4:,} float32 "
                              "numbers); the config and the weights do not belong together")


def save_weights(path: str | os.PathLike, model, metadata: dict[str, str] | None = None) -> Path:
    """Save only the model's tensors, under their own names, as a safetensors file (atomically);
    any safetensors reader (PyTorch's included) can open it."""
    path = Path(path)
    tensors = {name: _host_array(tensor) for name, tensor in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_safetensors(path, tensors, metadata)
    return path


def load_weights(path: str | os.PathLike, model, strict: bool = True):
    """Load a safetensors file of named tensors into ``model``; returns the missing and
    unexpected names (as ``Module.load_state_dict``)."""
    path = Path(path)
    tensors, _ = _read_safetensors(path)
    _check_loaded(path, tensors, model)
    try:
        return model.load_state_dict(tensors, strict=strict)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
