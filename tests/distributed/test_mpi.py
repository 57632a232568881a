"""Data-parallel training under ``mpiexec``: the same weights as one process, and faults that end
the job with a clear message instead of a hang.

Each run launches ``mpiexec -n N python mpi_worker.py`` and compares the weights rank 0 writes
with those of the same task run here, in this process (a world of one). Not bitwise: a shard's
gradient is summed over its own rows and the shards' sums are then added, another order of
float32 additions than one sum over the whole batch, so the weights agree to rounding (the
tolerance below), and to 1e-12 in float64.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

import chainrule

sys.path.insert(0, str(Path(__file__).parent))
import mpi_worker  # noqa: E402

WORKER = Path(__file__).with_name("mpi_worker.py")
HOW_TO_RUN = ("the MPI tests need mpi4py and an MPI launcher (mpiexec): "
              "pip install -e '.[mpi]' (the mpich wheel brings mpiexec)")


def _mpiexec() -> str | None:
    beside_python = Path(sys.executable).with_name("mpiexec")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
                               reason=HOW_TO_RUN)


def launch(processes: int, out_dir: Path, *tasks: str, extra=(), timeout: float = 240,
           environment: dict | None = None):
    return run_under_mpiexec(processes, [str(WORKER), str(out_dir), *tasks], extra, timeout,
                             environment)


def each_rank(out_dir: Path, task: str, extension: str = ".npz") -> list:
    """Task ``task`` run on 2 processes, which must succeed: what each rank saved."""
    run = launch(2, out_dir, task)
    assert run.returncode == 0, run.stdout
    return [numpy.load(out_dir / f"{task}-rank{rank}{extension}") for rank in (0, 1)]


def run_under_mpiexec(processes: int, arguments: list, extra=(), timeout: float = 240,
                      environment: dict | None = None):
    command = [MPIEXEC, *extra, "-n", str(processes)]
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        command.append("--oversubscribe")   # MPICH runs more processes than cores unasked
    environment = {**os.environ, "PYTHONPATH": str(Path(chainrule.__file__).parents[1]),
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **(environment or {})}
    # Hydra may pass a rank's standard error on through its own standard output: read both.
    return subprocess.run([*command, sys.executable, *arguments],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=environment)


def ranks_to_pids(out_dir: Path) -> dict:
    """Rank → process id, as the worker's rank 0 wrote them (distributed.world.processes())."""
    return dict(line.split()[::2] for line in (out_dir / "processes.txt").read_text().split("\n")
                if line)


def assert_same_weights(alone: dict, path: Path, tolerance: float) -> None:
    parallel = numpy.load(path)
    assert sorted(parallel.files) == sorted(alone)
    for name, expected in alone.items():
        relative = numpy.linalg.norm(parallel[name] - expected) / numpy.linalg.norm(expected)
        assert relative <= tolerance, f"{name}: relative difference {relative:.2e}"


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("two")
    run = launch(2, out_dir, "mlp64", "gpt-sgd", "gpt-adamw-float64")
    assert run.returncode == 0, run.stdout
    assert run.stdout == "", "ranks print nothing unasked"
    return out_dir


@needs_mpi
def test_an_epoch_of_the_mnist_sized_mlp_on_two_processes_ends_with_one_process_weights(
        two_processes):
    assert_same_weights(mpi_worker.TASKS["mlp64"](), two_processes / "mlp64.npz", 1e-6)


@needs_mpi
def test_fifty_gpt_steps_on_two_processes_end_with_one_process_weights(two_processes):
    assert_same_weights(mpi_worker.TASKS["gpt-sgd"](), two_processes / "gpt-sgd.npz", 1e-6)


@needs_mpi
def test_adamw_gpt_steps_in_float64_agree_to_rounding(two_processes):
    # In float32 AdamW divides each gradient by its running root mean square, which turns the
    # summation order's rounding (1e-7 of a tiny gradient) into a visible part of the step:
    # after 50 steps the weights differ by ~5e-5. In float64 the same code agrees to 1e-12,
    # which says the difference is rounding, not a wrong average.
    assert_same_weights(mpi_worker.TASKS["gpt-adamw-float64"](),
                        two_processes / "gpt-adamw-float64.npz", 1e-12)


@needs_mpi
def test_four_processes_oversubscribed_handle_a_batch_they_do_not_divide(tmp_path):
    # 62 rows per step are shards of 16, 16, 15 and 15, and the epoch's last batch of 2 rows
    # leaves two ranks empty: both are weighted exactly, so one process's weights come out.
    run = launch(4, tmp_path, "mlp62")
    assert run.returncode == 0, run.stdout
    assert_same_weights(mpi_worker.TASKS["mlp62"](), tmp_path / "mlp62.npz", 1e-6)


@needs_mpi
def test_a_checkpoint_of_one_process_resumes_on_two(tmp_path):
    mpi_worker.mnist_sized_mlp(64, epochs=1, checkpoint_dir=tmp_path / "checkpoint")
    run = launch(2, tmp_path, "resume")
    assert run.returncode == 0, run.stdout
    assert_same_weights(mpi_worker.mnist_sized_mlp(64, epochs=2), tmp_path / "resume.npz", 1e-6)


@needs_mpi
def test_the_first_loss_that_judges_divergence_is_the_global_batchs(tmp_path):
    # Each rank took its own shard's first loss as the reference of "the loss grew 1000-fold",
    # so the ranks could judge the same epoch apart (one stopping, the other going on)
    from chainrule.checkpoint import load_checkpoint

    mpi_worker.small_checkpointed_fit(tmp_path / "alone")
    run = launch(2, tmp_path, "first-loss")
    assert run.returncode == 0, run.stdout
    first = [load_checkpoint(tmp_path / name)["extra"]["first_loss"]
             for name in ("alone", "first-loss")]
    assert first[1] == pytest.approx(first[0], rel=1e-6)


@needs_mpi
def test_a_killed_rank_ends_the_job_within_a_minute_and_the_launcher_names_a_process_of_it(
        tmp_path):
    # MPICH's Hydra kills the survivor itself within a second, before its collective looks
    # (every half second), and names by id the first process it saw end: the killed rank, or
    # (in 2 of 150 jobs here) the survivor it killed in its cleanup, whose exit code is 9 too.
    started = time.monotonic()
    run = launch(2, tmp_path, "die", timeout=90)
    assert time.monotonic() - started < 60
    assert run.returncode != 0
    named = re.search(r"BAD TERMINATION .*?PID (\d+) ", run.stdout, re.DOTALL)
    assert named and named.group(1) in ranks_to_pids(tmp_path).values(), run.stdout
    assert not (tmp_path / "die.npz").exists()


@needs_mpi
def test_left_running_by_the_launcher_the_survivor_names_the_killed_rank_or_no_rank(tmp_path):
    # Told not to end the job itself (-disable-auto-cleanup), Hydra sends the survivor SIGUSR1,
    # and chainrule names the lost rank at once (test_lost_peers.py); but MPICH may end the
    # survivor inside its next call first, with nothing said (1 of 15 jobs here).
    started = time.monotonic()
    run = launch(2, tmp_path, "die", extra=["-disable-auto-cleanup"], timeout=90)
    assert time.monotonic() - started < 60
    assert run.returncode != 0
    blamed = re.findall(r"lost rank (\d+) \(pid (\d+) ", run.stdout)
    assert set(blamed) <= {("1", ranks_to_pids(tmp_path)["1"])}, run.stdout
    assert not (tmp_path / "die.npz").exists()


@needs_mpi
def test_an_exception_on_one_rank_aborts_every_rank_naming_it(tmp_path):
    started = time.monotonic()
    run = launch(2, tmp_path, "raise", timeout=90)
    assert time.monotonic() - started < 60
    assert run.returncode != 0
    assert "rank 1 of 2: failed with RuntimeError: a failure in rank 1's fifth step" in run.stdout
    assert not (tmp_path / "raise.npz").exists()


@needs_mpi
@pytest.mark.parametrize("scenario, collective", [
    ("stall", "gradient all-reduce (bucket 0)"),
    # lm train sends rank 0's generator state this way; MPI's bcast waited inside MPI
    ("stall-object", "broadcast of 1 values")])
def test_a_collective_waiting_for_a_stuck_rank_gives_up_after_the_timeout(tmp_path, scenario,
                                                                          collective):
    started = time.monotonic()
    run = launch(2, tmp_path, scenario, timeout=90,
                 environment={"CHAINRULE_COLLECTIVE_TIMEOUT": "3"})
    assert time.monotonic() - started < 40   # not the minute that rank 1 sleeps
    assert run.returncode != 0
    assert f"rank 0 of 2: {collective}: waited 3 s" in run.stdout, run.stdout


@needs_mpi
def test_a_parameter_left_out_of_the_loss_is_named_at_the_next_forward(tmp_path):
    run = launch(2, tmp_path, "unused", timeout=90)
    assert run.returncode != 0
    assert "the last backward gave no gradient to 1.weight, 1.bias" in run.stdout, run.stdout


@needs_mpi
def test_a_parameter_left_out_of_the_loss_in_fits_last_step_is_named_after_it(tmp_path):
    # No forward follows the last step: its ranks stepped on their own gradients, unaveraged,
    # and ended with different weights, silently. Named before the epoch's checkpoint: rank 0
    # had written it already, and a resume (of the model mended) found every epoch trained
    # and returned the weights of that step as the run's
    from chainrule.training_checkpoint import has_checkpoint

    run = launch(2, tmp_path, "unused-last", timeout=90)
    assert run.returncode != 0
    assert "the last backward gave no gradient to unused.weight, unused.bias" in run.stdout, \
        run.stdout
    assert not (tmp_path / "unused-last.npz").exists()
    assert not has_checkpoint(tmp_path / "unused-last-checkpoint")


@needs_mpi
def test_chainrule_train_under_mpiexec_writes_one_run_directory_with_one_process_model(tmp_path):
    from chainrule.cli import main

    arguments = ["train", "iris", "--epochs", "1", "--batch-size", "16", "--quiet"]
    assert main([*arguments, "--out", str(tmp_path / "alone")]) == 0
    run = run_under_mpiexec(2, ["-m", "chainrule", *arguments, "--out", str(tmp_path / "two")])
    assert run.returncode == 0, run.stdout
    assert run.stdout.count("test accuracy") == 1, "rank 0 alone prints"
    alone = json.loads((tmp_path / "alone" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["test"]["accuracy"] == alone["test"]["accuracy"]
    assert two["train"]["loss"] == pytest.approx(alone["train"]["loss"], rel=1e-6)


@needs_mpi
def test_an_error_on_rank_zero_alone_ends_every_rank_at_once(tmp_path):
    # Rank 0 alone checks the run directory: its refusal used to leave rank 1 waiting in the
    # broadcast of the weights until the collective's timeout (300 s) while rank 0 sat in
    # MPI's finalize.
    from chainrule.cli import main

    arguments = ["train", "iris", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]
    assert main(arguments) == 0
    started = time.monotonic()
    run = run_under_mpiexec(2, ["-m", "chainrule", *arguments], timeout=90)
    assert time.monotonic() - started < 60
    assert run.returncode == 2, run.stdout
    # one line, as in one process, that says which rank and that the job ends (MPI_Abort's own
    # "application called MPI_Abort" line comes from MPICH)
    ours = [line for line in run.stdout.splitlines() if line.startswith("chainrule")]
    assert len(ours) == 1, run.stdout
    assert "already holds a run; pass --overwrite" in ours[0]
    assert ours[0].endswith("(rank 0 of 2; the error ends every rank)")


@needs_mpi
def test_lm_train_under_mpiexec_learns_what_one_process_learns(tmp_path):
    from chainrule.cli import main

    words = numpy.random.default_rng(0).choice(["the", "cat", "sat", "on", "a", "mat"], 2000)
    text = tmp_path / "text.txt"
    text.write_text(" ".join(words))
    arguments = ["lm", "train", "--text", str(text), "--max-iters", "20", "--batch-size", "8",
                 "--block-size", "16", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
                 "--eval-interval", "10", "--eval-iters", "2", "--quiet"]
    assert main([*arguments, "--out", str(tmp_path / "alone")]) == 0
    run = run_under_mpiexec(2, ["-m", "chainrule", *arguments, "--out", str(tmp_path / "two")])
    assert run.returncode == 0, run.stdout
    assert run.stdout.count('"val_loss"') == 1, "rank 0 alone prints"
    alone = json.loads((tmp_path / "alone" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    # AdamW in float32: 20 steps keep the rounding of the summation order below 1e-6
    assert two["val_loss"] == pytest.approx(alone["val_loss"], rel=1e-6)


@needs_mpi
def test_lm_train_with_dropout_draws_the_same_windows_on_every_rank(tmp_path):
    # Dropout draws a number per row of a rank's shard: with shards of 2 and 1 rows the ranks'
    # generators parted after the first step, and with them the windows of every later batch
    rank0, rank1 = each_rank(tmp_path, "lm-windows", ".npy")
    assert len(rank0) >= 4   # the steps' draws, and the evaluations'
    numpy.testing.assert_array_equal(rank0, rank1)


@needs_mpi
def test_lm_train_judges_each_step_on_every_rank_by_the_global_batchs_loss(tmp_path):
    # Each rank judged its own shard's loss: a shard whose loss grew 1000-fold stopped its rank
    # alone, while the others went on to their next collective
    (tmp_path / "alone").mkdir()
    alone = mpi_worker.lm_divergence_checks(str(tmp_path / "alone"))["judged"]
    rank0, rank1 = each_rank(tmp_path, "lm-checks", ".npy")
    numpy.testing.assert_array_equal(rank0, rank1)
    numpy.testing.assert_allclose(rank0, alone, rtol=1e-6)


@needs_mpi
def test_reinforce_on_two_processes_plays_apart_and_steps_together(tmp_path):
    rank0, rank1 = each_rank(tmp_path, "rl")
    returns = numpy.load(tmp_path / "rl.npz")["returns"]
    # six episodes, three per rank, each rank its own: the ranks' returns differ
    assert len(returns) == 6 and (returns[0::2] != returns[1::2]).any()
    # and yet, with the policy gradients averaged, both ranks end with the same policy
    for name in rank0.files:
        numpy.testing.assert_array_equal(rank0[name], rank1[name])


@needs_mpi
def test_batch_norm_running_statistics_are_rank_zeros_on_every_rank(tmp_path):
    # Each rank's BatchNorm normalises its own shard and updates its running statistics from
    # it; unshared, they made the ranks' validation losses differ (early stopping and the best
    # epoch could then differ by rank)
    rank0, rank1 = each_rank(tmp_path, "batchnorm")
    assert {"1.running_mean", "1.running_var", "val_loss"} <= set(rank0.files)
    for name in rank0.files:
        numpy.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)


@needs_mpi
def test_fits_history_holds_pythons_numbers_on_every_rank_as_in_one_process(tmp_path):
    # The epoch's loss, summed over the ranks by an all-reduce, was NumPy's float64: printed
    # as np.float64(0.69…) in a user's code, where one process gives 0.69…
    (tmp_path / "alone").mkdir()
    alone = mpi_worker.history_types(str(tmp_path / "alone"))["types"]
    assert set(alone) == {"epoch: int", "loss: float", "val_loss: float",
                          "val_accuracy: float", "seconds: float", "samples_per_second: float"}
    for types in each_rank(tmp_path, "history-types", ".npy"):
        assert list(types) == list(alone)


@needs_mpi
def test_the_setup_check_passes_on_two_processes_and_names_each_rank():
    run = run_under_mpiexec(2, ["-m", "chainrule.distributed.check"])
    assert run.returncode == 0, run.stdout
    assert "rank 0: pid" in run.stdout and "rank 1: pid" in run.stdout
    assert run.stdout.rstrip().endswith("OK")
