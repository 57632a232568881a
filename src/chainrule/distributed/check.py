"""Check a cluster setup with one command:

    mpiexec -n 4 python -m chainrule.distributed.check        (or: srun -n 4 python -m ...)

Every rank says where it runs; a sum over ranks must come out right; one data-parallel step of a
small model must leave every rank with the same weights; and the all-reduce's latency and
bandwidth are measured. Rank 0 prints the report; the exit status is 0 only if all is well.
"""
from __future__ import annotations

import sys
import time

import numpy

from . import world


def measure_all_reduce(values: int, repeats: int) -> float:
    """Seconds per in-place sum of ``values`` float32 numbers over all ranks (best of repeats)."""
    array = numpy.ones(values, dtype=numpy.float32)
    best = float("inf")
    for _ in range(repeats):
        world.barrier()
        started = time.perf_counter()
        world.all_reduce(array)
        best = min(best, time.perf_counter() - started)
    return world.all_reduce(numpy.array([best]), op="max")[0]


def main() -> int:
    import chainrule
    from chainrule import nn, optim
    from .parallel import DistributedDataParallel

    size, rank = world.init(), world.get_rank()
    say = print if rank == 0 else (lambda *args, **kwargs: None)
    say(f"world of {size} process{'es' if size > 1 else ''}:")
    for number, host, pid in world.processes():
        say(f"  rank {number}: pid {pid} on {host}")
    problems = []
    total = world.all_reduce(numpy.array([float(rank)]))[0]
    if total != size * (size - 1) / 2:
        problems.append(f"the sum of the ranks came out {total}, not {size * (size - 1) // 2}")
    chainrule.manual_seed(rank)   # different weights on each rank until the broadcast
    model = nn.MLP([8, 16, 2])
    parallel = DistributedDataParallel(model)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    inputs = chainrule.randn(4, 8)   # a different shard on each rank
    parallel(inputs).sum().backward()
    optimizer.step()
    flat = numpy.concatenate([p.data.ravel() for p in model.parameters()]).astype(numpy.float64)
    spread = world.all_reduce(flat.copy(), op="max") - world.all_reduce(flat.copy(), op="min")
    if spread.max() != 0:
        problems.append(f"after one step the ranks' weights differ by up to {spread.max():.3g}")
    if size == 1:
        say("no all-reduce to measure in a world of one process; start this under mpiexec or srun")
        say("OK" if not problems else "FAILED")
        return 1 if problems else 0
    latency = measure_all_reduce(1, 20)
    large = 4 * 2 ** 20
    seconds = measure_all_reduce(large // 4, 5)
    # a ring all-reduce moves 2(p−1)/p of the buffer through each process
    moved = 2 * (size - 1) / size * large
    say(f"all-reduce: latency {latency * 1e6:.1f} µs (one float32), "
        f"{moved / seconds / 1e9:.2f} GB/s bus bandwidth (4 MiB)")
    for problem in problems:
        say(f"PROBLEM: {problem}")
    say("OK" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
