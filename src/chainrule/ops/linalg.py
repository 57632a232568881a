"""Matrix products."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .primitive import Rejects, Sample, ShapeError, composite, primitive
from .shape import reshape


@primitive(name="matmul2d", samples=[Sample(((3, 4), (4, 5))), Sample(((2, 3, 4), (4, 5))),
                                     Sample(((2, 1, 3, 4), (3, 4, 2)))])
def _matmul(a, b):
    """A batched matrix product of tensors with at least two dimensions each.
    For C = AB: Ā = C̄ Bᵀ and B̄ = Aᵀ C̄ (batch dimensions summed back by the engine)."""
    if a.ndim == 2 and b.ndim == 2:
        out = backend.xp.dot(a.data, b.data)  # faster than matmul when an inner size is 1
    else:
        out = backend.xp.matmul(a.data, b.data)
    return out, (lambda g, out: _matmul(g, b.mT), lambda g, out: _matmul(a.mT, g))


@composite(samples=[Sample(((3, 4), (4, 5))), Sample(((4,), (4, 5))), Sample(((3, 4), (4,))),
                    Sample(((4,), (4,))), Sample(((2, 3, 4), (4, 2)))],
           rejects=[Rejects(((128, 784), (256, 10)), {}, ShapeError)])
def matmul(a, b) -> Tensor:
    """The matrix product with NumPy's rules: 1-D operands are promoted to a row or a column
    for the product and that dimension is removed from the result."""
    if not isinstance(a, Tensor):
        a = Tensor(a)
    if not isinstance(b, Tensor):
        b = Tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least one dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ShapeError(f"matmul: cannot multiply {tuple(a.shape)} by {tuple(b.shape)}: inner "
                         f"sizes {a.shape[-1]} and {inner_b} differ")
    if a.ndim >= 2 and b.ndim >= 2:
        return _matmul(a, b)
    a2 = reshape(a, shape=(1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, shape=b.shape + (1,)) if b.ndim == 1 else b
    out = _matmul(a2, b2)
    # drop the row added to a and the column added to b: (4,) @ (4,) is 0-d, as in NumPy
    rows = () if a.ndim == 1 else out.shape[-2:-1]
    columns = () if b.ndim == 1 else out.shape[-1:]
    return reshape(out, shape=out.shape[:-2] + rows + columns)
