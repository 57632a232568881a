"""The motivation slides run on the same chain rule: explain works on a GPT's per-token loss and
on REINFORCE's loss, and its error signals are the engine's gradients."""
import numpy
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule.models.gpt import GPT, GPTConfig
from chainrule.rl.policy import PolicyNetwork
from chainrule.rl.reinforce import policy_gradient_loss


def test_explain_a_gpts_loss_token_by_token():
    chainrule.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=6, n_layer=1, n_head=2, n_embd=8)).double()
    tokens = chainrule.tensor([[1, 4, 2, 6, 3]])
    targets = chainrule.tensor([[4, 2, 6, 3, 0]])
    logits, _ = model(tokens, targets)
    per_token = F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), reduction="none")
    per_token.name = "token_losses"
    loss = per_token.mean()
    report = chainrule.explain(loss)
    # one cross-entropy per token, and each token's share of the mean is 1/5
    numpy.testing.assert_allclose(report.signals["token_losses"], numpy.full(5, 1 / 5))
    assert report.values["token_losses"].shape == (5,)
    loss.backward()
    for name, parameter in model.named_parameters():
        if name in report.signals:
            numpy.testing.assert_allclose(report.signals[name], parameter.grad.numpy(),
                                          rtol=1e-12, atol=1e-15, err_msg=name)
    assert "wte.weight" in report.signals and "h.0.attn.c_attn.weight" in report.signals


def test_explain_reinforces_loss_step_by_step():
    chainrule.manual_seed(1)
    policy = PolicyNetwork(observation_size=4, action_count=2, hidden=8).double()
    states = chainrule.randn(3, 4, dtype=chainrule.float64)
    actions = chainrule.tensor([0, 1, 1])
    returns = chainrule.tensor([2.5, 1.5, 0.5], dtype=chainrule.float64)
    loss = policy_gradient_loss(policy, states, actions, returns)   # −Σₜ log π(aₜ|sₜ) · Gₜ
    report = chainrule.explain(loss)
    taken = [step for step in report.forward if step.op == "getitem"]
    assert len(taken) == 1 and taken[0].value.shape == (3,)          # log π(aₜ|sₜ), one per step
    # v̄ of log π(aₜ|sₜ) is −Gₜ: each step's return weighs its log-probability
    numpy.testing.assert_allclose(report.signals[taken[0].name], -returns.numpy(), rtol=1e-12)
    loss.backward()
    numpy.testing.assert_allclose(report.signals["output.weight"], policy.output.weight.grad.numpy(),
                                  rtol=1e-12)
