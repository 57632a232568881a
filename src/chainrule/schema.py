"""The declared shape of a JSON file: each field's type, range or choices, checked on load.

A file from outside (edited by hand, damaged, written by another version) is refused with one
line that names the file and the field, before any of it is used:

    runs/x/config.json: model.sizes[1]: expected an integer from 1 to 1048576, got -3

A schema is plain data: ``Record({"sizes": ListOf(Integer(1)), "kind": Text(choices)})``.
Fields a record does not declare are allowed (a newer file may hold more); declared fields are
required unless listed under ``optional``.
"""
from __future__ import annotations

import math
import os

from .errors import CheckpointError

__all__ = ["Integer", "Number", "Text", "Boolean", "Nullable", "ListOf", "Record", "Anything",
           "validate"]


class _Invalid(Exception):
    def __init__(self, where: str, problem: str):
        super().__init__(where, problem)
        self.where, self.problem = where, problem


def _shown(value) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Integer:
    def __init__(self, low: int | None = None, high: int | None = None):
        self.low, self.high = low, high

    def check(self, value, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or \
                (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            raise _Invalid(where, f"expected {self.describe()}, got {_shown(value)}")

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer from {self.low} to {self.high}"
        if self.low is not None:
            return f"an integer of at least {self.low}"
        return "an integer"


class Number:
    """A finite number in [low, high]; ``above`` makes the lower bound strict."""

    def __init__(self, low: float | None = None, high: float | None = None, above: bool = False):
        self.low, self.high, self.above = low, high, above

    def check(self, value, where: str) -> None:
        ok = (not isinstance(value, bool) and isinstance(value, (int, float))
              and math.isfinite(value)
              and (self.low is None or (value > self.low if self.above else value >= self.low))
              and (self.high is None or value <= self.high))
        if not ok:
            raise _Invalid(where, f"expected {self.describe()}, got {_shown(value)}")

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.above else 'at least'} {self.low:g}")
        if self.high is not None:
            parts.append(f"at most {self.high:g}")
        return "a finite number" + (" " + " and ".join(parts) if parts else "")


class Text:
    def __init__(self, choices=None):
        self.choices = list(choices) if choices is not None else None

    def check(self, value, where: str) -> None:
        if not isinstance(value, str):
            raise _Invalid(where, f"expected a string, got {_shown(value)}")
        if self.choices is not None and value not in self.choices:
            raise _Invalid(where, f"expected one of {', '.join(map(repr, self.choices))}, "
                                  f"got {_shown(value)}")


class Boolean:
    def check(self, value, where: str) -> None:
        if not isinstance(value, bool):
            raise _Invalid(where, f"expected true or false, got {_shown(value)}")


class Anything:
    def check(self, value, where: str) -> None:
        pass


class Nullable:
    def __init__(self, inner):
        self.inner = inner

    def check(self, value, where: str) -> None:
        if value is not None:
            self.inner.check(value, where)


class ListOf:
    def __init__(self, item, min_length: int = 0, max_length: int | None = None):
        self.item, self.min_length, self.max_length = item, min_length, max_length

    def check(self, value, where: str) -> None:
        if not isinstance(value, list):
            raise _Invalid(where, f"expected a list, got {_shown(value)}")
        if len(value) < self.min_length or \
                (self.max_length is not None and len(value) > self.max_length):
            most = f" and at most {self.max_length}" if self.max_length is not None else ""
            raise _Invalid(where, f"expected at least {self.min_length}{most} items, "
                                  f"got {len(value)}")
        for index, item in enumerate(value):
            self.item.check(item, f"{where}[{index}]")


class Record:
    def __init__(self, fields: dict, optional: dict | None = None):
        self.fields, self.optional = fields, optional or {}

    def check(self, value, where: str) -> None:
        if not isinstance(value, dict):
            raise _Invalid(where, f"expected an object ({{...}}), got {_shown(value)}")
        prefix = f"{where}." if where else ""
        for name, schema in self.fields.items():
            if name not in value:
                raise _Invalid(f"{prefix}{name}", "missing")
            schema.check(value[name], f"{prefix}{name}")
        for name, schema in self.optional.items():
            if name in value:
                schema.check(value[name], f"{prefix}{name}")


def validate(value, schema, file: str | os.PathLike, field: str = ""):
    """``value`` if it fits ``schema``; else a CheckpointError naming ``file`` and the field
    (``field`` prefixes the names: the part of the file ``value`` was read from)."""
    try:
        schema.check(value, field)
    except _Invalid as invalid:
        where = invalid.where or "the whole file"
        raise CheckpointError(f"{os.fspath(file)}: {where}: {invalid.problem}") from None
    return value
