"""The shared harness of every benchmark: side-by-side timing in one process, and the record of
the machine it ran on.

How a benchmark uses it::

    from harness import compare, machine_info, print_machine, table

    timings = compare({"chainrule": step_chainrule, "numpy limit": step_numpy,
                       "pytorch": step_torch}, repeats=7, warmup=1)
    print(table(timings, baseline="numpy limit", unit="s"))

Why this shape: the machine is shared and its load changes from second to second, so the
candidates run **alternately** (a, b, c, a, b, c, …) in one process after a warm-up; a burst of
load then hits all of them rather than one. We report min, median and max of each, and ratios of
medians to the baseline: the ratio is the number that means something on a noisy machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

BLAS_THREADS = 2  # the machine's two cores; every library gets the same number


@dataclass
class Timing:
    """Seconds per call of one candidate, over the repeats."""
    name: str
    seconds: list

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def max(self) -> float:
        return max(self.seconds)


def limit_threads(threads: int = BLAS_THREADS, torch: bool = True) -> None:
    """Give NumPy's BLAS, OpenMP and PyTorch the same number of threads (benchmarks only).
    ``torch=False`` leaves PyTorch unimported (a process that measures memory without it)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS first: threadpoolctl limits loaded libraries only)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if not torch:
        return
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def compare(candidates: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
            per_call: int = 1) -> dict[str, Timing]:
    """Time each candidate ``repeats`` times, alternating between them, after ``warmup`` rounds.

    ``per_call`` divides each measured time (a candidate that runs 100 steps per call and passes
    per_call=100 gets seconds per step).
    """
    for _ in range(warmup):
        for run in candidates.values():
            run()
    seconds = {name: [] for name in candidates}
    order = list(candidates.items())
    for round_ in range(repeats):
        # a, b, c, then c, b, a: no candidate always runs first (or right after the same other)
        for name, run in (order if round_ % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            run()
            seconds[name].append((time.perf_counter() - start) / per_call)
    return {name: Timing(name, values) for name, values in seconds.items()}


def _format(seconds: float, unit: str) -> str:
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    return f"{seconds * scale:.3f}" if unit == "s" else f"{seconds * scale:.1f}"


def paired_ratio(timing: Timing, baseline: Timing) -> float:
    """The median over rounds of this candidate's time over the baseline's in the same round.

    Both ran within seconds of each other, so a change of the machine's speed between rounds
    (other tenants' load) cancels in each round's ratio; the ratio of medians mixes rounds."""
    pairs = zip(timing.seconds, baseline.seconds)
    return statistics.median(mine / theirs for mine, theirs in pairs)


def table(timings: dict[str, Timing], baseline: str, unit: str = "s", title: str = "") -> str:
    """A Markdown table: min / median / max per candidate, the ratio of medians to ``baseline``
    and the median of the per-round ratios (``paired_ratio``)."""
    lines = [f"**{title}**", ""] if title else []
    lines += [f"| | min ({unit}) | median ({unit}) | max ({unit}) | median / {baseline} | "
              f"median of per-round ratios |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    reference = timings[baseline]
    for timing in timings.values():
        lines.append(f"| {timing.name} | {_format(timing.min, unit)} | "
                     f"{_format(timing.median, unit)} | {_format(timing.max, unit)} | "
                     f"{timing.median / reference.median:.2f}× | "
                     f"{paired_ratio(timing, reference):.2f}× |")
    return "\n".join(lines)


def machine_info() -> dict:
    """What a reader needs to reproduce or discount the numbers: CPU, load, versions, threads."""
    import numpy
    from threadpoolctl import threadpool_info

    info = {
        "when_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, {_cpu_model()}",
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "blas": [f"{pool['internal_api']} {pool.get('version')} ({pool['prefix']}): "
                 f"{pool['num_threads']} threads" for pool in threadpool_info()],
    }
    for module in ("torch", "sklearn"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = "not installed"
    if "torch" in sys.modules:
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def print_machine(info: dict | None = None) -> None:
    info = info or machine_info()
    for key, value in info.items():
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        print(f"- {key}: {value}")


def arguments(description: str) -> argparse.Namespace:
    """The flags every benchmark takes: --quick (seconds, for a smoke test) or --full (the numbers)."""
    parser = argparse.ArgumentParser(description=description)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="few repeats, small sizes: under a minute")
    mode.add_argument("--full", action="store_true", help="the repeats RESULTS.md is made from")
    parser.add_argument("--threads", type=int, default=BLAS_THREADS,
                        help="BLAS/OpenMP/PyTorch threads for every library (default: %(default)s; "
                             "use 1 on a loaded machine, where two BLAS threads on two busy cores "
                             "wait for each other and the timings lose all meaning)")
    parser.add_argument("--json", metavar="PATH", help="also write the timings here as JSON")
    args = parser.parse_args()
    limit_threads(args.threads)
    return args


def save_json(path: str | None, payload: dict) -> None:
    """Write the timings (and machine) for run_all.py to collect; a no-op without a path."""
    if not path:
        return
    def encode(value):
        if isinstance(value, Timing):
            return asdict(value) | {"median": value.median}
        raise TypeError(type(value))
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=1, default=encode)
