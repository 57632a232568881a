"""Benchmark 1: one epoch of a 784-256-256-10 MLP (ReLU and sigmoid), batch 128, plain SGD.

chainrule vs the hand-written NumPy limit vs PyTorch vs scikit-learn, side by side in this one
process, alternating after a warm-up. First it checks that all four compute the same losses.

    python benchmarks/bench_mlp_epoch.py --quick     # 3,840 samples, 2 repeats
    python benchmarks/bench_mlp_epoch.py --full      # 60,000 samples, 7 repeats
"""
from __future__ import annotations

import harness
import mlp

TOLERANCE = 1e-5  # relative, on losses near 2.3 after float32 arithmetic in four different orders


def agreement_table() -> str:
    lines = ["**Do they compute the same thing?** Same initial weights and batches (128 samples); "
             "the loss of each of 5 SGD steps and after them, each relative to the NumPy limit's.",
             "", "| activation | implementation | loss after 5 steps | largest relative difference, "
             "6 losses | agrees |", "| --- | --- | ---: | ---: | --- |"]
    failures = []
    for activation in ("relu", "sigmoid"):
        losses = mlp.check_agreement(activation)
        reference = losses["numpy limit"]
        for name, trace in losses.items():
            worst = max(abs(a - b) / abs(b) for a, b in zip(trace, reference))
            agrees = worst <= TOLERANCE
            if not agrees:
                failures.append(f"{name} ({activation})")
            lines.append(f"| {activation} | {name} | {trace[-1]:.6f} | {worst:.1e} | "
                         f"{'yes' if agrees else 'NO'} |")
    lines += ["", "scikit-learn: weights and biases copied into `coefs_`/`intercepts_` (transposed); "
              "`solver='sgd'`, `alpha=0`, `momentum=0`, `shuffle=False`, constant learning rate, "
              "one `partial_fit` per batch; its `loss_` is the batch's loss before the update."]
    if failures:
        raise SystemExit("the implementations disagree: " + ", ".join(failures) + "\n" +
                         "\n".join(lines))
    return "\n".join(lines)


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    samples, repeats = (3_840, 2) if args.quick else (60_000, 11)
    images, labels = mlp.make_data(samples)
    print(f"## 1. MLP epoch: 784-256-256-10, batch 128, {samples:,} samples, float32\n")
    print(agreement_table(), "\n")
    results = {}
    for activation in ("relu", "sigmoid"):
        layers = mlp.initial_weights(activation)
        models = {name: maker(layers, activation) for name, maker in mlp.MAKERS.items()}
        timings = harness.compare(
            {name: (lambda model=model: model.epoch(images, labels, 128))
             for name, model in models.items()}, repeats=repeats, warmup=1)
        print(harness.table(timings, baseline="numpy limit", unit="s",
                            title=f"{activation}: seconds per epoch ({repeats} alternating "
                                  "repeats after a warm-up)"), "\n")
        results[activation] = timings
    harness.save_json(args.json, {"samples": samples, "timings": results})


if __name__ == "__main__":
    main()
