"""Why ``chainrule rl train`` does not compile its update: episodes change its shape.

Trains REINFORCE on CartPole with the default settings until solved (or EPISODES episodes) and
counts the distinct episode lengths, the share of time spent in the updates, and how many
updates a compiled step would replay (the third and later call of a length, while its program
is among the 8 that ``chainrule.compile`` keeps). Then times, for one episode length, the
policy's update eagerly, while it is recorded, and replayed.

    python benchmarks/rl_compile.py [--episodes N]
"""
from __future__ import annotations

import argparse
import collections
import statistics
import time

import numpy

import chainrule
from chainrule import optim
from chainrule.rl import reinforce
from chainrule.rl.policy import PolicyNetwork

PROGRAMS_KEPT = 8


def lengths_and_update_share(episodes: int) -> tuple[list, float, float]:
    lengths, update_seconds = [], []
    update = reinforce.Reinforce.update

    def timed_update(agent, episode):
        started = time.perf_counter()
        result = update(agent, episode)
        update_seconds.append(time.perf_counter() - started)
        lengths.append(len(episode.rewards))
        return result
    reinforce.Reinforce.update = timed_update
    try:
        started = time.perf_counter()
        reinforce.train(reinforce.ReinforceConfig(), episodes=episodes)
        total = time.perf_counter() - started
    finally:
        reinforce.Reinforce.update = update
    return lengths, sum(update_seconds), total


def replays(lengths: list) -> int:
    kept, calls, replayed = collections.OrderedDict(), collections.Counter(), 0
    for length in lengths:
        calls[length] += 1
        replayed += calls[length] >= 3 and length in kept
        if calls[length] >= 2:
            kept[length] = True
            kept.move_to_end(length)
            if len(kept) > PROGRAMS_KEPT:
                kept.popitem(last=False)
    return replayed


def update_milliseconds(length: int = 255, repeats: int = 31) -> dict:
    chainrule.manual_seed(0)
    policy = PolicyNetwork(4, 2)
    optimizer = optim.Adam(policy.parameters(), lr=5e-3)
    rng = numpy.random.default_rng(0)

    def step(states, actions, advantages):
        loss = reinforce.policy_gradient_loss(policy, states, actions, advantages)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    def episode(steps):
        return (chainrule.tensor(rng.standard_normal((steps, 4)).astype(numpy.float32)),
                chainrule.tensor(rng.integers(0, 2, steps)),
                chainrule.tensor(rng.standard_normal(steps).astype(numpy.float32)))

    def milliseconds(function, arguments):
        started = time.perf_counter()
        function(*arguments)
        return 1e3 * (time.perf_counter() - started)
    eager = [milliseconds(step, episode(length)) for _ in range(repeats)]
    compiled, recording, replay = chainrule.compile(step), [], []
    for steps in range(length, length + repeats):  # a new length each time, as episodes come
        arguments = episode(steps)
        compiled(*arguments)  # the first call of a shape runs eagerly
        recording.append(milliseconds(compiled, arguments))
        replay.append(milliseconds(compiled, arguments))
    return {name: statistics.median(times) for name, times in
            (("eager", eager), ("recording", recording), ("replay", replay))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1500, metavar="N",
                        help="the most episodes to train for (default: 1500)")
    episodes = parser.parse_args().episodes
    lengths, update_seconds, total = lengths_and_update_share(episodes)
    replayed = replays(lengths)
    print(f"{len(lengths)} episodes, {len(set(lengths))} distinct lengths (mean "
          f"{statistics.mean(lengths):.0f}); updates {update_seconds:.1f} s of {total:.1f} s "
          f"({100 * update_seconds / total:.0f}%); a compiled update would replay {replayed} "
          f"({100 * replayed / len(lengths):.0f}%)")
    times = update_milliseconds()
    print("policy update at T = 255, median ms: " +
          ", ".join(f"{name} {value:.2f}" for name, value in times.items()))


if __name__ == "__main__":
    main()
