"""Shape primitives: the values stay, their arrangement changes; gradients are rearranged back."""
from __future__ import annotations

import numbers

import numpy

from .. import backend
from ..tensor import Tensor
from .primitive import (Rejects, Sample, ShapeError, composite, constant,
                        is_integer_scalar, primitive)
from .reduce import normalize_dims


@primitive(samples=[Sample(((3, 4),), {"shape": (2, 6)}), Sample(((3, 4),), {"shape": (-1,)})],
           rejects=[Rejects(((3, 4),), {"shape": (5,)}, ShapeError)], saves=())
def reshape(a, shape=None):
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot view {tuple(a.shape)} ({a.data.size} elements) as "
                         f"{tuple(shape)}") from None
    return out, lambda g, out: reshape(g, shape=a.shape)


@primitive(samples=[Sample(((2, 3, 4),), {"dims": (2, 0, 1)})],
           rejects=[Rejects(((3, 4),), {"dims": (0, 0)}, ShapeError)], saves=())
def permute(a, dims=None):
    if sorted(d % a.ndim for d in dims) != list(range(a.ndim)):
        raise ShapeError(f"permute: {tuple(dims)} is not an ordering of the {a.ndim} dimensions "
                         f"of {tuple(a.shape)}")
    inverse = tuple(numpy.argsort([d % a.ndim for d in dims]))
    return a.data.transpose(dims), lambda g, out: permute(g, dims=inverse)


@primitive(samples=[Sample(((3, 1),), {"shape": (2, 3, 4)}), Sample(((4,),), {"shape": (3, -1)})],
           rejects=[Rejects(((3, 2),), {"shape": (3, 4)}, ShapeError)], saves=())
def expand(a, shape=None):
    """Broadcast to ``shape`` without copying (-1 keeps a size); the VJP sums back."""
    offset = len(shape) - a.ndim
    target = tuple(a.shape[i - offset] if size == -1 else size for i, size in enumerate(shape))
    try:
        out = backend.xp.broadcast_to(a.data, target)
    except ValueError:
        raise ShapeError(f"expand: cannot expand {tuple(a.shape)} to {tuple(shape)}") from None
    return out, lambda g, out: sum_to(g, shape=a.shape)


@primitive(samples=[Sample(((2, 3, 4),), {"shape": (3, 1)}), Sample(((3, 4),), {"shape": (4,)})],
           rejects=[Rejects(((3, 4),), {"shape": (5,)}, ShapeError)], saves=())
def sum_to(a, shape=None):
    """Sum over the axes that broadcasting added or stretched, back to ``shape``."""
    shape = tuple(shape)
    lead = a.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, a.shape[lead:])):
        raise ShapeError(f"sum_to: {tuple(a.shape)} does not broadcast from {shape}")
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
    out = a.data.sum(axis=tuple(range(lead)) + stretched, keepdims=True) if lead or stretched \
        else a.data
    return out.reshape(shape), lambda g, out: expand(g, shape=a.shape)


def _index_arrays(index):
    """Tensors inside an index become arrays, and a 0-d integer one an int, as in PyTorch (NumPy
    would take it for an array index, and x[i] would be a copy, not a view); a lone index
    becomes a one-element tuple."""
    if not isinstance(index, tuple):
        index = (index,)
    return tuple(_index_item(i.data) if isinstance(i, Tensor) else i for i in index)


def _index_item(array):
    return int(array) if is_integer_scalar(array) else array


def _one_element(index: tuple, ndim: int) -> bool:
    """Whether ``index`` is an integer for each dimension (a loop: every indexing asks, and a
    generator over an isinstance of numbers.Integral cost it about a third more)."""
    if len(index) != ndim:
        return False
    for i in index:
        if type(i) is not int and not isinstance(i, numpy.integer):
            return False
    return True


def _is_basic(index: tuple) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, (slice, numbers.Integral))
               for i in index)


_ROWS = numpy.array([0, 2, 2, 1])


@primitive(samples=[Sample(((4, 5),), {"index": (slice(1, 3),)}),
                    Sample(((4, 5),), {"index": (Ellipsis, 2)}),
                    Sample(((4, 5),), {"index": (_ROWS,)}),
                    Sample(((4, 5),), {"index": (_ROWS, numpy.array([1, 1, 4, 0]))})],
           rejects=[Rejects(((3, 4),), {"index": (5,)}, IndexError)], saves=("index",))
def getitem(a, index=None):
    """``a[index]``: basic slices and integer arrays. Repeated indices accumulate their gradients."""
    index = _index_arrays(index)
    if _one_element(index, a.ndim):
        index += (Ellipsis,)  # one element as a 0-d view, as PyTorch's: NumPy would copy it out
    out = a.data[index]
    return out, lambda g, out: scatter_add(g, index=index, shape=a.shape)


@primitive(samples=[Sample(((2, 5),), {"index": (slice(1, 3),), "shape": (4, 5)}),
                    Sample(((4, 5),), {"index": (_ROWS,), "shape": (3, 5)})], saves=("index",))
def scatter_add(a, index=None, shape=None):
    """The adjoint of indexing: a zero tensor of ``shape`` with ``a`` added at ``index``."""
    index = _index_arrays(index)  # (a 0-d integer one read once, as getitem reads it)
    out = backend.xp.zeros(shape, dtype=a.dtype)
    if _is_basic(index):
        out[index] = a.data
    else:
        backend.xp.add.at(out, index, a.data)  # repeated indices must add up, not overwrite
    return out, lambda g, out: getitem(g, index=index)


def _cat_forward(*tensors, dim=0):
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    if tensors[0].ndim == 0:
        raise ShapeError("cat: a 0-d tensor has no dimension to join along; use stack")
    axis = dim % tensors[0].ndim
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or any(
                n != m for i, (n, m) in enumerate(zip(t.shape, tensors[0].shape)) if i != axis):
            raise ShapeError(f"cat: shapes {tuple(tensors[0].shape)} and {tuple(t.shape)} differ "
                             f"outside dimension {dim}")
    # PyTorch's promotion: integers joined to floats take the floats' dtype (NumPy: float64)
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]
    dtype = backend.xp.result_type(*floats) if floats else None
    out = backend.xp.concatenate([t.data for t in tensors], axis=axis, dtype=dtype)
    vjps, start = [], 0
    for t in tensors:
        piece = (slice(None),) * axis + (slice(start, start + t.shape[axis]),)
        vjps.append(lambda g, out, piece=piece: getitem(g, index=piece))
        start += t.shape[axis]
    return out, tuple(vjps)


_cat = primitive(name="cat", samples=[Sample(((2, 3), (4, 3))), Sample(((2, 3), (2, 1)), {"dim": 1})],
                 rejects=[Rejects(((2, 3), (2, 4)), {}, ShapeError)], saves=())(_cat_forward)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    return _cat(*tensors, dim=dim)


@composite(name="stack", samples=[Sample(((2, 3), (2, 3))), Sample(((2, 3), (2, 3)), {"dim": 2})],
           rejects=[Rejects(((2, 3), (3, 2)), {}, ShapeError)])
def _stack_registered(*tensors, dim=0):
    return stack(tensors, dim=dim)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: all tensors must have the same shape, got "
                             f"{tuple(tensors[0].shape)} and {tuple(t.shape)}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


@primitive(samples=[Sample(((2, 3, 4),), {"dim0": 0, "dim1": 2}),
                    Sample(((3, 4),), {"dim0": -1, "dim1": -2})],
           rejects=[Rejects(((3, 4),), {"dim0": 0, "dim1": 2}, IndexError)], saves=())
def swapaxes(a, dim0=0, dim1=1):
    """Swap two dimensions (a view). A swap is its own inverse, so the VJP swaps the signal back.
    One op rather than a general permute: ``.mT`` runs in every linear layer's backward."""
    return a.data.swapaxes(dim0, dim1), lambda g, out: swapaxes(g, dim0=dim0, dim1=dim1)


@composite(samples=[Sample(((2, 3, 4),), {"dim0": 0, "dim1": 2})])
def transpose(a, dim0: int, dim1: int) -> Tensor:
    return swapaxes(a, dim0=dim0, dim1=dim1)


@composite(samples=[Sample(((3, 4),), {"dim": 1}), Sample(((3, 4),), {"dim": -1})])
def unsqueeze(a, dim: int) -> Tensor:
    position = dim if dim >= 0 else a.ndim + 1 + dim
    return reshape(a, shape=a.shape[:position] + (1,) + a.shape[position:])


@composite(samples=[Sample(((3, 1, 4, 1),)), Sample(((3, 1, 4),), {"dim": 1}),
                    Sample(((3, 1, 4, 1),), {"dim": (1, 2, -1)})])
def squeeze(a, dim=None) -> Tensor:
    """Remove dimensions of size 1: all of them, or those in ``dim`` (an int or a tuple)."""
    if dim is None:
        return reshape(a, shape=tuple(n for n in a.shape if n != 1))
    dims = set(normalize_dims(dim, a.ndim, "squeeze"))  # a 0-d tensor has none: it stays as it is
    if all(a.shape[d] != 1 for d in dims):
        return a
    return reshape(a, shape=tuple(n for i, n in enumerate(a.shape) if i not in dims or n != 1))


@composite(samples=[Sample(((2, 3, 4),)), Sample(((2, 3, 4),), {"start_dim": 1})])
def flatten(a, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if a.ndim == 0:
        return reshape(a, shape=(1,))  # as PyTorch: a 0-d tensor flattens to one element
    start, end = start_dim % a.ndim, end_dim % a.ndim
    size = 1
    for n in a.shape[start:end + 1]:
        size *= n
    return reshape(a, shape=a.shape[:start] + (size,) + a.shape[end + 1:])


def split(a, split_size, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` along ``dim`` (or of the sizes listed), as in torch.split."""
    length = a.shape[dim]
    if isinstance(split_size, numbers.Integral) and split_size <= 0 < length:
        raise ValueError(f"split: split_size must be positive, got {split_size} for dimension "
                         f"{dim} of {tuple(a.shape)}")
    if isinstance(split_size, numbers.Integral) and length == 0:
        sizes = [0]  # one empty piece, as in PyTorch
    elif isinstance(split_size, numbers.Integral):
        sizes = [split_size] * (length // split_size) + ([length % split_size]
                                                         if length % split_size else [])
    else:
        sizes = list(split_size)
    if sum(sizes) != length:
        raise ShapeError(f"split: sizes {sizes} do not add up to {length}, the size of dimension "
                         f"{dim} of {tuple(a.shape)}")
    pieces, start = [], 0
    axis = dim % a.ndim
    for size in sizes:
        pieces.append(getitem(a, index=(slice(None),) * axis + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(a, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of equal size along ``dim`` (the last one smaller), as
    torch.chunk; a dimension of size 0 gives ``chunks`` empty pieces, as there."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    length = a.shape[dim]
    if length == 0:
        return split(a, 0, dim) * chunks
    return split(a, -(-length // chunks), dim)


def _triangle(a, diagonal: int, keep):
    rows, cols = a.shape[-2:]
    mask = keep(backend.xp.ones((rows, cols), dtype=bool), diagonal)
    from .elementwise import where

    return where(constant(mask), a, 0.0 if backend.is_floating(a.dtype) else 0)


@composite(samples=[Sample(((4, 4),)), Sample(((2, 3, 4),), {"diagonal": 1})])
def tril(a, diagonal: int = 0) -> Tensor:
    return _triangle(a, diagonal, backend.xp.tril)


@composite(samples=[Sample(((4, 4),)), Sample(((2, 3, 4),), {"diagonal": -1})])
def triu(a, diagonal: int = 0) -> Tensor:
    return _triangle(a, diagonal, backend.xp.triu)


@composite(samples=[Sample(((3, 4), numpy.array([[True, False, False, True]] * 3)),
                           {"value": -1.0})])
def masked_fill(a, mask, value) -> Tensor:
    """``value`` where ``mask`` is true, ``a`` elsewhere."""
    from .elementwise import where

    mask = mask if isinstance(mask, Tensor) else constant(backend.xp.asarray(mask))
    return where(mask, value, a)


@primitive(samples=[Sample(((3, 4),))], saves=())
def observed(a, on_gradient=None):
    """The identity, whose VJP first shows the error signal to ``on_gradient(g)``; a Tensor it
    returns replaces the signal. Module backward hooks put it at a module's border, to see the
    gradients going out of and into the module."""
    def vjp(g, out):
        replaced = None if on_gradient is None else on_gradient(g)
        return g if replaced is None else replaced
    return a.data, vjp
