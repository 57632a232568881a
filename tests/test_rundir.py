"""The run directory: one writer at a time, an old run replaced only by a finished new one,
crash leftovers cleaned up by the next writer."""
import os

import pytest

from chainrule.errors import CheckpointError, DataError, DivergenceError, RunDirectoryError
from chainrule.rundir import METRICS_FILE, RunDirectory


def finished_run(path, label: str):
    """A finished run directory whose files all say ``label``."""
    with RunDirectory(path) as run:
        (run.folder / "config.json").write_text(label)
        (run.folder / "model.safetensors").write_text(label)
        run.finish({"label": label})
    return path


def contents(path) -> dict:
    return {entry.name: entry.read_text() for entry in sorted(path.iterdir())}


def test_an_existing_run_is_refused_without_overwrite_or_resume(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    with pytest.raises(RunDirectoryError, match="already holds a run; pass overwrite=True .* "
                                                "or resume=True"):
        RunDirectory(run).__enter__()
    assert contents(run)["config.json"] == "old"


def test_overwrite_replaces_the_old_run_only_when_the_new_one_finishes(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    with RunDirectory(run, overwrite=True) as new:
        assert new.folder != run and new.folder.parent == run.parent
        (new.folder / "config.json").write_text("new")
        assert contents(run)["config.json"] == "old"  # still the old run while training
        new.finish({"label": "new"})
    assert contents(run) == {"config.json": "new", METRICS_FILE: '{\n  "label": "new"\n}\n'}
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]  # no lock file, no sibling


def test_a_failed_overwrite_leaves_the_old_run_whole(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    before = contents(run)
    with pytest.raises(DivergenceError):
        with RunDirectory(run, overwrite=True) as new:
            (new.folder / "config.json").write_text("new")
            raise DivergenceError("training diverged")
    assert contents(run) == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def test_a_second_writer_is_refused_at_once_naming_the_directory(tmp_path):
    with RunDirectory(tmp_path / "run"):
        with pytest.raises(RunDirectoryError, match=r"run: another training is writing this "
                                                    r"run directory now"):
            RunDirectory(tmp_path / "run", resume=True).__enter__()
    with RunDirectory(tmp_path / "run", overwrite=True):  # released: the next writer may go
        pass


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with RunDirectory(tmp_path / "run") as run:
            (run.folder / "config.json").write_text("x")
            1 / 0
    with RunDirectory(tmp_path / "run", resume=True):
        pass


def test_a_fresh_run_that_fails_with_an_error_of_ours_leaves_nothing(tmp_path):
    with pytest.raises(DivergenceError):
        with RunDirectory(tmp_path / "runs" / "mine" / "run") as run:
            assert (tmp_path / "runs" / "mine" / ".run.lock").is_file()
            (run.folder / "config.json").write_text("x")
            raise DivergenceError("training diverged")
    assert list(tmp_path.iterdir()) == []  # not the run, its lock, nor the folders made for it


def test_a_fresh_run_that_fails_before_writing_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        with RunDirectory(tmp_path / "runs" / "run"):
            raise ValueError("n_embd must be a multiple of n_head")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_fresh_run_stays_to_be_resumed_but_is_unfinished(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunDirectory(tmp_path / "run") as run:
            (run.folder / "config.json").write_text("x")
            raise KeyboardInterrupt
    with pytest.raises(RunDirectoryError, match="already holds an unfinished run"):
        RunDirectory(tmp_path / "run").__enter__()
    with RunDirectory(tmp_path / "run", resume=True) as resumed:
        resumed.finish({})
    assert (tmp_path / "run" / METRICS_FILE).is_file()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_run_killed_in_its_first_write_is_started_afresh(tmp_path, overwrite):
    # only the temporary file of its first write: nothing to resume or replace. It was refused
    # as "an unfinished run" (pass overwrite=True), and overwrite=True as "not a run directory"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".config.json.a1b2c3.tmp").write_text("half a file")
    with RunDirectory(tmp_path / "run", overwrite=overwrite) as run:
        assert run.folder == tmp_path / "run" and list(run.folder.iterdir()) == []
        (run.folder / "config.json").write_text("x")
        run.finish({})
    assert sorted(contents(tmp_path / "run")) == ["config.json", METRICS_FILE]


def test_a_finished_run_is_extended_in_a_copy_that_replaces_it_when_it_finishes(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "best.safetensors").write_text("old")
    with RunDirectory(run, resume=True) as extension:
        assert extension.folder == run  # its settings are not checked yet: nothing copied
        extension.begin()
        assert extension.folder != run and extension.folder.parent == run.parent
        assert (extension.folder / "checkpoint" / "best.safetensors").read_text() == "old"
        (extension.folder / "model.safetensors").write_text("extended")
        assert (run / "model.safetensors").read_text() == "old"  # still the finished run
        extension.finish({"label": "extended"})
    assert (run / "model.safetensors").read_text() == "extended"
    assert (run / "config.json").read_text() == "old"  # a file the extension left is kept
    assert (run / "checkpoint" / "best.safetensors").read_text() == "old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def test_a_failed_extension_leaves_the_finished_run_whole_and_says_so(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    before = contents(run)
    with pytest.raises(DivergenceError) as raised:
        with RunDirectory(run, resume=True) as extension:
            extension.begin()
            (extension.folder / "model.safetensors").write_text("extended")
            (extension.folder / METRICS_FILE).unlink()
            raise DivergenceError("training diverged")
    assert raised.value.__notes__ == [f"the finished run in {run} is as it was, not extended"]
    assert contents(run) == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def interrupted_extension(run, label: str):
    """The copy an extension of ``run`` left when Ctrl-C stopped it, its files saying ``label``."""
    with pytest.raises(KeyboardInterrupt) as raised:
        with RunDirectory(run, resume=True) as extension:
            extension.begin()
            (extension.folder / "model.safetensors").write_text(label)
            raise KeyboardInterrupt
    assert raised.value.__notes__ == [f"the finished run in {run} is as it was, not extended "
                                      f"yet: the extension's progress is kept in "
                                      f"{extension.folder}, and the same command continues it"]
    return extension.folder


def test_an_interrupted_extension_keeps_its_copy_and_the_next_resume_continues_it(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    before = contents(run)
    copy = interrupted_extension(run, "epoch 7")
    assert copy.name.startswith(".run.extending-") and contents(run) == before
    with RunDirectory(run, resume=True) as extension:
        assert extension.folder == run and contents(copy)["model.safetensors"] == "epoch 7"
        extension.begin(10, lambda folder: 7 if folder == copy else 5)
        assert (extension.folder, extension.continued_at, extension.discarded) == (copy, 7, None)
        assert contents(run) == before
        extension.finish({"label": "extended"})
    assert contents(run)["model.safetensors"] == "epoch 7"
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def test_an_extension_past_the_end_asked_for_now_is_discarded_and_the_run_copied_afresh(
        tmp_path):
    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 9")
    with RunDirectory(run, resume=True) as extension:
        extension.begin(8, lambda folder: 9)
        assert extension.folder == copy and extension.continued_at is None
        assert extension.discarded == (f"the copy {copy} of an interrupted extension is "
                                       "discarded: it has trained to epoch 9, past the 8 epochs "
                                       "asked for now; the extension starts again from the "
                                       "finished run")
        assert contents(copy)["model.safetensors"] == "old"  # the finished run's, copied anew


def test_an_extension_whose_checkpoint_cannot_be_read_is_discarded_saying_why(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 7")

    def unreadable(folder):
        if folder == copy and contents(copy)["model.safetensors"] == "epoch 7":
            raise CheckpointError(f"{folder}: damaged")
        return 5
    with RunDirectory(run, resume=True) as extension:
        extension.begin(10, unreadable)
        assert extension.discarded.endswith(f"discarded: its checkpoint cannot be continued "
                                            f"({copy}: damaged)")
        assert contents(extension.folder)["model.safetensors"] == "old"


@pytest.mark.parametrize("error, kept", [
    (DataError("data.csv: not the run's data"), True),   # refused: right data, and it goes on
    (DivergenceError("training diverged"), False),       # it would diverge again from there
    (CheckpointError("checkpoint.safetensors: damaged"), False)])  # nor could be read again
def test_a_continued_extension_that_fails_keeps_its_copy_unless_it_would_fail_again(
        tmp_path, error, kept):
    run = finished_run(tmp_path / "run", "old")
    before = contents(run)
    copy = interrupted_extension(run, "epoch 7")
    with pytest.raises(type(error)):
        with RunDirectory(run, resume=True) as extension:
            extension.begin(10, lambda folder: 7)
            assert extension.continued_at == 7
            raise error
    assert contents(run) == before
    assert copy.exists() == kept
    if kept:
        assert contents(copy)["model.safetensors"] == "epoch 7"


def test_the_copy_of_another_run_that_was_in_its_place_is_discarded(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 7")
    (run / METRICS_FILE).write_text('{"label": "another run"}')  # put there by hand
    with RunDirectory(run, resume=True) as extension:
        extension.begin(10, lambda folder: 7)
        assert extension.discarded.startswith(f"the copy {copy} of an interrupted extension is "
                                              "discarded: it extends another run")
        assert extension.folder != copy and contents(extension.folder)["model.safetensors"] == \
            "old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def test_a_copy_killed_midway_is_a_leftover_never_continued(tmp_path):
    # what SIGKILL during the copy leaves: the copy under its temporary name
    run = finished_run(tmp_path / "run", "old")
    (tmp_path / ".run.new-a1b2c3").mkdir()
    (tmp_path / ".run.new-a1b2c3" / "config.json").write_text("old")
    with RunDirectory(run, resume=True) as extension:
        assert not (tmp_path / ".run.new-a1b2c3").exists()
        extension.begin(10, lambda folder: 5)
        assert extension.continued_at is None and extension.discarded is None
        assert contents(extension.folder) == contents(run)


def test_overwrite_discards_an_interrupted_extension_once_the_new_run_replaces_the_old(
        tmp_path):
    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 7")
    with pytest.raises(DivergenceError):
        with RunDirectory(run, overwrite=True):
            raise DivergenceError("training diverged")
    assert copy.is_dir()  # the old run stays, and so does its extension
    with RunDirectory(run, overwrite=True) as new:
        (new.folder / "config.json").write_text("new")
        new.finish({"label": "new"})
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def test_a_fresh_run_in_place_of_a_deleted_one_discards_its_extension(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    interrupted_extension(run, "epoch 7")
    for entry in run.iterdir():
        entry.unlink()
    run.rmdir()
    with RunDirectory(run) as fresh:
        fresh.finish({})
    assert [entry.name for entry in tmp_path.iterdir()] == ["run"]


def test_the_lock_of_a_run_covers_its_extension(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 7")
    with RunDirectory(run, resume=True) as extension:
        extension.begin(10, lambda folder: 7)
        with pytest.raises(RunDirectoryError, match="another training is writing"):
            RunDirectory(run, overwrite=True).__enter__()
        with pytest.raises(RunDirectoryError, match="another training is writing"):
            RunDirectory(run, resume=True).__enter__()
        assert copy.is_dir() and contents(copy)["model.safetensors"] == "epoch 7"


def test_a_copy_killed_while_it_is_discarded_is_a_leftover_never_continued(tmp_path,
                                                                             monkeypatch):
    # half deleted, it could lack files the extension does not rewrite
    from chainrule import rundir

    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 9")

    def killed(folder, **options):
        (folder / "config.json").unlink()
        raise KeyboardInterrupt
    monkeypatch.setattr(rundir.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        with RunDirectory(run, resume=True) as extension:
            extension.begin(8, lambda folder: 9)
    monkeypatch.undo()
    assert not copy.exists()
    with RunDirectory(run, resume=True) as extension:
        assert [entry.name for entry in tmp_path.iterdir() if entry.is_dir()] == ["run"]
        extension.begin(8, lambda folder: 5)
        assert extension.discarded is None and contents(extension.folder) == contents(run)


def test_a_crash_between_the_renames_of_an_extension_keeps_it_to_finish(tmp_path):
    # the finished run set aside, the finished extension not yet renamed in: the run comes
    # back, and the next resume finishes the extension instead of starting it again
    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 10")
    (copy / METRICS_FILE).write_text("the extension's")
    os.rename(run, tmp_path / ".run.old-0123456789ab")
    with RunDirectory(run, resume=True) as extension:
        assert contents(run)["model.safetensors"] == "old"
        extension.begin(10, lambda folder: 10)
        assert (extension.folder, extension.continued_at) == (copy, 10)


def test_an_unfinished_run_is_resumed_in_place(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    (run / METRICS_FILE).unlink()  # killed: nothing finished to keep
    with pytest.raises(KeyboardInterrupt) as raised:
        with RunDirectory(run, resume=True) as resumed:
            resumed.begin()
            assert resumed.folder == run
            (resumed.folder / "model.safetensors").write_text("further")
            raise KeyboardInterrupt
    assert not hasattr(raised.value, "__notes__")
    assert contents(run) == {"config.json": "old", "model.safetensors": "further"}


def test_resume_deletes_the_temporary_files_of_a_killed_run(tmp_path):
    run = finished_run(tmp_path / "run", "old")
    (run / "checkpoint").mkdir()
    leftovers = [run / "checkpoint" / ".checkpoint.safetensors.a1b2c3.tmp",
                 run / ".history.png.x7y8.tmp"]
    for leftover in leftovers:
        leftover.write_text("half a file")
    with RunDirectory(run, resume=True):
        assert not any(leftover.exists() for leftover in leftovers)


def test_a_crash_between_the_two_renames_brings_the_old_run_back(tmp_path):
    """The state a crash inside the replacement leaves: the old run set aside, the new one
    finished beside it, no run under the name. The next writer restores the old one."""
    old = finished_run(tmp_path / "old-run", "old")
    new = finished_run(tmp_path / "new-run", "new")
    os.rename(old, tmp_path / ".run.old-0123456789ab")
    os.rename(new, tmp_path / ".run.new-abcdef")
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        RunDirectory(tmp_path / "run").__enter__()
    assert contents(tmp_path / "run")["config.json"] == "old"
    assert sorted(entry.name for entry in tmp_path.iterdir()
                  if not entry.name.endswith(".lock")) == ["run"]


def test_a_crash_after_the_new_run_moved_in_keeps_it_and_deletes_the_old(tmp_path):
    finished_run(tmp_path / "run", "new")
    finished_run(tmp_path / "old-run", "old")
    os.rename(tmp_path / "old-run", tmp_path / ".run.old-0123456789ab")
    with RunDirectory(tmp_path / "run", resume=True):
        pass
    assert contents(tmp_path / "run")["config.json"] == "new"
    assert not (tmp_path / ".run.old-0123456789ab").exists()


def test_a_writer_leaves_the_siblings_of_a_run_whose_name_extends_its_own(tmp_path):
    # ".exp.new-" begins ".exp.new-lr.new-XXXX" too: a writer of "exp" deleted, as its own
    # crash's leftover, the new run that another writer was building to replace "exp.new-lr"
    finished_run(tmp_path / "exp.new-lr", "old")
    with RunDirectory(tmp_path / "exp.new-lr", overwrite=True) as other:
        (other.folder / "config.json").write_text("new")
        with RunDirectory(tmp_path / "exp") as run:
            run.finish({})
        other.finish({})
    assert contents(tmp_path / "exp.new-lr")["config.json"] == "new"


def test_overwrite_refuses_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_text("precious")
    with pytest.raises(RunDirectoryError, match="not a run directory .* refusing to write a run "
                                                "into it: choose another directory"):
        RunDirectory(tmp_path / "photos", overwrite=True).__enter__()
    assert (tmp_path / "photos" / "holiday.jpg").read_text() == "precious"


def test_a_directory_that_is_not_a_run_is_not_offered_overwrite(tmp_path):
    # it was called "an unfinished run; pass overwrite=True", which then refused it
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_text("precious")
    with pytest.raises(RunDirectoryError) as refused:
        RunDirectory(tmp_path / "photos").__enter__()
    assert "not a run directory (no config.json)" in str(refused.value)
    assert "overwrite" not in str(refused.value)
    assert (tmp_path / "photos" / "holiday.jpg").read_text() == "precious"


@pytest.mark.parametrize("arguments, message", [
    (dict(resume=True), "there is no run to resume there"),
    (dict(resume=True, overwrite=True), "not both"),
])
def test_impossible_requests_are_refused(tmp_path, arguments, message):
    with pytest.raises(RunDirectoryError, match=message):
        RunDirectory(tmp_path / "run", **arguments).__enter__()


def test_a_writer_that_locked_a_deleted_lock_file_tries_again(tmp_path, monkeypatch):
    """The race the lock file's deletion opens: a writer opens the file, the holder deletes it
    and lets go, another writer creates a new one. The first must not run on the deleted file."""
    from chainrule import rundir

    real_flock, calls = rundir.fcntl.flock, []

    def flock_after_the_file_was_replaced(descriptor, operation):
        calls.append(descriptor)
        if len(calls) == 1:
            (tmp_path / ".run.lock").unlink()
            (tmp_path / ".run.lock").write_text("")  # someone else's, from now on
        return real_flock(descriptor, operation)

    monkeypatch.setattr(rundir.fcntl, "flock", flock_after_the_file_was_replaced)
    with RunDirectory(tmp_path / "run") as run:
        assert len(calls) == 2  # locked the deleted file, saw it, locked the current one
        assert os.fstat(run._lock.fileno()).st_ino == os.stat(tmp_path / ".run.lock").st_ino


@pytest.mark.parametrize("deleted", ["old", "epoch 7"])  # the old run, its extension's copy
def test_ctrl_c_while_an_overwrite_deletes_what_it_replaced_keeps_the_new_run(tmp_path,
                                                                              monkeypatch,
                                                                              deleted):
    # the new run is in place when the old run and its interrupted extension are deleted: an
    # interrupt then must not take the new run for a copy to delete, nor say it was not made
    from chainrule import rundir

    run = finished_run(tmp_path / "run", "old")
    copy = interrupted_extension(run, "epoch 7")
    deleting = rundir.shutil.rmtree

    def interrupted_once(folder, **options):
        if (folder / "model.safetensors").read_text() == deleted:
            monkeypatch.setattr(rundir.shutil, "rmtree", deleting)
            raise KeyboardInterrupt
        deleting(folder, **options)
    monkeypatch.setattr(rundir.shutil, "rmtree", interrupted_once)
    with pytest.raises(KeyboardInterrupt) as raised:
        with RunDirectory(run, overwrite=True) as new:
            (new.folder / "config.json").write_text("new")
            (new.folder / "model.safetensors").write_text("new")
            new.finish({"label": "new"})
    assert not hasattr(raised.value, "__notes__")  # replaced: nothing to say it was not
    assert contents(run)["model.safetensors"] == "new" and (run / METRICS_FILE).is_file()
    with RunDirectory(run, resume=True) as extension:  # the next writer continues nothing
        extension.begin(10, lambda folder: 7)
        assert extension.continued_at is None and not copy.exists()
    assert [entry.name for entry in tmp_path.iterdir() if entry.is_dir()] == ["run"]
