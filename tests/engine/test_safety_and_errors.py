"""Finite values at extreme inputs, and errors that tell the user what to do."""
import numpy
import pytest

import chainrule
from chainrule.ops.fused import labels_in_range
import chainrule.nn.functional as F

BIG = numpy.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=numpy.float32)


def finite_value_and_gradient(function):
    x = chainrule.tensor(BIG, requires_grad=True)
    out = function(x)
    out.sum().backward()
    return bool(numpy.isfinite(out.detach().numpy()).all() and numpy.isfinite(x.grad.numpy()).all())


@pytest.mark.parametrize("function", [
    lambda x: x.sigmoid(),
    lambda x: x.softmax(dim=1),
    lambda x: x.log_softmax(dim=1),
    lambda x: x.logsumexp(dim=1),
    lambda x: F.cross_entropy(x, chainrule.tensor([1, 0])),
    lambda x: F.binary_cross_entropy_with_logits(x, chainrule.ones(2, 3)),
], ids=["sigmoid", "softmax", "log_softmax", "logsumexp", "cross_entropy", "bce_with_logits"])
def test_stable_at_magnitude_1e4_in_float32(function):
    assert finite_value_and_gradient(function)


def test_cross_entropy_at_1e4_is_exact():
    logits = chainrule.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = F.cross_entropy(logits, chainrule.tensor([1]))
    assert loss.item() == pytest.approx(2e4)
    loss.backward()
    numpy.testing.assert_allclose(logits.grad.numpy(), [[1, -1, 0]], atol=1e-6)


def test_matmul_shape_error_names_the_op_and_both_shapes():
    with pytest.raises(chainrule.ShapeError) as caught:
        chainrule.zeros(128, 784) @ chainrule.zeros(256, 10)
    assert str(caught.value) == ("matmul: cannot multiply (128, 784) by (256, 10): inner sizes "
                                 "784 and 256 differ")


def test_broadcast_error_names_the_op_and_both_shapes():
    with pytest.raises(chainrule.ShapeError, match=r"add: .*\(3, 4\) and \(5,\)"):
        chainrule.zeros(3, 4) + chainrule.zeros(5)


def test_backward_from_a_non_scalar_needs_a_gradient():
    x = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*scalar"):
        (x * 2).backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        chainrule.tensor([1, 2, 3], requires_grad=True)


def test_unknown_dtype_is_named():
    with pytest.raises(TypeError, match="'float24'"):
        chainrule.zeros(3, dtype="float24")


def test_comparisons_return_bool_tensors_without_gradient():
    x = chainrule.randn(4, requires_grad=True)
    mask = x > 0
    assert mask.dtype == chainrule.bool and not mask.requires_grad


def test_defaults_follow_pytorch():
    assert chainrule.tensor([1.5, 2.0]).dtype == chainrule.float32
    assert chainrule.tensor([1, 2]).dtype == chainrule.int64
    assert chainrule.arange(5).dtype == chainrule.int64
    assert chainrule.randn(2, 3).dtype == chainrule.float32


def test_manual_seed_makes_random_tensors_repeat():
    chainrule.manual_seed(7)
    first = chainrule.randn(5).numpy()
    chainrule.manual_seed(7)
    numpy.testing.assert_array_equal(first, chainrule.randn(5).numpy())


def test_an_out_of_range_label_is_named_once_with_the_op():
    with pytest.raises(IndexError) as caught:
        F.cross_entropy(chainrule.randn(2, 3), chainrule.tensor([0, 5]))
    assert str(caught.value) == "cross_entropy: label 5 is out of range for 3 classes"


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64"])
@pytest.mark.parametrize("classes", [1, 3, 127, 128, 129, 200, 255, 256, 300])
def test_labels_in_range_agrees_with_checking_both_ends(dtype, classes):
    info = numpy.iinfo(dtype)
    candidates = sorted({info.min, info.min + 1, -101, -100, -1, 0, 1, classes - 1, classes,
                         classes + 1, info.max - 1, info.max})
    for value in [v for v in candidates if info.min <= v <= info.max]:
        for labels in (numpy.array([0, value], dtype=dtype), numpy.array([value], dtype=dtype)):
            expected = bool(((labels >= 0) & (labels < classes)).all())
            assert labels_in_range(labels, classes) is expected, (dtype, classes, value)
    assert labels_in_range(numpy.zeros(0, dtype=dtype), classes) is True


@pytest.mark.parametrize("label", [-1, -100, -128])
def test_a_negative_label_is_named_unless_it_is_the_ignored_one(label):
    logits = chainrule.randn(2, 3)
    labels = chainrule.tensor(numpy.array([0, label], dtype=numpy.int8))
    if label == -100:  # PyTorch's default ignore_index: the row is left out of the mean
        expected = F.cross_entropy(logits[:1], chainrule.tensor([0])).item()
        assert F.cross_entropy(logits, labels).item() == pytest.approx(expected, rel=1e-6)
        return
    with pytest.raises(IndexError) as caught:
        F.cross_entropy(logits, labels)
    assert str(caught.value) == f"cross_entropy: label {label} is out of range for 3 classes"


# ---------------------------------------------------------------- errors keep their kind
def test_a_bad_setting_is_a_value_error_named_once_not_a_shape_error():
    with pytest.raises(ValueError) as caught:
        chainrule.zeros(3, 4).clamp()
    assert type(caught.value) is ValueError
    assert str(caught.value) == "clamp: at least one of min and max must be given"


def _temporary_op(name, error):
    from chainrule.ops.primitive import REGISTRY, primitive

    @primitive(name=name, samples=[], saves=())
    def forward(a):
        raise error
    return forward, lambda: REGISTRY.pop(name)


def test_an_ops_unnamed_value_error_gets_the_ops_name_and_keeps_its_type():
    op, unregister = _temporary_op("probe_value_error", ValueError("no root of a negative count"))
    try:
        with pytest.raises(ValueError) as caught:
            op(chainrule.zeros(2))
    finally:
        unregister()
    assert type(caught.value) is ValueError
    assert str(caught.value) == "probe_value_error: no root of a negative count"


def test_an_arrays_shape_error_inside_an_op_becomes_a_shape_error_naming_the_shapes():
    def broadcast_error():
        try:
            numpy.zeros((3, 4)) + numpy.zeros(5)
        except ValueError as error:
            return error

    op, unregister = _temporary_op("probe_shape_error", broadcast_error())
    try:
        with pytest.raises(chainrule.ShapeError, match=r"probe_shape_error: cannot combine shapes "
                                                       r"\(2, 7\): operands could not be broadcast"):
            op(chainrule.zeros(2, 7))
    finally:
        unregister()


# ---------------------------------------------------------------- softmax at the edges
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_of_a_0d_tensor_is_one_and_log_softmax_zero_as_in_pytorch(dim):
    x = chainrule.tensor(3.0)
    assert x.softmax(dim).item() == 1.0
    assert x.log_softmax(dim).item() == 0.0
    assert x.softmax(dim).shape == ()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_has_the_finite_difference_gradient(op):
    x = chainrule.tensor(0.3, dtype=chainrule.float64, requires_grad=True)
    assert chainrule.gradcheck(lambda t: getattr(t, op)(0) * 2, [x])
    assert chainrule.gradgradcheck(lambda t: getattr(t, op)(0) * 2, [x])


def test_softmax_of_a_0d_tensor_refuses_a_dimension_out_of_range():
    with pytest.raises(IndexError, match="softmax: dimension 1 is out of range"):
        chainrule.tensor(3.0).softmax(1)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "logsumexp"])
@pytest.mark.parametrize("dim", [0, -1])
def test_a_reduction_of_a_0d_tensor_along_dim_0_is_the_value_itself(op, dim):
    x = chainrule.tensor(0.3, dtype=chainrule.float64, requires_grad=True)
    assert getattr(x, op)(dim).item() == pytest.approx(0.3)
    assert chainrule.gradcheck(lambda t: getattr(t, op)(dim) * 2, [x])


def test_shape_ops_on_a_0d_tensor_behave_as_pytorch():
    x = chainrule.tensor(3.0, dtype=chainrule.float64, requires_grad=True)
    assert x.squeeze(0).shape == () and x.squeeze(-1).shape == ()
    flat = x.flatten()
    assert flat.shape == (1,)
    flat.sum().backward()
    assert x.grad.item() == 1.0
    with pytest.raises(chainrule.ShapeError, match="cat: a 0-d tensor .* use stack"):
        chainrule.cat([x, x])
    assert chainrule.stack([x, x]).shape == (2,)


def test_squeeze_refuses_a_dimension_out_of_range_instead_of_wrapping_it():
    with pytest.raises(IndexError, match="squeeze: dimension 5 is out of range"):
        chainrule.zeros(2, 1, 3).squeeze(5)
    with pytest.raises(IndexError, match="squeeze: dimension 1 is out of range"):
        chainrule.tensor(3.0).squeeze(1)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_of_an_empty_tensor_is_empty(op, dim):
    x = chainrule.zeros(0, 3, dtype=chainrule.float64, requires_grad=True)
    out = getattr(x, op)(dim=dim)
    assert out.shape == (0, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 3)


# ---------------------------------------------------------------- only numbers
@pytest.mark.parametrize("make", [
    lambda: chainrule.tensor(["a", "b"]),
    lambda: chainrule.tensor(numpy.array(["a", "b"])),
    lambda: chainrule.tensor(["1.5", "2"], dtype=chainrule.float32),
    lambda: chainrule.tensor(numpy.array(["1.5"]), dtype=chainrule.float32),
    lambda: chainrule.as_tensor(numpy.array(["a"])),
    lambda: chainrule.Tensor(numpy.array([b"a"])),
    lambda: chainrule.tensor("abc"),
], ids=["list", "array", "list-with-dtype", "array-with-dtype", "as_tensor", "bytes", "str"])
def test_a_tensor_of_strings_is_refused(make):
    with pytest.raises(TypeError, match="can't make a tensor from strings.*numbers or bools"):
        make()


@pytest.mark.parametrize("values", [numpy.array([1, "a"], dtype=object), [1 + 2j],
                                    numpy.array(["2020-01-01"], dtype="datetime64[D]")],
                         ids=["object", "complex", "datetime"])
def test_a_tensor_of_other_non_numbers_is_refused(values):
    with pytest.raises(TypeError, match="can't make a tensor from values of dtype"):
        chainrule.tensor(values)


def test_numbers_of_every_kind_are_still_accepted():
    assert chainrule.tensor(numpy.array([1, 2], dtype=numpy.int16)).dtype == numpy.int16
    assert chainrule.tensor([True]).dtype == chainrule.bool
    assert chainrule.tensor([2 ** 70], dtype=chainrule.float64).item() == float(2 ** 70)


# ---------------------------------------------------------------- extremes with NaN
NAN = float("nan")
# (function, the gradient of the row without NaN [7, 2, 4]: its own extreme, or none for a full
# reduction, whose extreme is the NaN of the first row)
EXTREMES = {
    "max()": (lambda t: t.max(), [0.0, 0.0, 0.0]),
    "min()": (lambda t: t.min(), [0.0, 0.0, 0.0]),
    "amax(dim=1)": (lambda t: t.amax(dim=1), [1.0, 0.0, 0.0]),
    "amin(dim=1)": (lambda t: t.amin(dim=1), [0.0, 1.0, 0.0]),
    "max(dim=1).values": (lambda t: t.max(dim=1).values, [1.0, 0.0, 0.0]),
    "min(dim=1).values": (lambda t: t.min(dim=1).values, [0.0, 1.0, 0.0]),
}


@pytest.mark.parametrize("extreme,other_row", EXTREMES.values(), ids=EXTREMES.keys())
def test_the_gradient_of_an_extreme_goes_to_the_nan_that_is_the_extreme(extreme, other_row):
    x = chainrule.tensor([[1.0, NAN, 3.0], [7.0, 2.0, 4.0]], dtype=chainrule.float64,
                         requires_grad=True)
    extreme(x).sum().backward()
    grad = x.grad.numpy()
    assert grad[0].tolist() == [0.0, 1.0, 0.0]
    assert grad[1].tolist() == other_row


def test_two_nans_share_the_gradient_of_the_maximum():
    x = chainrule.tensor([NAN, 1.0, NAN], dtype=chainrule.float64, requires_grad=True)
    x.max().backward()
    assert x.grad.numpy().tolist() == [0.5, 0.0, 0.5]


@pytest.mark.parametrize("write", [lambda t: t.add_(1.0), lambda t: t.zero_(),
                                   lambda t: t.__setitem__(0, 1.0), lambda t: t.__iadd__(1.0)],
                         ids=["add_", "zero_", "__setitem__", "+="])
def test_a_write_into_an_expanded_tensor_names_the_op_and_the_way_out(write):
    x = chainrule.zeros(3, dtype=chainrule.float64)
    expanded = x.expand(2, 3)  # its rows share x's memory: NumPy makes it read-only
    with pytest.raises(RuntimeError, match=r"^(add_|zero_|__setitem__|\+=): the tensor of shape "
                                           r"\(2, 3\) can't be written: it is read-only.*clone\(\)"):
        write(expanded)
    assert x.tolist() == [0.0, 0.0, 0.0] and x._version == 0
