"""Softplus, log-sigmoid and leaky ReLU: PyTorch's settings, values at the extremes, slopes."""
import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import functional as F

EXTREMES = numpy.array([-800.0, -120.0, -30.0, -1.0, 0.0, 1e-8, 2.0, 30.0, 120.0, 800.0])


def test_softplus_is_log_one_plus_exp_over_beta_and_the_line_past_the_threshold():
    x = chainrule.tensor(EXTREMES, dtype=chainrule.float64)
    beta, threshold = 2.0, 10.0
    expected = numpy.where(beta * EXTREMES > threshold, EXTREMES,
                           numpy.logaddexp(0, beta * EXTREMES) / beta)
    numpy.testing.assert_allclose(F.softplus(x, beta=beta, threshold=threshold).numpy(),
                                  expected, rtol=1e-15)


def test_softplus_keeps_tiny_values_of_very_negative_inputs_in_float32():
    # log(1 + e⁻⁶⁰) rounds to 0 in float32; the value is e⁻⁶⁰ ≈ 8.76e-27
    out = F.softplus(chainrule.tensor([-60.0]))
    assert out.dtype == chainrule.float32
    numpy.testing.assert_allclose(out.detach().numpy(), [numpy.exp(-60.0)], rtol=1e-6)


def test_softplus_slope_is_the_sigmoid_of_beta_x_and_one_on_the_line():
    x = chainrule.tensor(EXTREMES, dtype=chainrule.float64, requires_grad=True)
    F.softplus(x, beta=0.5, threshold=5.0).sum().backward()
    expected = numpy.where(0.5 * EXTREMES > 5.0, 1.0, 1 / (1 + numpy.exp(-0.5 * EXTREMES)))
    numpy.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-15)


def test_logsigmoid_has_no_overflow_at_either_end():
    x = chainrule.tensor(EXTREMES, dtype=chainrule.float32, requires_grad=True)
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):
        out = F.logsigmoid(x)
        out.sum().backward()
    a = EXTREMES
    expected = numpy.minimum(a, 0) - numpy.log1p(numpy.exp(-numpy.abs(a)))
    numpy.testing.assert_allclose(out.detach().numpy(), expected.astype(numpy.float32), rtol=1e-6)
    assert out.detach().numpy()[0] == -800.0  # not -inf, as log(sigmoid(x)) gives
    numpy.testing.assert_allclose(x.grad.numpy(), numpy.exp(-numpy.logaddexp(0, a)), rtol=1e-6,
                                  atol=1e-30)


def test_leaky_relu_scales_negatives_and_its_slope_at_zero_is_the_negative_slope():
    x = chainrule.tensor([-2.0, 0.0, 3.0], dtype=chainrule.float64, requires_grad=True)
    out = F.leaky_relu(x, 0.2)
    out.sum().backward()
    numpy.testing.assert_allclose(out.detach().numpy(), [-0.4, 0.0, 3.0])
    numpy.testing.assert_allclose(x.grad.numpy(), [0.2, 0.2, 1.0])
    numpy.testing.assert_allclose(F.leaky_relu(x).detach().numpy(), [-0.02, 0.0, 3.0])


@pytest.mark.parametrize("module,function", [
    (nn.Softplus(beta=3.0, threshold=4.0), lambda x: F.softplus(x, 3.0, 4.0)),
    (nn.LeakyReLU(0.3, inplace=True), lambda x: F.leaky_relu(x, negative_slope=0.3)),
    (nn.LogSigmoid(), F.logsigmoid)])
def test_activation_modules_pass_their_settings_to_the_functions(module, function):
    x = chainrule.randn(4, 5)
    numpy.testing.assert_array_equal(module(x).numpy(), function(x).numpy())
    assert x.numpy().min() < 0  # the negative side, where the settings matter, is tried


def test_activation_modules_show_their_settings():
    assert repr(nn.Softplus(2.0)) == "Softplus(beta=2.0, threshold=20.0)"
    assert repr(nn.LeakyReLU(0.1, inplace=True)) == "LeakyReLU(negative_slope=0.1, inplace=True)"
