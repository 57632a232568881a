"""The interpreter's work per eager step, counted in instructions rather than timed.

One step (forward, zero_grad, backward, SGD) of a tiny 8-8-8-4 MLP at batch 1, where the arrays
cost almost nothing, run under ``valgrind --tool=callgrind`` for 100 and for 400 steps: the
difference over 300 is the instructions per step. Unlike a timing on a shared machine the count
is the same from run to run (the garbage collector is off, BLAS on one thread, address layout
and string hashing fixed), so a change of half a percent in the engine's Python path shows.
To compare two versions of chainrule, run it with each on PYTHONPATH, from directories whose
paths have the same length (the length of the source's path alone moves the count by ~0.2%):

    python benchmarks/eager_instructions.py --activation sigmoid
    PYTHONPATH=/tmp/old/src python benchmarks/eager_instructions.py
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

SHORT, LONG = 100, 400


def steps(activation: str, count: int) -> None:
    import gc

    import numpy

    import chainrule
    import chainrule.nn.functional as F
    from chainrule import nn, optim

    act = nn.ReLU if activation == "relu" else nn.Sigmoid
    model = nn.Sequential(nn.Linear(8, 8), act(), nn.Linear(8, 8), act(), nn.Linear(8, 4))
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x = numpy.random.default_rng(0).random((1, 8), dtype=numpy.float32)
    labels = numpy.array([1])

    def step():
        loss = F.cross_entropy(model(chainrule.as_tensor(x)), chainrule.as_tensor(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for _ in range(20):
        step()
    gc.disable()
    for _ in range(count):
        step()


def instructions(activation: str, count: int) -> int:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    command = ["setarch", "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--activation", activation, "--steps", str(count)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    parser.add_argument("--steps", type=int, help="run this many steps (what valgrind counts)")
    args = parser.parse_args()
    if args.steps is not None:
        return steps(args.activation, args.steps)
    if not (shutil.which("valgrind") and shutil.which("setarch")):
        raise SystemExit("eager_instructions.py needs valgrind and setarch (util-linux)")
    counts = [instructions(args.activation, count) for count in (SHORT, LONG)]
    per_step = (counts[1] - counts[0]) / (LONG - SHORT)
    import chainrule
    print(f"{args.activation}: {per_step:,.0f} instructions per eager step of the 8-8-8-4 MLP "
          f"(chainrule from {os.path.dirname(chainrule.__file__)})")


if __name__ == "__main__":
    main()
