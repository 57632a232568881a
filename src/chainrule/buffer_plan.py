"""Where a replay's results live: buffers reused as a register allocator reuses registers.

Once the last operation reading a result has run, its buffer may take a later result of its
shape, dtype and layout. The operations are the same, so are the numbers; the program touches
less memory (the limit reuses a handful of buffers too). Results that outlive the call don't
take part: what the step returns, and the gradients it leaves in ``.grad``; nor does, after
it, a gradient that a step run live (Adam's) finds in ``.grad`` (``seen_live``).
"""
from __future__ import annotations

import numpy

from .codegen import refs
from .listing import flat
from .recording import Ref
from .schedule import owner


def empty(buffer):
    """An uninitialised array laid out as the recorded one was (C order, or its axes' order)."""
    if buffer.layout is None:
        return numpy.empty(buffer.shape, buffer.dtype)
    stored = numpy.empty([buffer.shape[axis] for axis in buffer.layout], buffer.dtype)
    return stored.transpose(numpy.argsort(buffer.layout))


def outliving(instructions, outputs, root) -> set:
    """The buffers whose arrays outlive the call: what the step returns, and the gradients it
    leaves in ``.grad`` (not one it replaces later: ``zero_grad()`` after ``optimizer.step()``)."""
    left = {id(i.function): i.arguments[0] for i in flat(instructions) if i.kind == "set_grad"}
    return {root(slot) for slot in refs(outputs)} | {
        root(source.index) for source in left.values() if source is not None}


def seen_live(instructions, root) -> dict:
    """The buffers in a ``.grad`` when a step that may run live comes (Adam's on every call,
    another optimiser's where its settings changed, a schedule's), each with, for each such
    step, the positions (in ``flat`` order) of its own recorded update. That step reads each
    ``.grad`` by Python, which no instruction shows, and may keep it (a log of gradients) or
    write it in place: what is there then is read there, and its memory is its own to the end
    of the call, but to the step's own recorded update, which runs where it doesn't run live."""
    seen, in_grad = {}, {}  # in_grad: id(tensor) -> the buffer now in its .grad
    for n, instruction in enumerate(flat(instructions)):
        if instruction.kind == "set_grad":
            in_grad[id(instruction.function)] = instruction.arguments[0]
        elif instruction.kind in ("optimizer", "live"):
            own = len(instruction.keywords.get("update") or ()) \
                if instruction.kind == "optimizer" else 0
            for source in filter(None, in_grad.values()):
                seen.setdefault(root(source.index), []).append(range(n + 1, n + 1 + own))
    return seen


class BufferPlan:
    """The buffers of a program's results, given out in the order of its instructions."""

    def __init__(self, buffers, values, instructions, outputs):
        """``values``: the program's list of arrays, filled in as buffers are given out. While
        ``apart`` is a dict, the results given out are an optimiser's update's, which share
        only with each other (schedule.py may move the update up)."""
        self.buffers, self.values = buffers, values
        order = list(flat(instructions))
        self.position = {id(instruction): n for n, instruction in enumerate(order)}
        end = {}
        for n, instruction in enumerate(order):
            for slot in (instruction.result, *instruction.results):
                if slot is not None:
                    end.setdefault(self.root(slot), n)
            for slot in refs((instruction.arguments, instruction.keywords)):
                end[self.root(slot)] = n
        self.seen_live = seen_live(instructions, self.root)
        for root, steps in self.seen_live.items():  # read there, by the last of those steps
            end[root] = max(end[root], steps[-1].start - 1)
        kept = outliving(instructions, outputs, self.root)
        self.ends = sorted((n, root) for root, n in end.items() if root not in kept)
        self.kept = kept
        self.pooled, self.free, self.apart = {}, {}, None  # a pooled buffer -> its pool
        self.taken_over = {}  # an update's result -> the buffer it took over (read last)
        self.held = set(self.seen_live)  # buffers whose memory is given to no later result
        owners = {}  # arrays from before the step that share memory (Parameter(w.T)): as one
        self.shared = {slot: owners.setdefault(id(owner(buffer.array)), slot)
                       for slot, buffer in enumerate(buffers) if buffer.origin == "held"}

    def root(self, slot: int) -> int:
        root = self.buffers[slot].root
        return slot if root is None else root

    def memory(self, slot: int) -> int:
        """The buffer whose memory a slot is, one for arrays from before the step that share
        theirs (the schedule's unit: schedule.py)."""
        root = self.root(slot)
        return self.shared.get(root, root)

    def allocate(self, slot: int, read_last=()):
        """A buffer for ``slot``: a free one of its shape, dtype and layout, or a new one. A
        result that outlives the call gets its own: the next call may read it (a gradient
        accumulated across calls) after the operations that would share its memory.
        ``read_last``: the buffers the operation is the last to read, free from here on."""
        key = self._kind(slot)
        if self.apart is not None:
            # An update's temporaries share only with each other, as the update may run earlier
            # than recorded (schedule.py), when a buffer freed before its place is in use; or
            # with what the operation itself reads last (a gradient), which the schedule then
            # counts as written by it, and which goes back to its own pool, never to another
            # update's operations (other results had it before, which may be in use where
            # those run)
            for root in read_last:
                if root in self.pooled and slot not in self.kept and key == self._kind(root):
                    self.values[slot], self.pooled[slot] = self.values[root], self.pooled[root]
                    self.taken_over[slot] = root
                    if root in self.held:
                        self.held.add(slot)
                    del self.pooled[root]
                    break
            else:
                root = None
            for other in read_last:
                if other != root:
                    self.free_buffer(other)
            if root is not None:
                return self.values[slot]
        else:
            for root in read_last:
                self.free_buffer(root)
        pool = self.free if self.apart is None else self.apart
        free = None if slot in self.kept else pool.get(key)
        self.values[slot] = free.pop() if free else empty(self.buffers[slot])
        self.pooled[slot] = pool
        return self.values[slot]

    def release_before(self, position: int) -> None:
        while self.ends and self.ends[0][0] < position:
            self.free_buffer(self.ends.pop(0)[1])

    def free_buffer(self, root: int) -> None:
        if root in self.pooled and root not in self.held:
            self.pooled[root].setdefault(self._kind(root), []).append(self.values[root])

    def _kind(self, slot: int) -> tuple:
        """What a buffer must match to take a slot's result: its shape, dtype and layout."""
        buffer = self.buffers[slot]
        return buffer.shape, buffer.dtype, buffer.layout

    def read_in_place(self, instruction) -> list:
        """In place, as the limit writes ``a *= b``: an elementwise operation may write its result
        over an argument it is the last to read, when that argument is a whole buffer of the
        program and no view of it is read too (element i is then read and written at one
        address, before any other: the numbers are those of a separate buffer). The arguments
        it may write over, free from here on."""
        position = self.position[id(instruction)]
        if not isinstance(instruction.function, numpy.ufunc):
            return []
        direct = {a.index for a in instruction.arguments if type(a) is Ref}
        read = [(slot, self.root(slot)) for slot in refs(instruction.arguments)]
        read += [(None, self.root(slot)) for slot in refs(instruction.keywords)]
        whole = direct - {root for slot, root in read if slot != root}
        whole = {root for root in whole if self._writable_at(root, position)}
        freed = [entry for entry in self.ends if entry[0] == position and entry[1] in whole]
        for entry in freed:
            self.ends.remove(entry)
        return [root for _, root in freed]

    def _writable_at(self, root: int, position: int) -> bool:
        """Whether an operation at ``position`` may write over buffer ``root``: any, unless a
        step that may run live saw it in a .grad; then only that one step's own update."""
        seen = self.seen_live.get(root)
        return seen is None or (len(seen) == 1 and position in seen[0])
