"""REINFORCE: returns, the policy-gradient loss, the agent's update, and the training loop."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy

from .. import backend, distributed, optim
from ..autograd import no_grad
from ..divergence import DivergenceGuard, check_parameters, gradient_norm
from ..nn import functional as F
from ..progress import Progress
from ..tensor import Tensor, arange
from .environment import (DEFAULT_ENV, Episode, UnsupportedEnvironmentError,
                          check_max_episode_steps, describe_env, make_env, run_episode)
from .policy import PolicyNetwork, ValueNetwork

WINDOW = 100  # "solved" is judged on the average return over this many consecutive episodes


def discounted_returns(rewards, gamma: float, final_value: float = 0.0) -> numpy.ndarray:
    """Gₜ = rₜ + γ Gₜ₊₁ for t = T−1 … 0, starting from G_T = ``final_value``: 0 when the episode
    ended (nothing comes after), an estimate V(s_T) when a time limit cut it short."""
    returns = numpy.empty(len(rewards), dtype=numpy.float64)
    following = final_value
    for t in reversed(range(len(rewards))):
        following = rewards[t] + gamma * following
        returns[t] = following
    return returns


def normalise(values: numpy.ndarray, eps: float = 1e-8) -> numpy.ndarray:
    """(x − mean) / (std + ε): mean 0 and standard deviation 1 (all zeros for a constant x)."""
    return (values - values.mean()) / (values.std() + eps)


def policy_gradient_loss(policy: PolicyNetwork, states: Tensor, actions: Tensor,
                         advantages: Tensor) -> Tensor:
    """L = −Σₜ log π(aₜ|sₜ) · Aₜ, from one batched forward pass over the episode's states."""
    log_probabilities = F.log_softmax(policy(states), dim=1)              # (T, actions)
    taken = log_probabilities[arange(len(actions)), actions]              # log π(aₜ|sₜ), (T,)
    return -(taken * advantages).sum()


@dataclass
class ReinforceConfig:
    """Everything that decides a training run: the environment, the networks, the update."""
    env: str = DEFAULT_ENV
    gamma: float = 0.99         # discount: how far into the future a reward still counts
    lr: float = 5e-3            # Adam's step size for the policy
    hidden: int = 128           # units in the hidden layer of each network
    activation: str = "relu"
    baseline: bool = True       # learn V(s) and subtract it from the returns
    value_lr: float = 1e-2      # Adam's step size for the value network
    seed: int = 0
    # Episodes are cut (truncated) after this many steps; None: the environment's registered
    # limit, or DEFAULT_MAX_EPISODE_STEPS where it has none. ``train`` fills in the one it used.
    max_episode_steps: int | None = None

    def __post_init__(self):
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not (0 < self.lr < math.inf and 0 < self.value_lr < math.inf):  # NaN fails too
            raise ValueError(f"learning rates must be positive and finite, got lr={self.lr}, "
                             f"value_lr={self.value_lr}")
        if self.hidden < 1:
            raise ValueError(f"hidden must be at least 1, got {self.hidden}")
        check_max_episode_steps(self.max_episode_steps)


class Reinforce:
    """The REINFORCE agent: a policy, an optional value baseline, and the update after each
    episode. Networks are initialised from ``chainrule.manual_seed``'s generator."""

    def __init__(self, config: ReinforceConfig, observation_size: int, action_count: int):
        self.config = config
        self.policy = PolicyNetwork(observation_size, action_count, config.hidden,
                                    config.activation)
        self.optimizer = optim.Adam(self.policy.parameters(), lr=config.lr)
        self.value = None
        if config.baseline:
            self.value = ValueNetwork(observation_size, config.hidden, config.activation)
            self.value_optimizer = optim.Adam(self.value.parameters(), lr=config.value_lr)
        # The policy-gradient loss has no fixed sign or scale: only NaN and ±inf are divergence.
        self.guard = DivergenceGuard(growth=None)
        self.updates = 0

    # A diverging step overflows before the guard stops it: its error is the message, not
    # NumPy's warnings on the way.
    @numpy.errstate(over="ignore", invalid="ignore")
    def update(self, episode: Episode) -> float:
        """One gradient step on the episode; returns the policy-gradient loss. A loss, gradient
        or weight that is not finite stops training with a DivergenceError."""
        self.updates += 1
        where = f"in update {self.updates}"
        dtype = backend.get_default_dtype()
        states = Tensor(episode.states, dtype=dtype)
        final_value = 0.0
        if self.value is not None and episode.truncated:
            # Cut by the time limit, not ended: the rewards after s_T would have come. Counting
            # them as 0 would make the last actions look bad for no fault of theirs (the
            # policy then learns to drift late in an episode); V(s_T) estimates them instead.
            with no_grad():
                final_value = self.value(Tensor(episode.final_state[None], dtype=dtype)).item()
        returns = discounted_returns(episode.rewards, self.config.gamma, final_value)
        advantages = returns
        if self.value is not None:
            values = self.value(states)
            value_loss = F.mse_loss(values, Tensor(returns, dtype=dtype))
            self.value_optimizer.zero_grad()
            value_loss.backward()
            self.guard.check(value_loss.item(), f"of the value network {where}")
            self.value_optimizer.step()
            check_parameters(self.value, f"{where} (value network)")
            advantages = returns - backend.to_numpy(values.data)  # V(s) as a constant here
        advantages = Tensor(normalise(advantages), dtype=dtype)
        loss = policy_gradient_loss(self.policy, states, Tensor(episode.actions), advantages)
        self.optimizer.zero_grad()
        loss.backward()
        self.guard.check(loss.item(), where, gradient_norm(self.policy.parameters()))
        self.optimizer.step()
        check_parameters(self.policy, where)
        return loss.item()


@dataclass
class TrainingResult:
    """What ``train`` learned and how it went: the agent and every episode's return."""
    agent: Reinforce
    returns: list = field(default_factory=list)
    reward_threshold: float | None = None
    solved_at_episode: int | None = None
    seconds: float = 0.0

    @property
    def final_average_return(self) -> float:
        return float(numpy.mean(self.returns[-WINDOW:]))

    def metrics(self) -> dict:
        return {"env": self.agent.config.env, "seed": self.agent.config.seed,
                "episodes": len(self.returns), "reward_threshold": self.reward_threshold,
                "solved_at_episode": self.solved_at_episode,
                "final_average_return": self.final_average_return,
                "seconds": round(self.seconds, 2), "config": asdict(self.agent.config),
                "returns": self.returns}


def train(config: ReinforceConfig | None = None, episodes: int = 1500,
          stop_when_solved: bool = True,
          on_episode: Callable[[int, float, float], None] | None = None,
          progress: bool = True, log_every: int = 10, stream=None) -> TrainingResult:
    """Train a REINFORCE agent on ``config.env`` for up to ``episodes`` episodes.

    The environment counts as solved at the first episode where the average return over the
    last 100 episodes reaches its reward threshold (475 for CartPole-v1); with
    ``stop_when_solved`` training ends there. ``on_episode(episode, return, average)`` is called
    after each episode. ``progress`` shows a bar on a terminal, else a line every ``log_every``
    episodes, on ``stream`` (standard error by default). One seed fixes the initial weights,
    every action drawn and the environment's own randomness, so a run can be repeated exactly.
    The agent's config is ``config`` with ``max_episode_steps`` set to the time limit the
    episodes had, so that the saved run plays with the same limit.
    """
    config = config or ReinforceConfig()
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    env = make_env(config.env, max_episode_steps=config.max_episode_steps)
    config = replace(config, max_episode_steps=env.spec.max_episode_steps)
    generator = backend.manual_seed(config.seed)  # initial weights, then the actions drawn
    agent = Reinforce(config, *describe_env(env))
    # Under mpiexec each rank plays its own episode (its own actions and environment seed) and
    # the update averages the ranks' policy gradients: p episodes per step.
    processes, rank = distributed.init(), distributed.get_rank()
    averaging = []
    if processes > 1:
        averaging = [distributed.DistributedDataParallel(network)
                     for network in (agent.policy, agent.value) if network is not None]
        if rank > 0:
            generator = numpy.random.default_rng((config.seed, rank))
    result = TrainingResult(agent, reward_threshold=env.spec.reward_threshold)
    bar = Progress(episodes, unit="episode", every=log_every, enabled=progress and rank == 0,
                   stream=stream)
    start = time.perf_counter()
    try:
        for step in range(math.ceil(episodes / processes)):
            # a diverged policy overflows in its rollout before the update's guard stops it
            with numpy.errstate(over="ignore", invalid="ignore"):
                episode = run_episode(env, agent.policy, generator,
                                      seed=config.seed + rank if step == 0 else None)
            agent.update(episode)
            every_return = numpy.zeros(processes)
            every_return[rank] = episode.total_return
            for episode_return in distributed.all_reduce(every_return).tolist():
                result.returns.append(episode_return)
                average = float(numpy.mean(result.returns[-WINDOW:]))
                if (result.solved_at_episode is None and result.reward_threshold is not None
                        and len(result.returns) >= WINDOW and average >= result.reward_threshold):
                    result.solved_at_episode = len(result.returns)
                bar.update(lambda: f"return {episode_return:.1f}  average of last "
                                   f"{min(len(result.returns), WINDOW)} {average:.1f}")
                if on_episode is not None:
                    on_episode(len(result.returns), episode_return, average)
            if result.solved_at_episode is not None and stop_when_solved:
                break
    finally:
        bar.close()
        for wrapper in averaging:
            wrapper.remove_hooks()
        env.close()
        result.seconds = time.perf_counter() - start
    return result


def play(policy: PolicyNetwork, env_id: str = DEFAULT_ENV, episodes: int = 20,
         seed: int = 0, max_episode_steps: int | None = None) -> list[float]:
    """The return of each of ``episodes`` episodes played greedily (the most probable action),
    each cut after ``max_episode_steps`` steps (None: as ``make_env``); give the limit of the
    run's config to play as it trained."""
    env = make_env(env_id, max_episode_steps=max_episode_steps)
    try:
        sizes = describe_env(env)
        if sizes != (policy.hidden.in_features, policy.output.out_features):
            raise UnsupportedEnvironmentError(
                f"environment {env_id!r} has observations of size {sizes[0]} and {sizes[1]} "
                f"actions, but the policy was made for observations of size "
                f"{policy.hidden.in_features} and {policy.output.out_features} actions")
        return [run_episode(env, policy, greedy=True, seed=seed if index == 0 else None)
                .total_return for index in range(episodes)]
    finally:
        env.close()
