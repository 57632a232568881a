"""How many BLAS threads should the CLI use? Seconds of three commands at 1, 2 and all cores'
threads, on a quiet machine and beside a CPU-bound process, as one markdown table.

    python benchmarks/threads.py                       # the table in docs/performance.md
    python benchmarks/threads.py --quick               # a smoke test: short runs, one round
    python benchmarks/threads.py --mnist-dir /work/shared/data/mnist --text input.txt

The commands: `chainrule train` (digits, the default MLP), the MNIST MLP of docs/training.md, and
200 `lm train` iterations of the baby preset. Each runs in its own process, as a user runs it,
with `--threads N`; the busy process is a Python loop this script starts and stops itself. The
settings alternate within each round (1, 2, …, then …, 2, 1) so that a change of the machine's
load hits them alike; each cell is the median over the rounds. A cell is the run's own seconds
from its metrics.json (Python's start-up left out): for `train` the whole run (loading, training,
testing), for `lm train` the training steps alone (the evaluations left out).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import machine_info, print_machine

MNIST_COMMAND = ["train", "mnist", "--model", "mlp", "--hidden", "400", "--optimizer", "sgd",
                 "--lr", "0.05", "--momentum", "0.9", "--batch-size", "100", "--epochs", "20",
                 "--val", "0"]
LM_TEXT_CHARACTERS = 200_000  # the steps cost the same on any text; a short one evaluates fast
BUSY_LOOP = "while True: pass"
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def commands(args, scratch: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments of `chainrule`, the metrics.json key that holds its seconds)."""
    rows = {"`chainrule train` (digits)": (["train", "--epochs", "2"] if args.quick else ["train"],
                                           "seconds")}
    if args.mnist_dir and Path(args.mnist_dir).is_dir():
        mnist = MNIST_COMMAND + ["--data-dir", args.mnist_dir]
        epochs = 1 if args.quick else args.mnist_epochs
        mnist[mnist.index("--epochs") + 1] = str(epochs)
        rows[f"MNIST MLP 784-400-10, {epochs} epoch{'s' if epochs > 1 else ''}"] = (mnist, "seconds")
    else:
        print(f"(no MNIST row: no folder --mnist-dir {args.mnist_dir!r})", file=sys.stderr)
    if Path(args.text).is_file():
        short = scratch / "text.txt"
        short.write_text(Path(args.text).read_text(encoding="utf-8")[:LM_TEXT_CHARACTERS],
                         encoding="utf-8")
        iterations = 20 if args.quick else 200
        rows[f"`lm train` baby, {iterations} iterations"] = (
            ["lm", "train", "--text", str(short), "--preset", "baby", "--max-iters",
             str(iterations), "--eval-iters", "1"], "training_seconds")
    else:
        print(f"(no lm train row: no file --text {args.text!r})", file=sys.stderr)
    return rows


def run_once(arguments: list[str], key: str, threads: int, out: Path) -> float:
    environment = {name: value for name, value in os.environ.items()
                   if name not in THREAD_VARIABLES}  # --threads alone decides
    command = [sys.executable, "-m", "chainrule", *arguments, "--out", str(out),
               "--threads", str(threads), "--quiet"]
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return json.loads((out / "metrics.json").read_text())[key]


def measure(args) -> dict:
    cores = os.cpu_count() or 1
    settings = sorted({1, 2, cores})
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        rows = commands(args, scratch)
        runs = 0
        for condition in ("quiet", "loaded"):
            busy = (subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
                    if condition == "loaded" else None)
            try:
                for round_ in range(args.repeats):
                    order = settings if round_ % 2 == 0 else settings[::-1]
                    for name, (arguments, key) in rows.items():
                        for threads in order:
                            runs += 1
                            seconds = run_once(arguments, key, threads, scratch / f"run{runs}")
                            results.setdefault((name, condition, threads), []).append(seconds)
                            print(f"{condition:6} round {round_ + 1}  {threads} threads  "
                                  f"{seconds:7.1f} s  {name}", file=sys.stderr, flush=True)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    return {"settings": settings, "cores": cores, "rows": list(rows), "seconds": results}


def table(measured: dict, default: int) -> str:
    settings, cores = measured["settings"], measured["cores"]

    def heading(threads: int) -> str:
        notes = [note for note, applies in (("CLI default", threads == default),
                                            ("OpenBLAS's own default", threads == cores))
                 if applies]
        return f"{threads} thread{'s' if threads > 1 else ''}" + (
            f" ({', '.join(notes)})" if notes else "")

    lines = ["| command | machine | " + " | ".join(heading(t) for t in settings) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in settings) + " |"]
    for name in measured["rows"]:
        for condition in ("quiet", "loaded"):
            cells = [statistics.median(measured["seconds"][(name, condition, threads)])
                     for threads in settings]
            best = min(cells)
            shown = [f"**{seconds:.1f}**" if seconds == best else f"{seconds:.1f}"
                     for seconds in cells]
            where = "quiet" if condition == "quiet" else "beside a busy process"
            lines.append(f"| {name} | {where} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs, one round: proves the script works, measures little")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds per condition (default: 3; 1 with --quick)")
    parser.add_argument("--mnist-dir", default="/work/shared/data/mnist",
                        help="the MNIST IDX files; the MNIST row is left out without them")
    parser.add_argument("--mnist-epochs", type=int, default=20,
                        help="epochs of the MNIST command (default: docs/training.md's 20; fewer "
                             "keep a run beside a busy process to minutes)")
    parser.add_argument("--text", default="/work/shared/data/tinyshakespeare/input.txt",
                        help="the text for lm train (its first 200,000 characters)")
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 3)
    from chainrule.cli import DEFAULT_THREADS

    load_before = os.getloadavg()
    measured = measure(args)
    mode = " --quick" if args.quick else ""
    print(f"Seconds of each run, the median of {args.repeats} round{'s' if args.repeats > 1 else ''} "
          "(the best of a row in bold). \"quiet\": no busy process of ours (the load average says "
          "what else ran); \"beside a busy process\": one Python busy loop running throughout. "
          f"From `python benchmarks/threads.py{mode}`"
          + (" (quick mode: short runs, one round)." if args.quick else ".") + "\n")
    print(table(measured, DEFAULT_THREADS))
    print()
    info = machine_info()
    # this process's own BLAS threads say nothing about the runs: each set its own
    info["blas"] = [entry.rsplit(":", 1)[0] for entry in info["blas"]]
    info["load_average_before"] = load_before
    print_machine(info)


if __name__ == "__main__":
    main()
