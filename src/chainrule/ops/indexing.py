"""Indexing along a dimension, running sums and products, sorting, and the comparisons of whole
tensors: the ops PyTorch programs reach for beyond arithmetic.

gather, scatter and their kin are composites over ``getitem`` and its adjoint ``scatter_add``
(shape.py): an index along one dimension becomes a full advanced index, one integer array per
dimension, so that their gradients (repeated indices adding up) are indexing's own.
"""
from __future__ import annotations

import numbers

import numpy

from .. import backend
from ..tensor import Tensor
from .primitive import (Rejects, Sample, ShapeError, composite, constant, fast_vjp, primitive,
                        register)
from .reduce import ValuesIndices, kept_shape, normalize_dims
from . import shape
from .elementwise import where
from .shape import getitem


def _index_array(index, op: str):
    array = index.data if isinstance(index, Tensor) else backend.xp.asarray(index)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: the index must hold integers, not {array.dtype}")
    return array


def _axis(dim: int, ndim: int, op: str) -> int:
    if ndim == 0:
        raise ShapeError(f"{op}: a 0-d tensor (shape ()) has no dimension {dim} to work along; "
                         "reshape it to (1,) first")
    return normalize_dims(dim, ndim, op)[0]


def _along(shape: tuple, axis: int, index_array, op: str) -> tuple:
    """The advanced index that picks ``index_array[i, j, …]`` along ``axis`` at position (i, j, …)
    of every other dimension: out[i][j][k] = input[i][index[i][j][k]][k] for axis 1."""
    if index_array.ndim != len(shape):
        raise ShapeError(f"{op}: the index has {index_array.ndim} dimensions but the tensor of "
                         f"shape {tuple(shape)} has {len(shape)}")
    for d, (n, m) in enumerate(zip(index_array.shape, shape)):
        if d != axis and n > m:
            raise ShapeError(f"{op}: index of shape {tuple(index_array.shape)} is larger than the "
                             f"tensor of shape {tuple(shape)} in dimension {d}")
    size = shape[axis]
    if index_array.size and (index_array.min() < 0 or index_array.max() >= size):
        bad = index_array[(index_array < 0) | (index_array >= size)][0]
        raise IndexError(f"{op}: index {int(bad)} is out of range for dimension {axis} of size "
                         f"{size}")
    positions = []
    for d, n in enumerate(index_array.shape):
        if d == axis:
            positions.append(index_array)
        else:
            trailing = (1,) * (index_array.ndim - d - 1)
            positions.append(backend.xp.arange(n).reshape((-1,) + trailing))
    return tuple(positions)


_ALONG_ROWS = numpy.array([[0, 2, 2], [1, 0, 1], [3, 3, 3]])
_UNIQUE_ROWS = numpy.array([[0, 2], [3, 1], [1, 0]])
_UNIQUE_COLUMNS = numpy.array([[0, 1, 2], [3, 0, 1], [2, 3, 0]])


@composite(samples=[Sample(((3, 4),), {"dim": 1, "index": _ALONG_ROWS}),
                    Sample(((4, 3),), {"dim": 0, "index": _ALONG_ROWS.T}),
                    Sample(((2, 4, 3),), {"dim": 1, "index": _ALONG_ROWS[None, :, :2]})],
           rejects=[Rejects(((3, 4),), {"dim": 1, "index": numpy.array([[4]])}, IndexError),
                    Rejects(((3, 4),), {"dim": 1, "index": numpy.array([0])}, ShapeError)])
def gather(input, dim: int, index) -> Tensor:
    """out[i][j] = input[i][index[i][j]] (dim=1). Repeated indices add their gradients."""
    axis = _axis(dim, input.ndim, "gather")
    return getitem(input, index=_along(input.shape, axis, _index_array(index, "gather"), "gather"))


def _source_part(src: Tensor, index_array) -> Tensor:
    """PyTorch reads only the leading ``index.shape`` block of ``src``."""
    if tuple(src.shape) == tuple(index_array.shape):
        return src
    if src.ndim != index_array.ndim or any(n > m for n, m in zip(index_array.shape, src.shape)):
        raise ShapeError(f"scatter: the source of shape {tuple(src.shape)} is smaller than the "
                         f"index of shape {tuple(index_array.shape)}")
    return getitem(src, index=tuple(slice(0, n) for n in index_array.shape))


def _positions(input, dim, index, op: str) -> tuple:
    axis = _axis(dim, input.ndim, op)
    return _along(input.shape, axis, _index_array(index, op), op)


def scatter_add(input, dim: int, index, src) -> Tensor:
    """out = input, then out[i][index[i][j]] += src[i][j] (dim=1); repeated indices add up.
    Gradients: input's is the signal itself, src's is the signal gathered at ``index``."""
    positions = _positions(input, dim, index, "scatter_add")
    src = src if isinstance(src, Tensor) else constant(backend.xp.asarray(src, dtype=input.dtype))
    part = _source_part(src, positions[_axis(dim, input.ndim, "scatter_add")])
    return input + shape.scatter_add(part, index=positions, shape=tuple(input.shape))


def scatter(input, dim: int, index, src=None, value=None) -> Tensor:
    """out = input, then out[i][index[i][j]] = src[i][j] (dim=1), or ``value`` everywhere index
    points. Two entries of ``src`` written to one place are refused: which one PyTorch keeps is
    unspecified, so no result (and no gradient) could be trusted."""
    op = "scatter"
    if isinstance(src, numbers.Number):
        src, value = None, src
    if (src is None) == (value is None):
        raise TypeError(f"{op}: give exactly one of src (a tensor) and value (a number)")
    axis = _axis(dim, input.ndim, op)
    index_array = _index_array(index, op)
    positions = _along(input.shape, axis, index_array, op)
    hit = backend.xp.zeros(input.shape, dtype=backend.bool_)
    hit[positions] = True
    if value is not None:
        return where(constant(hit), value, input)
    written = int(backend.xp.count_nonzero(hit))
    if written != index_array.size:
        raise ValueError(f"{op}: the index writes {index_array.size} values into {written} "
                         "places; repeated places have no defined result, use scatter_add")
    src = src if isinstance(src, Tensor) else constant(backend.xp.asarray(src, dtype=input.dtype))
    placed = shape.scatter_add(_source_part(src, index_array), index=positions,
                               shape=tuple(input.shape))
    return where(constant(hit), placed, input)


# The registry passes the tensors first and the settings by name: (input, src, dim=, index=).
def _scatter_registered(input, src, dim=0, index=None):
    return scatter(input, dim, index, src)


def _scatter_add_registered(input, src, dim=0, index=None):
    return scatter_add(input, dim, index, src)


register("scatter", _scatter_registered,
         [Sample(((3, 4), (3, 2)), {"dim": 1, "index": _UNIQUE_ROWS}),
          Sample(((4, 3), (3, 3)), {"dim": 0, "index": _UNIQUE_COLUMNS})],
         [Rejects(((3, 4), (3, 3)), {"dim": 1, "index": _ALONG_ROWS}, ValueError)])
register("scatter_add_dim", _scatter_add_registered,
         [Sample(((3, 4), (3, 3)), {"dim": 1, "index": _ALONG_ROWS}),
          Sample(((4, 3), (3, 4)), {"dim": 0, "index": _ALONG_ROWS.T[:, :2]})],
         [Rejects(((3, 4), (3, 1)), {"dim": 1, "index": _ALONG_ROWS}, ShapeError)])


@composite(samples=[Sample(((4, 3),), {"dim": 0, "index": numpy.array([3, 0, 0, 2])}),
                    Sample(((2, 4, 3),), {"dim": -1, "index": numpy.array([2, 2])})],
           rejects=[Rejects(((4, 3),), {"dim": 1, "index": numpy.array([3])}, IndexError)])
def index_select(input, dim: int, index) -> Tensor:
    """The slices ``index`` (a 1-D integer tensor) of dimension ``dim``, in that order."""
    axis = _axis(dim, input.ndim, "index_select")
    index_array = _index_array(index, "index_select")
    if index_array.ndim > 1:
        raise ShapeError(f"index_select: the index must be 1-D, got shape "
                         f"{tuple(index_array.shape)}")
    size = input.shape[axis]
    if index_array.size and (index_array.min() < 0 or index_array.max() >= size):
        bad = index_array[(index_array < 0) | (index_array >= size)][0]
        raise IndexError(f"index_select: index {int(bad)} is out of range for dimension {axis} "
                         f"of size {size}")
    return getitem(input, index=(slice(None),) * axis + (index_array.reshape(-1),))


@composite(samples=[Sample(((3, 4),), {"indices": _ALONG_ROWS, "dim": 1}),
                    Sample(((3, 4),), {"indices": numpy.array([[1], [0]])[None, 0], "dim": 1}),
                    Sample(((3, 4),), {"indices": numpy.array([11, 0, 0])})])
def take_along_dim(input, indices, dim=None) -> Tensor:
    """gather, with ``indices`` broadcast against ``input`` outside ``dim``; without ``dim``,
    indices into the flattened tensor."""
    index_array = _index_array(indices, "take_along_dim")
    if dim is None:
        return gather(input.reshape(-1), 0, index_array.reshape(-1))
    axis = _axis(dim, input.ndim, "take_along_dim")
    if index_array.ndim != input.ndim:
        raise ShapeError(f"take_along_dim: indices of shape {tuple(index_array.shape)} and the "
                         f"tensor of shape {tuple(input.shape)} differ in dimensions")
    try:
        target = numpy.broadcast_shapes(
            tuple(n for d, n in enumerate(input.shape) if d != axis),
            tuple(n for d, n in enumerate(index_array.shape) if d != axis))
    except ValueError:
        raise ShapeError(f"take_along_dim: indices of shape {tuple(index_array.shape)} do not "
                         f"broadcast with the tensor of shape {tuple(input.shape)} outside "
                         f"dimension {dim}") from None
    target = list(target)
    index_shape = tuple(target[:axis] + [index_array.shape[axis]] + target[axis:])
    input_shape = tuple(target[:axis] + [input.shape[axis]] + target[axis:])
    if tuple(input.shape) != input_shape:
        input = input.expand(*input_shape)
    return gather(input, axis, backend.xp.broadcast_to(index_array, index_shape))


# ---------------------------------------------------------------- running sums and products
def _reversed(a, axis: int) -> Tensor:
    return getitem(a, index=(slice(None),) * axis + (slice(None, None, -1),))


@composite(samples=[Sample(((3, 4),), {"dims": (1,)}), Sample(((2, 3, 4),), {"dims": (0, 2)})])
def flip(input, dims) -> Tensor:
    """The order of the elements along each of ``dims`` reversed."""
    for axis in normalize_dims(dims, input.ndim, "flip"):
        input = _reversed(input, axis)
    return input


@primitive(samples=[Sample(((3, 4),), {"dim": 1}), Sample(((2, 3, 4),), {"dim": 0}),
                    Sample(((5,),), {"dim": -1})],
           rejects=[Rejects(((3, 4),), {"dim": 2}, IndexError)])
def cumsum(a, dim=None):
    """yᵢ = Σ_{j≤i} xⱼ along ``dim``; x̄ⱼ = Σ_{i≥j} ȳᵢ, the running sum taken from the end."""
    if dim is None:
        raise TypeError("cumsum: missing the dimension, e.g. x.cumsum(dim=0)")
    axis = _axis(dim, a.ndim, "cumsum")
    if a.dtype.kind in "biu":
        out = backend.xp.cumsum(a.data, axis=axis, dtype=backend.int64)  # PyTorch counts in int64
    elif a.dtype.itemsize < 8:
        # A running sum rounds once per element: in float32 a sum of 10⁵ tenths was 1.4·10⁻⁴ off.
        # Summed in float64 and rounded once, as PyTorch's accumulates on the CPU.
        out = backend.xp.cumsum(a.data, axis=axis, dtype=backend.float64).astype(a.dtype)
    else:
        out = backend.xp.cumsum(a.data, axis=axis)
    return out, lambda g, out: _reversed(cumsum(_reversed(g, axis), dim=axis), axis)


def _products_of_others(x, axis: int):
    """Πⱼ≠ᵢ xⱼ along ``axis`` on arrays: the derivative of the product by each element, exact
    where elements are zero (unlike prod / xᵢ), as the running products from the left and from
    the right."""
    xp = backend.xp
    if x.shape[axis] == 0:  # an empty product is 1, a constant
        return xp.zeros_like(x)
    ones = xp.ones_like(xp.take(x, [0], axis=axis))
    before = xp.cumprod(xp.concatenate([ones, xp.take(x, range(x.shape[axis] - 1), axis=axis)],
                                       axis=axis), axis=axis)
    after = xp.flip(xp.cumprod(xp.concatenate(
        [ones, xp.take(xp.flip(x, axis), range(x.shape[axis] - 1), axis=axis)], axis=axis),
        axis=axis), axis)
    return before * after


def _products_of_others_t(a, axis: int) -> Tensor:
    """Πⱼ≠ᵢ aⱼ in Tensor ops, as the product of the n × n arrangement of a with ones on the
    diagonal, so that its own derivative is prod's again."""
    xp = backend.xp
    if a.shape[axis] == 0:
        return constant(xp.zeros_like(a.data))
    n = a.shape[axis]
    rows = a.unsqueeze(axis).expand(*(a.shape[:axis] + (n,) + a.shape[axis:]))
    diagonal = xp.eye(n, dtype=bool).reshape((n, n) + (1,) * (a.ndim - axis - 1))
    return prod(where(constant(diagonal), 1.0, rows), dim=axis + 1)


@primitive(samples=[Sample(((3, 4),), {"dim": 1}), Sample(((2, 3, 4),), {"dim": 0}),
                    Sample(((2, 3),), {"dim": -1, "keepdim": True})],
           rejects=[Rejects(((3, 4),), {"dim": 2}, IndexError)])
def prod(a, dim=None, keepdim=False):
    """y = Πᵢ xᵢ along ``dim``; x̄ᵢ = ȳ Πⱼ≠ᵢ xⱼ (without dividing by xᵢ, so zeros are exact)."""
    if dim is None:
        raise TypeError("prod: missing the dimension; chainrule.prod(x) multiplies all elements")
    axis = _axis(dim, a.ndim, "prod")
    out = a.data.prod(axis=axis, keepdims=keepdim)
    if a.dtype.kind in "biu":
        out = out.astype(backend.int64)
    shape = kept_shape(a.shape, (axis,))
    vjp = fast_vjp(lambda g, out: g.reshape(shape) * _products_of_others(a.data, axis),
                   lambda g, out: g.reshape(shape).expand(*a.shape) * _products_of_others_t(a, axis))
    return out, vjp


def product(input, dim=None, keepdim: bool = False) -> Tensor:
    """torch.prod: of every element, or along ``dim`` (one dimension, as in PyTorch)."""
    if dim is None:
        return prod(input.reshape(-1), dim=0)
    return prod(input, dim=dim, keepdim=keepdim)


# ---------------------------------------------------------------- sorting
def _order(a, axis: int, descending: bool):
    keys = a.data
    if descending:
        # negate in a signed type; a stable sort of −x keeps tied elements in their order
        keys = -(keys.astype(backend.int64) if keys.dtype.kind in "bu" else keys)
        not_nan = ~backend.xp.isnan(keys)
        if not not_nan.all():
            # NaN is the largest, as in PyTorch (and in max here): first in decreasing order, where
            # a sort of −x would put it last. A stable sort on "not NaN", then on −x.
            return backend.xp.lexsort((keys, not_nan), axis=axis)
    return backend.xp.argsort(keys, axis=axis, kind="stable")


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """(values, indices) in increasing order (``descending``: decreasing), tied elements in
    their original order; the gradient of the values goes back to where each came from."""
    axis = _axis(dim, input.ndim, "sort")
    indices = _order(input, axis, descending)
    return ValuesIndices(gather(input, axis, indices), constant(indices))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return constant(_order(input, _axis(dim, input.ndim, "argsort"), descending))


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their indices,
    largest first."""
    axis = _axis(dim, input.ndim, "topk")
    if not 0 <= k <= input.shape[axis]:
        raise IndexError(f"topk: k={k} is out of range for dimension {axis} of size "
                         f"{input.shape[axis]}")
    indices = backend.xp.take(_order(input, axis, largest), range(k), axis=axis)
    return ValuesIndices(gather(input, axis, indices), constant(indices))


register("sort", lambda a, **settings: sort(a, **settings).values,
         [Sample(((3, 4),)), Sample(((3, 4),), {"dim": 0, "descending": True})],
         [Rejects(((3, 4),), {"dim": 2}, IndexError)])
register("topk", lambda a, **settings: topk(a, **settings).values,
         [Sample(((3, 5),), {"k": 2}), Sample(((4, 3),), {"k": 3, "dim": 0, "largest": False})],
         [Rejects(((3, 4),), {"k": 5}, IndexError)])


# ---------------------------------------------------------------- whole-tensor comparisons
def _arrays(a, b):
    return (a.data if isinstance(a, Tensor) else backend.xp.asarray(a),
            b.data if isinstance(b, Tensor) else backend.xp.asarray(b))


def equal(input, other) -> bool:
    """True if both have the same shape and the same elements (torch.equal)."""
    x, y = _arrays(input, other)
    return x.shape == y.shape and bool((x == y).all())


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input − other| ≤ atol + rtol·|other|, element by element (a bool tensor, no gradient)."""
    x, y = _arrays(input, other)
    try:
        return constant(backend.xp.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise ShapeError(f"isclose: cannot compare shapes {tuple(x.shape)} and "
                         f"{tuple(y.shape)}") from None


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if every element is close (see ``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())
