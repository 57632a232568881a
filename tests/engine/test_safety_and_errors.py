"""Finite values at extreme inputs, and errors that tell the user what to do."""
import numpy
import pytest

import chainrule
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
