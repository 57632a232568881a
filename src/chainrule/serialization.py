"""``chainrule.save(obj, path)`` and ``chainrule.load(path)``: PyTorch's two calls, without pickle.

``obj`` is a state dict, or any nest of dicts, lists and tuples whose leaves are tensors, NumPy
arrays, numbers, strings, booleans or None (an optimizer's ``state_dict()``, a scheduler's, a
training step count). The file is safetensors: every tensor and array under its place in the nest
(``"0.weight"``, ``"state.0.exp_avg"``), so any safetensors reader can open it, and the nest
itself as JSON in the file's metadata. It is written atomically, by the checkpoints' writer.

Loading reads data and never runs code, so no file can do harm (pickle can, which is why
``torch.load`` grew ``weights_only``). What was a Tensor comes back a Tensor, what was a NumPy
array a NumPy array, with its dtype and its bits; dict keys keep their type (an optimizer's
state is keyed by integers) and tuples stay tuples.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy

from . import backend, checkpoint, devices
from .errors import CheckpointError
from .tensor import Tensor, as_tensor

__all__ = ["save", "load"]

FORMAT = "chainrule.save/1"


def save(obj, f: str | os.PathLike) -> None:
    """Save ``obj`` (e.g. ``model.state_dict()``) to the file ``f``, atomically."""
    path = _path(f, "save")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: the directory {path.parent} does not exist")
    arrays: dict = {}
    tree = _flatten(obj, "", arrays)
    metadata = {"format": FORMAT, "tree": json.dumps(tree)}
    checkpoint._write_safetensors(path, arrays, metadata)


def load(f: str | os.PathLike, map_location=None, weights_only: bool | None = None, **kwargs):
    """The object that ``save`` wrote to ``f``. A plain safetensors file of named tensors (such
    as ``checkpoint.save_weights`` or ``safetensors.torch.save_file`` write) loads as a dict of
    Tensors. ``map_location`` may name the backend's device ("cpu" with NumPy); ``weights_only``
    is accepted and changes nothing, since loading never runs code."""
    path = _path(f, "load")
    if kwargs:
        raise TypeError(f"load() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if map_location is not None:
        devices.check(map_location, "load(map_location=…)")
    if not path.is_file():
        raise FileNotFoundError(f"load: no file {path}")
    try:
        arrays, metadata = checkpoint._read_safetensors(path)
    except CheckpointError as error:
        _refuse_pickle(path)
        raise CheckpointError(f"{path}: not a file that chainrule.save wrote, nor any safetensors "
                              f"file ({str(error).removeprefix(f'{path}: ')})") from None
    if metadata.get("format") == checkpoint.FORMAT:
        raise CheckpointError(f"{path}: this is a training run's checkpoint; read it with "
                              "chainrule.checkpoint.load_checkpoint(path, model, optimizer)")
    if metadata.get("format") != FORMAT:
        return {name: _as_tensor(array) for name, array in arrays.items()}
    try:
        return _unflatten(json.loads(metadata["tree"]), arrays)
    except (KeyError, TypeError, ValueError, RecursionError) as error:
        raise CheckpointError(f"{path}: the file's description of its contents is damaged "
                              f"({type(error).__name__}: {error})") from None


# ---------------------------------------------------------------- the nest <-> arrays + JSON
def _flatten(value, place: str, arrays: dict):
    """JSON for ``value``, each tensor or array replaced by a marker naming its entry in
    ``arrays``; dicts with keys other than strings, and tuples, are marked to come back as such."""
    if isinstance(value, Tensor) or isinstance(value, numpy.ndarray) \
            or hasattr(value, "__cuda_array_interface__"):
        name = place or "tensor"
        # {"a.b": x, "a": {"b": y}} would name both "a.b" (and a key may already be "a.b#2");
        # "__metadata__" is the safetensors header's own entry
        while name in arrays or name == "__metadata__":
            name = f"{name}#{len(arrays)}"
        # not ascontiguousarray: it makes a 0-d array 1-d
        arrays[name] = numpy.asarray(backend.to_numpy(getattr(value, "data", value)), order="C")
        return {"__tensor__" if isinstance(value, Tensor) else "__array__": name}
    if isinstance(value, dict):
        entries = {key: _flatten(item, _join(place, key), arrays) for key, item in value.items()}
        if all(isinstance(key, str) for key in entries) and not _looks_marked(entries):
            return entries
        for key in entries:
            if not isinstance(key, (str, int, float)) and key is not None:
                raise TypeError(f"save: the key {key!r} {_where(place)} is a "
                                f"{type(key).__name__}; keys must be strings, numbers or None")
        return {"__dict__": [[key, item] for key, item in entries.items()]}
    if isinstance(value, (list, tuple)):
        items = [_flatten(item, _join(place, index), arrays) for index, item in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, numpy.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"save: can't save a {type(value).__name__} {_where(place)}: only "
                    "tensors, arrays, numbers, strings, None, and dicts, lists and tuples of them. "
                    + _advice(value))


def _unflatten(tree, arrays: dict):
    if isinstance(tree, list):
        return [_unflatten(item, arrays) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if len(tree) == 1:
        (marker, content), = tree.items()
        if marker == "__tensor__":
            return _as_tensor(arrays[content])
        if marker == "__array__":
            return arrays[content]
        if marker == "__tuple__":
            return tuple(_unflatten(item, arrays) for item in content)
        if marker == "__dict__":
            return {key: _unflatten(item, arrays) for key, item in content}
    return {key: _unflatten(item, arrays) for key, item in tree.items()}


def _looks_marked(entries: dict) -> bool:
    """A user's dict with one key such as "__tensor__" would read back as a marker."""
    return len(entries) == 1 and next(iter(entries)) in ("__tensor__", "__array__", "__tuple__",
                                                         "__dict__")


def _where(place: str) -> str:
    return f"at {place!r}" if place else "at the top"


def _join(place: str, key) -> str:
    return f"{place}.{key}" if place else str(key)


def _as_tensor(array) -> Tensor:
    return as_tensor(backend.xp.asarray(array))


def _advice(value) -> str:
    if hasattr(value, "state_dict"):
        return (f"Save its state instead: chainrule.save(obj.state_dict(), path), and later "
                f"obj.load_state_dict(chainrule.load(path)) on a new {type(value).__name__} "
                "(chainrule never pickles objects)")
    return "chainrule never pickles objects"


# ---------------------------------------------------------------- files
def _path(f, op: str) -> Path:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"{op}: give a file path (a str or a pathlib.Path), not "
                        f"{type(f).__name__}")
    return Path(f)


_PICKLE_STARTS = (b"PK\x03\x04", b"\x80")  # a zip (torch.save's format) or a pickle stream


def _refuse_pickle(path: Path) -> None:
    """A file torch.save (or pickle) wrote gets an error that says how to convert it (asked only
    of a file that is not safetensors: a safetensors header's length may start with 0x80 too)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except OSError:
        return  # the safetensors reader names the problem
    if start.startswith(_PICKLE_STARTS):
        raise CheckpointError(f"{path}: this looks like a file written by torch.save or pickle; "
                              "chainrule reads only safetensors, because loading a pickle can run "
                              "any code. In PyTorch, write the weights with safetensors."
                              "torch.save_file(model.state_dict(), 'model.safetensors') and load "
                              "that with chainrule.load")
