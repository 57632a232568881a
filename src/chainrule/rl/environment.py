"""Environments and episodes: Gymnasium on one side, a policy on the other."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy  # the environment lives on the host: its observations and rewards are NumPy arrays

from .. import backend
from ..errors import ChainruleError

DEFAULT_ENV = "CartPole-v1"


class UnsupportedEnvironmentError(ChainruleError, ValueError):
    """An environment the agent cannot train on: an unknown name, one that cannot be made (a
    package it needs is missing), or actions that are not a discrete set (a softmax needs a
    finite list of actions to put probabilities on)."""


def make_env(env_id: str = DEFAULT_ENV, render_mode: str | None = None):
    """A Gymnasium environment with discrete actions and observations flattened to a vector.

    Box observations are flattened and discrete ones one-hot encoded (Gymnasium's
    ``FlattenObservation``), so that any of them can feed an MLP.
    """
    from ..extras import require

    require("rl", "gymnasium", purpose="reinforcement learning")
    import gymnasium
    from gymnasium.wrappers import FlattenObservation

    # Gymnasium also warns ("did you mean…", "a newer version exists"); its error already says
    # the same, and a warning would turn the command line's one-line error into several lines.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = gymnasium.make(env_id, render_mode=render_mode)
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
    return FlattenObservation(env)


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
    """Play one episode with the policy, until the environment terminates or truncates it.

    ``seed`` seeds the environment's own generator at this reset; later resets without a seed
    continue from it, so one seed at the first episode makes the whole sequence reproducible.
    """
    first_action = int(env.action_space.start)  # Discrete(n, start) numbers actions from start
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
        finished = terminated or truncated
    return Episode(numpy.stack(states), numpy.array(actions, dtype=numpy.int64),
                   numpy.array(rewards, dtype=numpy.float64),
                   final_state=numpy.asarray(observation, dtype=backend.get_default_dtype()),
                   truncated=bool(truncated and not terminated))
