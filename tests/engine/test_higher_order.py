"""Second derivatives from create_graph=True, against closed forms."""
import math

import numpy
import pytest

import chainrule
from chainrule import autograd

POINTS = [-1.7, -0.3, 0.4, 1.2]


def second_derivative(function, x0):
    x = chainrule.tensor(x0, dtype=chainrule.float64, requires_grad=True)
    (first,) = autograd.grad(function(x), x, create_graph=True)
    (second,) = autograd.grad(first, x)
    return first.item(), second.item()


def sig(x):
    return 1 / (1 + math.exp(-x))


CLOSED_FORMS = {
    "tanh": (lambda x: x.tanh(), lambda v: 1 - math.tanh(v) ** 2,
             lambda v: -2 * math.tanh(v) * (1 - math.tanh(v) ** 2)),
    "sigmoid": (lambda x: x.sigmoid(), lambda v: sig(v) * (1 - sig(v)),
                lambda v: sig(v) * (1 - sig(v)) * (1 - 2 * sig(v))),
    "exp": (lambda x: x.exp(), math.exp, math.exp),
    "log": (lambda x: (x * x + 1).log(), lambda v: 2 * v / (v * v + 1),
            lambda v: (2 - 2 * v * v) / (v * v + 1) ** 2),
    "pow": (lambda x: (x * x + 1) ** 2.5, lambda v: 5 * v * (v * v + 1) ** 1.5,
            lambda v: 5 * (v * v + 1) ** 1.5 + 15 * v * v * (v * v + 1) ** 0.5),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("x0", POINTS)
def test_second_derivative_matches_closed_form(name, x0):
    function, first_form, second_form = CLOSED_FORMS[name]
    first, second = second_derivative(function, x0)
    assert first == pytest.approx(first_form(x0), rel=1e-10, abs=1e-12)
    assert second == pytest.approx(second_form(x0), rel=1e-10, abs=1e-12)


def test_softmax_hessian_matches_closed_form():
    # For y = softmax(z), ∂²yₖ/∂zᵢ∂zⱼ = yₖ[(δₖᵢ − yᵢ)(δₖⱼ − yⱼ) − yᵢ(δᵢⱼ − yⱼ)]
    z0 = numpy.array([0.3, -1.2, 2.0, 0.5])
    z = chainrule.tensor(z0, requires_grad=True)
    y = numpy.exp(z0) / numpy.exp(z0).sum()
    eye = numpy.eye(4)
    for k in range(4):
        (jacobian_row,) = autograd.grad(z.softmax(dim=0)[k], z, create_graph=True)
        for i in range(4):
            (hessian_row,) = autograd.grad(jacobian_row[i], z, retain_graph=True)
            expected = y[k] * ((eye[k, i] - y[i]) * (eye[k] - y) - y[i] * (eye[i] - y))
            numpy.testing.assert_allclose(hessian_row.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_of_a_quadratic_form():
    rng = numpy.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    A = chainrule.tensor(a + a.T)
    x = chainrule.tensor(rng.standard_normal(5), requires_grad=True)
    v = chainrule.tensor(rng.standard_normal(5))
    (g,) = autograd.grad(0.5 * (x @ A @ x), x, create_graph=True)
    (hvp,) = autograd.grad((g * v).sum(), x)
    numpy.testing.assert_allclose(hvp.numpy(), (a + a.T) @ v.numpy(), rtol=1e-10)
