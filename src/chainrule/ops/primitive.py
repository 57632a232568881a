"""How an op joins the engine: ``@primitive`` and the registry of every op with its test samples.

A primitive's function takes its tensor inputs positionally (numbers are turned into tensors
here) and its settings as keywords, and returns ``(output_array, vjps)``: one VJP per positional
input, each ``vjp(error_signal, output) -> Tensor`` written with Tensor ops, so that backward
is itself differentiable. A single-input op may return the VJP alone.

``saves`` names what the VJPs read at backward time: the forward's inputs by name, "out" for the
output, and a setting that holds index arrays (getitem's ``index``: an index tensor changed in
place would send the gradient elsewhere). By default every input and not the output. The
versions of those tensors are kept with the node, and backward refuses to run the VJPs if one
was changed in place since (an op that reads nothing, such as add, says ``saves=()`` and never
refuses). The registry test checks each declaration: changing what an op does not declare must
leave its gradients as they were.
"""
from __future__ import annotations

import functools
import re
import inspect
import numbers
from dataclasses import dataclass, field
from typing import Callable

from .. import autograd, backend
from ..autograd import Node
from ..errors import ShapeError
from ..tensor import Tensor


@dataclass
class Sample:
    """Inputs for the registry test: a shape gives a random float64 tensor that requires grad,
    an array or Tensor is passed as it is (labels, masks); keywords are the op's settings."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    low: float = -2.0
    high: float = 2.0


@dataclass
class Rejects:
    """Inputs the op must refuse, and the error it must raise."""
    args: tuple
    kwargs: dict
    error: type


@dataclass
class OpInfo:
    name: str
    function: Callable
    samples: list
    rejects: list
    kind: str  # "primitive" or "composite"
    second_order: bool = True


REGISTRY: dict[str, OpInfo] = {}


def register(name: str, function: Callable, samples, rejects=(), kind: str = "composite",
             second_order: bool = True) -> None:
    if name in REGISTRY:
        raise RuntimeError(f"op {name!r} registered twice")
    REGISTRY[name] = OpInfo(name, function, list(samples), list(rejects), kind, second_order)


def composite(name: str | None = None, samples=(), rejects=(), second_order: bool = True):
    """Register a public op built from primitives (it needs no VJP of its own)."""
    def decorate(function):
        register(name or function.__name__, function, samples, rejects, "composite", second_order)
        return function
    return decorate


def constant_like(value, reference_dtype) -> Tensor:
    """A Python number as a tensor that does not promote its partner: 2 * float32 stays float32."""
    if reference_dtype is not None and backend.is_floating(reference_dtype):
        dtype = reference_dtype
    elif isinstance(value, bool):
        dtype = backend.bool_
    elif isinstance(value, numbers.Integral) and reference_dtype not in (None, backend.bool_):
        dtype = reference_dtype
    elif isinstance(value, numbers.Integral):
        dtype = backend.int64  # a bool tensor + 1 counts in int64, as in PyTorch
    else:
        dtype = backend.get_default_dtype()
    return Tensor._wrap(backend.xp.asarray(value, dtype=dtype))


def _tensors_only(args: tuple) -> bool:
    # a plain loop: this runs on every op, and a generator in all() costs more than the test
    for a in args:
        if a is not None and not isinstance(a, Tensor):
            return False
    return True


def _as_inputs(args: tuple) -> tuple:
    reference = None
    for a in args:
        if isinstance(a, Tensor) and (reference is None or backend.is_floating(a.dtype)):
            reference = a.dtype
    inputs = []
    for a in args:
        if a is None or isinstance(a, Tensor):
            inputs.append(a)
        elif isinstance(a, numbers.Number):
            inputs.append(constant_like(a, reference))
        else:
            inputs.append(Tensor(a))
    return tuple(inputs)


def _settings_by_position(op: str, args: tuple, settings: dict, required: int, names: tuple):
    """PyTorch lets settings come by position (``x.sum(1)``, ``softmax(x, 1)``, ``clamp(x, 0, 1)``).
    Past the op's required inputs, tensors stay inputs (an optional bias); the other arguments are
    the settings, in the order the forward names them."""
    inputs, extra, names = list(args[:required]), list(args[required:]), list(names)
    while extra and names and isinstance(extra[0], Tensor):
        inputs.append(extra.pop(0))
        names.pop(0)
    if len(extra) > len(names):
        raise TypeError(f"{op}: takes at most {len(args) - len(extra) + len(names)} positional "
                        f"arguments, but {len(args)} were given")
    settings = dict(settings)
    for setting, value in zip(names, extra):
        if setting in settings:
            raise TypeError(f"{op}: got two values for {setting!r}")
        settings[setting] = value
    return tuple(inputs), settings


def primitive(name: str | None = None, samples=(), rejects=(), second_order: bool = True,
              saves: tuple | None = None):
    """Make ``forward`` an op of the engine: run it, and record a graph node when a gradient is
    needed, with the versions of what ``saves`` names (see the module's docstring)."""
    def decorate(forward):
        op = name or forward.__name__.lstrip("_")
        parameters = inspect.signature(forward).parameters.values()
        by_position = [p for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        required = sum(p.default is p.empty for p in by_position)
        if any(p.kind is p.VAR_POSITIONAL for p in parameters):
            required = float("inf")  # cat(*tensors): every positional argument is an input
        setting_names = tuple(p.name for p in by_position if p.default is not p.empty)
        saved_positions, saves_output = _saved_positions(op, saves, by_position)
        saved_settings = tuple(s for s in saves or () if s in setting_names)

        @functools.wraps(forward)
        def apply(*args, **settings):
            # optional tensors by position (linear's bias) are inputs already, as they are
            tensors_only = _tensors_only(args)
            if len(args) > required and (settings or len(args) - required > len(setting_names)
                                         or not (tensors_only or _tensors_only(args[required:]))):
                args, settings = _settings_by_position(op, args, settings, required,
                                                       setting_names)
                tensors_only = _tensors_only(args)
            inputs = args if tensors_only else _as_inputs(args)
            try:
                output, vjps = forward(*inputs, **settings)
            except ShapeError:
                raise
            except IndexError as error:
                raise IndexError(_named(op, error)) from None
            except ValueError as error:
                if not _ARRAY_SHAPE_ERROR.search(str(error)):  # a bad setting, not a shape
                    raise ValueError(_named(op, error)) from None
                shapes = " and ".join(str(tuple(t.shape)) for t in inputs if t is not None)
                raise ShapeError(f"{op}: cannot combine shapes {shapes}: {error}") from None
            if autograd._grad_enabled:
                for tensor in inputs:
                    if tensor is not None and tensor.requires_grad:
                        saved = _saved_versions(inputs, saved_positions, saves_output, output)
                        for setting in saved_settings:
                            _save_index_arrays(saved, setting, settings.get(setting))
                        return Tensor._from_op(output, _node(op, inputs, vjps, saved))
            return Tensor._wrap(output)

        # by default every input is saved: the required ones, or all of *operands (einsum)
        apply.saves = saves if saves is not None else tuple(
            p.name for p in parameters
            if (p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty)
            or p.kind is p.VAR_POSITIONAL)
        register(op, apply, samples, rejects, "primitive", second_order)
        return apply
    return decorate


# How NumPy (and CuPy) word the ValueErrors of arrays whose shapes do not fit: "operands could
# not be broadcast together", "shapes (3,4) and (5,) not aligned", "mismatch in its core
# dimension", "cannot reshape array of size 12 into shape (5,)".
_ARRAY_SHAPE_ERROR = re.compile(r"broadcast|shape|dimension|not aligned")


def _named(op: str, error: Exception) -> str:
    """The error's message with the op's name in front, once (the op's own checks name it)."""
    message = str(error)
    return message if re.match(r"[a-z_]+: ", message) else f"{op}: {message}"


def _saved_positions(op: str, saves, by_position: list):
    """``saves`` as (positions of the inputs or None for all of them, whether the output is read)."""
    if saves is None:
        return None, False
    names = [p.name for p in by_position]
    unknown = [s for s in saves if s != "out" and s not in names]
    if unknown:
        raise RuntimeError(f"{op}: saves names {unknown}, which are not inputs of the forward")
    return tuple(names.index(s) for s in saves if s != "out"), "out" in saves


def _saved_versions(inputs: tuple, positions, saves_output: bool, output) -> list:
    """(tensor, version) for each tensor the VJPs read, the output as None. Inlined lookups:
    this runs on every op that records a node."""
    versions = autograd._versions
    saved = []
    # (indices rather than a list comprehension of the saved inputs: that is a call of its own)
    for position in range(len(inputs)) if positions is None else positions:
        tensor = inputs[position] if position < len(inputs) else None
        if tensor is not None:
            array = tensor.data
            base = array.base
            saved.append((tensor, versions.get(id(array if base is None else base), 0)))
    if saves_output:
        base = output.base
        saved.append((None, versions.get(id(output if base is None else base), 0)))
    return saved


def is_integer_scalar(array) -> bool:
    """A 0-d integer array: inside an index, a Tensor holding one is read as its int, once, as
    PyTorch reads it (a recorded step's arrays are another type: they stay arrays)."""
    return type(array) is backend.xp.ndarray and array.ndim == 0 and array.dtype.kind in "iu"


def _save_index_arrays(saved: list, setting: str, value) -> None:
    """(array as a Tensor named after the setting, version) for each array in ``value`` (an index:
    an array, a Tensor, or a tuple of them among slices and integers), as the VJP reads it. A 0-d
    integer Tensor is not: the forward reads it as an int, once (``is_integer_scalar``)."""
    versions = autograd._versions
    for item in value if isinstance(value, tuple) else (value,):
        array = item.data if isinstance(item, Tensor) else item
        if isinstance(array, backend.xp.ndarray) and not (
                array is not item and is_integer_scalar(array)):
            held = Tensor._wrap(array)
            held.name = setting
            base = array.base
            saved.append((held, versions.get(id(array if base is None else base), 0)))


def _node(op: str, inputs: tuple, vjps, saved: list) -> Node:
    if callable(vjps):
        vjps = (vjps,)
    if len(vjps) == len(inputs) and not _has_none(inputs):
        return Node(op, inputs, vjps, saved)  # the usual case, checked with a plain loop (every op)
    if len(vjps) < len(inputs) and all(t is None for t in inputs[len(vjps):]):
        inputs = inputs[:len(vjps)]  # optional inputs passed as None at the end (bias=None)
    if len(vjps) != len(inputs):
        raise RuntimeError(f"{op}: {len(vjps)} VJPs for {len(inputs)} inputs")
    if any(t is None for t in inputs):
        pairs = [(t, v) for t, v in zip(inputs, vjps) if t is not None]
        inputs, vjps = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    return Node(op, inputs, vjps, saved)


def _has_none(items: tuple) -> bool:
    for item in items:
        if item is None:
            return True
    return False


def constant(array) -> Tensor:
    """An array as a tensor outside the graph (masks, saved shares of a gradient)."""
    return Tensor._wrap(array)


def fast_vjp(on_arrays: Callable, on_tensors: Callable) -> Callable:
    """A VJP written twice, for a fused op whose backward is worth doing in arrays.

    In an ordinary backward ``on_arrays(g, out)`` runs on the arrays of the error signal and the
    output and returns an array: no op calls, no graph. While a graph of the backward itself is
    recorded (``create_graph``, gradients of gradients), ``on_tensors(g, out)`` computes the same
    formula in Tensor ops, so that it can be differentiated again.

    Each call costs a closure, and each op call that builds one pays for it in the forward. A VJP
    that reads nothing of its call but the signal and the output (sigmoid's, ReLU's, linear's
    bias's) is therefore made once, at import.
    """
    def vjp(g: Tensor, out: Tensor) -> Tensor:
        if autograd._grad_enabled:
            return on_tensors(g, out)
        return Tensor._wrap(on_arrays(g.data, out.data))
    return vjp
