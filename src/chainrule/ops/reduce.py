"""Reductions: sums and extremes over dimensions, and the shapes they leave behind."""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy

from .. import backend
from .primitive import Rejects, Sample, composite, constant, primitive


def normalize_dims(dim, ndim: int, op: str) -> tuple:
    """``dim`` (None, an int or a sequence, negatives allowed) as a sorted tuple of axes. A 0-d
    tensor takes dim 0 or -1, as in PyTorch, and has no axis to reduce."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, numpy.integer)) else tuple(dim)
    axes = []
    for d in dims:
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{op}: dimension {d} is out of range for a tensor of {ndim} "
                             f"dimensions")
        if ndim:
            axes.append(d % ndim)
    return tuple(sorted(set(axes)))


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """The shape with the reduced axes kept as size 1, so a reduced result broadcasts back."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


REDUCTION_SAMPLES = [Sample(((3, 4),)), Sample(((3, 4),), {"dim": 1}),
                     Sample(((2, 3, 4),), {"dim": (0, 2), "keepdim": True}),
                     Sample(((2, 3, 4),), {"dim": -1})]
BAD_DIM = [Rejects(((3, 4),), {"dim": 2}, IndexError)]


@primitive(samples=REDUCTION_SAMPLES, rejects=BAD_DIM, saves=())
def sum(a, dim=None, keepdim=False):
    axes = normalize_dims(dim, a.ndim, "sum")
    out = a.data.sum(axis=axes, keepdims=keepdim)
    shape = kept_shape(a.shape, axes)
    return out, lambda g, out: g.reshape(shape).expand(a.shape)


@composite(samples=REDUCTION_SAMPLES, rejects=BAD_DIM)
def mean(a, dim=None, keepdim=False):
    axes = normalize_dims(dim, a.ndim, "mean")
    count = 1
    for axis in axes:
        count *= a.shape[axis]
    return sum(a, dim=axes, keepdim=keepdim) / count


@composite(samples=REDUCTION_SAMPLES + [Sample(((3, 4),), {"dim": 1, "correction": 0})],
           rejects=BAD_DIM)
def var(a, dim=None, correction=1, keepdim=False, unbiased=None):
    """Σ(a − ā)² / (n − correction): correction=1 (Bessel's, PyTorch's default) or 0.
    With n ≤ correction there is no estimate: the result is nan (inf for n < correction), with
    NumPy's warning, as in PyTorch."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    axes = normalize_dims(dim, a.ndim, "var")
    count = 1
    for axis in axes:
        count *= a.shape[axis]
    deviation = a - mean(a, dim=axes, keepdim=True)
    return sum(deviation * deviation, dim=axes, keepdim=keepdim) / builtins.max(count - correction, 0)


@composite(samples=REDUCTION_SAMPLES, rejects=BAD_DIM)
def std(a, dim=None, correction=1, keepdim=False, unbiased=None):
    """√var. Where the values are all equal (var = 0) the gradient is 0, as in PyTorch: the
    root's derivative is infinite there, and inf · 0 is nan, which a constant row would send to
    every weight behind it (``(x − x.mean(1)) / (x.std(1) + ε)`` on a blank input)."""
    from .elementwise import sqrt, where

    variance = var(a, dim=dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    # A where sends no gradient to the side it did not pick, so none reaches the root at 0.
    at_zero = variance == 0
    return where(at_zero, 0.0, sqrt(where(at_zero, 1.0, variance)))


def _extreme(name: str, pick):
    """amax/amin: the gradient goes to the extreme element; tied elements share it equally.
    A NaN is the extreme (NumPy and PyTorch propagate it): the gradient goes to the NaNs."""
    def forward(a, dim=None, keepdim=False):
        axes = normalize_dims(dim, a.ndim, name)
        empty = [axis for axis in axes if a.shape[axis] == 0]
        if empty or (a.data.size == 0 and not axes):
            # (an empty tensor reduced along its other dimensions is fine: an empty result)
            where = f"dimension {empty[0]}, of size 0," if empty else "the empty tensor"
            raise ValueError(f"{name}: {where} has no extreme to take (shape "
                             f"{tuple(a.shape)}); reduce along another dimension")
        out = pick(a.data, axis=axes, keepdims=keepdim)
        shape = kept_shape(a.shape, axes)
        return out, lambda g, out: (g.reshape(shape).expand(a.shape)
                                    * constant(_extremes_share(a.data, out.data, shape, axes)))
    forward.__name__ = name
    return forward


def _extremes_share(x, extremes, shape: tuple, axes: tuple):
    """1/k at each of the k elements equal to their extreme (the NaNs, where it is NaN), 0
    elsewhere: each one's share of the gradient."""
    extreme = extremes.reshape(shape)
    hits = x == extreme
    if x.dtype.kind == "f":  # NaN == NaN is false: pick the NaNs where the result is one
        hits |= backend.xp.isnan(x) & backend.xp.isnan(extreme)
    hits = hits.astype(x.dtype)
    return hits / hits.sum(axis=axes, keepdims=True)


amax = primitive(name="amax", samples=REDUCTION_SAMPLES, rejects=BAD_DIM, saves=("a", "out"))(
    _extreme("amax", lambda array, **k: array.max(**k)))
amin = primitive(name="amin", samples=REDUCTION_SAMPLES, rejects=BAD_DIM, saves=("a", "out"))(
    _extreme("amin", lambda array, **k: array.min(**k)))

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _index_of(a, dim, keepdim, pick):
    indices = pick(a.data, axis=dim)
    if keepdim:
        indices = backend.xp.expand_dims(indices, dim)
    return constant(indices)


def max(a, dim=None, keepdim=False):
    """As torch.max: the largest element; with ``dim``, (values, indices); with a tensor, maximum.
    Tied elements share the gradient of the values."""
    from .elementwise import maximum

    if dim is None:
        return amax(a)
    if not isinstance(dim, (int, numpy.integer)):
        return maximum(a, dim)
    return ValuesIndices(amax(a, dim=dim, keepdim=keepdim),
                         _index_of(a, dim, keepdim, backend.xp.argmax))


def min(a, dim=None, keepdim=False):
    """As torch.min: the smallest element; with ``dim``, (values, indices); with a tensor, minimum."""
    from .elementwise import minimum

    if dim is None:
        return amin(a)
    if not isinstance(dim, (int, numpy.integer)):
        return minimum(a, dim)
    return ValuesIndices(amin(a, dim=dim, keepdim=keepdim),
                         _index_of(a, dim, keepdim, backend.xp.argmin))


def argmax(a, dim=None, keepdim=False):
    if dim is None:
        return constant(backend.xp.asarray(a.data.argmax()))
    return _index_of(a, dim, keepdim, backend.xp.argmax)


def argmin(a, dim=None, keepdim=False):
    if dim is None:
        return constant(backend.xp.asarray(a.data.argmin()))
    return _index_of(a, dim, keepdim, backend.xp.argmin)


def any(a, dim=None, keepdim=False):
    return constant(backend.xp.asarray(a.data.any(axis=dim, keepdims=keepdim)))


def all(a, dim=None, keepdim=False):
    return constant(backend.xp.asarray(a.data.all(axis=dim, keepdims=keepdim)))
