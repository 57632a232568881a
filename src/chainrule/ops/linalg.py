"""Matrix products, and einsum for equations of letters."""
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


def _terms(equation: str, count: int) -> tuple[list, str]:
    """The operands' subscripts and the output's, for equations of letters only: no ellipsis,
    no letter twice in one operand (a diagonal), the output given or implied (the letters that
    appear once, in alphabetical order)."""
    equation = equation.replace(" ", "")
    if "." in equation:
        raise ValueError(f"einsum: {equation!r}: ellipsis is not supported; name every dimension")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != count:
        raise ValueError(f"einsum: {equation!r} names {len(terms)} operands but {count} were given")
    letters = "".join(terms)
    if not arrow:
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for term in terms + [output]:
        if not term.isalpha() and term:
            raise ValueError(f"einsum: {equation!r}: subscripts must be letters")
        if len(set(term)) != len(term):
            raise ValueError(f"einsum: {equation!r}: a letter repeats within {term!r}; diagonals "
                             "are not supported")
    if any(c not in letters for c in output):
        raise ValueError(f"einsum: {equation!r}: the output names a letter no operand has")
    return terms, output


@primitive(name="einsum", samples=[Sample(((3, 4), (4, 5)), {"equation": "ij,jk->ik"}),
                                   Sample(((2, 3, 4), (2, 4)), {"equation": "bij,bj->bi"}),
                                   Sample(((3, 4),), {"equation": "ij->j"}),
                                   Sample(((3,), (4,)), {"equation": "i,j->ij"}),
                                   Sample(((3, 4), (3, 4), (4,)), {"equation": "ij,ij,j->"}),
                                   Sample(((2, 3), (3, 2)), {"equation": "ij,jk"})],
           rejects=[Rejects(((3, 4), (5, 2)), {"equation": "ij,jk->ik"}, ShapeError)])
def _einsum(*operands, equation=""):
    """Σ over the letters missing from the output of the product of the operands. The VJP of
    operand k is an einsum too: the signal and the other operands, summed down to k's letters
    (letters that only k has are summed in the forward, so the signal is expanded along them)."""
    terms, output = _terms(equation, len(operands))
    sizes = {}
    for term, operand in zip(terms, operands):
        if len(term) != operand.ndim:
            raise ShapeError(f"einsum: subscripts {term!r} for an operand of shape "
                             f"{tuple(operand.shape)}")
        for letter, size in zip(term, operand.shape):
            if sizes.setdefault(letter, size) != size:
                shapes = ", ".join(str(tuple(o.shape)) for o in operands)
                raise ShapeError(f"einsum: {letter!r} is {sizes[letter]} in one operand and {size} "
                                 f"in another (shapes {shapes})")
    out = backend.xp.einsum(",".join(terms) + "->" + output, *(o.data for o in operands))

    def vjp_of(k):
        others = [i for i in range(len(operands)) if i != k]
        available = set(output).union(*(terms[i] for i in others))
        kept = "".join(c for c in terms[k] if c in available)
        gradient_equation = ",".join([output] + [terms[i] for i in others]) + "->" + kept

        def vjp(g, out):
            grad = _einsum(g, *(operands[i] for i in others), equation=gradient_equation)
            if kept == terms[k]:
                return grad
            shape_kept = tuple(n if c in kept else 1 for c, n in zip(terms[k], operands[k].shape))
            return grad.reshape(shape_kept).expand(*operands[k].shape)
        return vjp
    return backend.xp.asarray(out), tuple(vjp_of(k) for k in range(len(operands)))


def einsum(equation: str, *operands) -> Tensor:
    """torch.einsum for equations of letters (``"bij,bjk->bik"``, ``"i,j->ij"``, ``"ij->"``):
    no ellipsis and no repeated letter within one operand (diagonals, traces)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    _terms(equation, len(operands))  # a malformed equation is a ValueError, not a shape error
    return _einsum(*operands, equation=equation)
