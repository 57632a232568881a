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

FRESH_KILLS, OVERWRITE_KILLS, EXTENSION_KILLS = 12, 8, 6  # 26 kills at random moments
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
    """A crash's leftovers, and the copies extensions keep until they finish."""
    return [entry.name for entry in folder.iterdir()
            if ".new-" in entry.name or ".old-" in entry.name or entry.name.endswith(".tmp")
            or ".extending-" in entry.name]


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
    # the shorter of two timed extensions: one slowed by a busy moment would draw every kill
    # past the end of the runs that follow
    durations = []
    for timing in ("timed", "timed-again"):
        shutil.copytree(finished, tmp_path / timing)
        durations.append(timed(arguments(data, tmp_path / timing) + ["--resume"]))
    duration = min(durations)
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


def _killed_once_checkpointed(argv, epoch: int) -> None:
    """``argv`` in this forked child, which kills itself with SIGKILL once ``epoch`` is in the
    checkpoint (every epoch is saved, not once a second)."""
    from chainrule import training

    real_save = training._save_checkpoint

    def save_then_die(folder, model, optimizer, scheduler, history, *rest):
        real_save(folder, model, optimizer, scheduler, history, *rest)
        if history.records[-1]["epoch"] == epoch:
            os.kill(os.getpid(), signal.SIGKILL)
    training._save_checkpoint = save_then_die
    training.CHECKPOINT_INTERVAL_SECONDS = 0.0
    _silently(argv)


def _killed_while_copying(argv, files: int) -> None:
    """``argv`` in this forked child, killed with SIGKILL once it has copied ``files`` files."""
    real_copy, copied = shutil.copy2, []

    def copy_then_die(source, target, **options):
        real_copy(source, target, **options)
        copied.append(source)
        if len(copied) == files:
            os.kill(os.getpid(), signal.SIGKILL)
    shutil.copy2 = copy_then_die
    _silently(argv)


def exit_code_of(target, *arguments) -> int:
    child = fork.Process(target=target, args=arguments)
    child.start()
    child.join(600)
    return child.exitcode


def checkpointed_epochs(folder) -> list:
    return [record["epoch"] for record in
            json.loads((folder / "checkpoint" / "history.json").read_text())["epochs"]]


def extension_copies(folder) -> list:
    return sorted(entry for entry in folder.iterdir() if ".extending-" in entry.name)


def test_a_killed_extension_continues_from_its_checkpoint_to_a_straight_runs_weights(
        data, tmp_path, capsys):
    # a finished run of 5 epochs extended to 10, killed once epoch 7 is saved, continued and
    # killed again once epoch 9 is: each kill keeps the epochs trained, the finished run stays
    # byte for byte until the extension finishes, and it ends as a run trained straight to 10
    run, reference = tmp_path / "run", tmp_path / "reference"
    assert quietly(capsys, arguments(data, run, epochs=5))[0] == 0
    assert quietly(capsys, arguments(data, reference))[0] == 0
    short, extend = every_file(run), arguments(data, run) + ["--resume"]
    assert exit_code_of(_killed_once_checkpointed, extend, 7) == -signal.SIGKILL
    [copy] = extension_copies(tmp_path)
    assert checkpointed_epochs(copy) == [1, 2, 3, 4, 5, 6, 7]
    assert every_file(run) == short
    assert exit_code_of(_killed_once_checkpointed, extend, 9) == -signal.SIGKILL
    assert extension_copies(tmp_path) == [copy]
    assert checkpointed_epochs(copy) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert every_file(run) == short
    assert main(["evaluate", str(run)]) == 0  # the finished run, still evaluable
    capsys.readouterr()
    code = main([argument for argument in extend if argument != "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"continuing the interrupted extension of the finished run in {run} from its " \
           f"checkpoint at epoch 9, in its copy {copy}" in out
    assert f"resuming at epoch 10 of 10 (checkpoint in {copy / 'checkpoint'})" in err
    assert same_weights(weights(run), weights(reference))
    assert json.loads((run / "metrics.json").read_text())["test"] == \
        json.loads((reference / "metrics.json").read_text())["test"]
    assert checkpointed_epochs(run) == list(range(1, 11))
    assert leftovers(tmp_path) == [] and leftovers(run) == []


def test_an_extension_killed_while_copying_the_run_is_discarded_not_continued(data, tmp_path,
                                                                              capsys):
    run, reference = tmp_path / "run", tmp_path / "reference"
    assert quietly(capsys, arguments(data, run, epochs=5))[0] == 0
    assert quietly(capsys, arguments(data, reference))[0] == 0
    short, extend = every_file(run), arguments(data, run) + ["--resume"]
    assert exit_code_of(_killed_while_copying, extend, 3) == -signal.SIGKILL
    [partial] = [entry for entry in tmp_path.iterdir() if entry.name.startswith(".run.")
                 and not entry.name.endswith(".lock")]
    assert partial.name.startswith(".run.new-")  # not yet named as an extension's copy
    assert len(every_file(partial)) < len(short) and every_file(run) == short
    code = main([argument for argument in extend if argument != "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "continuing" not in out and "discarded" not in out
    assert f"extending the finished run in {run} in a copy" in out
    assert "resuming at epoch 6 of 10" in err
    assert same_weights(weights(run), weights(reference))
    assert leftovers(tmp_path) == [] and leftovers(run) == []
