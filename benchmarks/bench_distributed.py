"""Data-parallel GPT steps over MPI: time per step and the all-reduce's share with 1, 2 and 4
processes, the all-reduce's measured latency and bandwidth, and a paper estimate of the scaling
on a cluster from the ring all-reduce's cost model.

    python benchmarks/bench_distributed.py --quick     # short runs (a loaded machine: label it)
    python benchmarks/bench_distributed.py             # the baby GPT (benchmarks: quiet machine)

Each process keeps its own shard of the per-process batch fixed (weak scaling: the global batch
grows with the processes). On a 2-core machine 4 processes share 2 cores, so the step cannot get
faster past 2: the numbers show the all-reduce's cost, not a cluster's speed-up. The paper
estimate, for p processes each with the 1-process compute time T_c and a gradient of b bytes:

    T_allreduce(p) = 2(p−1)/p · b / bandwidth + 2(p−1) · latency
    efficiency(p)  = T_c / (T_c + T_allreduce(p))      (no overlap of compute and communication)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "src"
ASSUMED_LATENCY = 10e-6


def worker(quick: bool, out: str) -> None:
    import numpy

    import chainrule
    from chainrule import distributed, optim
    from chainrule.distributed import world
    from chainrule.models.gpt import GPT, GPTConfig, PRESETS

    size = distributed.init()
    preset = dict(PRESETS["baby"])
    if quick:
        preset.update(n_layer=2, n_embd=64, block_size=32)
    config = GPTConfig(vocab_size=65, **preset)
    per_rank_batch, steps = (4, 6) if quick else (8, 20)
    chainrule.manual_seed(0)
    model = GPT(config)
    parallel = distributed.DistributedDataParallel(model)
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)
    tokens = numpy.random.default_rng(distributed.get_rank()).integers(
        0, 65, size=(per_rank_batch, config.block_size + 1))
    waited = [0.0]
    original_wait = world.wait

    def timed_wait(request, what):
        started = time.perf_counter()
        original_wait(request, what)
        waited[0] += time.perf_counter() - started

    world.wait = timed_wait
    times = []
    for step in range(steps + 1):
        if step == 1:
            waited[0] = 0.0   # the first step warms up
        distributed.barrier()
        started = time.perf_counter()
        _, loss = parallel(chainrule.tensor(tokens[:, :-1]), chainrule.tensor(tokens[:, 1:]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    world.wait = original_wait
    step_seconds = float(numpy.median(times[1:]))
    result = {"processes": size, "step_seconds": step_seconds,
              "allreduce_share": waited[0] / sum(times[1:]),
              "gradient_bytes": sum(p.data.nbytes for p in model.parameters())}
    if size > 1:
        from chainrule.distributed.check import measure_all_reduce

        large = 4 * 2 ** 20
        result["latency_seconds"] = float(measure_all_reduce(1, 20))
        seconds = float(measure_all_reduce(large // 4, 5))
        result["bus_bandwidth_bytes_per_second"] = 2 * (size - 1) / size * large / seconds
    if distributed.is_main_process():
        Path(out).write_text(json.dumps(result))


def launch(processes: int, quick: bool) -> dict:
    mpiexec = Path(sys.executable).with_name("mpiexec")
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "result.json")
        command = [sys.executable, __file__, "--worker", out] + (["--quick"] if quick else [])
        if processes > 1:
            command = [str(mpiexec), "-n", str(processes), *command]
        environment = {**os.environ, "PYTHONPATH": str(SOURCE), "OPENBLAS_NUM_THREADS": "1"}
        subprocess.run(command, check=True, env=environment, timeout=600)
        return json.loads(Path(out).read_text())


def ring_allreduce_seconds(processes: int, gradient_bytes: int, bandwidth: float,
                           latency: float) -> float:
    return (2 * (processes - 1) / processes * gradient_bytes / bandwidth
            + 2 * (processes - 1) * latency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller GPT, a few steps")
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.quick, args.worker)
        return
    print(f"# bench_distributed{' --quick' if args.quick else ''}: weak scaling, per-process "
          f"batch fixed; {os.cpu_count()} cores, 1 BLAS thread per process")
    results = [launch(processes, args.quick) for processes in (1, 2, 4)]
    # The wait counts from this rank's bucket being full to the sum arriving: the transfer, and
    # the time the slower rank (on shared cores) takes to reach the same bucket.
    print("| processes | seconds per step (median) | share of the step waiting in all-reduce |")
    print("| --- | --- | --- |")
    for result in results:
        print(f"| {result['processes']} | {result['step_seconds']:.4f} | "
              f"{100 * result['allreduce_share']:.1f}% |")
    measured = results[1]
    print(f"\nall-reduce between 2 processes on this machine (shared memory): latency "
          f"{measured['latency_seconds'] * 1e6:.1f} µs, bus bandwidth "
          f"{measured['bus_bandwidth_bytes_per_second'] / 1e9:.2f} GB/s")
    compute = results[0]["step_seconds"]
    gradient = results[0]["gradient_bytes"]
    latency = measured["latency_seconds"]
    print(f"\npaper estimate: gradient {gradient / 2 ** 20:.2f} MiB, 1-process step {compute:.4f} s, "
          f"no overlap; latency as measured here ({latency * 1e6:.1f} µs, between processes on "
          f"shared cores) and, for comparison, {ASSUMED_LATENCY * 1e6:.0f} µs (an assumption: a "
          f"cluster network's MPI latency)")
    print("| processes | network | all-reduce s (measured latency) | efficiency | "
          f"all-reduce s ({ASSUMED_LATENCY * 1e6:.0f} µs) | efficiency |")
    print("| --- | --- | --- | --- | --- | --- |")
    for processes in (8, 64):
        for gigabits in (10, 100):
            cells = []
            for assumed in (latency, ASSUMED_LATENCY):
                seconds = ring_allreduce_seconds(processes, gradient, gigabits * 1e9 / 8, assumed)
                cells += [f"{seconds:.4f}", f"{100 * compute / (compute + seconds):.0f}%"]
            print(f"| {processes} | {gigabits} Gbit/s | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
