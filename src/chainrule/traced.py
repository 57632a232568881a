"""The arrays of a step being recorded: NumPy arrays that report what is done with them.

A ``Traced`` array computes exactly as NumPy computes (every operation runs on the plain array
underneath) and, while a recording is active, reports each operation to it: ufuncs and their
reductions through ``__array_ufunc__``, NumPy functions through ``__array_function__``, and the
ndarray methods and indexing below, which those protocols don't reach.
"""
from __future__ import annotations

import numpy

from .errors import CompileError

_active: "Recording | None" = None


class Traced(numpy.ndarray):
    """An array of a step being recorded: computed as NumPy computes it, and reported."""

    slot = None  # the buffer this array is; None for an array made out of the recording's sight

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        function = ufunc if method == "__call__" else getattr(ufunc, method)
        return _report(function, inputs, kwargs)

    def __array_function__(self, function, types, args, kwargs):
        return _report(function, args, kwargs)

    def __bool__(self) -> bool:
        value = bool(plain(self))
        if _active is not None and not _active.paused:
            _active.branch(self, value)
        return value

    def _read_into_python(self, *args, **kwargs):
        value = plain(self)
        if _active is None or _active.paused:
            return value.item(*args, **kwargs)
        raise CompileError(
            "chainrule.compile: the step reads a value computed in it into Python (.item(), "
            "float(), int() or .tolist() of an array of shape "
            f"{self.shape}); a replay would reuse the recorded value. Return the tensor from "
            "the step and read it outside, or compute with tensors (no Python numbers) inside.")

    item = __float__ = __int__ = __index__ = tolist = _read_into_python

    def __getitem__(self, index):
        return _report(numpy.ndarray.__getitem__, (self, index), {})

    def __setitem__(self, index, value):
        _report(numpy.ndarray.__setitem__, (self, index, value), {}, writes=self)

    @property
    def T(self):
        return _report(numpy.ndarray.transpose, (self,), {})


def _method(name: str):
    unbound = getattr(numpy.ndarray, name)

    def method(self, *args, **kwargs):
        return _report(unbound, (self,) + args, kwargs, writes=self if name == "fill" else None)
    method.__name__ = name
    return method


for _name in ("reshape", "transpose", "swapaxes", "squeeze", "ravel", "flatten", "astype", "copy",
              "view", "argmax", "argmin", "argsort", "fill", "repeat", "take", "cumsum",
              "nonzero", "diagonal", "dot", "round"):
    setattr(Traced, _name, _method(_name))


def plain(array):
    """The array itself as a plain ndarray (a view: no copy), whatever it is wrapped in."""
    return numpy.ndarray.view(array, numpy.ndarray) if isinstance(array, Traced) else array


def _plain_all(value):
    if isinstance(value, Traced):
        return numpy.ndarray.view(value, numpy.ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(_plain_all(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain_all(item) for key, item in value.items()}
    return value


def _report(function, args, kwargs, writes=None):
    """Run ``function`` on the plain arrays and, while recording, log it as an instruction."""
    result = function(*_plain_all(args), **_plain_all(kwargs))
    if _active is None or _active.paused:
        return result
    return _active.log(function, args, kwargs, result, writes)
