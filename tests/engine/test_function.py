"""chainrule.autograd.Function: PyTorch's contract for a hand-written op."""
import numpy
import pytest

import chainrule
from chainrule.autograd import Function


class Sigmoid(Function):
    """The lecture's sigmoid: z̄ = ȳ · σ(z)(1 − σ(z)), from the saved output."""

    @staticmethod
    def forward(ctx, z):
        y = 1 / (1 + (-z).exp())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, y_bar):
        (y,) = ctx.saved_tensors
        return y_bar * y * (1 - y)


class Scale(Function):
    """x · k for a number k: a non-tensor input gets None."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


class Bilinear(Function):
    """xᵀ A y: three inputs, and needs_input_grad says which want a gradient."""

    @staticmethod
    def forward(ctx, x, a, y):
        ctx.save_for_backward(x, a, y)
        return (x @ a @ y).reshape(())

    @staticmethod
    def backward(ctx, g):
        x, a, y = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (g * (a @ y) if needs[0] else None,
                g * x.reshape(-1, 1) * y.reshape(1, -1) if needs[1] else None,
                g * (x @ a) if needs[2] else None)


def float64(*shape, seed=0):
    values = numpy.random.default_rng(seed).uniform(-2, 2, size=shape)
    return chainrule.tensor(values, dtype=chainrule.float64, requires_grad=True)


def test_the_lectures_sigmoid_as_a_function_matches_the_builtin_and_finite_differences():
    z = float64(4, 3)
    assert chainrule.autograd.gradcheck(Sigmoid.apply, [z])
    assert chainrule.gradgradcheck(Sigmoid.apply, [z])  # backward in Tensor ops: differentiable
    numpy.testing.assert_allclose(Sigmoid.apply(z).detach().numpy(),
                                  z.sigmoid().detach().numpy(), rtol=1e-15)


def test_forward_records_no_graph_and_the_output_is_one_node():
    z = float64(3)
    y = Sigmoid.apply(z)
    assert y.requires_grad and y.grad_fn.op == "Sigmoid"
    assert y.grad_fn.parents == (z,)  # nothing recorded inside forward


def test_a_number_input_gets_none_and_several_tensor_inputs_each_get_theirs():
    x = float64(3)
    assert chainrule.gradcheck(lambda t: Scale.apply(t, 2.5), [x])
    inputs = [float64(3, seed=1), float64(3, 4, seed=2), float64(4, seed=3)]
    assert chainrule.gradcheck(Bilinear.apply, inputs)


def test_needs_input_grad_tells_backward_which_gradients_are_wanted():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None

    Probe.apply(float64(2), chainrule.ones(2, dtype=chainrule.float64)).sum().backward()
    assert seen["needs"] == (True, False)


def test_backward_runs_once_per_backward_pass_however_many_inputs():
    calls = []

    class Add(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g, g

    Add.apply(float64(2), float64(2, seed=1)).sum().backward()
    assert len(calls) == 1


def test_a_saved_tensor_changed_in_place_is_refused():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    b = float64(3) * 1
    y = Square.apply(b)
    with chainrule.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="Square: a tensor saved for backward was modified by "
                                           "an in-place operation"):
        y.sum().backward()


def test_mark_non_differentiable_outputs_need_no_gradient():
    class ArgmaxMask(Function):
        @staticmethod
        def forward(ctx, x):
            mask = (x == x.max()).double()
            ctx.mark_non_differentiable(mask)
            return mask

        @staticmethod
        def backward(ctx, g):
            return None

    assert not ArgmaxMask.apply(float64(4)).requires_grad


def test_mistakes_are_named():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match=r"TooMany.backward returned 2 gradient\(s\), but "
                                           r"forward took 1 input"):
        TooMany.apply(float64(2)).sum().backward()

    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="returns one tensor"):
        Pair.apply(float64(2))
    with pytest.raises(RuntimeError, match=r"call Scale.apply\(...\)"):
        Scale()
    with pytest.raises(TypeError, match="save_for_backward takes tensors"):
        class SavesANumber(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(3.0)
                return x

            @staticmethod
            def backward(ctx, g):
                return g
        SavesANumber.apply(float64(2))
