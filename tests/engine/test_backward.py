"""The backward walk: order, fan-out, accumulation, release, broadcasting, memory."""
import gc
import weakref

import numpy
import pytest

import chainrule
from chainrule import autograd


def test_a_chain_100000_ops_deep_backpropagates_without_recursion():
    x = chainrule.tensor(1.0, dtype=chainrule.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0000001 ** 100_000, rel=1e-9)


def test_gradients_sum_at_fan_out():
    x = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x + x * 3 + x.exp().log()
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 2 * x.data + 4, rtol=1e-6)


def test_leaf_gradients_accumulate_across_calls_until_zeroed():
    x = chainrule.tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    x.grad = None
    (x * 3).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_a_released_graph_refuses_a_second_backward_and_says_what_to_do():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)


def test_broadcast_inputs_receive_gradients_of_their_own_shape():
    a = chainrule.randn(4, 1, 3, requires_grad=True)
    b = chainrule.randn(5, 1, requires_grad=True)
    c = chainrule.randn(3, requires_grad=True)
    ((a * b + c) ** 2).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (5, 1) and c.grad.shape == (3,)
    full = 2 * (a.data * b.data + c.data)
    numpy.testing.assert_allclose(c.grad.numpy(), full.sum(axis=(0, 1)), rtol=1e-5)
    numpy.testing.assert_allclose(b.grad.numpy(), (full * a.data).sum(axis=(0, 2))[:, None],
                                  rtol=1e-5)


def test_float32_stays_float32_with_python_numbers():
    x = chainrule.ones(3, requires_grad=True)
    y = 2.5 * x + 1 - x / 3.0
    assert y.dtype == chainrule.float32
    y.sum().backward()
    assert x.grad.dtype == chainrule.float32


def test_mixed_precision_gradients_come_back_in_each_inputs_dtype():
    x = chainrule.ones(3, requires_grad=True)
    w = chainrule.ones(3, dtype=chainrule.float64, requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == chainrule.float32 and w.grad.dtype == chainrule.float64


def test_no_grad_builds_no_graph():
    x = chainrule.randn(3, requires_grad=True)
    with chainrule.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None


def test_constants_build_no_graph():
    x = chainrule.randn(3)
    assert (x * 2).exp().grad_fn is None


def test_the_graph_is_freed_without_the_cycle_collector():
    gc.disable()
    try:
        x = chainrule.randn(100, requires_grad=True)
        hidden = (x * 2).tanh()
        watcher = weakref.ref(hidden)
        loss = (hidden * hidden).sum()
        del hidden
        assert watcher() is not None       # the loss's graph holds it
        del loss
        assert watcher() is None           # freed by reference counting alone
    finally:
        gc.enable()


def test_repeated_indices_accumulate_their_gradients():
    x = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[chainrule.tensor([0, 2, 0, 0])].sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_tied_maxima_share_the_gradient():
    x = chainrule.tensor([[1.0, 5.0, 5.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    values, indices = x.max(dim=1)
    values.sum().backward()
    numpy.testing.assert_array_equal(indices.numpy(), [1, 0])
    numpy.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


@pytest.mark.parametrize("shape_a,shape_b", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
                                             ((4,), (4,)), ((2, 3, 4), (4, 5)),
                                             ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_follows_numpy_for_every_rank(shape_a, shape_b):
    a = chainrule.randn(*shape_a, dtype=chainrule.float64)
    b = chainrule.randn(*shape_b, dtype=chainrule.float64)
    numpy.testing.assert_allclose((a @ b).numpy(), numpy.matmul(a.numpy(), b.numpy()))


def test_autograd_grad_returns_without_touching_leaf_gradients():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    (g,) = autograd.grad((x ** 3).sum(), x)
    numpy.testing.assert_allclose(g.numpy(), 3 * x.data ** 2)
    assert x.grad is None


def test_unused_inputs_need_allow_unused():
    x = chainrule.tensor([1.0], requires_grad=True)
    z = chainrule.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad((x * 2).sum(), [x, z])
    assert autograd.grad((x * 2).sum(), [x, z], allow_unused=True)[1] is None


def test_two_leaves_never_share_one_gradient_array():
    a = chainrule.zeros(3, requires_grad=True)
    b = chainrule.zeros(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10
    numpy.testing.assert_array_equal(b.grad.numpy(), [1, 1, 1])


def test_scalar_leaves_get_scalar_gradients():
    w = chainrule.tensor(0.5, requires_grad=True)
    (w * w).backward()
    assert w.grad.shape == () and w.grad.item() == pytest.approx(1.0)
