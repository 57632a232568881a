"""Environments: discrete actions accepted, everything else refused with the name; episodes."""
import gymnasium
import numpy
import pytest

import chainrule
from chainrule import rl


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_an_environment_with_continuous_actions_is_refused_by_name(env_id):
    with pytest.raises(rl.UnsupportedEnvironmentError, match=f"'{env_id}' has continuous actions"):
        rl.make_env(env_id)


def test_an_unknown_environment_is_refused_by_name():
    with pytest.raises(rl.UnsupportedEnvironmentError, match="unknown environment 'NoSuchGame-v0'"):
        rl.make_env("NoSuchGame-v0")


class MultiDiscreteActions(gymnasium.Env):
    """Two discrete choices at each step, not one: no single softmax covers them."""
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,))
    action_space = gymnasium.spaces.MultiDiscrete([3, 3])

    def __init__(self, render_mode=None):
        self.render_mode = render_mode


def needs_a_missing_package(**options):
    raise gymnasium.error.DependencyNotInstalled("Foo is not installed, run `pip install foo`")


gymnasium.register("chainrule-test/MultiDiscreteActions-v0", entry_point=MultiDiscreteActions)
gymnasium.register("chainrule-test/MissingPackage-v0", entry_point=needs_a_missing_package)


def test_actions_that_are_not_one_discrete_set_are_not_called_continuous():
    with pytest.raises(rl.UnsupportedEnvironmentError, match=r"'chainrule-test/MultiDiscreteActions"
                       r"-v0' has actions that are not one discrete set \(MultiDiscrete"):
        rl.make_env("chainrule-test/MultiDiscreteActions-v0")


@pytest.mark.parametrize("env_id, reason", [
    ("chainrule-test/MissingPackage-v0", "Foo is not installed, run `pip install foo`"),
    ("chainrule_no_such_module:Game-v0", "No module named 'chainrule_no_such_module'"),
])
def test_an_environment_that_cannot_be_made_is_refused_with_gymnasiums_reason(env_id, reason):
    with pytest.raises(rl.UnsupportedEnvironmentError) as error:
        rl.make_env(env_id)
    assert str(error.value).startswith(f"cannot make environment '{env_id}': {reason}")


def test_the_error_is_a_chainrule_error_that_the_command_line_prints():
    assert issubclass(rl.UnsupportedEnvironmentError, chainrule.ChainruleError)


def test_a_cartpole_episode_records_one_state_action_and_reward_per_step():
    env = rl.make_env("CartPole-v1")
    chainrule.manual_seed(0)
    policy = rl.PolicyNetwork(4, 2, hidden=8)
    episode = rl.run_episode(env, policy, numpy.random.default_rng(0), seed=0)
    assert episode.states.shape == (len(episode), 4)
    assert episode.actions.shape == episode.rewards.shape == (len(episode),)
    assert set(episode.actions.tolist()) <= {0, 1}
    assert episode.total_return == len(episode)  # CartPole pays 1 per step
    assert not episode.truncated  # an untrained policy drops the pole long before the limit


def test_an_episode_cut_by_the_time_limit_is_marked_truncated(balancing_policy):
    episode = rl.run_episode(rl.make_env("CartPole-v1"), balancing_policy, greedy=True, seed=0)
    assert len(episode) == 500 and episode.truncated
    assert episode.final_state.shape == (4,)


def test_the_same_seeds_replay_the_same_episode():
    chainrule.manual_seed(0)
    policy = rl.PolicyNetwork(4, 2, hidden=8)
    first = rl.run_episode(rl.make_env(), policy, numpy.random.default_rng(5), seed=7)
    again = rl.run_episode(rl.make_env(), policy, numpy.random.default_rng(5), seed=7)
    assert numpy.array_equal(first.states, again.states)
    assert numpy.array_equal(first.actions, again.actions)


def test_discrete_observations_are_one_hot_encoded():
    env = rl.make_env("FrozenLake-v1")
    chainrule.manual_seed(0)
    policy = rl.PolicyNetwork(16, 4, hidden=8)
    episode = rl.run_episode(env, policy, numpy.random.default_rng(0), seed=0)
    assert episode.states.shape[1] == 16
    assert numpy.all(episode.states.sum(axis=1) == 1)  # one square of the lake at a time
    assert episode.states[0].argmax() == 0  # every episode starts on the first square


def test_greedy_play_of_a_hand_made_balancing_policy_scores_the_maximum(balancing_policy):
    assert rl.play(balancing_policy, "CartPole-v1", episodes=3, seed=0) == [500.0, 500.0, 500.0]
