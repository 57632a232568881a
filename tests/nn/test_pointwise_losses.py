"""L1, smooth L1, Huber and KL-divergence losses: PyTorch's formulas, settings and reductions."""
import warnings

import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.errors import ShapeError
from chainrule.nn import functional as F


def _pair(seed=0, shape=(6, 5)):
    rng = numpy.random.default_rng(seed)
    y, t = rng.normal(0, 2, size=shape), rng.normal(0, 2, size=shape)
    return y, t, chainrule.tensor(y, requires_grad=True), chainrule.tensor(t)


def _huber(d, delta):
    size = numpy.abs(d)
    return numpy.where(size < delta, 0.5 * d * d, delta * (size - 0.5 * delta))


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_loss_is_quadratic_inside_delta_and_linear_outside(delta):
    y, t, y_t, t_t = _pair()
    d = y - t
    assert (numpy.abs(d) < delta).any() and (numpy.abs(d) > delta).any()
    loss = F.huber_loss(y_t, t_t, delta=delta)
    numpy.testing.assert_allclose(loss.item(), _huber(d, delta).mean(), rtol=1e-13)
    loss.backward()  # the slope is d clamped to ±δ, over the number of elements
    numpy.testing.assert_allclose(y_t.grad.numpy(), numpy.clip(d, -delta, delta) / d.size,
                                  rtol=1e-13)


def test_huber_loss_takes_reduction_and_delta_by_position_as_in_pytorch():
    y, t, y_t, t_t = _pair(1)
    numpy.testing.assert_allclose(F.huber_loss(y_t, t_t, "sum", 0.5).item(),
                                  _huber(y - t, 0.5).sum(), rtol=1e-13)
    numpy.testing.assert_allclose(F.huber_loss(y_t, t_t, "none").detach().numpy(),
                                  _huber(y - t, 1.0), rtol=1e-13)


@pytest.mark.parametrize("beta", [0.25, 1.0, 3.0])
def test_smooth_l1_loss_is_huber_over_beta(beta):
    y, t, y_t, t_t = _pair(2)
    d = y - t
    numpy.testing.assert_allclose(F.smooth_l1_loss(y_t, t_t, "none", beta=beta).detach().numpy(),
                                  _huber(d, beta) / beta, rtol=1e-13)
    F.smooth_l1_loss(y_t, t_t, "sum", beta=beta).backward()  # slope ±1 beyond β
    numpy.testing.assert_allclose(y_t.grad.numpy(), numpy.clip(d / beta, -1, 1), rtol=1e-13)


def test_smooth_l1_loss_with_beta_zero_is_the_l1_loss_without_nan():
    y, t, y_t, t_t = _pair(3)
    loss = F.smooth_l1_loss(y_t, t_t, beta=0.0)
    loss.backward()
    numpy.testing.assert_allclose(loss.item(), numpy.abs(y - t).mean(), rtol=1e-13)
    numpy.testing.assert_allclose(y_t.grad.numpy(), numpy.sign(y - t) / y.size, rtol=1e-13)


@pytest.mark.parametrize("loss,setting", [(F.huber_loss, {"delta": 0.0}),
                                          (F.huber_loss, {"delta": -1.0}),
                                          (F.smooth_l1_loss, {"beta": -0.5})])
def test_a_setting_out_of_range_is_refused_by_name(loss, setting):
    (name,) = setting
    with pytest.raises(ValueError, match=f"^{loss.__name__}: {name} must be"):
        loss(chainrule.rand(3), chainrule.rand(3), **setting)


@pytest.mark.parametrize("loss", [F.l1_loss, F.huber_loss, F.smooth_l1_loss, F.kl_div])
def test_a_target_of_another_shape_is_refused_naming_both(loss):
    with pytest.raises(ShapeError, match=r"\(4,\) and target of shape \(4, 1\)"):
        loss(chainrule.rand(4), chainrule.rand(4, 1))


def _distributions(seed=4, rows=3, classes=5):
    rng = numpy.random.default_rng(seed)
    logits = rng.normal(size=(rows, classes))
    logp = logits - numpy.log(numpy.exp(logits).sum(1, keepdims=True))
    target = rng.dirichlet(numpy.ones(classes), size=rows)
    return logp, target


def test_kl_div_batchmean_is_the_kl_divergence_per_example():
    logp, target = _distributions()
    per_example = (target * (numpy.log(target) - logp)).sum(axis=1)
    x = chainrule.tensor(logp, requires_grad=True)
    loss = F.kl_div(x, chainrule.tensor(target), reduction="batchmean")
    loss.backward()
    numpy.testing.assert_allclose(loss.item(), per_example.mean(), rtol=1e-13)
    numpy.testing.assert_allclose(x.grad.numpy(), -target / len(target), rtol=1e-13)


def test_kl_div_of_a_zero_probability_is_zero_not_nan():
    logp, target = _distributions()
    target[0] = [0.0, 0.5, 0.0, 0.5, 0.0]
    losses = F.kl_div(chainrule.tensor(logp), chainrule.tensor(target), reduction="none")
    assert (losses.numpy()[0, [0, 2, 4]] == 0).all()
    numpy.testing.assert_allclose(losses.numpy()[0, 1], 0.5 * (numpy.log(0.5) - logp[0, 1]))


def test_kl_div_with_log_target_equals_it_with_the_probabilities():
    logp, target = _distributions()
    x, t = chainrule.tensor(logp), chainrule.tensor(target)
    for reduction in ("sum", "batchmean", "none"):
        numpy.testing.assert_allclose(
            F.kl_div(x, t.log(), reduction=reduction, log_target=True).numpy(),
            F.kl_div(x, t, reduction=reduction).numpy(), rtol=1e-13)


def test_kl_div_mean_divides_by_every_element_and_warns_as_pytorch_does():
    logp, target = _distributions()
    with pytest.warns(UserWarning, match="batchmean"):
        loss = F.kl_div(chainrule.tensor(logp), chainrule.tensor(target))
    numpy.testing.assert_allclose(loss.item(), (target * (numpy.log(target) - logp)).mean(),
                                  rtol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(chainrule.tensor(logp), chainrule.tensor(target), reduction="batchmean")


def test_kl_div_refuses_an_unknown_reduction_naming_batchmean():
    with pytest.raises(ValueError, match="'mean', 'batchmean', 'sum' or 'none', not 'avg'"):
        F.kl_div(chainrule.rand(3), chainrule.rand(3), "avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_loss_modules_equal_their_functional_forms(reduction):
    y, t, y_t, t_t = _pair(5)
    pairs = [(nn.L1Loss(reduction), F.l1_loss(y_t, t_t, reduction)),
             (nn.HuberLoss(reduction, delta=0.7), F.huber_loss(y_t, t_t, reduction, delta=0.7)),
             (nn.SmoothL1Loss(reduction, beta=0.7),
              F.smooth_l1_loss(y_t, t_t, reduction, beta=0.7))]
    for module, functional_loss in pairs:
        numpy.testing.assert_array_equal(module(y_t, t_t).detach().numpy(),
                                         functional_loss.detach().numpy())


def test_kl_div_loss_module_passes_reduction_and_log_target():
    logp, target = _distributions()
    x, t = chainrule.tensor(logp), chainrule.tensor(target)
    module = nn.KLDivLoss(reduction="batchmean", log_target=True)
    assert module(x, t.log()).item() == F.kl_div(x, t.log(), "batchmean", log_target=True).item()
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be"):
        nn.KLDivLoss(reduction="average")
