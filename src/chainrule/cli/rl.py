"""``chainrule rl train`` and ``chainrule rl play``: a REINFORCE agent learns a Gymnasium game.

    chainrule rl train                              # CartPole-v1, stops once solved
    chainrule rl train --seed 3 --no-baseline --out runs/cartpole-3
    chainrule rl play runs/cartpole-3

A run directory holds ``policy.safetensors`` (the policy's weights), ``config.json`` (what
rebuilds it), ``metrics.json`` and ``returns.png``.
"""
from __future__ import annotations

import argparse

from . import add_threads_option
from .arguments import HelpFormatter, positive_float, positive_int, seed

# rl.DEFAULT_MAX_EPISODE_STEPS, said in the help (spelled here: importing the library would
# slow --help)
DEFAULT_MAX_EPISODE_STEPS = 1000


def _discount(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def register(subparsers) -> None:
    formatter = HelpFormatter
    rl = subparsers.add_parser(
        "rl", help="reinforcement learning: train a policy-gradient agent, then play it",
        description="REINFORCE on a Gymnasium environment with discrete actions: the agent "
                    "collects its own episodes and learns from them.")
    actions = rl.add_subparsers(dest="rl_command", metavar="ACTION", required=True)

    train = actions.add_parser(
        "train", formatter_class=formatter, help="train a policy with REINFORCE",
        description="Train a policy network with REINFORCE: after each episode, one gradient "
                    "step on −Σₜ log π(aₜ|sₜ)·Aₜ, A being the discounted return (minus a learned "
                    "baseline) normalised over the episode. Training stops early once the "
                    "environment is solved (the average return over the last 100 episodes "
                    "reaches its reward threshold, 475 for CartPole-v1), unless --no-stop. "
                    "Writes policy.safetensors, config.json, metrics.json and returns.png to "
                    "the --out directory.")
    train.add_argument("--env", default="CartPole-v1",
                       help="a Gymnasium environment id with discrete actions")
    train.add_argument("--episodes", type=positive_int, default=1500, metavar="N",
                       help="the most episodes to train for")
    train.add_argument("--seed", type=seed, default=0, metavar="S",
                       help="seeds the initial weights, the actions drawn and the environment")
    train.add_argument("--max-episode-steps", type=positive_int, metavar="N",
                       help="cut each episode after N steps (truncated: a time limit, not an "
                            "ending; saved in config.json, where rl play reads it) (default: the "
                            "limit Gymnasium registers for the environment, or "
                            f"{DEFAULT_MAX_EPISODE_STEPS} where it registers none, as for "
                            "CliffWalking-v1)")
    train.add_argument("--out", metavar="DIR", default=argparse.SUPPRESS,  # no "(default: None)"
                       help="run directory (default: runs/rl-ENV-seedSEED)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (it stays until the new run has "
                            "finished)")
    train.add_argument("--gamma", type=_discount, default=0.99, help="discount factor γ")
    train.add_argument("--lr", type=positive_float, default=5e-3,
                       help="Adam learning rate of the policy")
    train.add_argument("--hidden", type=positive_int, default=128,
                       help="hidden units of the policy (and value) network")
    train.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                       help="subtract a learned value V(s) from the returns (less variance)")
    train.add_argument("--stop", action=argparse.BooleanOptionalAction, default=True,
                       help="stop as soon as the environment is solved")
    train.add_argument("--log-every", type=positive_int, default=10, metavar="N",
                       help="a progress line every N episodes, where standard error is no terminal "
                            "(a terminal gets a bar)")
    add_threads_option(train)
    train.set_defaults(handler=run_train)

    play = actions.add_parser(
        "play", formatter_class=formatter, help="play a trained policy greedily",
        description="Play episodes with a trained policy, taking the most probable action at "
                    "each step, and print each episode's return and their mean.")
    play.add_argument("run", metavar="DIR", help="a run directory written by 'chainrule rl train'")
    play.add_argument("--episodes", type=positive_int, default=20, metavar="N", help="episodes to play")
    play.add_argument("--seed", type=seed, default=0, metavar="S", help="seeds the environment")
    play.add_argument("--max-episode-steps", type=positive_int, metavar="N",
                      help="cut each episode after N steps (default: the limit the run trained "
                           "with, from its config.json)")
    add_threads_option(play)
    play.set_defaults(handler=run_play)


def run_train(args) -> int:
    from pathlib import Path

    from .. import rl
    from ..threads import describe_threads
    from ..extras import require

    require("rl", "gymnasium", "safetensors", "matplotlib", "tqdm", purpose="chainrule rl train")
    config = rl.ReinforceConfig(env=args.env, gamma=args.gamma, lr=args.lr, hidden=args.hidden,
                                baseline=args.baseline, seed=args.seed,
                                max_episode_steps=args.max_episode_steps)
    out = Path(getattr(args, "out", None) or f"runs/rl-{args.env.replace('/', '-')}-seed{args.seed}")
    _say_the_time_limit(config.env, args.max_episode_steps)  # and refuse a bad environment
    print(f"REINFORCE on {config.env} · seed {config.seed} · {describe_threads()}", flush=True)

    result = rl.train_run(out, config, overwrite=args.overwrite, episodes=args.episodes,
                          stop_when_solved=args.stop, log_every=args.log_every)
    if result.solved_at_episode is not None:
        print(f"solved at episode {result.solved_at_episode}: the average return over "
              f"{rl.WINDOW} episodes reached {result.reward_threshold:g}")
    else:
        print(f"not solved: {config.env} has no reward threshold to reach"
              if result.reward_threshold is None
              else f"not solved (threshold {result.reward_threshold:g})")
    print(f"final average return over the last {min(len(result.returns), rl.WINDOW)} episodes: "
          f"{result.final_average_return:.1f} after {len(result.returns)} episodes "
          f"in {result.seconds:.1f} s")
    print(f"saved {out}/ (policy.safetensors, config.json, metrics.json, returns.png)")
    return 0


def _say_the_time_limit(env_id: str, max_episode_steps: int | None) -> None:
    """Say once that episodes get the default time limit, where Gymnasium registers none and
    none was given: the user may want another. Making the environment refuses a bad one before
    anything is written."""
    from .. import rl

    env = rl.make_env(env_id, max_episode_steps=max_episode_steps)
    try:
        if max_episode_steps is None and rl.registered_episode_limit(env) is None:
            print(f"{env_id} has no time limit of its own: each episode is cut after "
                  f"{env.spec.max_episode_steps} steps (--max-episode-steps N to change)",
                  flush=True)
    finally:
        env.close()


def run_play(args) -> int:
    from .. import rl

    policy, config = rl.load_policy(args.run)
    limit = args.max_episode_steps or config.max_episode_steps
    _say_the_time_limit(config.env, limit)
    returns = rl.play(policy, config.env, episodes=args.episodes, seed=args.seed,
                      max_episode_steps=limit)
    for episode, episode_return in enumerate(returns, start=1):
        print(f"episode {episode:3d}   return {episode_return:8.1f}")
    print(f"mean return over {len(returns)} episodes: {sum(returns) / len(returns):.1f}")
    return 0
