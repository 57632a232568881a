"""Where chainrule's time goes in the MLP benchmark: cProfile of chainrule's steps alone.

    python benchmarks/profile_mlp.py --batch 128 --steps 200 [--activation sigmoid] [--top 25]

Sorted by own time (tottime): what a Python-level optimisation can remove. The NumPy limit's
time for the same steps is printed alongside, so the overhead reads as a difference.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import harness
import mlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    harness.limit_threads(args.threads)
    images, labels = mlp.make_data(args.batch * args.steps)
    layers = mlp.initial_weights(args.activation)
    ours, limit = mlp.ChainruleMLP(layers, args.activation), mlp.NumpyMLP(layers, args.activation)
    for model in (ours, limit):  # warm-up
        model.epoch(images[:args.batch * 5], labels[:args.batch * 5], args.batch)
    for name, model in (("numpy limit", limit), ("chainrule", ours)):
        start = time.perf_counter()
        model.epoch(images, labels, args.batch)
        print(f"{name}: {(time.perf_counter() - start) / args.steps * 1e6:.1f} us per step")
    profiler = cProfile.Profile()
    profiler.enable()
    ours.epoch(images, labels, args.batch)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
