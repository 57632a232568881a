"""x.norm(p, dim) and F.normalize: values as NumPy's, gradients against finite differences,
0 at the zero vector."""
import math

import numpy
import pytest

import chainrule
from chainrule.nn import functional as F

P_VALUES = [1, 2, 3, 1.5, math.inf, -math.inf, "fro"]


def numpy_norm(array, p, axis, keepdims):
    order = 2 if p == "fro" else p
    flat = axis is None
    values = numpy.linalg.norm(array.reshape(-1) if flat else array, ord=order,
                               axis=None if flat else axis, keepdims=keepdims and not flat)
    return numpy.reshape(values, (1,) * array.ndim) if flat and keepdims else values


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-1, True),
                                          (0, False)])
def test_values_match_numpy(p, dim, keepdim):
    array = numpy.random.default_rng(0).normal(size=(3, 4))
    result = chainrule.tensor(array).norm(p, dim, keepdim)
    numpy.testing.assert_allclose(result.numpy(), numpy_norm(array, p, dim, keepdim), rtol=1e-12)


@pytest.mark.parametrize("p", P_VALUES)
def test_gradient_matches_finite_differences_in_float64(p):
    for shape, dim in [((5,), None), ((3, 4), 1), ((2, 3, 4), (0, 2))]:
        x = chainrule.tensor(numpy.random.default_rng(1).uniform(-2, 2, size=shape),
                             dtype=chainrule.float64, requires_grad=True)
        assert chainrule.gradcheck(lambda t: t.norm(p=p, dim=dim), [x])


@pytest.mark.parametrize("p", P_VALUES)
def test_the_zero_vector_has_gradient_zero(p):
    x = chainrule.zeros(4, dtype=chainrule.float64, requires_grad=True)
    norm = x.norm(p=p)
    norm.backward()
    assert norm.item() == 0.0 and x.grad.tolist() == [0.0] * 4


def test_a_zero_row_gets_zero_and_the_others_their_unit_direction():
    x = chainrule.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=chainrule.float64, requires_grad=True)
    x.norm(dim=1).sum().backward()
    assert x.grad.tolist()[0] == [0.0, 0.0]
    numpy.testing.assert_allclose(x.grad.numpy()[1], [0.6, 0.8], rtol=1e-15)


def test_second_derivative_of_the_euclidean_norm_matches_finite_differences():
    x = chainrule.tensor([0.5, -1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    assert chainrule.gradgradcheck(lambda t: t.norm(), [x])


def test_function_and_method_agree_and_dtype_casts_first():
    x = chainrule.tensor([[3.0, 4.0]])
    assert chainrule.norm(x).item() == x.norm().item() == 5.0
    assert chainrule.norm(x, 1, 1).tolist() == [7.0]
    assert x.norm(dtype=chainrule.float64).dtype == chainrule.float64
    assert x.norm().dtype == chainrule.float32


@pytest.mark.parametrize("call,error,words", [
    (lambda: chainrule.tensor([1, 2]).norm(), TypeError, r"x.float\(\).norm\(\)"),
    (lambda: chainrule.ones(2, 2).norm("nuc"), ValueError, "'nuc' is not provided"),
    (lambda: chainrule.ones(2).norm(0), ValueError, r"\(x != 0\).sum\(\)"),
    (lambda: chainrule.ones(2).norm(dim=1), IndexError, "norm: dimension 1 is out of range")])
def test_what_norm_does_not_do_is_refused_with_the_way(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_normalize_scales_each_vector_along_dim_to_length_one():
    x = numpy.random.default_rng(3).normal(size=(4, 5))
    out = F.normalize(chainrule.tensor(x))  # dim 1 by default, as in PyTorch
    numpy.testing.assert_allclose(out.numpy(), x / numpy.linalg.norm(x, axis=1, keepdims=True),
                                  rtol=1e-14)
    columns = F.normalize(chainrule.tensor(x), p=1, dim=0)
    numpy.testing.assert_allclose(columns.numpy(), x / numpy.abs(x).sum(0), rtol=1e-14)


def test_normalize_divides_a_vector_shorter_than_eps_by_eps():
    x = chainrule.tensor([[0.0, 0.0], [3e-13, 4e-13]], dtype=chainrule.float64, requires_grad=True)
    out = F.normalize(x, eps=1e-12)
    numpy.testing.assert_allclose(out.detach().numpy(), [[0.0, 0.0], [0.3, 0.4]], rtol=1e-14)
    out.sum().backward()  # below ε the divisor is the constant ε
    numpy.testing.assert_allclose(x.grad.numpy(), 1e12, rtol=1e-14)
