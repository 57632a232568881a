"""SIGKILL at random points of a training, many times (seeded): the run directory either
resumes to the bit-identical result of an uninterrupted run or is refused with a clear message,
and never holds one run's files mixed with another's.

The training is ``chainrule train`` itself (the command's ``main``) in a forked child process,
so each kill costs the training only, not a fresh interpreter."""
import json
import multiprocessing
import os
import random
import shutil
import signal
import time

import numpy
import pytest
import safetensors.numpy

from chainrule.cli import main
from chainrule.rundir import RunDirectory

FRESH_KILLS, OVERWRITE_KILLS, EXTENSION_KILLS = 12, 8, 6  # 26 kills in all
fork = multiprocessing.get_context("fork")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ numpy.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=40)
    path = tmp_path_factory.mktemp("kill") / "points.csv"
    path.write_text("a,b,c,y\n" + "".join(f"{a:.5f},{b:.5f},{c:.5f},{t:.5f}\n"
                                          for (a, b, c), t in zip(X, y)))
    return str(path)


def arguments(data, out, seed=0, epochs=10):
    return ["train", "--csv", data, "--target", "y", "--model", "linear", "--epochs", str(epochs),
            "--batch-size", "8", "--lr", "0.01", "--val", "0", "--seed", str(seed), "--quiet",
            "--out", str(out)]


def _silently(argv):
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
    os._exit(main(argv))


def timed(argv) -> float:
    """Seconds an uninterrupted run takes in a child, as the killed ones run."""
    started = time.perf_counter()
    assert train_killed_after(argv, 600) == 0
    return time.perf_counter() - started


def train_killed_after(argv, seconds: float) -> int | None:
    """Run ``argv`` in a child killed with SIGKILL after ``seconds``; its exit code if it ended
    first, else None."""
    child = fork.Process(target=_silently, args=(argv,))
    child.start()
    child.join(seconds)
    if child.exitcode is None:
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        return None
    return child.exitcode


def weights(run) -> dict:
    return safetensors.numpy.load_file(str(run / "model.safetensors"))


def same_weights(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(numpy.array_equal(first[name], second[name])
                                                 for name in first)


def quietly(capsys, argv) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def leftovers(folder) -> list:
    return [entry.name for entry in folder.iterdir()
            if ".new-" in entry.name or ".old-" in entry.name or entry.name.endswith(".tmp")]


def test_a_killed_run_resumes_bit_identically_or_is_refused_clearly(data, tmp_path, capsys):
    reference = tmp_path / "reference"
    assert quietly(capsys, arguments(data, reference))[0] == 0  # imports everything, then fork
    duration = timed(arguments(data, tmp_path / "timed"))
    expected = weights(reference)
    expected_test = json.loads((reference / "metrics.json").read_text())["test"]

    draw = random.Random(12)
    outcomes = {"resumed": 0, "refused": 0, "finished": 0}
    for trial in range(FRESH_KILLS):
        run = tmp_path / f"trial-{trial}"
        code = train_killed_after(arguments(data, run), draw.uniform(0.0, 1.2 * duration))
        if code == 0:
            outcomes["finished"] += 1
        else:
            assert code is None, f"trial {trial}: the training failed by itself ({code})"
            resumed, err = quietly(capsys, arguments(data, run) + ["--resume"])
            if resumed != 0:  # killed before anything could be resumed: said so, in one line
                assert err.count("\n") == 1 and "no run to resume" in err, err
                outcomes["refused"] += 1
                continue
            outcomes["resumed"] += 1
        assert same_weights(weights(run), expected), f"trial {trial}"
        assert json.loads((run / "metrics.json").read_text())["test"] == expected_test
        assert leftovers(run) == [] and leftovers(tmp_path) == []
    # The kills are timed, and the machine's load varies: ask only that enough of them landed.
    assert outcomes["resumed"] + outcomes["refused"] >= FRESH_KILLS // 4, outcomes


def test_a_killed_overwrite_leaves_the_old_run_or_the_new_one_never_a_mix(data, tmp_path,
                                                                          capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    assert quietly(capsys, arguments(data, old, seed=0))[0] == 0
    duration = timed(arguments(data, new, seed=1))
    runs = {0: weights(old), 1: weights(new)}

    draw = random.Random(34)
    killed = 0
    for trial in range(OVERWRITE_KILLS):
        run = tmp_path / f"trial-{trial}"
        shutil.copytree(old, run)
        killed += train_killed_after(arguments(data, run, seed=1) + ["--overwrite"],
                                     draw.uniform(0.0, 1.2 * duration)) is None
        with RunDirectory(run, resume=True):  # the next writer to start cleans up after a crash
            pass
        seed = json.loads((run / "config.json").read_text())["fitting"]["seed"]
        assert same_weights(weights(run), runs[seed]), f"trial {trial}: seed {seed}'s config " \
                                                        "with another run's weights"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["config"]["fitting"]["seed"] == seed
        assert main(["evaluate", str(run)]) == 0  # evaluable, and it scores what was saved
        assert json.loads(capsys.readouterr().out) == metrics["test"]
        assert leftovers(tmp_path) == [] and leftovers(run) == []
    # The kills are timed, and the machine's load varies: ask only that enough of them landed.
    assert killed >= OVERWRITE_KILLS // 4


def every_file(run) -> dict:
    return {str(path.relative_to(run)): path.read_bytes() for path in sorted(run.rglob("*"))
            if path.is_file()}


def test_a_killed_extension_leaves_the_finished_run_or_the_extended_one(data, tmp_path,
                                                                       capsys):
    # a finished run of 5 epochs resumed to 10: killed anywhere, the directory holds the
    # finished run byte for byte, or the extended one, and extending again gives the weights
    # of a run trained straight to 10 epochs
    finished, reference = tmp_path / "finished", tmp_path / "reference"
    assert quietly(capsys, arguments(data, finished, epochs=5))[0] == 0
    assert quietly(capsys, arguments(data, reference))[0] == 0
    short = every_file(finished)
    extending = tmp_path / "timed"
    shutil.copytree(finished, extending)
    duration = timed(arguments(data, extending) + ["--resume"])
    expected = weights(reference)
    expected_test = json.loads((reference / "metrics.json").read_text())["test"]

    draw = random.Random(56)
    kept = 0
    for trial in range(EXTENSION_KILLS):
        run = tmp_path / f"trial-{trial}"
        shutil.copytree(finished, run)
        train_killed_after(arguments(data, run) + ["--resume"], draw.uniform(0.0, 1.2 * duration))
        with RunDirectory(run, resume=True):  # the next writer to start cleans up after a crash
            pass
        if every_file(run) == short:
            kept += 1
            assert main(["evaluate", str(run)]) == 0  # the finished run, still evaluable
            capsys.readouterr()
            assert quietly(capsys, arguments(data, run) + ["--resume"])[0] == 0
        assert same_weights(weights(run), expected), f"trial {trial}"
        assert json.loads((run / "metrics.json").read_text())["test"] == expected_test
        assert leftovers(tmp_path) == [] and leftovers(run) == []
    # The kills are timed, and the machine's load varies: ask only that enough of them landed.
    assert kept >= EXTENSION_KILLS // 4
