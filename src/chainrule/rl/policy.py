"""The networks: the policy π(a|s) that acts, and the value V(s) that serves as a baseline."""
from __future__ import annotations

import numpy

from .. import backend, nn
from ..nn import functional as F
from ..tensor import Tensor

ACTIVATIONS = {"relu": F.relu, "tanh": F.tanh}


class PolicyNetwork(nn.Module):
    """π(a|s) = softmax(W₂ f(W₁ s + b₁) + b₂): an MLP with one hidden layer, from the
    observation to one logit per action, f being ReLU or tanh."""

    def __init__(self, observation_size: int, action_count: int, hidden: int = 128,
                 activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, "
                             f"not {activation!r}")
        self.activation = activation
        self.hidden = nn.Linear(observation_size, hidden)
        self.output = nn.Linear(hidden, action_count)

    def forward(self, states: Tensor) -> Tensor:
        """The logits, shape (N, actions), of a batch of states, shape (N, observation size)."""
        return self.output(ACTIVATIONS[self.activation](self.hidden(states)))

    def probabilities(self, state: numpy.ndarray) -> numpy.ndarray:
        """π(·|s) for one state, as a host array.

        The same math as ``forward`` followed by a softmax, written with plain arrays: a rollout
        step needs no graph, and skipping the Tensor machinery makes it about 3× faster.
        """
        xp = backend.xp
        hidden = self.hidden.weight.data @ xp.asarray(state) + self.hidden.bias.data
        hidden = xp.maximum(hidden, 0) if self.activation == "relu" else xp.tanh(hidden)
        logits = self.output.weight.data @ hidden + self.output.bias.data
        exps = xp.exp(logits - logits.max())  # shifted by the max: never overflows
        return backend.to_numpy(exps / exps.sum())

    def act(self, state: numpy.ndarray, generator: numpy.random.Generator | None = None,
            greedy: bool = False) -> int:
        """An action drawn from π(·|s) or, ``greedy``, the most probable one."""
        probabilities = self.probabilities(state)
        if greedy:
            return int(probabilities.argmax())
        return sample_action(probabilities, generator or backend.generator())


class ValueNetwork(nn.Module):
    """V(s): an MLP from the observation to one number, the return expected from s."""

    def __init__(self, observation_size: int, hidden: int = 128, activation: str = "relu"):
        super().__init__()
        self.mlp = nn.MLP([observation_size, hidden, 1], activation=activation)

    def forward(self, states: Tensor) -> Tensor:
        return self.mlp(states).reshape(-1)


def sample_action(probabilities: numpy.ndarray, generator: numpy.random.Generator) -> int:
    """Draw action i with probability pᵢ: the first i where p₀ + … + pᵢ exceeds u ~ U(0, 1)."""
    remaining = generator.random()
    for action, probability in enumerate(probabilities.tolist()):
        remaining -= probability
        if remaining < 0:
            return action
    return len(probabilities) - 1  # the probabilities summed to a hair under 1
