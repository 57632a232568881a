"""PyTorch code that uses the shared names must run, and give PyTorch's answer.

Each test pins a place where chainrule once differed from PyTorch 2.x (found by
benchmarks/parity_torch.py, which runs the same code on both); the expected values are PyTorch's,
written out by hand or as the closed form.
"""
import numpy
import pytest

import chainrule
import chainrule.nn.functional as F


def values(rows, columns, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.uniform(-2, 2, size=(rows, columns))


# ---------------------------------------------------------------- settings given by position
def test_reductions_take_dim_by_position():
    data = values(3, 4)
    x = chainrule.tensor(data)
    numpy.testing.assert_allclose(x.sum(1).numpy(), data.sum(axis=1))
    numpy.testing.assert_allclose(chainrule.sum(x, 0).numpy(), data.sum(axis=0))
    numpy.testing.assert_allclose(x.sum((0, 1)).numpy(), data.sum())
    assert x.sum(1, True).shape == (3, 1)
    numpy.testing.assert_allclose(x.amax(1).numpy(), data.max(axis=1))
    numpy.testing.assert_allclose(chainrule.amin(x, 0).numpy(), data.min(axis=0))
    expected = numpy.log(numpy.exp(data).sum(axis=1))
    numpy.testing.assert_allclose(x.logsumexp(1).numpy(), expected)


def test_softmax_takes_dim_by_position_with_its_gradient():
    data = values(3, 4)
    x = chainrule.tensor(data, requires_grad=True)
    y = F.softmax(x, 0)
    expected = numpy.exp(data) / numpy.exp(data).sum(axis=0)
    numpy.testing.assert_allclose(y.detach().numpy(), expected)
    numpy.testing.assert_allclose(x.log_softmax(1).detach().numpy(),
                                  data - numpy.log(numpy.exp(data).sum(axis=1, keepdims=True)))
    y[0, 0].backward()
    # ∂y₀₀/∂x₀₀ = y₀₀(1 − y₀₀) and ∂y₀₀/∂x₁₀ = −y₀₀ y₁₀ along dim 0; nothing reaches other columns
    p = expected[:, 0]
    numpy.testing.assert_allclose(x.grad.numpy()[:, 0], p[0] * (numpy.eye(3)[0] - p))
    assert not x.grad.numpy()[:, 1:].any()


def test_clamp_takes_bounds_by_position():
    x = chainrule.tensor([-2.0, -0.2, 0.3, 4.0], requires_grad=True)
    y = chainrule.clamp(x, -1.0, 1.0)
    assert y.tolist() == pytest.approx([-1.0, -0.2, 0.3, 1.0])
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]
    assert x.clamp(0.0).tolist() == pytest.approx([0.0, 0.0, 0.3, 4.0])


def test_reshape_and_permute_functions_take_the_shape_by_position():
    x = chainrule.arange(24.0).reshape(2, 3, 4)
    assert chainrule.reshape(x, (4, 6)).shape == (4, 6)
    assert chainrule.permute(x, (2, 0, 1)).shape == (4, 2, 3)


def test_too_many_positional_arguments_is_a_type_error():
    with pytest.raises(TypeError, match="sum"):
        chainrule.sum(chainrule.ones(2, 2), 0, False, "extra")


def test_linear_takes_bias_by_name():
    x, w, b = chainrule.ones(2, 3), chainrule.ones(4, 3), chainrule.full((4,), 0.5)
    assert F.linear(x, w, bias=b).tolist() == [[3.5] * 4] * 2
    assert F.linear(x, w).tolist() == [[3.0] * 4] * 2


# ---------------------------------------------------------------- matmul of vectors
def test_vector_dot_vector_is_0d_with_gradients():
    a = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = chainrule.tensor([4.0, -1.0, 0.5], requires_grad=True)
    out = a @ b
    assert out.shape == ()
    assert out.item() == pytest.approx(3.5)
    out.backward()
    assert a.grad.tolist() == [4.0, -1.0, 0.5]
    assert b.grad.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("a_shape, b_shape, expected", [
    ((4,), (4, 5), (5,)), ((3, 4), (4,), (3,)), ((2, 3, 4), (4,), (2, 3)),
    ((4,), (2, 4, 5), (2, 5))])
def test_matmul_with_one_vector_follows_numpy(a_shape, b_shape, expected):
    a, b = numpy.ones(a_shape), numpy.ones(b_shape)
    assert (chainrule.tensor(a) @ chainrule.tensor(b)).shape == expected == (a @ b).shape


# ---------------------------------------------------------------- losses
def test_nll_loss_without_reduction_keeps_the_labels_shape():
    logp = numpy.log(numpy.full((2, 4, 3), 0.25))  # (N, C, d)
    labels = numpy.array([[0, 3, 1], [2, 2, 0]])     # (N, d)
    losses = F.nll_loss(chainrule.tensor(logp), chainrule.tensor(labels), reduction="none")
    assert losses.shape == (2, 3)
    numpy.testing.assert_allclose(losses.numpy(), numpy.full((2, 3), numpy.log(4)))
    unbatched = F.nll_loss(chainrule.tensor(logp[0, :, 0]), chainrule.tensor(0), reduction="none")
    assert unbatched.shape == ()


# ---------------------------------------------------------------- shapes
def test_squeeze_takes_a_tuple_of_dims_and_skips_those_not_of_size_1():
    x = chainrule.zeros(3, 1, 4, 1)
    assert x.squeeze((1, 3)).shape == (3, 4)
    assert x.squeeze((0, -1)).shape == (3, 1, 4)
    assert x.squeeze(0).shape == (3, 1, 4, 1)
    assert chainrule.squeeze(x, dim=(1,)).shape == (3, 4, 1)


# ---------------------------------------------------------------- dtype promotion
def dtype_of(result):
    return str(result.dtype)


def test_integers_meeting_floats_take_the_float_dtype():
    ints = chainrule.tensor([3, 4, 7])
    floats = chainrule.tensor([1.0, -2.0, 3.0])  # float32
    assert dtype_of(ints * floats) == dtype_of(floats + ints) == "float32"
    assert dtype_of(ints + 2.5) == dtype_of(2.5 - ints) == "float32"
    assert dtype_of(ints ** 0.5) == "float32"
    assert dtype_of(chainrule.where(ints > 3, ints, 0.5)) == "float32"
    assert dtype_of(chainrule.maximum(ints, floats)) == "float32"
    assert dtype_of(ints * 2) == "int64"


def test_true_division_of_integers_gives_the_default_float():
    ints = chainrule.tensor([3, 4, 7])
    assert dtype_of(ints / 2) == dtype_of(ints / ints) == dtype_of(1 / ints) == "float32"
    assert (ints / 2).tolist() == [1.5, 2.0, 3.5]


def test_a_bool_tensor_plus_an_integer_counts():
    mask = chainrule.tensor([True, False, True])
    assert (mask + 1).tolist() == [2, 1, 2]
    assert dtype_of(mask * 2) == "int64"
    assert dtype_of(mask * 2.0) == "float32"
    assert dtype_of(mask + True) == "bool"


def test_a_0d_tensor_does_not_widen_a_tensor_of_the_same_kind():
    x = chainrule.tensor([1.0, 2.0])
    scale = chainrule.tensor(2.0, dtype=chainrule.float64)
    assert dtype_of(x * scale) == dtype_of(scale - x) == "float32"
    assert dtype_of(x * chainrule.tensor([2.0], dtype=chainrule.float64)) == "float64"
    assert dtype_of(chainrule.tensor([1, 2]) * scale) == "float64"  # a higher kind: its dtype


def test_gradients_flow_back_in_each_inputs_dtype():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    scale = chainrule.tensor(3.0, dtype=chainrule.float64, requires_grad=True)
    (x * scale / chainrule.tensor([2, 4])).sum().backward()
    assert dtype_of(x.grad) == "float32" and dtype_of(scale.grad) == "float64"
    assert x.grad.tolist() == [1.5, 0.75]
    assert scale.grad.item() == pytest.approx(1.0)


# ---------------------------------------------------------------- creation
@pytest.mark.parametrize("make", [chainrule.zeros, chainrule.ones, chainrule.empty,
                                  chainrule.rand, chainrule.randn])
def test_creation_takes_the_size_by_name(make):
    result = make(size=(2, 3))
    assert result.shape == (2, 3) and str(result.dtype) == "float32"
    assert make(2, 3).shape == make((2, 3)).shape == make([2, 3]).shape == (2, 3)


def test_randint_with_high_and_size_starts_at_zero():
    chainrule.manual_seed(0)
    draws = chainrule.randint(3, (200,))
    assert draws.shape == (200,) and str(draws.dtype) == "int64"
    assert set(draws.tolist()) == {0, 1, 2}
    assert set(chainrule.randint(5, 7, (50,)).tolist()) == {5, 6}


# ---------------------------------------------------------------- methods PyTorch code calls
def test_shape_and_dtype_of_another_tensor():
    x = chainrule.arange(6.0, requires_grad=True)
    grid = chainrule.zeros(2, 3, dtype=chainrule.float64)
    assert x.view_as(grid).shape == x.reshape_as(grid).shape == (2, 3)
    assert chainrule.ones(3, 1).expand_as(chainrule.zeros(2, 3, 4)).shape == (2, 3, 4)
    assert str(chainrule.tensor([1, 2]).type_as(grid).dtype) == "float64"
    x.view_as(grid).expand_as(chainrule.zeros(4, 2, 3)).sum().backward()
    assert x.grad.tolist() == [4.0] * 6


# ---------------------------------------------------------------- cross_entropy's options
LOGITS = numpy.array([[1.0, 2.0, 0.5], [0.1, -0.2, 0.3], [2.0, 0.0, -1.0]])
LOG_P = LOGITS - numpy.log(numpy.exp(LOGITS).sum(axis=1, keepdims=True))
CLASS_WEIGHTS = numpy.array([1.0, 2.0, 3.0])


def test_cross_entropy_ignores_label_minus_100_by_default():
    labels = numpy.array([1, -100, 0])
    loss = F.cross_entropy(chainrule.tensor(LOGITS), chainrule.tensor(labels))
    assert loss.item() == pytest.approx(-(LOG_P[0, 1] + LOG_P[2, 0]) / 2)
    per_row = F.cross_entropy(chainrule.tensor(LOGITS), chainrule.tensor(labels), reduction="none")
    numpy.testing.assert_allclose(per_row.numpy(), [-LOG_P[0, 1], 0.0, -LOG_P[2, 0]])
    nll = F.nll_loss(chainrule.tensor(LOG_P), chainrule.tensor([2, 0, 2]), ignore_index=2)
    assert nll.item() == pytest.approx(-LOG_P[1, 0])


def test_cross_entropy_mean_with_class_weights_divides_by_their_sum():
    labels = numpy.array([1, 2, 0])
    w = CLASS_WEIGHTS[labels]
    expected = -(w * LOG_P[[0, 1, 2], labels]).sum() / w.sum()
    loss = F.cross_entropy(chainrule.tensor(LOGITS), chainrule.tensor(labels),
                           weight=chainrule.tensor(CLASS_WEIGHTS))
    assert loss.item() == pytest.approx(expected)
    nll = F.nll_loss(chainrule.tensor(LOG_P), chainrule.tensor(labels),
                     weight=chainrule.tensor(CLASS_WEIGHTS))
    assert nll.item() == pytest.approx(expected)


def test_label_smoothing_mixes_in_the_uniform_distribution():
    labels = numpy.array([1, 2, 0])
    epsilon = 0.1
    smoothed = numpy.full((3, 3), epsilon / 3) + (1 - epsilon) * numpy.eye(3)[labels]
    expected = -(smoothed * LOG_P).sum(axis=1).mean()
    logits = chainrule.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(logits, chainrule.tensor(labels), label_smoothing=epsilon)
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    # ∂L/∂z = (softmax(z) − smoothed targets) / N
    numpy.testing.assert_allclose(logits.grad.numpy(), (numpy.exp(LOG_P) - smoothed) / 3)


def test_cross_entropy_takes_class_probabilities_as_target():
    probabilities = numpy.array([[0.2, 0.7, 0.1], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]])
    loss = F.cross_entropy(chainrule.tensor(LOGITS), chainrule.tensor(probabilities))
    assert loss.item() == pytest.approx(-(probabilities * LOG_P).sum(axis=1).mean())
    with pytest.raises(chainrule.ShapeError, match="shape"):
        F.cross_entropy(chainrule.tensor(LOGITS), chainrule.tensor(probabilities[:, :2]))


def test_negative_labels_are_refused_not_wrapped_around():
    with pytest.raises(IndexError, match="label -1"):
        F.nll_loss(chainrule.tensor(LOG_P), chainrule.tensor([0, -1, 1]))
    with pytest.raises(IndexError, match="label -1"):
        F.cross_entropy(chainrule.tensor(LOGITS), chainrule.tensor([0, -1, 1]),
                        weight=chainrule.tensor(CLASS_WEIGHTS))


def test_cat_and_stack_of_integers_and_floats_take_the_float_dtype():
    ints, floats = chainrule.tensor([3, 4]), chainrule.tensor([0.5, 1.5], requires_grad=True)
    joined = chainrule.cat([ints, floats])
    assert dtype_of(joined) == dtype_of(chainrule.stack([floats, ints])) == "float32"
    assert joined.tolist() == [3.0, 4.0, 0.5, 1.5]
    assert dtype_of(chainrule.cat([ints, ints])) == "int64"
    (joined * chainrule.arange(4.0)).sum().backward()
    assert dtype_of(floats.grad) == "float32" and floats.grad.tolist() == [2.0, 3.0]


# ---------------------------------------------------------------- reductions
def test_unbiased_variance_of_one_value_is_nan_not_zero():
    x = chainrule.tensor([[1.0, 2.0, 3.0]])
    with pytest.warns(RuntimeWarning):
        single = x.var(dim=0)
    assert numpy.isnan(single.numpy()).all()
    assert x.var(dim=0, correction=0).tolist() == [0.0, 0.0, 0.0]
    assert x.var(dim=1).item() == pytest.approx(1.0)


# ---------------------------------------------------------------- in place
def test_a_manual_sgd_step_updates_the_parameters_themselves():
    w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    parameters = [w]
    (w * w).sum().backward()
    with chainrule.no_grad():
        for p in parameters:
            p -= 0.25 * p.grad
    assert parameters[0] is w
    assert w.tolist() == [0.5, -1.0] and w.requires_grad


def test_augmented_assignment_writes_into_every_reference():
    x = chainrule.zeros(2, 3)
    alias, row = x, x[0]
    alias += 1
    alias *= 4
    alias /= 2
    assert x.tolist() == [[2.0] * 3] * 2 and row.tolist() == [2.0] * 3
    total = chainrule.ones(2, 3).sum()  # a full reduction's value
    total -= 1
    assert total.item() == 5.0


def test_an_element_is_a_view_so_writing_it_in_place_changes_the_tensor():
    v = chainrule.tensor([1.0, 2.0, 3.0], dtype=chainrule.float64)
    m = chainrule.ones(2, 2, dtype=chainrule.float64)
    w = chainrule.tensor([1.0, 2.0, 3.0], dtype=chainrule.float64, requires_grad=True)
    y = (v * w).sum()  # mul saves v for w's gradient
    v[1].zero_()  # NumPy would hand out a copy of the element, and nothing would change
    m[0, 1].fill_(7.0)
    m[1][0].add_(1.0)
    m[chainrule.tensor(0)].mul_(2.0)  # a 0-d integer tensor indexes as an int does
    with chainrule.no_grad():
        w[0].mul_(10.0)  # one entry of a parameter updated
    assert v.tolist() == [1.0, 0.0, 3.0] and v._version == 1
    assert m.tolist() == [[2.0, 14.0], [2.0, 1.0]] and w.tolist() == [10.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="mul: its input of shape \\(3,\\).*modified"):
        y.backward()
    (v * w).sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 3.0]  # d/dw of v·w is v, as changed


def test_an_element_picked_by_numpy_integers_is_a_view_too_and_a_bool_is_no_element():
    v = chainrule.tensor([1.0, 2.0, 3.0], dtype=chainrule.float64)
    v[numpy.int64(1)].zero_()
    v[numpy.uint8(2)].fill_(7.0)
    assert v.tolist() == [1.0, 0.0, 7.0]
    assert v[True].shape == (1, 3)  # NumPy's (and PyTorch's) new axis, not element 1


def test_in_place_change_of_a_leaf_that_requires_grad_is_refused():
    w = chainrule.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1)


WRITES_OF_A_VALUE = {
    "x[i] = v": lambda out, value: out.__setitem__(slice(0, 2), value),
    "x[i] += v": lambda out, value: out.__setitem__(slice(0, 2), out[0:2].__iadd__(value)),
    "copy_": lambda out, value: out[0:2].copy_(value),
    "fill_": lambda out, value: out.fill_(value.sum()),
}


@pytest.mark.parametrize("write", WRITES_OF_A_VALUE.values(), ids=WRITES_OF_A_VALUE.keys())
def test_writing_a_value_that_requires_grad_in_place_is_refused(write):
    # PyTorch records the write; chainrule writes outside the graph, so the value's gradient
    # would silently be lost (w.grad would miss the 2 w of out's part).
    w = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    out = chainrule.zeros(3, dtype=chainrule.float64)
    with pytest.raises(RuntimeError, match=r"the value written requires grad.*gradient would be "
                                           r"lost.*out of place"):
        write(out, w * w)
    assert out.tolist() == [0.0, 0.0, 0.0]
    write(out, (w * w).detach())  # no gradient wanted: said so
    with chainrule.no_grad():
        write(out, w * w)
    out = chainrule.cat([w * w, chainrule.zeros(1, dtype=chainrule.float64)])  # the way named
    (out.sum() + w.sum()).backward()
    assert w.grad.tolist() == [3.0, 5.0]  # d/dw of w² + w


def test_augmented_assignment_inside_a_graph_keeps_the_gradient():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h += x  # h = x² + x
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 5.0]


def test_augmented_assignment_inside_a_graph_leaves_earlier_views_as_they_were():
    # Documented (pytorch-parity.md): inside a recorded graph += binds the name to a new tensor;
    # a view taken before keeps the old values (PyTorch's would see the change), and the gradient
    # is that of the values chainrule computed: d/dw of (2 w₀)² + Σ(2w + 1).
    w = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    h = w * 2
    row = h[0:1]
    h += 1
    assert row.tolist() == [2.0] and h.tolist() == [3.0, 5.0]
    ((row * row).sum() + h.sum()).backward()
    assert w.grad.tolist() == [8.0 * 1.0 + 2.0, 2.0]


def test_in_place_methods_chain_and_scale_by_alpha():
    buffer = chainrule.ones(3)
    buffer.mul_(0.5).add_(chainrule.tensor([1.0, 2.0, 3.0]), alpha=-2).sub_(1, alpha=0.5)
    assert buffer.tolist() == [-2.0, -4.0, -6.0]
    assert buffer.div_(2).tolist() == [-1.0, -2.0, -3.0]


def test_in_place_refuses_a_result_the_dtype_cannot_hold():
    counts = chainrule.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts += 0.5
    counts += 1
    assert counts.tolist() == [2, 3] and str(counts.dtype) == "int64"


# ---------------------------------------------------------------- grad mode
@pytest.mark.parametrize("training", [True, False])
def test_set_grad_enabled_is_also_a_context_manager(training):
    w = chainrule.ones(2, requires_grad=True)
    with chainrule.set_grad_enabled(training):
        assert chainrule.is_grad_enabled() is training
        out = w * 2
    assert out.requires_grad is training
    assert chainrule.is_grad_enabled()
    chainrule.set_grad_enabled(False)  # as a plain call it stays set
    try:
        assert not (w * 2).requires_grad
    finally:
        chainrule.set_grad_enabled(True)


def test_from_numpy_shares_memory_and_dtype():
    array = numpy.array([1.0, 2.0])
    x = chainrule.from_numpy(array)
    array[0] = 5.0
    assert x.tolist() == [5.0, 2.0] and str(x.dtype) == "float64"
    with pytest.raises(TypeError):
        chainrule.from_numpy(numpy.array(["a"], dtype=object))


def test_t_cpu_and_is_floating_point():
    m = chainrule.arange(6.0).reshape(2, 3)
    assert m.t().shape == (3, 2) and chainrule.ones(3).t().shape == (3,)
    with pytest.raises(chainrule.ShapeError, match="mT"):
        chainrule.zeros(2, 3, 4).t()
    assert m.cpu() is m and m.detach().cpu().numpy().shape == (2, 3)
    assert m.is_floating_point() and not chainrule.arange(3).is_floating_point()


def test_float_functions_of_integers_give_default_floats():
    ints = chainrule.tensor([1, 2, 4])
    assert chainrule.tensor([0]).sigmoid().tolist() == [0.5]  # was 0: computed in int64
    for name in ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf"]:
        result = getattr(ints, name)()
        assert dtype_of(result) == "float32", name
        numpy.testing.assert_allclose(result.numpy(), getattr(chainrule.tensor([1.0, 2.0, 4.0]),
                                                              name)().numpy())
    assert ints.clamp(0.5, 2.5).tolist() == [1.0, 2.0, 2.5]
    assert dtype_of(ints.clamp(0.5)) == "float32" and dtype_of(ints.clamp(1, 2)) == "int64"


def test_clamp_with_tensor_bounds_says_what_to_use_instead():
    x = chainrule.tensor([[1.0, -2.0, 3.0]])
    with pytest.raises(TypeError, match="maximum"):
        x.clamp(min=chainrule.zeros(3))
    with pytest.raises(TypeError, match="maximum"):
        x.clamp(chainrule.zeros(3), chainrule.ones(3))


def test_bce_with_logits_pos_weight_and_weight():
    z = numpy.array([[0.5, -1.0], [2.0, 0.0]])
    t = numpy.array([[1.0, 0.0], [0.3, 1.0]])
    p, w = numpy.array([3.0, 0.5]), numpy.array([[2.0], [1.0]])
    sigma = 1 / (1 + numpy.exp(-z))
    expected = -w * (p * t * numpy.log(sigma) + (1 - t) * numpy.log(1 - sigma))
    losses = F.binary_cross_entropy_with_logits(
        chainrule.tensor(z), chainrule.tensor(t), reduction="none",
        pos_weight=chainrule.tensor(p), weight=chainrule.tensor(w))
    numpy.testing.assert_allclose(losses.numpy(), expected)
    logits = chainrule.tensor(z, requires_grad=True)
    F.binary_cross_entropy_with_logits(logits, chainrule.tensor(t), reduction="sum",
                                       pos_weight=chainrule.tensor(p)).backward()
    # ∂ℓ/∂z = σ(z)(p t + 1 − t) − p t
    numpy.testing.assert_allclose(logits.grad.numpy(), sigma * (p * t + 1 - t) - p * t)
