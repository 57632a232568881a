"""Benchmark 5: backward through a chain of 100,000 ops (chainrule vs PyTorch).

y = x, then 100,000 times y = y * c (c = 1 + 10⁻⁶, a 16-element float32 vector x): a graph far
deeper than any recursion limit. Timed separately: building the graph (the forward ops) and the
backward walk through it. The gradient is checked first: dy.sum()/dx = c^100000.

    python benchmarks/bench_deep_graph.py --quick     # 10,000 ops
    python benchmarks/bench_deep_graph.py --full      # 100,000 ops
"""
from __future__ import annotations

import time

import numpy

import harness

FACTOR = 1.000001


def chain(library, depth: int):
    """Build the chain; return (x, y, seconds it took)."""
    if library == "chainrule":
        import chainrule as lib
    else:
        import torch as lib
    x = lib.ones(16, requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(depth):
        y = y * FACTOR
    loss = y.sum()
    return x, loss, time.perf_counter() - start


def run(library: str, depth: int):
    """(forward seconds, backward seconds, gradient) of one chain."""
    x, loss, forward = chain(library, depth)
    start = time.perf_counter()
    loss.backward()
    backward = time.perf_counter() - start
    gradient = numpy.asarray(x.grad.detach().numpy() if hasattr(x.grad, "detach") else x.grad)
    return forward, backward, gradient


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    depth, repeats = (10_000, 3) if args.quick else (100_000, 7)
    expected = numpy.float32(FACTOR) ** depth  # float32, as the products are
    for library in ("chainrule", "pytorch"):
        _, _, gradient = run(library, depth)
        if not numpy.allclose(gradient, expected, rtol=1e-3):
            raise SystemExit(f"{library}: gradient {gradient[0]} after {depth:,} ops, expected "
                             f"{expected}")
    samples = {f"{library} {part}": [] for library in ("chainrule", "pytorch")
               for part in ("forward", "backward")}
    for _ in range(repeats):  # alternating; each round builds and walks a fresh chain
        for library in ("chainrule", "pytorch"):
            forward, backward, _ = run(library, depth)
            samples[f"{library} forward"].append(forward)
            samples[f"{library} backward"].append(backward)
    timings = {name: harness.Timing(name, values) for name, values in samples.items()}
    print(f"## 5. Deep graph: a chain of {depth:,} multiplications, 16 float32 elements\n")
    print(f"Gradient checked first: both give c^{depth:,} = {expected:.6f}.\n")
    for part in ("forward", "backward"):
        subset = {name.split()[0]: harness.Timing(name.split()[0], t.seconds)
                  for name, t in timings.items() if name.endswith(part)}
        print(harness.table(subset, baseline="pytorch", unit="s",
                            title=f"{part}: seconds for the chain ({repeats} alternating "
                                  "repeats)"), "\n")
    harness.save_json(args.json, {"depth": depth, "timings": timings})


if __name__ == "__main__":
    main()
