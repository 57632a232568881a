"""Environments and episodes: Gymnasium on one side, a policy on the other."""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy  # the environment lives on the host: its observations and rewards are NumPy arrays

from .. import backend
from ..errors import ChainruleError

DEFAULT_ENV = "CartPole-v1"
# Where Gymnasium registers no time limit (CliffWalking-v1, Blackjack-v1), the limit episodes get:
# without one, a policy that walks into a wall plays one episode forever. 1000 is Gymnasium's
# longest limit among its discrete games (LunarLander-v3) and twice CartPole-v1's.
DEFAULT_MAX_EPISODE_STEPS = 1000


class UnsupportedEnvironmentError(ChainruleError, ValueError):
    """An environment the agent cannot train on: an unknown name, one that cannot be made (a
    package it needs is missing), or actions that are not a discrete set (a softmax needs a
    finite list of actions to put probabilities on)."""


def make_env(env_id: str = DEFAULT_ENV, render_mode: str | None = None,
             max_episode_steps: int | None = None):
    """A Gymnasium environment with discrete actions and observations flattened to a vector.

    Box observations are flattened and discrete ones one-hot encoded (Gymnasium's
    ``FlattenObservation``), so that any of them can feed an MLP. Every episode ends: it is cut
    (truncated) after ``max_episode_steps`` steps, by default the limit Gymnasium registers for
    the environment or, where it registers none, ``DEFAULT_MAX_EPISODE_STEPS``. The limit in
    force is ``env.spec.max_episode_steps``.
    """
    from ..extras import require

    require("rl", "gymnasium", purpose="reinforcement learning")
    import gymnasium
    from gymnasium.wrappers import FlattenObservation, TimeLimit

    check_max_episode_steps(max_episode_steps)

    # Gymnasium also warns ("did you mean…", "a newer version exists"); its error already says
    # the same, and a warning would turn the command line's one-line error into several lines.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = gymnasium.make(env_id, render_mode=render_mode, max_episode_steps=(
                None if max_episode_steps is None else int(max_episode_steps)))
        except gymnasium.error.UnregisteredEnv as error:
            raise UnsupportedEnvironmentError(
                f"unknown environment {env_id!r}: {error}") from None
        # A registered environment can still fail to be made: a package it needs is missing
        # (Box2D, MuJoCo, JAX, or the module of an id "module:Name-v0"), or its version is
        # deprecated, or its id malformed.
        except (gymnasium.error.Error, ImportError) as error:
            raise UnsupportedEnvironmentError(
                f"cannot make environment {env_id!r}: {error}") from None
    if not isinstance(env.action_space, gymnasium.spaces.Discrete):
        env.close()
        kind = ("continuous actions" if isinstance(env.action_space, gymnasium.spaces.Box)
                else "actions that are not one discrete set")
        raise UnsupportedEnvironmentError(
            f"environment {env_id!r} has {kind} ({env.action_space}); REINFORCE here "
            "puts a softmax over a discrete set of actions: try CartPole-v1 or Acrobot-v1")
    if not env.observation_space.is_np_flattenable:
        env.close()
        raise UnsupportedEnvironmentError(
            f"environment {env_id!r}: observations of type {env.observation_space} cannot be "
            "flattened into a vector for the policy network")
    if env.spec.max_episode_steps is None:
        env = TimeLimit(env, DEFAULT_MAX_EPISODE_STEPS)
    return FlattenObservation(env)


def check_max_episode_steps(max_episode_steps) -> None:
    """Refuse a time limit that is not None or a whole number ≥ 1."""
    if max_episode_steps is None:
        return
    if (isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, numbers.Integral)
            or max_episode_steps < 1):
        raise ValueError(f"max_episode_steps must be a whole number ≥ 1 (or None: the "
                         f"registered limit), got {max_episode_steps!r}")


def registered_episode_limit(env) -> int | None:
    """The time limit Gymnasium registers for the environment ``env`` (one from ``make_env``),
    or None where it registers none and ``make_env`` applied ``DEFAULT_MAX_EPISODE_STEPS``."""
    import gymnasium

    return gymnasium.spec(env.spec.id).max_episode_steps  # the id as resolved ("CartPole-v1")


def describe_env(env) -> tuple[int, int]:
    """(observation size, number of actions) of an environment made by ``make_env``."""
    return int(env.observation_space.shape[0]), int(env.action_space.n)


@dataclass
class Episode:
    """One episode's trajectory: row t of ``states`` is sₜ, where aₜ was taken and rₜ received.

    ``truncated`` says the episode was cut by a time limit rather than ended by the game:
    play would have gone on from ``final_state``, s_T, and its rewards are not zero but unknown.
    """
    states: numpy.ndarray   # (T, observation size)
    actions: numpy.ndarray  # (T,) integers: indices into the action space
    rewards: numpy.ndarray  # (T,)
    final_state: numpy.ndarray  # s_T, the observation after the last step
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def total_return(self) -> float:
        """The undiscounted sum of rewards: the score Gymnasium's reward threshold refers to."""
        return float(self.rewards.sum())


def run_episode(env, policy, generator: numpy.random.Generator | None = None,
                greedy: bool = False, seed: int | None = None) -> Episode:
    """Play one episode with the policy, until the environment terminates or truncates it (an
    environment from ``make_env`` always does, at its time limit at the latest). One made
    otherwise, without a time limit, is cut (truncated) after ``DEFAULT_MAX_EPISODE_STEPS``
    steps, as ``make_env`` would cut it: no episode plays for ever.

    ``seed`` seeds the environment's own generator at this reset; later resets without a seed
    continue from it, so one seed at the first episode makes the whole sequence reproducible.
    """
    first_action = int(env.action_space.start)  # Discrete(n, start) numbers actions from start
    spec = getattr(env, "spec", None)  # None for an environment not made by gymnasium.make
    limit = (spec and spec.max_episode_steps) or DEFAULT_MAX_EPISODE_STEPS
    observation, _ = env.reset(seed=seed)
    states, actions, rewards = [], [], []
    finished = False
    while not finished:
        state = numpy.asarray(observation, dtype=backend.get_default_dtype())
        action = policy.act(state, generator, greedy=greedy)
        observation, reward, terminated, truncated, _ = env.step(first_action + action)
        states.append(state)
        actions.append(action)
        rewards.append(reward)
        truncated = truncated or len(rewards) >= limit
        finished = terminated or truncated
    return Episode(numpy.stack(states), numpy.array(actions, dtype=numpy.int64),
                   numpy.array(rewards, dtype=numpy.float64),
                   final_state=numpy.asarray(observation, dtype=backend.get_default_dtype()),
                   truncated=bool(truncated and not terminated))
