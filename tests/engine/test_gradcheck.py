"""gradcheck and gradgradcheck themselves: they must catch a wrong gradient and say where."""
import re

import pytest

import chainrule


def test_gradcheck_passes_a_correct_gradient():
    x = chainrule.randn(3, 2, dtype=chainrule.float64, requires_grad=True)
    assert chainrule.gradcheck(lambda a: (a.sin() * a).sum(dim=1), [x])


def test_gradcheck_names_the_worst_element_of_a_wrong_gradient():
    x = chainrule.tensor([[0.5, -1.0], [3.0, 2.0]], dtype=chainrule.float64, requires_grad=True)
    # x · stop_gradient(x): the engine sees derivative x, the truth is 2x; worst where |x| is largest
    with pytest.raises(chainrule.GradcheckError) as caught:
        chainrule.gradcheck(lambda a: a * a.detach(), [x])
    found = re.search(r"input 0 .* index \(1, 0\): analytic (\S+), numeric (\S+)", str(caught.value))
    assert found, str(caught.value)
    analytic, numeric = float(found[1]), float(found[2])
    assert numeric == pytest.approx(2 * analytic, rel=1e-6)


def test_gradcheck_returns_false_when_asked_not_to_raise():
    x = chainrule.tensor([1.5], dtype=chainrule.float64, requires_grad=True)
    assert not chainrule.gradcheck(lambda a: a * a.detach(), [x], raise_exception=False)


def test_gradgradcheck_catches_a_first_derivative_that_is_not_differentiable():
    x = chainrule.tensor([0.4, 1.3], dtype=chainrule.float64, requires_grad=True)

    def detached_square(a):
        # value a², correct first derivative 2a, but built so that its own derivative is lost
        return a * a.detach() + (a.detach() * a.detach() - a * a.detach()) * 0 + \
            a.detach() * (a - a.detach())
    assert chainrule.gradcheck(detached_square, [x])
    with pytest.raises(chainrule.GradcheckError):
        chainrule.gradgradcheck(detached_square, [x])


def test_gradcheck_refuses_float32_inputs():
    x = chainrule.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        chainrule.gradcheck(lambda a: a.sum(), [x])



class _SquareWithANanGradient(chainrule.autograd.Function):
    """x², whose backward answers nan at one chosen element and 2x elsewhere."""

    @staticmethod
    def forward(ctx, x, position):
        ctx.save_for_backward(x)
        ctx.position = position
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        grad = g * 2 * x
        grad.data[ctx.position] = float("nan")
        return grad, None


def test_gradcheck_catches_a_nan_gradient_wherever_it_is():
    for position in (0, 1):
        x = chainrule.tensor([0.7, -1.2], dtype=chainrule.float64, requires_grad=True)
        with pytest.raises(chainrule.GradcheckError, match=rf"index \({position},\): analytic nan"):
            chainrule.gradcheck(lambda a: _SquareWithANanGradient.apply(a, position), [x])
