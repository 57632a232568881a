"""The slides' vectorised backprop formulas agree with the engine on a real minibatch."""
import numpy
import pytest

import chainrule
import chainrule.nn as nn
import chainrule.nn.functional as F


def minibatch_loss(activation: str, reduction: str = "mean", shape=(6, 4)):
    chainrule.manual_seed(3)
    unit = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    net = nn.Sequential(nn.Linear(4, 5), unit(), nn.Linear(5, 3)).double()
    x = chainrule.randn(*shape, dtype=chainrule.float64)
    x.name = "x"
    labels = chainrule.randint(0, 3, shape[:-1])
    labels.name = "t"
    logits = net(x)
    if reduction == "mean":
        return F.cross_entropy(logits, labels)
    return F.cross_entropy(logits, labels, reduction="none").sum()


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_every_layers_formula_agrees_with_the_engine_to_1e12(activation):
    steps = chainrule.explain(minibatch_loss(activation)).matrix_form()
    names = [step.name for step in steps]
    assert names[0] != "x" and names[-1] == "0.bias"  # output side first, the first layer last
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(names)
    for step in steps:
        assert step.by_formula.shape == step.by_engine.shape, step.formula
        numpy.testing.assert_allclose(step.by_formula, step.by_engine, rtol=0, atol=1e-12,
                                      err_msg=step.formula)


def test_the_formulas_are_written_as_the_slides_write_them():
    text = str(chainrule.explain(minibatch_loss("sigmoid")).matrix_form())
    assert "2.weight̄ = Σₙ linear2̄ₙ sigmoid1ₙᵀ" in text            # W̄ = z̄ hᵀ
    assert "sigmoid1̄ = 2.weightᵀ linear2̄" in text                  # h̄ = Wᵀ z̄
    assert "linear1̄ = sigmoid1̄ ⊙ σ(z)(1 − σ(z))" in text           # z̄ = h̄ ⊙ σ′(z)
    assert "(softmax(linear2) − onehot(t))/N" in text


def test_a_wrong_engine_gradient_would_show_as_a_difference():
    steps = chainrule.explain(minibatch_loss("relu")).matrix_form()
    step = steps[0]
    step.by_engine = step.by_engine * 2
    assert step.difference > 1e-3


def test_a_per_sample_loss_over_a_batch_of_sequences():
    steps = chainrule.explain(minibatch_loss("tanh", reduction="none", shape=(2, 3, 4))).matrix_form()
    assert steps and all(step.difference < 1e-12 for step in steps)
