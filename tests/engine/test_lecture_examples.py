"""The lecture's worked examples, computed by the engine and by the slides' closed forms."""
import math

import pytest

import chainrule


def sigma(z):
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize("w,x,b,t", [(0.5, 2.0, 0.1, 1.0), (-1.3, 0.7, 2.0, 0.0)])
def test_univariate_chain_rule_gives_the_slides_four_derivatives(w, x, b, t):
    W = chainrule.tensor(w, dtype=chainrule.float64, requires_grad=True)
    B = chainrule.tensor(b, dtype=chainrule.float64, requires_grad=True)
    z = W * x + B
    y = z.sigmoid()
    L = 0.5 * (y - t) ** 2
    for node in (z, y, L):
        node.retain_grad()
    L.backward()

    y_value = sigma(w * x + b)
    y_bar = y_value - t                           # ȳ = y − t
    z_bar = y_bar * y_value * (1 - y_value)       # z̄ = ȳ σ′(z)
    assert L.item() == pytest.approx(0.5 * (y_value - t) ** 2, rel=1e-12)
    assert L.grad.item() == pytest.approx(1.0)
    assert y.grad.item() == pytest.approx(y_bar, rel=1e-12)
    assert z.grad.item() == pytest.approx(z_bar, rel=1e-12)
    assert W.grad.item() == pytest.approx(z_bar * x, rel=1e-12)   # w̄ = z̄ x
    assert B.grad.item() == pytest.approx(z_bar, rel=1e-12)       # b̄ = z̄


@pytest.mark.parametrize("t", [0.3, 1.1, -2.0])
def test_multivariate_chain_rule_sums_both_paths(t):
    T = chainrule.tensor(t, dtype=chainrule.float64, requires_grad=True)
    x = T.cos()
    y = T ** 2
    f = y + (x * y).exp()       # y is used twice: fan-out, two terms in ȳ
    f.backward()
    xv, yv = math.cos(t), t * t
    expected = yv * math.exp(xv * yv) * (-math.sin(t)) + (1 + xv * math.exp(xv * yv)) * 2 * t
    assert T.grad.item() == pytest.approx(expected, rel=1e-12)
