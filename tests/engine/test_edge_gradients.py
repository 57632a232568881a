"""Gradients at the edge values where a formula reads 0·inf or 0/0: each must be PyTorch's
number (a finite subgradient), never a nan that poisons every weight it reaches. Values are
checked against closed forms, gradients against finite differences in float64."""
import numpy
import pytest

import chainrule
import chainrule.nn.functional as F


def float64(values, requires_grad=True):
    return chainrule.tensor(values, dtype=chainrule.float64, requires_grad=requires_grad)


def test_polynomial_features_at_zero_have_the_gradient_of_the_polynomial():
    # x ** [0, 1, 2] · c at x = 0: the derivative is c₁ (b·a^(b−1) was 0·0⁻¹ = nan for x⁰)
    x = float64([0.0, 0.0, 1.5])
    powers = chainrule.arange(3).to(chainrule.float64)
    coefficients = chainrule.tensor([2.0, -3.0, 0.5], dtype=chainrule.float64)
    features = x.unsqueeze(1) ** powers
    (features * coefficients).sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [-3.0, -3.0, -3.0 + 2 * 0.5 * 1.5])
    assert chainrule.gradcheck(lambda a: (a.unsqueeze(1) ** powers * coefficients).sum(1), [x])


def test_second_derivative_of_a_first_power_at_zero_is_zero():
    x = float64([0.0, 2.0])
    (first,) = chainrule.autograd.grad((x ** 1 + x ** 0).sum(), x, create_graph=True)
    (second,) = chainrule.autograd.grad(first.sum(), x)
    numpy.testing.assert_array_equal(second.numpy(), [0.0, 0.0])
    assert chainrule.gradgradcheck(lambda a: a ** 1 + a ** 0, [x])


def test_exponent_gradient_at_a_zero_base_is_zero():
    # 0 ** b is 0 for every b > 0 (and 1 at b = 0): aᵇ·ln a read 0·(−inf) = nan there
    base = float64([0.0, 0.0, 2.0], requires_grad=False)
    exponent = float64([1.5, 0.0, 0.5])
    (base ** exponent).sum().backward()
    numpy.testing.assert_allclose(exponent.grad.numpy(), [0.0, 0.0, 2 ** 0.5 * numpy.log(2)])
    positive = float64([1.5, 2.0, 0.5])
    assert chainrule.gradcheck(lambda b: base ** b, [positive])


def test_standardising_a_constant_row_sends_no_nan_back():
    # std's derivative (x − x̄)/((n − 1)·std) is 0/0 on a constant row: PyTorch's is 0 there
    x = float64([[0.3, 0.3, 0.3], [1.0, -2.0, 0.5]])
    standardised = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-5)
    (standardised * chainrule.tensor([[1.0, 2.0, 3.0]], dtype=chainrule.float64)).sum().backward()
    assert numpy.isfinite(x.grad.numpy()).all()


def test_std_of_a_constant_row_has_gradient_zero_to_every_order():
    x = float64([[0.3, 0.3, 0.3], [1.0, -2.0, 0.5]])
    (first,) = chainrule.autograd.grad(x.std(dim=1).sum(), x, create_graph=True)
    (second,) = chainrule.autograd.grad((first * first).sum(), x)
    numpy.testing.assert_array_equal(first.detach().numpy()[0], [0.0, 0.0, 0.0])
    assert numpy.isfinite(second.numpy()).all()
    assert chainrule.gradgradcheck(lambda a: a.std(dim=1), [float64([[1.0, -2.0, 0.5]])])


def test_std_of_distinct_values_keeps_its_closed_form_gradient():
    x = float64([1.0, -2.0, 0.5, 4.0])
    x.std().backward()
    values = x.detach().numpy()
    spread = values.std(ddof=1)
    numpy.testing.assert_allclose(x.grad.numpy(), (values - values.mean()) / (3 * spread))


def padding_only_batch():
    logits = float64([[0.2, -1.0, 0.5], [1.5, 0.3, -0.7]])
    return logits, chainrule.tensor([-100, -100])


def test_cross_entropy_of_a_batch_of_padding_is_nan_with_gradient_zero():
    # the mean over no kept row is 0/0: PyTorch answers nan, and sends gradient 0 back
    for loss_of in (lambda z, t: F.cross_entropy(z, t),
                    lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1),
                    lambda z, t: F.nll_loss(F.log_softmax(z, dim=1), t)):
        logits, labels = padding_only_batch()
        loss = loss_of(logits, labels)
        assert numpy.isnan(loss.item())
        loss.backward()
        numpy.testing.assert_array_equal(logits.grad.numpy(), numpy.zeros((2, 3)))


def test_cross_entropy_mean_over_the_rows_kept_keeps_its_gradient():
    logits = float64([[0.2, -1.0, 0.5], [1.5, 0.3, -0.7], [0.0, 0.4, 0.1]])
    labels = chainrule.tensor([2, -100, 0])
    weight = chainrule.tensor([1.0, 2.0, 0.5], dtype=chainrule.float64)
    loss = F.cross_entropy(logits, labels, weight=weight)
    values = logits.detach().numpy()
    log_p = values - numpy.log(numpy.exp(values).sum(axis=1, keepdims=True))
    expected = -(0.5 * log_p[0, 2] + 1.0 * log_p[2, 0]) / 1.5
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    assert chainrule.gradcheck(lambda z: F.cross_entropy(z, labels, weight=weight), [logits])


def test_binary_cross_entropy_of_saturated_float32_probabilities_is_finite():
    # σ(30) and σ(−120) are exactly 1 and 0 in float32: a right answer costs 0 and a wrong one 100
    # (PyTorch's floor on each log), where clamping y to 1 − 10⁻¹² (which rounds to 1) gave nan, inf
    z = chainrule.tensor([30.0, -120.0, 30.0, -120.0], requires_grad=True)
    target = chainrule.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(z.sigmoid(), target, reduction="none")
    numpy.testing.assert_allclose(loss.detach().numpy(), [0.0, 0.0, 100.0, 100.0])
    loss.sum().backward()
    assert numpy.isfinite(z.grad.numpy()).all()


def test_binary_cross_entropy_of_a_tiny_probability_is_its_log():
    # y = 1e-30 is a probability like any other in float64: −log y, not −log of a clamp at 1e-12
    y = float64([1e-30, 0.25, 0.0])
    target = chainrule.tensor([1.0, 0.6, 0.0], dtype=chainrule.float64)
    loss = F.binary_cross_entropy(y, target, reduction="none")
    expected = [-numpy.log(1e-30), -(0.6 * numpy.log(0.25) + 0.4 * numpy.log(0.75)), 0.0]
    numpy.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-12)
    inside = float64([0.3, 0.9, 1e-3])
    assert chainrule.gradcheck(lambda p: F.binary_cross_entropy(p, target, reduction="none"),
                               [inside])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_of_large_negative_inputs_keeps_its_relative_precision(dtype):
    # σ(z) = e^z / (1 + e^z); computed as ½(1 + tanh(z/2)) it cancelled to 0 from z ≈ −17 (float32)
    z = numpy.array([-5.0, -15.0, -20.0, -40.0, -80.0, 0.0, 3.0, 40.0])
    exact = numpy.exp(z) / (1 + numpy.exp(z))
    got = chainrule.tensor(z, dtype=dtype).sigmoid().numpy()
    epsilon = numpy.finfo(dtype).eps
    numpy.testing.assert_allclose(got, exact.astype(dtype), rtol=4 * epsilon, atol=0)
    assert numpy.isfinite(chainrule.tensor(z, dtype=dtype).sigmoid().log().numpy()).all()


def test_hessian_of_the_euclidean_norm_at_a_zero_entry():
    # ∂²‖a‖/∂a² = (I − a aᵀ/‖a‖²)/‖a‖, smooth wherever a ≠ 0, zero entries included
    a = float64([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    (first,) = chainrule.autograd.grad(a.norm(dim=1).sum(), a, create_graph=True)
    (hessian_row,) = chainrule.autograd.grad(first[0, 0], a)
    numpy.testing.assert_allclose(hessian_row.numpy()[0], [1 / 2.5, 0.0, 0.0])
    assert chainrule.gradgradcheck(lambda x: x.norm(dim=1), [a])


def test_norms_below_one_have_gradient_zero_at_zero_entries():
    a = float64([0.0, 1.5, -2.0])
    a.norm(p=0.5).backward()
    assert a.grad.numpy()[0] == 0.0
    assert chainrule.gradcheck(lambda x: x.norm(p=0.5), [float64([0.7, 1.5, -2.0])])


def test_reductions_of_an_empty_tensor_along_its_other_dimensions_are_empty():
    x = float64(numpy.zeros((0, 3)))
    assert x.amax(dim=1).shape == (0,)
    assert x.max(dim=1).indices.shape == (0,)
    assert x.norm(p=float("inf"), dim=1).shape == (0,)
    assert x.logsumexp(dim=1).shape == (0,)
    with pytest.raises(ValueError, match=r"amax: dimension 0, of size 0,.*shape \(0, 3\)"):
        x.amax(dim=0)


def test_logsumexp_over_no_elements_is_minus_infinity():
    x = float64(numpy.zeros((0, 3)))
    numpy.testing.assert_array_equal(x.logsumexp(dim=0).detach().numpy(), [-numpy.inf] * 3)
    x.logsumexp(dim=0).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("settings", [{}, {"weight": [1.0, 2.0, 0.5]}, {"label_smoothing": 0.1},
                                      {"reduction": "sum"}, {"reduction": "none"}])
def test_an_ignored_row_costs_nothing_whatever_its_log_probabilities(settings):
    # class 0 masked out with −inf in the ignored row: −inf · 0 made the loss nan
    logits = float64([[0.3, 1.0, 2.0], [-numpy.inf, 0.5, 0.1]])
    labels = chainrule.tensor([2, -100])
    if "weight" in settings:
        settings = {"weight": chainrule.tensor(settings["weight"], dtype=chainrule.float64)}
    loss = F.cross_entropy(logits, labels, **settings)
    log_p = numpy.log(numpy.exp([0.3, 1.0, 2.0]) / numpy.exp([0.3, 1.0, 2.0]).sum())
    smoothing = settings.get("label_smoothing", 0.0)
    expected = -(1 - smoothing) * log_p[2] - smoothing * log_p.mean()
    if settings.get("reduction") == "none":
        numpy.testing.assert_allclose(loss.detach().numpy(), [expected, 0.0], rtol=1e-12)
    else:
        assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.sum().backward()
    numpy.testing.assert_array_equal(logits.grad.numpy()[1], [0.0, 0.0, 0.0])
    assert numpy.isfinite(logits.grad.numpy()).all()
