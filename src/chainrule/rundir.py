"""A run directory: the one writer and reader of what ``train``, ``lm train`` and ``rl train``
save (docs/reliability.md lists each guarantee with the test that proves it).

- **One writer.** An advisory lock (``fcntl.flock``) on ``.NAME.lock`` beside the directory is
  held for the whole run; a second writer is refused at once. (Beside, not inside: the
  directory itself is replaced at the end.) The holder deletes the file before it lets go, and
  a writer that locked a file someone deleted meanwhile tries again, so the file never outlives
  the run. Readers take no lock.
- **No run is lost.** A directory that holds a run is refused, unless ``overwrite=True`` or
  ``resume=True``; one that holds files but no ``config.json`` (not a run) is refused even
  with ``overwrite=True``. With ``overwrite=True`` the new run is built in a sibling ``.NAME.new-XXXX``
  that takes the old one's place only when it has finished: the old one is renamed aside
  (``.NAME.old-XXXX``), the new one renamed in, the old one deleted. A crash at any point leaves
  the complete old run or the complete new one, and the next writer to start puts the old one
  back if the crash came between the two renames, and deletes the rest.
- **A run is complete when its ``metrics.json`` exists.** ``finish`` writes it last, so readers
  (``read_config``) refuse an unfinished run instead of pairing one step's weights with
  another's metrics.
- **A finished run is extended in a copy.** ``resume=True`` on a finished run (more epochs)
  copies it (``begin``) into a sibling ``.NAME.new-XXXX``, renamed ``.NAME.extending-HASH``
  once whole (HASH: of the run's ``metrics.json``), and continues there; the copy replaces the
  run as ``overwrite=True``'s new run does, once it has finished. Until then the finished run
  stays as it was. An extension interrupted (killed, Ctrl-C) or refused (other data) keeps its
  copy, which the next ``resume=True`` continues, unless it is past the new end or unreadable
  (then discarded); one whose training failed (diverged) or whose checkpoint can't be read would
  fail again, and is deleted. A copy killed mid-copy has no such name: a leftover, deleted.
- **A fresh run into a directory that does not exist (or is empty, or holds only the temporary
  files of a run killed in its first write) is written in place**, so
  that a run killed on its first attempt can be resumed. If it fails with an error of chainrule's
  own (a divergence, bad data), or before writing anything, the directory is removed: nothing
  in it is worth resuming.
- ``resume=True`` of an unfinished run (killed, or failed) works in place (each checkpoint is
  replaced atomically): there is nothing finished to lose. It first deletes the temporary files
  (``.NAME.<random>.tmp``) a killed run left behind.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from . import distributed, schema
from .checkpoint import TEMPORARY_SUFFIX, load_json, save_json, sync_directory
from .errors import ChainruleError, CheckpointError, RunDirectoryError, TrainingError
from .run_schemas import kind_of_run

__all__ = ["RunDirectory", "read_config", "CONFIG_FILE", "METRICS_FILE", "HISTORY_FILE"]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"  # written last: its presence marks a finished run
HISTORY_FILE = "history.json"


class RunDirectory:
    """``with RunDirectory(path, overwrite=…, resume=…) as run:`` ``run.begin()``, write files
    into ``run.folder``, then ``run.finish(metrics)``. Leaving the block without ``finish`` (an
    error) leaves the directory as it was before (or, for an unfinished run resumed, resumable)."""

    def __init__(self, path, *, overwrite: bool = False, resume: bool = False,
                 resumable: bool = True):
        if overwrite and resume:
            raise RunDirectoryError("give overwrite=True or resume=True, not both: resume "
                                    "continues the run, overwrite replaces it")
        self.path = Path(path)
        self.folder = self.path   # where the files go now: the run itself, or its new sibling
        self.overwrite, self.resume = overwrite, resume
        self.resumable = resumable  # whether the trainer can continue a run (for the advice)
        self.replacing = False    # building a sibling that replaces an existing run
        self.fresh = False        # building in place in a directory that held nothing
        self.created = False      # … and that did not exist before
        self.finished = False
        self.continued_at = None  # how far the interrupted extension continued had got
        self.discarded = None     # why an interrupted extension's copy was not continued
        self._lock = None
        self._created_parents = []
        # Under mpiexec every rank trains, and rank 0 alone writes (chainrule.distributed): the
        # others only read (a checkpoint to resume from), take no lock and write nothing.
        self.writer = distributed.is_main_process()

    # ------------------------------------------------------------ the writer's life
    def __enter__(self) -> "RunDirectory":
        if not self.writer:
            return self
        self._created_parents = [folder for folder in self.path.parents if not folder.exists()]
        for folder in self.path.parents:  # else mkdir's "[Errno 17] File exists: 'FOLDER'"
            if folder.exists() and not folder.is_dir():
                raise RunDirectoryError(f"{self.path}: cannot be made inside {folder}, a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire_lock(self.path)
        try:
            _recover(self.path)
            self._prepare()
        except BaseException:
            self._release()
            raise
        return self

    def _prepare(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise RunDirectoryError(f"{self.path} is a file, not a run directory")
        if self.path.is_dir() and all(_is_temporary(entry) for entry in self.path.iterdir()):
            _remove_temporary_files(self.path)  # a run killed in its first write: nothing kept
        holds_something = self.path.is_dir() and any(self.path.iterdir())
        if self.resume:
            if not holds_something:
                raise RunDirectoryError(f"{self.path}: there is no run to resume there; train "
                                        "without resume=True")
            _remove_temporary_files(self.path)
            if not is_finished(self.path):  # the copies are of a finished run: another one
                _discard_extensions(self.path)
        elif holds_something:
            if not (self.path / CONFIG_FILE).is_file():  # not a run: overwrite=True refuses too
                killed = (" (or resume=True, if it holds a run killed in its first save)"
                          if self.resumable else "")
                raise RunDirectoryError(f"{self.path} is not a run directory (no {CONFIG_FILE}) "
                                        "and not empty; refusing to write a run into it: choose "
                                        f"another directory{killed}")
            what = "a run" if is_finished(self.path) else "an unfinished run"
            if not self.overwrite:
                alternative = " or resume=True to continue it" if self.resumable else ""
                raise RunDirectoryError(f"{self.path} already holds {what}; pass overwrite=True "
                                        "to replace it (the old run stays until the new one has "
                                        f"finished){alternative}")
            self.folder = Path(tempfile.mkdtemp(dir=self.path.parent,
                                                prefix=f".{self.path.name}.new-"))
            self.replacing = True
        else:
            _discard_extensions(self.path)  # their run is gone
            self.created = not self.path.exists()
            self.path.mkdir(exist_ok=True)
            self.fresh = True

    def begin(self, target: int | None = None, reached=None, unit: str = "epoch") -> None:
        """Call before the first write, once the resumed run's settings have been checked: a
        finished run is copied into a sibling, where the extension writes (``folder``) until it
        finishes and replaces the run; a refused resume has copied nothing. An interrupted
        extension's copy is continued instead if ``reached(copy)`` (the ``unit``s its checkpoint
        holds; a ``ChainruleError`` if unreadable) is at most ``target``, else discarded
        (``discarded`` says why). Every rank calls it, and gets the folder rank 0 chose."""
        if not self.resume:
            return
        if self.writer and is_finished(self.path):
            self._extend(target, reached, unit)
        chosen = distributed.broadcast_object((str(self.folder), self.continued_at))
        if not self.writer:  # the others read the checkpoint rank 0 continues from
            self.folder, self.continued_at = Path(chosen[0]), chosen[1]

    def _extend(self, target, reached, unit: str) -> None:
        copy = _extension_path(self.path)
        for pending in _siblings(self.path, "extending"):
            why, got_to = ("it extends another run that was in its place (its name is not this "
                           "run's)", None) if pending != copy else \
                _progress_of(pending, target, reached, unit)
            if why is None:
                _remove_temporary_files(pending)
                self.folder, self.replacing, self.continued_at = pending, True, got_to
                return
            self.discarded = f"the copy {pending} of an interrupted extension is discarded: {why}"
            _delete_copy(pending, self.path)
        partial = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.new-"))
        try:
            _copy_run(self.path, partial)
            # named only once whole: a copy killed midway keeps its .new- name, a leftover
            os.rename(partial, copy)
            sync_directory(self.path.parent)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        self.folder, self.replacing = copy, True

    @property
    def extending(self) -> bool:
        """Whether a finished run is being extended in a copy (after ``begin``)."""
        return self.resume and self.replacing

    def finish(self, metrics: dict) -> None:
        """Write ``metrics.json`` (the mark of a finished run) and, when replacing an old run,
        put the new one in its place."""
        if not self.writer:
            self.finished = True
            return
        save_json(self.folder / METRICS_FILE, metrics)
        if self.replacing:
            aside = _replace(self.folder, self.path)
            # finished from here on: an interrupt while the old run (and its extensions) are
            # deleted must not take the new run for the copy to delete
            self.folder, self.finished = self.path, True
            shutil.rmtree(aside, ignore_errors=True)
            _discard_extensions(self.path)  # (an overwrite's) of the run it replaced
        self.finished = True

    def __exit__(self, kind, error, traceback) -> None:
        if not self.writer:
            return
        try:
            if not self.finished and self.replacing:
                # an extension interrupted, or refused (other data given), keeps its progress;
                # one whose training failed (a divergence) or whose checkpoint can't be read
                # would fail again from it
                kept = self.extending and error is not None and \
                    not isinstance(error, (TrainingError, CheckpointError))
                if not kept:
                    _delete_copy(self.folder, self.path)
                if error is not None:  # the CLI adds the note to its one line
                    what = (f"the finished run in {self.path} is as it was, not extended yet: "
                            f"the extension's progress is kept in {self.folder}, and the same "
                            "command continues it" if kept else
                            f"the finished run in {self.path} is as it was, not extended"
                            if self.extending else
                            f"the run in {self.path} is as it was, not replaced")
                    # (BaseException.add_note is Python 3.11's; this is the same on 3.10)
                    error.__notes__ = [*getattr(error, "__notes__", ()), what]
            elif not self.finished and self.fresh and isinstance(error, ChainruleError):
                _empty(self.path, remove=self.created)
            elif not self.finished and self.created and not any(self.path.iterdir()):
                self.path.rmdir()  # failed before writing anything: nothing to resume
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            _lock_path(self.path).unlink(missing_ok=True)  # still held: no one else is in
            self._lock.close()  # closing the file releases the flock
            self._lock = None
        for folder in self._created_parents:  # folders made for a run that left nothing
            try:
                folder.rmdir()
            except OSError:  # not empty: something lives there now
                break

    def write_json(self, name: str, value) -> Path:
        """Write ``value`` as strict JSON to ``name`` in the run, atomically."""
        if self.writer:
            save_json(self.folder / name, value)
        return self.folder / name


# ---------------------------------------------------------------- readers
def is_finished(path) -> bool:
    return (Path(path) / METRICS_FILE).is_file()


def read_config(path, declared: schema.Record, what: str, finished_only: bool = True) -> dict:
    """The ``config.json`` of the finished run at ``path``, checked against its declared schema
    (``what`` names the kind of run, e.g. "training run", in the messages)."""
    path = Path(path)
    config_path = path / CONFIG_FILE
    if path.is_file():  # often a file of the run (its checkpoint) given for the run
        inside = f": {path.parent}" if (path.parent / CONFIG_FILE).is_file() else ""
        raise CheckpointError(f"{path}: not a run directory (a file); give the directory the "
                              f"run was saved in{inside}")
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a run directory (there is no such directory)")
    if not config_path.is_file():
        raise CheckpointError(f"{path}: not a {what} directory (no {CONFIG_FILE})")
    if finished_only and not is_finished(path):
        raise CheckpointError(f"{path}: the run did not finish (no {METRICS_FILE}); continue it "
                              "with resume=True")
    config = load_json(config_path)
    try:
        return schema.validate(config, declared, config_path)
    except CheckpointError:
        kind = kind_of_run(config)
        if kind is None or kind == what:
            raise
        raise CheckpointError(f"{path}: a {kind}, not a {what}; give the directory of a "
                              f"{what}") from None


# ---------------------------------------------------------------- the machinery
def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _acquire_lock(path: Path):
    """The open, locked lock file. A holder deletes the file before letting go; whoever opened
    it just before then holds a lock on a deleted file, sees that, and tries again."""
    lock_path = _lock_path(path)
    while True:
        handle = open(lock_path, "a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunDirectoryError(f"{path}: another training is writing this run directory "
                                    f"now (it holds {lock_path}); wait for it to finish or "
                                    "choose another directory") from None
        try:
            if os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def _siblings(path: Path, kind: str) -> list[Path]:
    prefix = f".{path.name}.{kind}-"
    # the random part has no dot: ".exp.new-lr.new-XXXX" is the sibling of "exp.new-lr"
    return sorted(entry for entry in path.parent.iterdir()
                  if entry.name.startswith(prefix) and "." not in entry.name[len(prefix):]
                  and entry.is_dir())


def _recover(path: Path) -> None:
    """Undo what a crashed writer left: with the run gone but an old one set aside, the crash
    came between the two renames of ``_replace``, so the old run goes back; every other
    sibling is a run that never finished replacing (or was replaced) and is deleted."""
    set_aside = _siblings(path, "old")
    if set_aside and not path.exists():
        os.rename(set_aside.pop(), path)
        sync_directory(path.parent)
    for leftover in set_aside + _siblings(path, "new"):
        shutil.rmtree(leftover, ignore_errors=True)


def _extension_path(path: Path) -> Path:
    """Where an extension of the finished run at ``path`` is built: a name of that run's alone
    (its metrics.json's hash), so that a copy outliving its run is not taken for the next's."""
    digest = hashlib.sha256((path / METRICS_FILE).read_bytes()).hexdigest()
    return path.parent / f".{path.name}.extending-{digest[:16]}"


def _discard_extensions(path: Path) -> None:
    for copy in _siblings(path, "extending"):
        _delete_copy(copy, path)


def _delete_copy(copy: Path, path: Path) -> None:
    """Delete a sibling of ``path``, first renamed a leftover's name: an extension's copy half
    deleted (killed meanwhile) must not be continued, and ``_recover`` deletes the rest."""
    leftover = path.parent / f".{path.name}.new-{uuid.uuid4().hex[:12]}"
    try:
        os.rename(copy, leftover)
    except FileNotFoundError:
        return
    shutil.rmtree(leftover, ignore_errors=True)


def _progress_of(copy: Path, target, reached, unit: str) -> tuple[str | None, int | None]:
    """(why the copy an interrupted extension left cannot be continued to ``target``, or None
    if it can; how far it got): its checkpoint unreadable, or past the end asked for now (a run
    cannot be shortened, and the copy's weights are not those of a run trained to ``target``)."""
    if reached is None:
        return None, None
    try:
        got_to = reached(copy)
    except ChainruleError as error:
        return f"its checkpoint cannot be continued ({error})", None
    if got_to > target:
        return (f"it has trained to {unit} {got_to}, past the {target} {unit}s asked for now; "
                "the extension starts again from the finished run"), got_to
    return None, got_to


def _replace(new: Path, path: Path) -> Path:
    """Put ``new`` in the place of the run at ``path``; returns where the old run was set
    aside, for the caller to delete (``_recover`` deletes it if the caller is killed first)."""
    aside = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(path, aside)
    sync_directory(path.parent)
    os.rename(new, path)
    sync_directory(path.parent)
    return aside


def _copy_run(run: Path, copy: Path) -> None:
    """Copy every file of ``run`` into the folder ``copy``, durably: the copy becomes the run,
    with the files the extension does not rewrite (an earlier epoch's best weights)."""
    def copy_file(source, target):
        shutil.copy2(source, target)
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())

    shutil.copytree(run, copy, copy_function=copy_file, dirs_exist_ok=True)
    for folder in [copy, *(entry for entry in copy.rglob("*") if entry.is_dir())]:
        sync_directory(folder)


def _empty(folder: Path, remove: bool) -> None:
    """Delete what a failed fresh run wrote (and the folder itself if the run created it)."""
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _is_temporary(entry: Path) -> bool:
    return entry.name.startswith(".") and entry.name.endswith(TEMPORARY_SUFFIX) \
        and entry.is_file()


def _remove_temporary_files(folder: Path) -> None:
    for leftover in folder.rglob(f".*{TEMPORARY_SUFFIX}"):
        if _is_temporary(leftover):
            leftover.unlink()
