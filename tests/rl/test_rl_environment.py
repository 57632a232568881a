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


class EndlessCorridor(gymnasium.Env):
    """A game that never ends an episode, registered without a time limit."""
    observation_space = gymnasium.spaces.Discrete(3)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.position = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self.position, {}

    def step(self, action):
        self.position = (self.position + 1) % 3
        return self.position, 1.0, False, False, {}


gymnasium.register("chainrule-test/EndlessCorridor-v0", entry_point=EndlessCorridor)


def test_an_environment_without_a_registered_limit_is_cut_at_the_default_limit(at_most_steps):
    at_most_steps(rl.DEFAULT_MAX_EPISODE_STEPS)
    assert gymnasium.spec("chainrule-test/EndlessCorridor-v0").max_episode_steps is None
    env = rl.make_env("chainrule-test/EndlessCorridor-v0")
    assert env.spec.max_episode_steps == rl.DEFAULT_MAX_EPISODE_STEPS
    assert rl.registered_episode_limit(env) is None
    chainrule.manual_seed(0)
    episode = rl.run_episode(env, rl.PolicyNetwork(3, 2, hidden=4), numpy.random.default_rng(0))
    assert len(episode) == rl.DEFAULT_MAX_EPISODE_STEPS
    assert episode.truncated  # a time limit, not an ending: REINFORCE bootstraps from V(s_T)


def test_a_policy_walking_into_the_wall_of_cliff_walking_is_cut_and_marked_truncated(
        wall_policy, at_most_steps):
    at_most_steps(rl.DEFAULT_MAX_EPISODE_STEPS)
    env = rl.make_env("CliffWalking-v1")
    episode = rl.run_episode(env, wall_policy, greedy=True, seed=0)
    assert len(episode) == rl.DEFAULT_MAX_EPISODE_STEPS and episode.truncated
    assert set(episode.actions.tolist()) == {0}
    assert episode.total_return == -rl.DEFAULT_MAX_EPISODE_STEPS


@pytest.mark.parametrize("env_id, limit", [("CliffWalking-v1", 7), ("CartPole-v1", 20),
                                           ("CartPole-v1", 600)])
def test_max_episode_steps_sets_the_limit_and_overrides_a_registered_one(
        env_id, limit, wall_policy, balancing_policy, at_most_steps):
    at_most_steps(limit)
    env = rl.make_env(env_id, max_episode_steps=limit)
    policy = wall_policy if env_id == "CliffWalking-v1" else balancing_policy
    episode = rl.run_episode(env, policy, greedy=True, seed=0)
    assert env.spec.max_episode_steps == limit
    assert len(episode) == limit and episode.truncated


def test_a_registered_limit_is_kept_and_reported():
    env = rl.make_env("CartPole-v1")
    assert env.spec.max_episode_steps == rl.registered_episode_limit(env) == 500


@pytest.mark.parametrize("limit", [0, -5, 2.5, True, "10"])
def test_a_time_limit_that_is_not_a_whole_number_of_at_least_one_step_is_refused(limit):
    with pytest.raises(ValueError, match=f"max_episode_steps must be a whole number ≥ 1 .*got "
                                         f"{limit!r}"):
        rl.make_env("CartPole-v1", max_episode_steps=limit)
    with pytest.raises(ValueError, match="max_episode_steps"):
        rl.ReinforceConfig(max_episode_steps=limit)


def test_play_cuts_each_episode_at_the_limit_it_is_given(wall_policy, at_most_steps):
    at_most_steps(2 * 9)
    assert rl.play(wall_policy, "CliffWalking-v1", episodes=2, max_episode_steps=9) == [-9.0, -9.0]


@pytest.mark.parametrize("made_by", ["gymnasium.make", "the class"])
def test_run_episode_cuts_an_environment_made_without_a_time_limit(made_by, at_most_steps):
    # not through make_env: Gymnasium's own make adds no limit where none is registered, and a
    # class made directly has no spec at all
    at_most_steps(rl.DEFAULT_MAX_EPISODE_STEPS)
    endless = (gymnasium.make("chainrule-test/EndlessCorridor-v0") if made_by == "gymnasium.make"
               else EndlessCorridor())
    env = gymnasium.wrappers.FlattenObservation(endless)
    chainrule.manual_seed(0)
    episode = rl.run_episode(env, rl.PolicyNetwork(3, 2, hidden=4), numpy.random.default_rng(0))
    assert len(episode) == rl.DEFAULT_MAX_EPISODE_STEPS and episode.truncated
