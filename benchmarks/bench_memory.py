"""Benchmark 4: peak resident memory during one MLP epoch (784-256-256-10, batch 128), for each
implementation, over the memory its data takes.

Each implementation runs in a fresh subprocess, so that nothing one allocates or caches shows up
in another's numbers. In the subprocess: import the libraries and build the model; read the
resident set size (RSS); make the data; reset the kernel's peak-RSS mark (Linux:
``/proc/self/clear_refs``); run one epoch; read the peak (``VmHWM``). Reported:

    over the data = peak during the epoch − RSS before the data − the data's own bytes

i.e. the memory a training epoch needs beyond the libraries, the model and the data themselves.

    python benchmarks/bench_memory.py --quick
    python benchmarks/bench_memory.py --full
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import harness
import mlp

MB = 2 ** 20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    """Make the peak (VmHWM) count from now on (Linux ≥ 4.0); False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    """The peak RSS of this process's memory since the last reset: VmHWM. (``ru_maxrss`` would
    also count the parent's memory at the fork, which exec records into it.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def worker(name: str, activation: str, samples: int) -> dict:
    """Run in the subprocess: one epoch of ``name``, and what it cost in memory."""
    if name == "compiled":  # chainrule with its step in chainrule.compile
        from bench_compile import CompiledMLP as maker
    else:
        maker = mlp.MAKERS[name]
    model = maker(mlp.initial_weights(activation), activation)
    before = _rss_bytes()
    images, labels = mlp.make_data(samples)
    data_bytes = images.nbytes + labels.nbytes
    peak_was_reset = _reset_peak()
    model.epoch(images, labels, 128)
    peak = _peak_bytes()
    return {"name": name, "activation": activation, "data_mb": data_bytes / MB,
            "before_mb": before / MB, "peak_mb": peak / MB,
            "over_data_mb": (peak - before - data_bytes) / MB, "peak_was_reset": peak_was_reset}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, name, activation, samples, threads = sys.argv
        harness.limit_threads(int(threads), torch=name == "pytorch")
        print(json.dumps(worker(name, activation, int(samples))))
        return
    args = harness.arguments(__doc__.splitlines()[0])
    samples = 3_840 if args.quick else 60_000
    activations = ("relu",) if args.quick else ("relu", "sigmoid")
    print(f"## 4. Memory: peak RSS during one MLP epoch, batch 128, {samples:,} samples\n")
    print("Each in a fresh process. *Over the data*: peak RSS during the epoch − RSS before the data "
          "was made (libraries and model loaded) − the data's own size.\n")
    print("| activation | implementation | data (MB) | RSS before data (MB) | peak in epoch (MB) | "
          "over the data (MB) | − NumPy limit's (MB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    results = []
    for activation in activations:
        rows = []
        names = ("chainrule", "compiled", "numpy limit") if args.quick else [*mlp.MAKERS,
                                                                             "compiled"]
        for name in names:
            command = [sys.executable, os.path.abspath(__file__), "--worker", name, activation,
                       str(samples), str(args.threads)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
        limit = next(r for r in rows if r["name"] == "numpy limit")["over_data_mb"]
        for r in rows:
            mark = "" if r["peak_was_reset"] else " (peak since start: reset not allowed)"
            print(f"| {activation} | {r['name']} | {r['data_mb']:.1f} | {r['before_mb']:.1f} | "
                  f"{r['peak_mb']:.1f}{mark} | {r['over_data_mb']:.1f} | "
                  f"{r['over_data_mb'] - limit:+.1f} |")
        results += rows
    print()
    harness.save_json(args.json, {"memory": results})


if __name__ == "__main__":
    main()
