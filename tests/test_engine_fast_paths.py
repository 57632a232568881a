"""Each speed-up of the engine, guarded by a test of what it must still compute.

The registry test (tests/ops/test_registry.py) gradchecks every op; the tests here pin the
properties a fast path could break without changing a gradient's value: results that must not
share memory, dtypes that must stay float32, graphs that must not be built, arrays that must
not be copied.
"""
import numpy
import pytest

import chainrule
import chainrule.nn.functional as F


def float64_tensor(rng, *shape, requires_grad=True):
    return chainrule.tensor(rng.standard_normal(shape), dtype=chainrule.float64,
                            requires_grad=requires_grad)


# ---------------------------------------------------------------- transpose as one swap
def test_mT_swaps_the_last_two_axes_and_its_gradient_swaps_back():
    rng = numpy.random.default_rng(0)
    x = float64_tensor(rng, 2, 3, 4)
    weights = rng.standard_normal((2, 4, 3))
    y = x.mT
    assert y.shape == (2, 4, 3)
    assert numpy.shares_memory(y.data, x.data)  # a view, as in PyTorch
    (y * chainrule.tensor(weights)).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), weights.swapaxes(-1, -2))


def test_transpose_of_named_dims_matches_numpy():
    x = chainrule.arange(24).reshape(2, 3, 4)
    numpy.testing.assert_array_equal(x.transpose(0, 2).numpy(),
                                     numpy.arange(24).reshape(2, 3, 4).swapaxes(0, 2))


# ---------------------------------------------------------------- fused linear
@pytest.mark.parametrize("batch_shape", [(5,), (2, 5), (1,), (), (2, 3, 5)])
def test_linear_gradients_are_the_slides_formulas(batch_shape):
    """y = x Wᵀ + b:  x̄ = ȳ W,  W̄ = ȳᵀ x,  b̄ = Σ ȳ over the batch (any batch shape, batch 1 too)."""
    rng = numpy.random.default_rng(1)
    x, weight, bias = (float64_tensor(rng, *batch_shape, 4), float64_tensor(rng, 3, 4),
                       float64_tensor(rng, 3))
    signal = rng.standard_normal(batch_shape + (3,))
    F.linear(x, weight, bias).backward(chainrule.tensor(signal, dtype=chainrule.float64))
    flat_signal, flat_x = signal.reshape(-1, 3), x.data.reshape(-1, 4)
    numpy.testing.assert_allclose(x.grad.numpy(), signal @ weight.data, rtol=1e-12)
    numpy.testing.assert_allclose(weight.grad.numpy(), flat_signal.T @ flat_x, rtol=1e-12)
    numpy.testing.assert_allclose(bias.grad.numpy(), flat_signal.sum(axis=0), rtol=1e-12)


# ---------------------------------------------------------------- the primitive wrapper
def test_an_optional_tensor_by_position_is_an_input_with_a_gradient():
    x, weight = chainrule.ones(2, 3), chainrule.ones(4, 3, requires_grad=True)
    bias = chainrule.zeros(4, requires_grad=True)
    F.linear(x, weight, bias).sum().backward()
    numpy.testing.assert_array_equal(bias.grad.numpy(), numpy.full(4, 2.0, numpy.float32))


def test_numbers_among_the_inputs_become_tensors_of_their_partners_dtype():
    x = chainrule.ones(3, requires_grad=True)
    y = 2.5 * x + 1
    assert y.dtype == chainrule.float32
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), numpy.full(3, 2.5, numpy.float32))


def test_settings_by_position_still_work_next_to_the_fast_path():
    x = chainrule.tensor([[1.0, 2.0], [3.0, 4.0]])
    numpy.testing.assert_array_equal(x.sum(1).numpy(), [3.0, 7.0])
    numpy.testing.assert_array_equal(chainrule.clamp(x, 1.5, 3.5).numpy(), [[1.5, 2.0], [3.0, 3.5]])
    with pytest.raises(TypeError):
        F.linear(x, chainrule.ones(2, 2), chainrule.ones(2), chainrule.ones(2))


# ---------------------------------------------------------------- fused cross-entropy mean
def softmax_rows(z):
    exps = numpy.exp(z - z.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


def test_cross_entropy_mean_is_the_mean_of_the_per_sample_losses_and_its_gradient_the_formula():
    """∂/∂z of (1/N) Σᵢ −log softmax(zᵢ)[tᵢ] is (softmax(z) − onehot(t)) / N."""
    rng = numpy.random.default_rng(2)
    logits, labels = float64_tensor(rng, 5, 4), numpy.array([0, 3, 1, 1, 2])
    loss = F.cross_entropy(logits, chainrule.tensor(labels))
    per_sample = F.cross_entropy(logits.detach(), chainrule.tensor(labels), reduction="none")
    assert loss.item() == pytest.approx(per_sample.numpy().mean(), rel=1e-14)
    loss.backward()
    expected = softmax_rows(logits.data)
    expected[numpy.arange(5), labels] -= 1
    numpy.testing.assert_allclose(logits.grad.numpy(), expected / 5, rtol=1e-12)


def test_cross_entropy_backward_twice_with_retain_graph_gives_the_same_gradient():
    """The VJP writes into a fresh array each time: a second backward must not see the first's."""
    rng = numpy.random.default_rng(3)
    logits = float64_tensor(rng, 4, 3)
    labels = chainrule.tensor([0, 2, 1, 1])
    for reduction in ("mean", "sum"):
        loss = F.cross_entropy(logits, labels, reduction=reduction)
        loss.backward(retain_graph=True)
        first = logits.grad.numpy().copy()
        logits.grad = None
        loss.backward()
        numpy.testing.assert_array_equal(logits.grad.numpy(), first)
        logits.grad = None


def test_cross_entropy_of_float32_logits_stays_float32():
    logits = chainrule.randn(8, 10, requires_grad=True)
    loss = F.cross_entropy(logits, chainrule.randint(0, 10, (8,)))
    loss.backward()
    assert loss.dtype == chainrule.float32 and logits.grad.dtype == chainrule.float32
    assert loss.shape == ()


@pytest.mark.parametrize("batch_shape", [(5,), (2, 5)])
def test_linear_vjps_in_arrays_and_in_tensor_ops_agree(batch_shape):
    """An ordinary backward takes the array path; create_graph=True the Tensor-op path."""
    rng = numpy.random.default_rng(4)
    x, weight, bias = (float64_tensor(rng, *batch_shape, 4), float64_tensor(rng, 3, 4),
                       float64_tensor(rng, 3))
    loss = (F.linear(x, weight, bias) ** 2).sum()
    plain = chainrule.autograd.grad(loss, [x, weight, bias], retain_graph=True)
    recorded = chainrule.autograd.grad(loss, [x, weight, bias], create_graph=True)
    for fast, slow in zip(plain, recorded):
        assert slow.requires_grad and not fast.requires_grad
        numpy.testing.assert_allclose(fast.numpy(), slow.detach().numpy(), rtol=1e-13)


def test_linear_gradients_of_float32_stay_float32():
    x, weight = chainrule.randn(4, 3), chainrule.randn(2, 3, requires_grad=True)
    bias = chainrule.zeros(2, requires_grad=True)
    F.linear(x, weight, bias).sum().backward()
    assert weight.grad.dtype == chainrule.float32 and bias.grad.dtype == chainrule.float32


# ---------------------------------------------------------------- activations' VJPs in arrays
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_activation_vjps_in_arrays_and_in_tensor_ops_agree(activation):
    rng = numpy.random.default_rng(5)
    x = float64_tensor(rng, 4, 6)
    loss = (getattr(F, activation)(x) * chainrule.tensor(rng.standard_normal((4, 6)))).sum()
    (plain,) = chainrule.autograd.grad(loss, [x], retain_graph=True)
    (recorded,) = chainrule.autograd.grad(loss, [x], create_graph=True)
    numpy.testing.assert_allclose(plain.numpy(), recorded.detach().numpy(), rtol=1e-14)


def test_relu_gradient_is_zero_at_zero_and_sigmoid_slope_is_a_times_one_minus_a():
    x = chainrule.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    F.relu(x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    z = chainrule.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    F.sigmoid(z).sum().backward()
    sigma = 1 / (1 + numpy.exp(-numpy.array([-2.0, 0.0, 3.0], numpy.float32)))
    numpy.testing.assert_allclose(z.grad.numpy(), sigma * (1 - sigma), rtol=1e-6)
    assert z.grad.dtype == chainrule.float32


@pytest.mark.parametrize("create_graph", [False, True])
def test_relu_gradient_read_off_the_output_is_the_inputs_mask_at_every_edge_value(create_graph):
    """ReLU's VJP reads max(a, 0) > 0 rather than a > 0: the same mask for -0, 0, inf, NaN."""
    values = numpy.array([-1.0, -0.0, 0.0, 1e-300, 2.5, numpy.inf, -numpy.inf, numpy.nan])
    x = chainrule.tensor(values, dtype=chainrule.float64, requires_grad=True)
    signal = numpy.arange(1.0, 9.0)
    (grad,) = chainrule.autograd.grad(F.relu(x), [x], grad_outputs=[chainrule.tensor(signal)],
                                      create_graph=create_graph)
    numpy.testing.assert_array_equal(grad.detach().numpy(), signal * (values > 0))


def test_relu_refuses_a_change_to_its_output_and_allows_one_to_its_input():
    """ReLU saves its output (what its VJP reads), as PyTorch's does, and not its input."""
    x = chainrule.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    a = x * 1
    y = F.relu(a)
    with chainrule.no_grad():
        a.mul_(-1)  # the input: read by nothing any more
    y.sum().backward(retain_graph=True)
    numpy.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])
    with chainrule.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="relu: its output"):
        y.sum().backward()


@pytest.mark.parametrize("shape", [(), (3,), (2, 4)])
def test_sigmoid_computed_in_place_leaves_its_input_alone_and_keeps_its_shape(shape):
    values = numpy.linspace(-30, 30, int(numpy.prod(shape))).reshape(shape).astype(numpy.float32)
    x = chainrule.tensor(values)
    y = F.sigmoid(x)
    numpy.testing.assert_array_equal(x.numpy(), values)  # the forward writes only its own array
    assert isinstance(y.data, numpy.ndarray) and y.shape == shape and y.dtype == chainrule.float32
    numpy.testing.assert_allclose(y.numpy(), 1 / (1 + numpy.exp(-values.astype(numpy.float64))),
                                  rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- the backward walk
def test_leaves_fed_the_same_signal_get_arrays_of_their_own():
    """a + b hands the same error signal to both leaves: changing one .grad must not change the other."""
    a, b = chainrule.ones(3, requires_grad=True), chainrule.ones(3, requires_grad=True)
    (a + b).sum().backward()
    assert not numpy.shares_memory(a.grad.data, b.grad.data)
    a.grad.data[0] = 5.0
    numpy.testing.assert_array_equal(b.grad.numpy(), numpy.ones(3, numpy.float32))


def test_a_second_backward_accumulates_into_grad():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (3 * x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])
    numpy.testing.assert_array_equal(first.numpy(), [2.0, 4.0])  # the earlier Tensor is untouched


def test_the_engine_imports_in_a_fresh_interpreter_from_any_module():
    import subprocess
    import sys

    for module in ("chainrule.autograd", "chainrule.tensor", "chainrule.ops.fused"):
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


# ---------------------------------------------------------------- no copy of each minibatch
def test_as_tensor_shares_an_arrays_memory_as_torch_does():
    images = numpy.arange(12, dtype=numpy.float32).reshape(3, 4)
    batch = chainrule.as_tensor(images[1:])
    assert numpy.shares_memory(batch.data, images) and batch.dtype == chainrule.float32
    converted = chainrule.as_tensor(images, dtype=chainrule.float64)
    assert not numpy.shares_memory(converted.data, images) and converted.dtype == chainrule.float64
    assert chainrule.as_tensor([1.0, 2.0]).dtype == chainrule.float32
    labels = chainrule.as_tensor(numpy.array([1, 2], dtype=numpy.int64))
    assert labels.dtype == chainrule.int64


def test_tensor_still_copies():
    images = numpy.ones((2, 2), numpy.float32)
    assert not numpy.shares_memory(chainrule.tensor(images).data, images)


def test_graph_nodes_skip_absent_inputs_and_inputs_without_a_vjp():
    x, weight = chainrule.ones(2, 3, requires_grad=True), chainrule.ones(4, 3, requires_grad=True)
    F.linear(x, weight).sum().backward()  # bias=None: an absent input
    numpy.testing.assert_array_equal(weight.grad.numpy(), numpy.full((4, 3), 2.0, numpy.float32))
    a, b = chainrule.ones(3, requires_grad=True), chainrule.zeros(3, requires_grad=True)
    chainrule.where(chainrule.tensor([True, False, True]), a, b).sum().backward()  # condition: no VJP
    numpy.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 1.0])
    numpy.testing.assert_array_equal(b.grad.numpy(), [0.0, 1.0, 0.0])


# ---------------------------------------------------------------- no graph where none is needed
def test_no_graph_is_built_under_no_grad_or_for_inputs_that_need_no_gradient():
    weight = chainrule.ones(3, 2, requires_grad=True)
    with chainrule.no_grad():
        assert F.linear(chainrule.ones(4, 2), weight).grad_fn is None
    constant_only = F.relu(chainrule.ones(4, 2) * 2)
    assert constant_only.grad_fn is None and not constant_only.requires_grad
    assert F.linear(chainrule.ones(4, 2), weight).grad_fn is not None
