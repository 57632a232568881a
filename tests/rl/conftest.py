"""A hand-made CartPole policy that balances the pole: a known answer for ``play``."""
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
