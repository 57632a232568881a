"""A saved run: the policy (safetensors), its config (JSON), the metrics and the plot.

``rundir`` writes the directory (the lock, the overwrite rule, metrics.json last) and
``load_policy`` checks config.json against ``run_schemas.REINFORCE_RUN`` before using it.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy

from .. import checkpoint
from ..errors import CheckpointError
from ..run_schemas import REINFORCE_RUN
from ..rundir import CONFIG_FILE, RunDirectory, read_config
from .policy import PolicyNetwork
from .reinforce import WINDOW, ReinforceConfig, TrainingResult, train

POLICY_FILE = "policy.safetensors"
PLOT_FILE = "returns.png"


def train_run(directory, config: ReinforceConfig, *, overwrite: bool = False,
              **training) -> TrainingResult:
    """``train(config, **training)`` into the run directory ``directory``, held (locked) for the
    whole run; an existing run there is refused unless ``overwrite``, and then replaced only
    once this one has finished."""
    with RunDirectory(directory, overwrite=overwrite, resumable=False) as run:
        result = train(config, **training)
        _write_run(run, result)
    return result


def save_run(directory, result: TrainingResult, *, overwrite: bool = False) -> Path:
    """Write a run directory: the policy (``save_policy``), ``metrics.json`` and the plot of the
    returns, as ``train_run`` does."""
    with RunDirectory(directory, overwrite=overwrite, resumable=False) as run:
        _write_run(run, result)
    return Path(directory)


def _write_run(run: RunDirectory, result: TrainingResult) -> None:
    if run.writer:  # under mpiexec, rank 0 alone (every rank holds the same policy)
        save_policy(run.folder, result.agent.policy, result.agent.config)
        plot_returns(result, run.folder / PLOT_FILE)
    run.finish(result.metrics())


def save_policy(directory, policy: PolicyNetwork, config: ReinforceConfig) -> Path:
    """The policy's weights as safetensors and the config that rebuilds it as JSON (written
    first: a run killed between the two leaves a directory that names itself a run, which
    ``overwrite=True`` replaces; the weights alone made one that it refused)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint.save_json(directory / CONFIG_FILE, {
        "config": asdict(config),
        "observation_size": policy.hidden.in_features,
        "action_count": policy.output.out_features,
    })
    checkpoint.save_weights(directory / POLICY_FILE, policy)
    return directory


def load_policy(directory) -> tuple[PolicyNetwork, ReinforceConfig]:
    """The trained policy of a run directory written by ``save_run``, and its config."""
    directory = Path(directory)
    # A policy saved by save_policy alone has no metrics.json: it is complete all the same.
    saved = read_config(directory, REINFORCE_RUN, "reinforcement-learning run",
                        finished_only=False)
    sizes = saved["observation_size"], saved["config"]["hidden"], saved["action_count"]
    checkpoint.check_file_holds(directory / POLICY_FILE, (sizes[0] + 1) * sizes[1]
                                + (sizes[1] + 1) * sizes[2], f"{directory / CONFIG_FILE}: sizes")
    try:
        config = ReinforceConfig(**saved["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{directory / CONFIG_FILE}: config: {error}") from None
    policy = PolicyNetwork(*sizes[::2], config.hidden, config.activation)
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
    try:
        with checkpoint.atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=120, format="png")
    finally:
        plt.close(figure)
