"""REINFORCE: returns by hand, the loss and its gradient in closed form, sampling, and learning."""
import numpy
import pytest

import chainrule
from chainrule import rl
from chainrule.nn import functional as F


def test_discounted_returns_match_a_hand_computation():
    # G₂ = 2;  G₁ = 0 + ½·2 = 1;  G₀ = 1 + ½·1 = 1.5
    assert rl.discounted_returns([1.0, 0.0, 2.0], gamma=0.5) == pytest.approx([1.5, 1.0, 2.0])


def test_a_truncated_episode_continues_from_the_value_of_its_final_state():
    # G₁ = 1 + ½·V(s₂) = 1 + ½·4 = 3;  G₀ = 1 + ½·3 = 2.5
    assert rl.discounted_returns([1.0, 1.0], gamma=0.5, final_value=4.0) == pytest.approx([2.5, 3.0])


def test_undiscounted_returns_are_the_rewards_still_to_come():
    assert rl.discounted_returns([1.0] * 4, gamma=1.0) == pytest.approx([4.0, 3.0, 2.0, 1.0])


def test_discounted_returns_of_cartpole_rewards_are_a_geometric_sum():
    gamma, steps = 0.99, 50
    returns = rl.discounted_returns(numpy.ones(steps), gamma)
    remaining = numpy.arange(steps, 0, -1)
    assert returns == pytest.approx((1 - gamma ** remaining) / (1 - gamma))


def test_normalise_gives_mean_zero_and_unit_deviation():
    normalised = rl.normalise(numpy.array([1.0, 2.0, 4.0, 9.0]))
    assert normalised.mean() == pytest.approx(0.0, abs=1e-12)
    assert normalised.std() == pytest.approx(1.0, rel=1e-6)


def test_normalise_of_a_constant_is_zero_not_nan():
    assert rl.normalise(numpy.full(3, 7.0)) == pytest.approx([0.0, 0.0, 0.0])


def test_sample_action_draws_each_action_with_its_probability():
    generator = numpy.random.default_rng(0)
    probabilities = numpy.array([0.2, 0.5, 0.3], dtype=numpy.float32)
    draws = [rl.sample_action(probabilities, generator) for _ in range(20000)]
    assert numpy.bincount(draws, minlength=3) / len(draws) == pytest.approx([0.2, 0.5, 0.3],
                                                                            abs=0.015)


def test_sample_action_never_draws_an_impossible_action():
    generator = numpy.random.default_rng(1)
    assert {rl.sample_action(numpy.array([0.0, 1.0, 0.0]), generator) for _ in range(200)} == {1}


def test_rollout_probabilities_are_the_softmax_of_the_batched_forward_pass():
    chainrule.manual_seed(0)
    policy = rl.PolicyNetwork(4, 3, hidden=8, activation="tanh")
    states = numpy.random.default_rng(0).normal(size=(5, 4)).astype(numpy.float32)
    batched = F.softmax(policy(chainrule.tensor(states)), dim=1).detach().numpy()
    one_at_a_time = numpy.stack([policy.probabilities(state) for state in states])
    assert one_at_a_time == pytest.approx(batched, rel=1e-5, abs=1e-7)


def test_policy_gradient_loss_and_its_gradient_match_the_closed_form():
    # L = −Σₜ Aₜ log π(aₜ|sₜ); with logits z = W₂h + b₂, ∂L/∂b₂ = −Σₜ Aₜ (onehot(aₜ) − π(·|sₜ)).
    chainrule.set_default_dtype(chainrule.float64)
    try:
        chainrule.manual_seed(0)
        policy = rl.PolicyNetwork(4, 3, hidden=6)
        generator = numpy.random.default_rng(2)
        states = generator.normal(size=(7, 4))
        actions = generator.integers(0, 3, size=7)
        advantages = generator.normal(size=7)
        loss = rl.policy_gradient_loss(policy, chainrule.tensor(states), chainrule.tensor(actions),
                                       chainrule.tensor(advantages))
        loss.backward()
        probabilities = numpy.stack([policy.probabilities(state) for state in states])
        onehot = numpy.eye(3)[actions]
        expected_loss = -(advantages * numpy.log(probabilities[numpy.arange(7), actions])).sum()
        expected_bias_gradient = -(advantages[:, None] * (onehot - probabilities)).sum(axis=0)
    finally:
        chainrule.set_default_dtype(chainrule.float32)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-10)
    assert policy.output.bias.grad.numpy() == pytest.approx(expected_bias_gradient, rel=1e-9,
                                                            abs=1e-12)


def test_an_update_steps_on_the_hand_computed_gradient_of_a_truncated_episode():
    # Gₜ from G_T = V(s_T), Aₜ = Gₜ − V(sₜ) with V before its own step, A normalised; then
    # ∂L/∂b₂ = −Σₜ Aₜ (onehot(aₜ) − π(·|sₜ)) and the value loss mean((V − G)²) has
    # ∂/∂b = 2 mean(V − G) at the value network's last bias.
    chainrule.set_default_dtype(chainrule.float64)
    try:
        chainrule.manual_seed(0)
        agent = rl.Reinforce(rl.ReinforceConfig(gamma=0.9, hidden=5), 3, 2)
        generator = numpy.random.default_rng(0)
        states, final_state = generator.normal(size=(4, 3)), generator.normal(size=3)
        actions, rewards = numpy.array([0, 1, 1, 0]), numpy.array([1.0, 0.0, 2.0, 1.0])
        with chainrule.no_grad():
            values = agent.value(chainrule.tensor(numpy.vstack([states, final_state]))).numpy()
        probabilities = numpy.stack([agent.policy.probabilities(state) for state in states])
        agent.update(rl.Episode(states, actions, rewards, final_state, truncated=True))
        policy_bias_gradient = agent.policy.output.bias.grad.numpy()
        value_bias_gradient = list(agent.value.parameters())[-1].grad.numpy()
    finally:
        chainrule.set_default_dtype(chainrule.float32)
    returns, following = numpy.zeros(4), values[4]
    for t in reversed(range(4)):
        following = rewards[t] + 0.9 * following
        returns[t] = following
    advantages = returns - values[:4]
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    expected = -(advantages[:, None] * (numpy.eye(2)[actions] - probabilities)).sum(axis=0)
    assert policy_bias_gradient == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert value_bias_gradient == pytest.approx([2 * (values[:4] - returns).mean()], rel=1e-9)


def test_a_config_with_an_impossible_discount_is_refused():
    with pytest.raises(ValueError, match="gamma"):
        rl.ReinforceConfig(gamma=1.5)


@pytest.mark.parametrize("rates", [{"lr": float("nan")}, {"value_lr": float("inf")},
                                   {"lr": 0.0}])
def test_a_config_with_a_learning_rate_that_cannot_train_is_refused(rates):
    # NaN and inf would pass a "≤ 0" test and stop the first update with "diverged: try a
    # smaller learning rate", which would not say what is wrong
    with pytest.raises(ValueError, match="learning rates must be positive and finite"):
        rl.ReinforceConfig(**rates)


def test_training_is_reproducible_with_a_seed():
    first = rl.train(rl.ReinforceConfig(seed=3), episodes=12).returns
    again = rl.train(rl.ReinforceConfig(seed=3), episodes=12).returns
    other = rl.train(rl.ReinforceConfig(seed=4), episodes=12).returns
    assert first == again
    assert first != other


def test_a_short_training_run_clearly_beats_a_random_policy():
    # A random policy balances the pole for about 22 steps. With the update's sign flipped, the
    # same run ends near 9 (the agent learns to drop the pole at once); learning, near 270.
    result = rl.train(rl.ReinforceConfig(seed=0), episodes=150)
    assert len(result.returns) == 150 and result.solved_at_episode is None
    assert numpy.mean(result.returns[-20:]) > 60


@pytest.mark.parametrize("given, used", [(None, 500), (30, 30)])
def test_the_trained_config_records_the_time_limit_its_episodes_had(given, used):
    config = rl.ReinforceConfig(hidden=4, max_episode_steps=given)
    result = rl.train(config, episodes=1, progress=False)
    assert result.agent.config.max_episode_steps == used
    assert result.metrics()["config"]["max_episode_steps"] == used
    assert config.max_episode_steps == given  # the caller's config is left as it was
