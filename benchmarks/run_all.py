"""Run every benchmark, one after another, each in its own process; with --full, write RESULTS.md.

    python benchmarks/run_all.py --quick                # a smoke test, about a minute
    python benchmarks/run_all.py --full                 # the numbers; rewrites benchmarks/RESULTS.md
    python benchmarks/run_all.py --full --threads 1     # on a loaded machine (see harness.py)

RESULTS.md keeps the sections already in it that are written by hand, not by this script: "## Other
runs and where the gap comes from" and "## Language model".
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = ["bench_mlp_epoch.py", "bench_small_batches.py", "bench_transformer.py",
              "bench_memory.py", "bench_deep_graph.py", "bench_compile.py"]
KEPT_SECTIONS = ("## Other runs and where the gap comes from", "## Language model",
                 "## Generation with a KV cache", "## Measurements of 30 November 2026")


def uptime() -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{time.strftime('%H:%M:%S UTC', time.gmtime())}, load average {load} (1, 5, 15 min)"


def kept_sections(path: str) -> str:
    """The hand-written sections (KEPT_SECTIONS) of the existing RESULTS.md, each up to the next
    "## " heading, in the order of KEPT_SECTIONS."""
    if not os.path.exists(path):
        return ""
    with open(path) as handle:
        text = handle.read()
    kept = []
    for heading in KEPT_SECTIONS:
        start = text.find(heading)
        if start >= 0:
            end = text.find("\n## ", start + len(heading))
            kept.append(text[start:] if end < 0 else text[start:end + 1])
    return "\n".join(kept)


def _load(path: str):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        payload = json.load(handle)
    os.remove(path)
    return payload


def _ratios(timings: dict, name: str, baseline: str) -> tuple[float, float]:
    """The ratio of medians, and the median of per-round ratios (harness.paired_ratio)."""
    mine, theirs = timings[name], timings[baseline]
    return (mine["median"] / theirs["median"],
            harness.paired_ratio(harness.Timing(name, mine["seconds"]),
                                 harness.Timing(baseline, theirs["seconds"])))


def targets(results: dict) -> str:
    """The issue's targets against this run's numbers. A target counts as met when the ratio of
    medians (the issue's measure) meets it; the per-round median is shown beside it."""
    rows = []

    def timed(what, timings, name, baseline, goal):
        ratio, paired = _ratios(timings, name, baseline)
        rows.append((what, f"{ratio:.2f}×", f"{paired:.2f}×", f"≤ {goal}×", ratio <= goal))
    epoch = results.get("bench_mlp_epoch.py")
    if epoch:
        for activation in ("relu", "sigmoid"):
            timed(f"MLP epoch, batch 128, {activation}: chainrule / NumPy limit",
                  epoch["timings"][activation], "chainrule", "numpy limit", 1.10)
    small = results.get("bench_small_batches.py")
    if small:
        for batch, goal in (("16", 1.25), ("1", 1.6)):
            timed(f"step at batch {batch}: chainrule / NumPy limit", small["timings"][batch],
                  "chainrule", "numpy limit", goal)
    transformer = results.get("bench_transformer.py")
    if transformer:
        timed("transformer step (wall clock): chainrule / PyTorch", transformer["timings"],
              "chainrule", "pytorch", 1.2)
    compiled = results.get("bench_compile.py")
    if compiled:  # issue 14's targets for chainrule.compile
        for key, what, goal in (("epoch relu 128", "MLP epoch, batch 128, relu", 1.02),
                                ("epoch sigmoid 128", "MLP epoch, batch 128, sigmoid", 1.02),
                                ("step relu 16", "step at batch 16", 1.08),
                                ("step relu 1", "step at batch 1", 1.15)):
            timed(f"{what}: compiled / NumPy limit", compiled["timings"][key], "compiled",
                  "numpy limit", goal)
    memory = results.get("bench_memory.py")
    if memory:
        over = {(r["activation"], r["name"]): r["over_data_mb"] for r in memory["memory"]}
        for activation in sorted({r["activation"] for r in memory["memory"]}):
            for name in ("chainrule", "compiled"):
                if (activation, name) not in over:
                    continue
                excess = over[(activation, name)] - over[(activation, "numpy limit")]
                rows.append((f"peak memory over the data, {activation}: {name} − NumPy limit",
                             f"{excess:+.1f} MB", "", "≤ 30 MB", excess <= 30))
    lines = ["## Targets (issues 5 and 14), from this run", "",
             "| measure | ratio of medians | median of per-round ratios | target | met |",
             "| --- | ---: | ---: | ---: | --- |"]
    lines += [f"| {what} | {value} | {paired} | {goal} | {'yes' if met else 'no'} |"
              for what, value, paired, goal, met in rows]
    return "\n".join(lines)


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    mode = "--quick" if args.quick else "--full"
    command = f"python benchmarks/run_all.py {mode} --threads {args.threads}"
    load_before, started = uptime(), time.perf_counter()
    machine = harness.machine_info()
    sections, results, failed = [], {}, []
    for script in BENCHMARKS:
        path = os.path.join(HERE, script)
        if not os.path.exists(path):
            sections.append(f"## {script}\n\nnot present yet.\n")
            continue
        print(f"=== {script} {mode}", flush=True)
        begun = time.perf_counter()
        json_path = os.path.join(tempfile.gettempdir(), f"chainrule-{os.getpid()}-{script}.json")
        result = subprocess.run([sys.executable, path, mode, "--threads", str(args.threads),
                                 "--json", json_path], capture_output=True, text=True, cwd=HERE)
        results[script] = _load(json_path)
        print(result.stdout, flush=True)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            failed.append(script)
            sections.append(f"## {script}\n\nFAILED (exit {result.returncode}):\n\n```\n"
                            f"{result.stderr[-2000:]}\n```\n")
            continue
        output = result.stdout
        if script == "bench_transformer.py":  # it prints the machine itself; we record it once
            output = "## 3. Character transformer: one training step\n\n" + \
                output.split("\n- when_utc")[0]
        sections.append(output.rstrip() + f"\n\n({script}: {time.perf_counter() - begun:.0f} s)\n")
    load_after, wall = uptime(), time.perf_counter() - started
    summary = targets(results)
    print(summary)
    print(f"all benchmarks: {wall:.0f} s; load before: {load_before}; after: {load_after}")
    if args.full:
        write_results(command, wall, load_before, load_after, machine, summary, sections)
    if failed:  # a smoke test that passes over a crash would prove nothing
        sys.exit(f"run_all: {len(failed)} of {len(BENCHMARKS)} benchmarks failed: "
                 f"{', '.join(failed)} (their errors are above)")


def write_results(command: str, wall: float, load_before: str, load_after: str, machine: dict,
                  summary: str, sections: list) -> None:
    """RESULTS.md from this run's sections, keeping the hand-written ones already in it."""
    lines = ["# Benchmarks: results of the latest full run", "",
             f"Command: `{command}` (from the repository root), {wall / 60:.1f} minutes.", "",
             f"Load before: {load_before}.  ", f"Load after: {load_after}.  ",
             f"Niceness of the run: {os.nice(0)}.", ""]
    if max(os.getloadavg()[0], float(load_before.split("load average ")[1].split(",")[0])) > 1:
        lines += [f"**The machine was shared and loaded** (load average above 1 on "
                  f"{os.cpu_count()} CPUs, others' work running beside this): absolute times are "
                  "inflated and vary from run to run; the ratios, measured alternating in one "
                  "process, are the numbers to read.", ""]
    lines += [f"- {key}: {'; '.join(map(str, value)) if isinstance(value, (list, tuple)) else value}"
              for key, value in machine.items()]
    lines += ["", "Each benchmark runs its candidates side by side in one process, alternating, "
              "after a warm-up (a, b, c, then c, b, a); the tables give the ratio of medians and "
              "the median of the per-round ratios. See benchmarks/harness.py.", ""]
    text = "\n".join(lines) + "\n" + summary + "\n\n" + "\n".join(sections)
    results_path = os.path.join(HERE, "RESULTS.md")
    kept = kept_sections(results_path)
    with open(results_path + ".tmp", "w") as handle:
        handle.write(text + ("\n" + kept if kept else ""))
    os.replace(results_path + ".tmp", results_path)
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
