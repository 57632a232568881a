"""Benchmark 8: chainrule.compile against eager chainrule and the hand-written NumPy limit.

The 784-256-256-10 MLP with plain SGD (benchmarks/mlp.py): one epoch at batch 128, ReLU and
sigmoid, and the time per step at batch 16 and batch 1 (ReLU). Before anything is timed, the
compiled and the eager model train side by side from the same weights and must end with bitwise
the same losses and weights.

    python benchmarks/bench_compile.py --quick
    python benchmarks/bench_compile.py --full
"""
from __future__ import annotations

import numpy

import harness
import mlp

SETTINGS = [("epoch", 128, "relu", 469), ("epoch", 128, "sigmoid", 469),
            ("step", 16, "relu", 100), ("step", 1, "relu", 250)]  # (what, batch, activation, steps)


class CompiledMLP(mlp.ChainruleMLP):
    """The same model and step as ChainruleMLP, the step wrapped in chainrule.compile."""

    def __init__(self, layers, activation: str = "relu", lr: float = mlp.LEARNING_RATE):
        super().__init__(layers, activation, lr)
        self.compiled = self.chainrule.compile(super().step)

    def step(self, x, labels):
        return self.compiled(self.chainrule.as_tensor(x), self.chainrule.as_tensor(labels))


def check_bitwise(activation: str, batch_size: int, steps: int = 6) -> None:
    """Compiled and eager from the same weights: every loss and every weight bit for bit."""
    images, labels = mlp.make_data(batch_size * steps, seed=2)
    layers = mlp.initial_weights(activation, seed=2)
    eager, compiled = mlp.ChainruleMLP(layers, activation), CompiledMLP(layers, activation)
    for x, t in mlp.batches(images, labels, batch_size):
        a, b = eager.step(x, t).item(), compiled.step(x, t).item()
        if a != b:
            raise SystemExit(f"compiled and eager losses differ ({activation}, batch "
                             f"{batch_size}): {b!r} against {a!r}")
    for p, q in zip(eager.model.parameters(), compiled.model.parameters()):
        if not numpy.array_equal(p.data, q.data):
            raise SystemExit(f"compiled and eager weights differ ({activation}, batch {batch_size})")


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    repeats = 3 if args.quick else 15
    print("## 8. chainrule.compile: compiled step vs eager vs the NumPy limit\n")
    results = {}
    for what, batch_size, activation, steps in SETTINGS:
        steps = max(10, steps // 10) if args.quick else steps
        check_bitwise(activation, batch_size)
        images, labels = mlp.make_data(batch_size * steps)
        layers = mlp.initial_weights(activation)
        makers = {"compiled": CompiledMLP, "eager": mlp.ChainruleMLP, "numpy limit": mlp.NumpyMLP}
        candidates = {}
        for name, maker in makers.items():
            model = maker(layers, activation)
            candidates[name] = lambda model=model: model.epoch(images, labels, batch_size)
        per_call = 1 if what == "epoch" else steps
        timings = harness.compare(candidates, repeats=repeats, warmup=1, per_call=per_call)
        unit = "s" if what == "epoch" else "us"
        title = (f"{activation}, batch {batch_size}: " +
                 (f"seconds per epoch of {steps * batch_size:,} samples" if what == "epoch"
                  else f"microseconds per step ({steps} steps per call)") +
                 f", {repeats} alternating repeats; compiled and eager bitwise equal")
        print(harness.table(timings, baseline="numpy limit", unit=unit, title=title), "\n")
        results[f"{what} {activation} {batch_size}"] = timings
    harness.print_machine()
    harness.save_json(args.json, {"timings": results})


if __name__ == "__main__":
    main()
