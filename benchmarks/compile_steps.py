"""The compiled (or eager) MLP step against the NumPy limit's, one short round after another.

bench_compile.py times whole epochs and many-step calls: right on an idle machine, noisy on a
busy one, where a round that waits for a core swings the ratio by tens of percent. This times
one step (or ``--steps`` steps) of each in turn, thousands of times, in one process, and reports
the ratio of the medians, of the minima and the median of the per-round ratios; ``--cpu``
times with the thread's CPU clock, which a wait for a core does not advance. To compare two
versions of chainrule, run it with each on PYTHONPATH, one after the other, a few times;
``--eager`` times the eager step instead (it needs no ``chainrule.compile``, so it runs on any
version of the engine). The step lets go of its gradients after the update, as fit's does;
``--keep-gradients`` times a step that keeps them (``zero_grad()`` first) and, beside the limit,
the limit keeping its gradients (the update through a scratch buffer, as a step whose
``p.grad`` survives it must do it). Three candidates in turn leave the caches otherwise than
two, so compare ratios measured the same way:

    python benchmarks/compile_steps.py --batch 1 --rounds 1500 --steps 4 --cpu
    mkdir -p /tmp/old && git archive 62eca1d src | tar -x -C /tmp/old && \\
        PYTHONPATH=/tmp/old/src python benchmarks/compile_steps.py --batch 1 --cpu --eager
"""
from __future__ import annotations

import argparse
import os
import time

import numpy

import harness
import mlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1, help="steps of each per round")
    parser.add_argument("--cpu", action="store_true", help="the thread's CPU time, not wall")
    parser.add_argument("--eager", action="store_true", help="the eager step, not the compiled")
    parser.add_argument("--keep-gradients", action="store_true",
                        help="a step that keeps its gradients, and the limit keeping its too")
    args = parser.parse_args()
    harness.limit_threads(1, torch=False)
    images, labels = mlp.make_data(args.batch * 64)
    layers = mlp.initial_weights(args.activation)
    if args.eager:
        maker, mode = mlp.ChainruleMLP, "eager"
    else:
        from bench_compile import CompiledMLP  # (imports chainrule.compile, which --eager skips)
        maker, mode = CompiledMLP, "compiled"
    candidates = {mode: maker(layers, args.activation, keep_gradients=args.keep_gradients),
                  "limit": mlp.NumpyMLP(layers, args.activation)}
    if args.keep_gradients:
        candidates["limit keeping gradients"] = mlp.NumpyMLP(layers, args.activation,
                                                             keep_gradients=True)
    batches = list(mlp.batches(images, labels, args.batch))
    for x, t in batches[:3]:  # warm-up (a compiled step's eager call and its recording)
        for model in candidates.values():
            model.step(x, t)
    clock = time.thread_time if args.cpu else time.perf_counter
    times = {name: [] for name in candidates}
    order = list(candidates.items())
    for index in range(args.rounds):
        chunk = [batches[(index * args.steps + k) % len(batches)] for k in range(args.steps)]
        first = index % len(order)  # each candidate first in turn
        for name, model in order[first:] + order[:first]:
            started = clock()
            for x, t in chunk:
                model.step(x, t)
            times[name].append((clock() - started) / args.steps * 1e6)
    a = numpy.array(times[mode])
    print(f"{args.activation}, batch {args.batch}, {args.rounds} rounds of {args.steps} step(s), "
          f"{'CPU' if args.cpu else 'wall'} time, load {os.getloadavg()[0]:.1f}: {mode} "
          f"{numpy.median(a):.1f} µs per step")
    for reference in list(candidates)[1:]:
        b = numpy.array(times[reference])
        print(f"  against the {reference} ({numpy.median(b):.1f} µs): medians "
              f"{numpy.median(a) / numpy.median(b):.3f}×, minima {a.min() / b.min():.3f}×, "
              f"median of per-round ratios {numpy.median(a / b):.3f}×")


if __name__ == "__main__":
    main()
