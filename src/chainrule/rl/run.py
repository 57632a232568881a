"""A saved run: the policy (safetensors), its config (JSON), the metrics and the plot."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy

from .. import checkpoint
from ..errors import CheckpointError
from .policy import PolicyNetwork
from .reinforce import WINDOW, ReinforceConfig, TrainingResult

POLICY_FILE = "policy.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
PLOT_FILE = "returns.png"


def save_run(directory, result: TrainingResult) -> Path:
    """Write a run directory: the policy (``save_policy``), ``metrics.json`` and the plot of the
    returns. Each file is written atomically."""
    directory = save_policy(directory, result.agent.policy, result.agent.config)
    checkpoint.save_json(directory / METRICS_FILE, result.metrics())
    plot_returns(result, directory / PLOT_FILE)
    return directory


def save_policy(directory, policy: PolicyNetwork, config: ReinforceConfig) -> Path:
    """The policy's weights as safetensors and the config that rebuilds it as JSON."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint.save_weights(directory / POLICY_FILE, policy)
    checkpoint.save_json(directory / CONFIG_FILE, {
        "config": asdict(config),
        "observation_size": policy.hidden.in_features,
        "action_count": policy.output.out_features,
    })
    return directory


def load_policy(directory) -> tuple[PolicyNetwork, ReinforceConfig]:
    """The trained policy of a run directory written by ``save_run``, and its config."""
    directory = Path(directory)
    if not (directory / CONFIG_FILE).is_file():
        raise CheckpointError(f"{directory}: not a reinforcement-learning run (no {CONFIG_FILE}); "
                              "make one with 'chainrule rl train --out DIR'")
    saved = checkpoint.load_json(directory / CONFIG_FILE)
    try:
        config = ReinforceConfig(**saved["config"])
        policy = PolicyNetwork(saved["observation_size"], saved["action_count"], config.hidden,
                               config.activation)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory / CONFIG_FILE}: not a policy's config "
                              f"({type(error).__name__}: {error})") from None
    checkpoint.load_weights(directory / POLICY_FILE, policy)
    return policy, config


def plot_returns(result: TrainingResult, path) -> None:
    """Each episode's return, its moving average over 100 episodes, and the threshold."""
    from ..extras import require

    require("rl", "matplotlib", purpose="plotting the returns")
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    returns = numpy.asarray(result.returns)
    episodes = numpy.arange(1, len(returns) + 1)
    moving_average = numpy.array([returns[max(0, i - WINDOW + 1):i + 1].mean()
                                  for i in range(len(returns))])
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(episodes, returns, color="tab:blue", alpha=0.35, linewidth=0.8,
              label="return of the episode")
    axis.plot(episodes, moving_average, color="tab:blue", linewidth=2,
              label=f"average of the last {WINDOW}")
    if result.reward_threshold is not None:
        axis.axhline(result.reward_threshold, color="tab:green", linestyle="--",
                     label=f"threshold {result.reward_threshold:g}")
    if result.solved_at_episode is not None:
        axis.axvline(result.solved_at_episode, color="grey", linestyle=":",
                     label=f"solved at episode {result.solved_at_episode}")
    config = result.agent.config
    axis.set(xlabel="episode", ylabel="return",
             title=f"REINFORCE on {config.env} (seed {config.seed}, "
                   f"{'with' if config.baseline else 'no'} baseline)")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=4, fontsize="small",
                frameon=False)  # below the plot: no curve hidden
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
