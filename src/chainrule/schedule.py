"""An optimiser's recorded update, moved up into the backward, as the limit does it.

The limit (benchmarks/mlp.py) updates each layer as soon as that layer's gradient is computed,
while the gradient is still in the caches; a recording has ``optimizer.step()`` after the whole
backward, when the first layers' gradients have been pushed out by the last ones'. The replay
that tests the optimiser's settings on entry runs each parameter's update just after the last
operation it depends on: the last to write what the update reads or writes, or to read what it
writes (on a batch-128 MLP step the move changed the time by less than 0.5% either way:
benchmarks/RESULTS.md, "Issue 14, seventh pass"). Nothing else moves, and only operations that
share no buffer change places, so every number is the same; nothing moves above a check on a
value, a random draw, a module's mode set (``train()``, ``eval()``) or a step run live, and an
update that draws or checks a value itself (an optimiser of one's own) stays as recorded.
Buffers from outside the step may share memory: parameters that do count as one buffer (a
decoder's weight made from the encoder's, transposed: ``BufferPlan.memory``), and a call with
an argument that shares memory with a weight a moved update writes replays in the recorded
order (``apart_tests``).
"""
from __future__ import annotations

from typing import NamedTuple

from .codegen import Update, named, refs

FIXED = ("branch", "draw", "live", "attribute", "optimizer")  # nothing moves above these


class Placed(NamedTuple):
    """A step of a replay, (call, store), with the buffers (roots) it reads and writes."""
    call: object
    store: object
    reads: frozenset
    writes: frozenset
    fixed: bool


def placed(step, instruction, root, taken_over=None) -> Placed:
    """``step`` of ``instruction``; ``taken_over``: a buffer it writes its result over (read
    last). Setting a ``.grad`` reads no array: only Python could look at it, and none runs
    between the steps of a replay that tested the settings on entry."""
    call, store = step
    reads = frozenset() if instruction.kind == "set_grad" else frozenset(
        root(slot) for slot in refs((instruction.arguments, instruction.keywords)))
    writes = frozenset([root(slot) for slot in (instruction.result, *instruction.results,
                                                taken_over) if slot is not None]
                       + [root(slot) for slot in instruction.writes])
    return Placed(call, store, reads, writes, instruction.kind in FIXED)


def groups(update: list) -> list:
    """The update's array operations (``Placed``) in groups that share no buffer that one of
    them writes: a parameter's update, as a rule; in each group, in their order."""
    operations = [step for step in update if step.writes]  # (not the writes it counts)
    written = frozenset().union(*(step.writes for step in operations))
    parent = list(range(len(operations)))

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]  # (path halving: n's grandparent becomes its parent)
            n = parent[n]
        return n

    first = {}  # a written buffer -> the first operation that touches it
    for n, step in enumerate(operations):
        for root in (step.reads | step.writes) & written:
            parent[find(n)] = find(first.setdefault(root, n))
    grouped = {}
    for n, step in enumerate(operations):
        grouped.setdefault(find(n), []).append(step)
    return list(grouped.values())


def _conflicts(step: Placed, reads: frozenset, writes: frozenset) -> bool:
    return step.fixed or bool(step.writes & (reads | writes)) or bool(step.reads & writes)


def updates_early(steps: list, settled: set) -> tuple[list, set, set]:
    """``steps`` (``Placed``, an update's own ``Placed`` steps in ``Update.placed``) as the steps
    of a replay, (call, store): the updates in ``settled`` (whose settings the replay tested on
    entry) taken apart, each group of their operations just after the last step it depends
    on, their writes to count where the update was. With them: the buffers the steps that an
    update passed read or write, and those the updates moved read or write, which differ, but
    two buffers from outside the step may share memory (an argument viewing a weight)."""
    out, passed, moved = [], set(), set()
    for step in steps:
        if type(step.call) is not Update or id(step.call) not in settled:
            out.append(step)
            continue
        update = step.call.placed
        if any(member.fixed for member in update):
            # a draw or a check on a value of its own: the parameters' groups, which share
            # their temporaries' memory, would be moved in between or above it
            out.extend(update)
            continue
        for group in groups(update):
            reads = frozenset().union(*(member.reads for member in group))
            writes = frozenset().union(*(member.writes for member in group))
            at = len(out)
            while at > 0 and not _conflicts(out[at - 1], reads, writes):
                at -= 1
            if at < len(out):
                passed.update(*(other.reads | other.writes for other in out[at:]))
                moved.update(reads | writes)
            out[at:at] = group
        out.extend(member for member in update if not member.writes)
    return [(step.call, step.store) for step in out], passed, moved


def owner(array):
    """The object that owns an array's memory: the array, or its base's base..."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def apart_tests(arguments, held: list, constants: dict) -> list:
    """Written tests, for a replay that moved updates (``Program.call``), that the call's
    ``arguments`` ((position, whether a tensor)) share no memory with the arrays ``held``
    (their owners, by identity) that the moved updates read or write."""
    if not arguments or not held:
        return []
    owners = named(constants, frozenset(id(owner(array)) for array in held))
    constants["owner"] = owner
    return [f"id(owner(args[{position}]{'.data' if tensor else ''})) not in {owners}"
            for position, tensor in arguments]
