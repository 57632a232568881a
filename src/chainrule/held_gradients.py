"""The gradients a replay hands out in ``.grad``, and whether the caller still holds one.

A replay writes each gradient into the same buffer on every call, and leaves it in the
parameter's ``.grad``. Eager mode makes a new array on each call, so a gradient the caller
kept (``history.append(p.grad)``, ``p.grad.numpy()``, a view of it) keeps its values. The
program counts the references to each tensor it hands out, to its array and to the array that
owns its memory, once it is built, when they are its own; a higher count later is one held
outside, and the call does not replay this program (it records into new buffers, or replays
another whose buffers are free). A step that reads the gradient from before the call after it
has begun to write the new one (adding to it, then comparing the two) would read, from the
second replay on, the program's own buffer, already overwritten: the gradient left in
``.grad`` counts as held there too, and two programs take turns.
"""
from __future__ import annotations

import sys

import numpy

from .codegen import named, refs
from .listing import flat


class HandedOut:
    """The (parameter, tensor) pairs a program leaves in ``.grad``."""

    def __init__(self):
        self.given, self.own = [], []
        self.whose = []  # the parameter of each count
        self.count_now = None

    def add(self, parameter, gradient, read_back: bool = False) -> None:
        """``read_back``: the step reads the parameter's gradient from before the call after it
        has begun to write this one: this one, left in ``.grad``, counts as held there."""
        self.given.append((parameter, gradient, read_back))
        self.whose += [parameter] * (2 if gradient.data.base is None else 3)

    def counts(self, constants: dict) -> list:
        """For each tensor, written out: the references to it, less its parameter's ``.grad``,
        to its array, and to the array that owns the memory when that is a view (a conv's
        gradient, a buffer laid out as a transposed operand): a view the caller takes of the
        gradient refers to the owner, not to the gradient's array. The counts and the tests of
        them are the same expressions, so that they count alike in any Python."""
        constants.update(getrefcount=sys.getrefcount)
        written = []
        for parameter, gradient, read_back in self.given:
            held = named(constants, gradient)
            in_grad = "" if read_back else f" - ({named(constants, parameter)}.grad is {held})"
            written += [f"getrefcount({held}){in_grad}",
                        f"getrefcount({named(constants, gradient.data)})"]
            if gradient.data.base is not None:
                written.append(f"getrefcount({named(constants, gradient.data.base)})")
        return written

    def count_own(self) -> None:
        """Counts the program's own references: once it is built, before it replays."""
        counts = self.counts(constants := {})
        self.count_now = eval(f"lambda: ({''.join(count + ', ' for count in counts)})",
                              constants)
        self.own[:] = self.count_now()

    def tests(self, constants: dict) -> list:
        """That none is held outside: each count at most the program's own."""
        constants["own"] = self.own
        return [f"{count} <= own[{n}]" for n, count in enumerate(self.counts(constants))]

    def held(self):
        """The parameter of the first gradient held outside, or None."""
        for parameter, now, own in zip(self.whose, self.count_now(), self.own):
            if now > own:
                return parameter
        return None


def read_after_written(instructions, root, returned: set, gradient: int, written: int) -> bool:
    """Whether the step reads the gradient it read live (buffer ``gradient``, or a view of it),
    or returns it (``returned``: the roots of the buffers it returns, copied at the end), after
    it has begun to write buffer ``written``, or as it writes it otherwise than element by
    element. When the gradient read is the one the program left in ``.grad`` (``written``, on
    the last call), it is that very memory, which eager mode would read intact."""
    target, began = root(written), False
    for instruction in flat(instructions):
        reads = [slot for slot in refs((instruction.arguments, {
            key: value for key, value in instruction.keywords.items() if key != "out"}))
            if root(slot) == gradient]
        if reads and began:
            return True
        made = [] if instruction.kind == "view" else [instruction.result, *instruction.results]
        if target in instruction.writes or target in {root(slot) for slot in made
                                                      if slot is not None}:
            if reads and not (isinstance(instruction.function, numpy.ufunc) and
                              set(reads) == {gradient}):
                return True
            began = True
    return began and gradient in returned
