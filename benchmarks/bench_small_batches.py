"""Benchmark 2: time per SGD step of the 784-256-256-10 ReLU MLP at batch 16 and batch 1.

At these sizes the arithmetic is tiny and what is measured is each engine's overhead per op.

    python benchmarks/bench_small_batches.py --quick
    python benchmarks/bench_small_batches.py --full
"""
from __future__ import annotations

import harness
import mlp

STEPS = {16: 100, 1: 250}  # steps per timed call: about a tenth of a second, so many rounds fit


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    repeats = 2 if args.quick else 25
    print("## 2. Small batches: time per SGD step, 784-256-256-10 ReLU\n")
    results = {}
    for batch_size, steps in STEPS.items():
        steps = steps // 10 if args.quick else steps
        images, labels = mlp.make_data(batch_size * steps)
        layers = mlp.initial_weights("relu")
        candidates = {}
        for name in ("chainrule", "numpy limit", "pytorch"):
            model = mlp.MAKERS[name](layers, "relu")
            candidates[name] = lambda model=model: model.epoch(images, labels, batch_size)
        timings = harness.compare(candidates, repeats=repeats, warmup=1, per_call=steps)
        print(harness.table(timings, baseline="numpy limit", unit="us",
                            title=f"batch {batch_size}: microseconds per step ({steps} steps per "
                                  f"call, {repeats} alternating repeats)"), "\n")
        results[batch_size] = timings
    harness.save_json(args.json, {"timings": results})


if __name__ == "__main__":
    main()
