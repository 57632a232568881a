"""The gradients a replay hands out in ``.grad``, and whether the caller still holds one.

A replay writes each gradient into the same buffer on every call, and leaves it in the
parameter's ``.grad``. Eager mode makes a new array on each call, so a gradient the caller
kept (``history.append(p.grad)``, ``p.grad.numpy()``, a view of it) keeps its values. The
program counts the references to each tensor it hands out, to its array and to the array that
owns its memory, once it is built, when they are its own; a higher count later is one held
outside, and the call does not replay this program (it records into new buffers, or replays
another whose buffers are free).
"""
from __future__ import annotations

import sys


class HandedOut:
    """The (parameter, tensor) pairs a program leaves in ``.grad``."""

    def __init__(self):
        self.given, self.own = [], []
        self.whose = []  # the parameter of each count
        self.count_now = None

    def add(self, parameter, gradient) -> None:
        self.given.append((parameter, gradient))
        self.whose += [parameter] * (2 if gradient.data.base is None else 3)

    def counts(self, constants: dict) -> list:
        """For each tensor, written out: the references to it, less its parameter's ``.grad``,
        to its array, and to the array that owns the memory when that is a view (a conv's
        gradient, a buffer laid out as a transposed operand): a view the caller takes of the
        gradient refers to the owner, not to the gradient's array. The counts and the tests of
        them are the same expressions, so that they count alike in any Python."""
        constants.update(getrefcount=sys.getrefcount)
        written = []
        for parameter, gradient in self.given:
            held = _named(constants, gradient)
            written += [f"getrefcount({held}) - ({_named(constants, parameter)}.grad is {held})",
                        f"getrefcount({_named(constants, gradient.data)})"]
            if gradient.data.base is not None:
                written.append(f"getrefcount({_named(constants, gradient.data.base)})")
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


def _named(constants: dict, value) -> str:
    name = f"h{len(constants)}"
    constants[name] = value
    return name
