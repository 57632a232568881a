"""The world of processes: who am I, how many are we, and collectives that cannot hang forever.

A process started by ``mpiexec`` (or ``srun``) finds its launcher's variables in its environment
(``PMI_RANK``/``PMI_SIZE`` from MPICH's Hydra and PMI-2 launchers, ``OMPI_COMM_WORLD_SIZE`` from
Open MPI, ``PMIX_RANK`` from PMIx). Only then is mpi4py imported: a plain ``python`` or
``chainrule`` is a world of one process and needs no MPI installed.

Every collective here but ``init``'s exchange of hosts and process ids is MPI's non-blocking
form, polled (``Iallreduce`` … ``Test``) rather than waited on inside MPI: while it polls,
Python stays in charge, so it can notice that a peer process on this machine has ended (its
process id is gone) and stop at once naming that rank, and give up after ``timeout`` seconds
when a peer elsewhere is lost or stuck. A blocking ``MPI_Allreduce`` would instead wait
forever for a rank that will never come. An unhandled exception on any rank prints that rank's
traceback and calls ``MPI_Abort``, which ends every process of the job.
"""
from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
import time

import numpy

from ..errors import ChainruleError

# Seconds a collective may wait for the other ranks before the job is aborted.
DEFAULT_TIMEOUT = float(os.environ.get("CHAINRULE_COLLECTIVE_TIMEOUT", 300))

_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


class DistributedError(ChainruleError):
    """A world of processes that cannot work: MPI missing, a peer lost, a collective timed out."""


class _World:
    def __init__(self):
        self.initialized = False
        self.rank, self.size = 0, 1
        self.comm = None
        self.MPI = None
        self.timeout = DEFAULT_TIMEOUT
        self.peers: list[tuple[str, int]] = []   # (host, process id) of each rank
        self.failure_notice: float | None = None  # when the launcher said a process ended


_world = _World()


def launched_size() -> int | None:
    """The world size the launcher announced in the environment; None when none was found
    (with only ``PMIX_RANK`` set, MPI itself must be asked)."""
    for name in _SIZE_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    if any(name in os.environ for name in _RANK_VARIABLES):
        return None
    return 1


def init(timeout: float | None = None) -> int:
    """Join the world the launcher started and return its size; call it again at no cost.

    Without a launcher (a plain ``python``) the world is one process and MPI is never loaded.
    ``timeout``: seconds any collective may wait for the others before the job is aborted.
    """
    if timeout is not None:
        _world.timeout = float(timeout)
    if _world.initialized:
        return _world.size
    size = launched_size()
    if size == 1:
        _world.initialized = True
        return 1
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedError(
            f"this process was started by an MPI launcher (world size {size or 'unknown'}) but "
            "mpi4py is not installed; install it with: pip install 'chainrule[mpi]'") from None
    comm = MPI.COMM_WORLD
    _world.MPI, _world.comm = MPI, comm
    _world.rank, _world.size = comm.Get_rank(), comm.Get_size()
    _world.initialized = True
    if _world.size > 1:
        _world.peers = comm.allgather((socket.gethostname(), os.getpid()))
        _install_abort_on_error()
        _listen_for_failure_notice()
    return _world.size


def get_rank() -> int:
    """This process's number in the world, 0 … world size − 1 (0 without a launcher)."""
    init()
    return _world.rank


def get_world_size() -> int:
    init()
    return _world.size


def is_main_process() -> bool:
    """True on rank 0: the one process that prints, logs and writes files."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every rank has arrived here."""
    if get_world_size() > 1:
        wait(_world.comm.Ibarrier(), "barrier")


def all_reduce(array: numpy.ndarray, op: str = "sum") -> numpy.ndarray:
    """Combine ``array`` over all ranks in place (``op``: "sum", "max" or "min") and return it.
    The array must be a contiguous NumPy array of the same shape and dtype on every rank."""
    if get_world_size() > 1:
        operation = {"sum": _world.MPI.SUM, "max": _world.MPI.MAX, "min": _world.MPI.MIN}[op]
        wait(start_all_reduce(array, operation), f"all_reduce of {array.size} values")
    return array


def start_all_reduce(array: numpy.ndarray, operation=None):
    """Begin summing ``array`` over all ranks in place; ``wait`` on what it returns."""
    operation = _world.MPI.SUM if operation is None else operation
    return _world.comm.Iallreduce(_world.MPI.IN_PLACE, array, op=operation)


def average(value: float) -> float:
    """The mean over ranks of a number (a shard's loss times its weight: the batch's loss)."""
    if get_world_size() == 1:
        return value
    return float(all_reduce(numpy.array([value], dtype=numpy.float64))[0]) / _world.size


def broadcast(array: numpy.ndarray, root: int = 0) -> numpy.ndarray:
    """Overwrite ``array`` in place on every rank with rank ``root``'s values; return it."""
    if get_world_size() > 1:
        wait(_world.comm.Ibcast(array, root=root), f"broadcast of {array.size} values")
    return array


def broadcast_object(value, root: int = 0):
    """A small picklable Python value from rank ``root`` to every rank (a seed, a decision):
    its pickle's length, then its bytes, each a polled broadcast (MPI's ``bcast`` of an object
    would wait inside MPI, for ever, for a lost root)."""
    if get_world_size() == 1:
        return value
    sent = pickle.dumps(value) if _world.rank == root else b""
    length = broadcast(numpy.array([len(sent)], dtype=numpy.int64), root)[0]
    data = (numpy.frombuffer(sent, dtype=numpy.uint8).copy() if _world.rank == root
            else numpy.empty(length, dtype=numpy.uint8))
    return pickle.loads(broadcast(data, root).tobytes())


def wait(request, what: str) -> None:
    """Poll a non-blocking MPI request until it completes, watching the peers meanwhile."""
    if request.Test():
        return
    started = time.monotonic()
    next_check = started + 0.5
    pause = 1e-5
    while not request.Test():
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 0.5
            lost = lost_ranks()
            if lost:
                abort(f"{what}: lost {_describe_ranks(lost)} (the process ended); stopping "
                      f"every rank")
            if _world.failure_notice is not None and now - _world.failure_notice > 5:
                abort(f"{what}: the launcher reports that a process of this job ended, on "
                      "another host (so this rank cannot say which); stopping every rank")
            if now - started > _world.timeout:
                abort(f"{what}: waited {_world.timeout:g} s for the other ranks; one of them is "
                      f"lost or stuck (set CHAINRULE_COLLECTIVE_TIMEOUT for a longer wait)")


def processes() -> list[tuple[int, str, int]]:
    """(rank, host, process id) of every rank: how to find a rank in a launcher's message,
    which names processes by id."""
    if get_world_size() == 1:
        return [(0, socket.gethostname(), os.getpid())]
    return [(rank, host, pid) for rank, (host, pid) in enumerate(_world.peers)]


def lost_ranks() -> list[int]:
    """Ranks on this host whose process has ended (a zombie counts as ended). Ranks on other
    hosts cannot be seen from here: the collective's timeout covers them."""
    host = socket.gethostname()
    return [rank for rank, (peer_host, pid) in enumerate(_world.peers)
            if peer_host == host and not _process_alive(pid)]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _describe_ranks(ranks: list[int]) -> str:
    return ", ".join(f"rank {rank} (pid {_world.peers[rank][1]} on {_world.peers[rank][0]})"
                     for rank in ranks)


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` with this rank's number and end every process of the job."""
    _say(message)
    end_job(code)


def _say(message: str) -> None:
    print(f"chainrule.distributed: rank {_world.rank} of {_world.size}: {message}",
          file=sys.stderr, flush=True)


def end_job(code: int) -> None:
    """End every process of the job with exit status ``code`` (this one alone in a world of
    one), once what this rank printed has had time to reach the launcher."""
    if _world.comm is not None and _world.size > 1:
        # The launcher forwards what a rank prints a little later; seen with Hydra, MPI_Abort's
        # kill can overtake it and cut the message short. Half a second lets it through.
        time.sleep(0.5)
        _world.comm.Abort(code)
    sys.exit(code)


def _listen_for_failure_notice() -> None:
    """MPICH's Hydra, told not to end the whole job when one process dies
    (``-disable-auto-cleanup``), sends SIGUSR1 to the others instead, whose default action would
    kill them silently. Name the lost rank and stop if it was on this host; else note it, and
    let the next collective stop after a few seconds."""
    if "PMI_RANK" not in os.environ or not hasattr(signal, "SIGUSR1"):
        return
    if signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL:
        return

    def note(_signal, _frame):
        _world.failure_notice = time.monotonic()
        # Seen with MPICH: its next call may end this process silently, before a collective
        # looks; so look now, while Python has the floor. The ended process can take a few
        # milliseconds to leave the process table.
        while time.monotonic() - _world.failure_notice < 1:
            lost = lost_ranks()
            if lost:
                abort(f"the launcher reports that a process ended: lost {_describe_ranks(lost)}; "
                      "stopping every rank")
            time.sleep(0.005)

    signal.signal(signal.SIGUSR1, note)


def _install_abort_on_error() -> None:
    """An unhandled exception on one rank would leave the others waiting in a collective:
    print it, then abort the whole job."""
    previous = sys.excepthook

    def abort_on_error(kind, error, traceback):
        # the line that names the rank first: a long traceback is the part to lose, if any
        _say(f"failed with {kind.__name__}: {error}; aborting every rank")
        previous(kind, error, traceback)
        sys.stderr.flush()
        end_job(1)

    sys.excepthook = abort_on_error
