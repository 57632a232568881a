"""What a replay can leave out of a recording and still do all that the eager step did.

Three things, each bit for bit the same for every array and tensor the step leaves behind:
- ``computed_once``: an operation computed again from the same arguments, none written in
  between and neither result written ever (the loss checks its labels, and its fused op checks
  them again): the second reads the first's result; a check of that same result against the
  same answer goes too.
- ``overwritten_nones``: ``zero_grad``'s ``.grad = None`` that the backward overwrites before
  anything could see it.
- ``counted_together``: an optimiser's writes to count (``versions``), one call for all.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import NamedTuple

import numpy

from .codegen import map_refs, refs
from .listing import flat
from .recording import Ref
from .versions import write_counter

# array functions that compute a result from their arguments alone, writing nothing
PURE = (numpy.ndarray.view, numpy.ndarray.transpose, numpy.ndarray.reshape,
        numpy.ndarray.__getitem__, numpy.ndarray.astype, numpy.dot)
PURE_UFUNC_METHODS = ("reduce", "accumulate", "outer")
UNINITIALISED = (numpy.empty, numpy.empty_like)


def _pure(function) -> bool:
    if function in (numpy.asarray, numpy.array, numpy.zeros, numpy.ones, numpy.full,
                    numpy.arange, numpy.eye, numpy.tri, numpy.linspace):
        return True  # an array made from Python values alone
    if isinstance(function, numpy.ufunc):
        return True
    owner = getattr(function, "__self__", None)
    return (isinstance(owner, numpy.ufunc) and function.__name__ in PURE_UFUNC_METHODS) or any(
        function is pure for pure in PURE)


def renamed(value, alias: dict):
    """``value`` with each ``Ref(n)`` of a dropped result n made the Ref of the first."""
    return map_refs(value, lambda ref: Ref(alias.get(ref.index, ref.index)))


def _exact(value):
    """``value`` as a key that only the same value matches: ``0.0 == -0.0`` and ``1 == True`` in
    Python, but ``x * -0.0`` and ``m[True]`` are other operations than ``x * 0.0`` and ``m[1]``.
    TypeError for what has no such key (an array): such an operation is not merged."""
    kind = type(value)
    if kind is Ref or value is None or value is Ellipsis or kind is str or \
            isinstance(value, numpy.dtype):
        return value
    if kind is float:
        return kind, value.hex()
    if kind is int or kind is bool:
        return kind, value
    if isinstance(value, numpy.generic):
        return kind, value.tobytes()
    if kind is tuple or kind is list:
        return kind, tuple(_exact(item) for item in value)
    if kind is dict:
        return kind, tuple((key, _exact(item)) for key, item in sorted(value.items()))
    if kind is slice:
        return kind, _exact(value.start), _exact(value.stop), _exact(value.step)
    if kind is type or callable(value):  # a dtype given as numpy.float32, a function
        return kind, id(value)
    raise TypeError(f"no exact key for a {kind.__name__}")


def computed_once(instructions: list, root, origin, outliving: set) -> tuple[list, dict]:
    """The instructions without those that compute again what an earlier one computed, every
    reference to a dropped result made to the first; and {dropped result: first result}.
    ``root(slot)``: the buffer whose memory a slot is (itself, or a view's origin);
    ``origin(slot)``: that buffer's origin ("made" in the step, or "input", "held"...);
    ``outliving``: the buffers the step returns or leaves in a ``.grad``, and those a step run
    live reads in a ``.grad`` (its Python may write them). Not merged: a result written in
    place anywhere, or one of those: eager had two arrays."""
    unshared = {slot for instruction in flat(instructions) for slot in instruction.writes}
    unshared |= outliving
    alias, first, checked, kept = {}, {}, set(), []
    for instruction in instructions:
        arguments, keywords = instruction.arguments, instruction.keywords
        if alias:
            arguments, keywords = renamed(arguments, alias), renamed(keywords, alias)
        if instruction.kind in ("live", "optimizer"):  # a step run live may write anything
            first.clear()
            checked.clear()
        if instruction.writes:  # what was read from a buffer written now may differ after it
            written = set(instruction.writes)
            if any(origin(slot) != "made" for slot in written):
                # an input and a parameter may share memory: count it as a write to every
                # buffer from outside the step
                written |= {slot for _, read in first.values() for slot in read
                            if origin(slot) != "made"}
                written |= {root(slot) for slot, _ in checked if origin(slot) != "made"}
            first = {key: done for key, done in first.items() if not done[1] & written}
            checked = {check for check in checked if root(check[0]) not in written}
        if instruction.kind == "branch":
            check = (arguments[0].index, instruction.expected)
            if check in checked:
                continue  # the same value checked against the same answer: it passed already
            checked.add(check)
        elif (instruction.kind in ("op", "view") or instruction.kind == "create" and
              instruction.function not in UNINITIALISED) and instruction.result is not None and \
                not instruction.results and not instruction.writes and \
                _pure(instruction.function) and "out" not in keywords and \
                root(instruction.result) not in unshared:
            try:
                key = (instruction.function, _exact(arguments), _exact(keywords))
                earlier = first.get(key)
            except TypeError:  # an argument with no exact key (an array)
                earlier, key = None, None
            if earlier is not None:
                alias[instruction.result] = earlier[0]
                continue
            if key is not None:
                read = {root(slot) for slot in refs(arguments)} | {root(instruction.result)}
                first[key] = (instruction.result, read)
        kept.append(instruction if arguments is instruction.arguments and keywords is
                    instruction.keywords else dataclasses.replace(
                        instruction, arguments=arguments, keywords=keywords))
    if not alias:
        return instructions, alias
    for n, instruction in enumerate(kept):  # an optimiser's recorded update reads them too
        update = instruction.keywords.get("update") if instruction.kind == "optimizer" else None
        if update:
            inner = [dataclasses.replace(i, arguments=renamed(i.arguments, alias),
                                         keywords=renamed(i.keywords, alias)) for i in update]
            kept[n] = dataclasses.replace(instruction,
                                          keywords={**instruction.keywords, "update": inner})
    return kept, alias


def overwritten_nones(instructions) -> set:
    """The positions of ``zero_grad``'s ``.grad = None`` that the step overwrites before anything
    could see them: the same tensor's gradient set again later (by the backward), with no step
    run live in between (a live optimiser or schedule step reads ``.grad``)."""
    unseen, pending = set(), {}
    for index, instruction in enumerate(instructions):
        if instruction.kind in ("optimizer", "live"):
            pending.clear()
        elif instruction.kind == "set_grad":
            tensor = id(instruction.function)
            if tensor in pending:
                unseen.add(pending.pop(tensor))
            if instruction.arguments[0] is None:
                pending[tensor] = index
    return unseen


class Write(NamedTuple):
    """A write to ``tensor`` to count (``versions``), merged with its neighbours into one call."""
    tensor: object


def counted_together(steps: list) -> list:
    """Each run of writes to count among ``steps`` ((call, store) pairs), as one call that
    counts them all: an optimiser's step writes every parameter, one call instead of one each."""
    merged = []
    for writes, run in itertools.groupby(steps, key=lambda step: type(step[0]) is Write):
        if writes:
            merged.append((write_counter([call.tensor for call, _ in run]), None))
        else:
            merged += run
    return merged
