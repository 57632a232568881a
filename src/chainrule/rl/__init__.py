"""Reinforcement learning: REINFORCE, a policy-gradient agent that collects its own data.

The learner acts, and its actions make the data it learns from. A policy network maps a state s
to probabilities over the actions, π(a|s) = softmax(MLP(s)). One episode with it gives states,
actions and rewards s₀ a₀ r₀ … s_{T−1} a_{T−1} r_{T−1}; the return that followed each action is

    Gₜ = rₜ + γ rₜ₊₁ + γ² rₜ₊₂ + … = rₜ + γ Gₜ₊₁.

REINFORCE (Williams, 1992) makes each action taken more likely in proportion to the return that
followed it, by gradient descent on the policy-gradient loss

    L(θ) = −Σₜ log π_θ(aₜ|sₜ) · Aₜ,

whose gradient is, in expectation over episodes, minus the gradient of the expected return. With
no baseline Aₜ = Gₜ. With a learned baseline, a value network V(s) ≈ E[Gₜ | sₜ = s] fitted by
least squares, Aₜ = Gₜ − V(sₜ): the same expectation, a smaller variance. Either way A is then
normalised to mean 0 and standard deviation 1 over the episode, so that one step size suits
short and long episodes alike. With the baseline, an episode cut by a time limit rather than
ended is not followed by zeros: its returns start from V(s_T), the value of where it was cut
(without one, there is no V to start from, and they start from 0).

Rollouts need no gradient: each step is one forward pass of a tiny MLP with plain arrays. The
update recomputes log π(aₜ|sₜ) for the whole episode in one batched forward pass, the only graph
that is built, and the engine backpropagates the loss through it.
"""
from .environment import (DEFAULT_ENV, DEFAULT_MAX_EPISODE_STEPS, Episode,
                          UnsupportedEnvironmentError, make_env, registered_episode_limit,
                          run_episode)
from .policy import PolicyNetwork, ValueNetwork, sample_action
from .reinforce import (WINDOW, Reinforce, ReinforceConfig, TrainingResult, discounted_returns,
                        normalise, play, policy_gradient_loss, train)
from .run import load_policy, plot_returns, save_policy, save_run, train_run

__all__ = ["DEFAULT_ENV", "DEFAULT_MAX_EPISODE_STEPS", "Episode", "UnsupportedEnvironmentError",
           "make_env", "registered_episode_limit", "run_episode",
           "PolicyNetwork", "ValueNetwork", "sample_action", "WINDOW", "Reinforce",
           "ReinforceConfig", "TrainingResult", "discounted_returns", "normalise", "play",
           "policy_gradient_loss", "train", "load_policy", "plot_returns", "save_policy", "save_run",
           "train_run"]
