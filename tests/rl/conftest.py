"""Hand-made policies with known answers (one balances CartPole's pole, one walks into a wall
of CliffWalking), and a bound on the steps a test may play."""
import itertools

import numpy
import pytest

import chainrule
from chainrule import rl


@pytest.fixture
def balancing_policy() -> rl.PolicyNetwork:
    """Push towards where the pole leans: action 1 (right) iff u·s > 0, u weighting the cart's
    position and velocity a little and the pole's angle and angular velocity a lot. Two ReLU
    units hold u·s and −u·s, and the logits are (relu(−u·s), relu(u·s))."""
    policy = rl.PolicyNetwork(4, 2, hidden=2)
    u = numpy.array([0.1, 0.5, 10.0, 2.0], dtype=numpy.float32)
    with chainrule.no_grad():
        policy.hidden.weight.copy_(numpy.stack([u, -u]))
        policy.hidden.bias.zero_()
        policy.output.weight.copy_(numpy.array([[0.0, 1.0], [1.0, 0.0]], dtype=numpy.float32))
        policy.output.bias.zero_()
    return policy


@pytest.fixture
def wall_policy() -> rl.PolicyNetwork:
    """On CliffWalking-v1 (48 squares one-hot, 4 actions), always up (action 0): from the start,
    bottom left, it climbs to the top row and then walks into the wall for ever, one reward of
    −1 per step; the game never ends it."""
    policy = rl.PolicyNetwork(48, 4, hidden=1)
    with chainrule.no_grad():
        for parameter in policy.parameters():
            parameter.zero_()
        policy.output.bias.copy_(numpy.array([1.0, 0.0, 0.0, 0.0], dtype=numpy.float32))
    return policy


@pytest.fixture
def at_most_steps(monkeypatch):
    """``at_most_steps(n)``: any policy refuses to act more than n times in all, so that an
    episode nobody cuts fails the test instead of hanging it."""
    def bound(steps: int) -> None:
        act, calls = rl.PolicyNetwork.act, itertools.count(1)

        def counted(policy, *args, **options):
            assert next(calls) <= steps, f"more than {steps} steps played: an episode was not cut"
            return act(policy, *args, **options)

        monkeypatch.setattr(rl.PolicyNetwork, "act", counted)
    return bound
