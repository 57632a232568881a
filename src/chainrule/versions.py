"""Version counters: how many in-place writes each array's storage has had, so that backward can
refuse a VJP whose saved tensors were changed since the op ran (PyTorch's ``_version``).

A count belongs to the array that owns the memory (a view's ``.base``), so a view shares its
base's counter. Absent means 0. An entry leaves with its owner (a weak reference), so the table
holds only arrays alive and written at least once.
"""
from __future__ import annotations

import functools
import weakref
from typing import Callable

_versions: dict[int, int] = {}
_owner_watch: dict[int, weakref.ref] = {}


def _owner_key(array) -> int:
    base = array.base
    return id(array if base is None else base)


storage_key = _owner_key  # the storage whose count a write to ``array`` adds to


def version_of(tensor: "Tensor") -> int:
    """How many in-place writes through the Tensor API its storage has had (``x._version``)."""
    return _versions.get(_owner_key(tensor.data), 0)


def increment_version(tensor: "Tensor", previous: int | None = None) -> None:
    """Count an in-place write to ``tensor``'s storage, as ``torch.autograd.graph.increment_version``.

    Every in-place method calls this; code that writes ``tensor.data`` itself (an optimiser's
    step) calls it to say so. ``previous``: the version before the write, for a write that had to
    give the tensor a new array (a NumPy scalar cannot be written into)."""
    array = tensor.data
    base = array.base
    owner = array if base is None else base
    key = id(owner)
    if previous is None and key in _owner_watch:  # written before (a parameter): the usual case
        _versions[key] += 1
        return
    count = _versions.get(key, 0) if previous is None else previous
    if key not in _owner_watch:
        try:
            _owner_watch[key] = weakref.ref(owner, functools.partial(_forget_owner, key))
        except TypeError:  # an owner without weak references (bytes): its entry simply stays
            pass
    _versions[key] = count + 1


def set_version(tensor: "Tensor", count: int) -> None:
    """Give ``tensor``'s storage the count ``count``: a replay's gradient, the same buffer on
    every call, starts each call at the count of the new array eager mode makes in that call."""
    if count:
        increment_version(tensor, count - 1)
    else:
        key = _owner_key(tensor.data)
        if key in _versions:
            _versions[key] = 0


def version_setter(tensor: "Tensor", count: int) -> Callable[[], None]:
    """``set_version(tensor, count)`` as a function of no arguments, for a storage that stays
    ``tensor``'s (a replay's gradient, the same buffer on every call); for a count of 0 its key
    is looked up once, here."""
    if count:
        return functools.partial(set_version, tensor, count)
    key, versions = _owner_key(tensor.data), _versions

    def reset_count() -> None:  # (a storage never written has no count to set back)
        if key in versions:
            versions[key] = 0
    return reset_count


def move_count_to_storage(array) -> None:
    """The writes counted on ``array`` itself, a view, added to its storage's count: a view of
    ``array`` of another class (a recording's ``Traced`` stand-in of a tensor's array that is
    a view, ``Parameter(w.T)`` or a gradient a recording made) has ``array`` for its base, as
    NumPy stops looking for the owner at a change of class, so its writes were counted apart."""
    base, key = array.base, id(array)
    if base is None or key not in _versions:
        return
    count = _versions.pop(key)
    _owner_watch.pop(key, None)
    storage = id(base)
    _versions[storage] = _versions.get(storage, 0) + count
    if storage not in _owner_watch:
        try:
            _owner_watch[storage] = weakref.ref(base, functools.partial(_forget_owner, storage))
        except TypeError:  # (as in increment_version)
            pass


def write_counter(tensors: list) -> Callable[[], None]:
    """One function that counts a write to each of ``tensors``, as ``increment_version`` on each
    would: for a replayed optimiser step, which writes the same arrays on every call. Their keys
    are looked up once, here, and their owners kept, so no key can come to stand for another
    array; a tensor whose count is not kept yet (never written) is counted the long way."""
    owners = [tensor.data if tensor.data.base is None else tensor.data.base for tensor in tensors]
    keys = [id(owner) for owner in owners]

    def count_writes(versions=_versions, keys=keys, owners=owners) -> None:
        for key in keys:
            versions[key] += 1

    def count_each() -> None:
        for tensor in tensors:
            increment_version(tensor)
    return count_writes if all(key in _owner_watch for key in keys) else count_each


def _forget_owner(key: int, _reference) -> None:
    _versions.pop(key, None)
    _owner_watch.pop(key, None)


def check_saved(node, output) -> None:
    """The saved tensors' versions against those recorded when the op ran: one comparison each
    (the lookup written out: this runs for every node of every backward)."""
    versions = _versions
    for tensor, expected in node.saved:
        array = (output if tensor is None else tensor).data
        base = array.base
        current = versions.get(id(array if base is None else base), 0)
        if current != expected:
            raise RuntimeError(_modified_message(node, output, tensor, current, expected))


def _modified_message(node, output, tensor, current: int, expected: int) -> str:
    if tensor is None:
        which = f"its output {_describe(output)}"
    else:
        which = f"its input {_describe(tensor)}"
    return (f"{node.op}: {which} was modified by an in-place operation after it was saved for "
            f"backward (version {current}, expected {expected}), so the gradient would be wrong; "
            "hint: change a copy instead (y = x.clone(), then y += ...), or write the change out "
            "of place (x = x + 1 rather than x += 1). Writes to x.data itself are not counted: "
            "that is the way around this check, at your own risk.")


def _describe(tensor: "Tensor") -> str:
    name = f"'{tensor.name}' " if tensor.name else ""
    origin = "a leaf" if tensor._node is None else f"the output of {tensor._node.op}"
    return f"{name}of shape {tuple(tensor.shape)} and dtype {tensor.dtype} ({origin})"
