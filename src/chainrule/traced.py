"""The arrays of a step being recorded: NumPy arrays that report what is done with them, and
the array namespace and random generator that make them while a step is recorded.

A ``Traced`` array computes exactly as NumPy computes (every operation runs on the plain array
underneath) and, while a recording is active, reports each operation to it: ufuncs and their
reductions through ``__array_ufunc__``, NumPy functions through ``__array_function__``, and the
ndarray methods and indexing below, which those protocols don't reach.
"""
from __future__ import annotations

import functools

import numpy

from .errors import CompileError

CREATIONS = ("zeros", "ones", "empty", "full", "arange", "eye", "linspace", "asarray", "array",
             "ascontiguousarray", "tri")
DRAWS = ("random", "standard_normal", "integers", "normal", "uniform", "permutation", "choice")

# NumPy functions and ndarray methods that write into their first argument
IN_PLACE = (numpy.copyto, numpy.put, numpy.place, numpy.putmask, numpy.fill_diagonal,
            numpy.put_along_axis)
IN_PLACE_METHODS = ("fill", "sort", "put", "partition")

_active: "Recording | None" = None


class Traced(numpy.ndarray):
    """An array of a step being recorded: computed as NumPy computes it, and reported."""

    slot = None  # the buffer this array is; None for an array made out of the recording's sight

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        function = ufunc if method == "__call__" else getattr(ufunc, method)
        writes = inputs[0] if method == "at" else None  # add.at(out, index, values): in place
        return _report(function, inputs, kwargs, writes=writes)

    def __array_function__(self, function, types, args, kwargs):
        return _report(function, args, kwargs, writes=args[0] if function in IN_PLACE else None)

    def __bool__(self) -> bool:
        value = bool(plain(self))
        if _active is not None and not _active.paused:
            _active.branch(self, value)
        return value

    def __getitem__(self, index):
        return _report(numpy.ndarray.__getitem__, (self, index), {})

    def __setitem__(self, index, value):
        _report(numpy.ndarray.__setitem__, (self, index, value), {}, writes=self)

    @property
    def T(self):
        return _report(numpy.ndarray.transpose, (self,), {})


def _into_python(name: str):
    """``.item()``, ``float()``…: a value read into Python would be frozen in the program."""
    unbound = getattr(numpy.ndarray, name)

    def method(self, *args, **kwargs):
        if _active is None or _active.paused:
            return unbound(plain(self), *args, **kwargs)
        raise CompileError(
            "chainrule.compile: the step reads a value computed in it into Python (.item(), "
            "float(), int() or .tolist() of an array of shape "
            f"{self.shape}); a replay would reuse the recorded value. Return the tensor from "
            "the step and read it outside, or compute with tensors (no Python numbers) inside.")
    method.__name__ = name
    return method


def _method(name: str):
    unbound = getattr(numpy.ndarray, name)

    def method(self, *args, **kwargs):
        return _report(unbound, (self,) + args, kwargs,
                       writes=self if name in IN_PLACE_METHODS else None)
    method.__name__ = name
    return method


for _name in ("reshape", "transpose", "swapaxes", "squeeze", "ravel", "flatten", "astype", "copy",
              "view", "argmax", "argmin", "argsort", "repeat", "take", "cumsum", "nonzero",
              "diagonal", "dot", "round") + IN_PLACE_METHODS:
    setattr(Traced, _name, _method(_name))
for _name in ("item", "tolist", "__float__", "__int__", "__index__"):
    setattr(Traced, _name, _into_python(_name))


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


class Namespace:
    """``backend.xp`` while recording: NumPy, with creation functions that report."""

    def __getattr__(self, name):
        return getattr(numpy, name)

    def __init__(self, recording):
        for name in CREATIONS:
            setattr(self, name, functools.partial(self._create, recording, getattr(numpy, name)))

    @staticmethod
    def _create(recording, function, *args, **kwargs):
        source = args[0] if args else None
        if isinstance(source, Traced):  # asarray/array of an array of the step: a copy or itself
            dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
            converted = source if dtype is None or source.dtype == dtype else source.astype(dtype)
            copy = function is numpy.array and kwargs.get("copy", True) and converted is source
            return converted.copy() if copy else converted
        result = function(*args, **kwargs)
        if recording.paused or not isinstance(result, numpy.ndarray):
            return result
        return recording.created(function, args, kwargs, result)


class Generator:
    """backend's random generator while recording: each draw is an instruction of the program."""

    def __init__(self, recording, generator):
        self._recording, self._generator = recording, generator

    def __getattr__(self, name):
        if name == "bit_generator" and not self._recording.paused:
            raise CompileError("chainrule.compile: the step reads or sets the random generator's "
                               "state (chainrule.get_rng_state, set_rng_state); a replay would "
                               "not. Do it outside the step, before the call")
        attribute = getattr(self._generator, name)
        if name not in DRAWS or self._recording.paused:
            return attribute

        def draw(*args, **kwargs):
            return self._recording.draw(name, args, kwargs, attribute(*args, **kwargs))
        return draw
