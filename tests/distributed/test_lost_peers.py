"""How a rank names a peer process that has ended, without MPI: the world's table of peers is
set by hand, one of them a process that has just ended. (Under ``mpiexec`` MPICH may end the
survivor before it can look; test_mpi.py runs the real thing.)"""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from chainrule.distributed import world


@pytest.fixture
def two_ranks_one_ended(monkeypatch):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # reaped: its id is gone from the process table
    monkeypatch.setattr(world, "_world", world._World())
    world._world.initialized, world._world.rank, world._world.size = True, 0, 2
    world._world.peers = [(socket.gethostname(), os.getpid()), (socket.gethostname(), ended.pid)]
    return ended.pid


class NeverDone:
    def Test(self):
        return False


def test_a_collective_waiting_for_an_ended_peer_stops_within_a_second_naming_its_rank(
        two_ranks_one_ended, capsys):
    started = time.monotonic()
    with pytest.raises(SystemExit):
        world.wait(NeverDone(), "gradient all-reduce (bucket 0)")
    assert time.monotonic() - started < 1.5
    assert (f"rank 0 of 2: gradient all-reduce (bucket 0): lost rank 1 (pid {two_ranks_one_ended}"
            f" on {socket.gethostname()}) (the process ended)") in capsys.readouterr().err


def test_a_launchers_notice_that_a_process_ended_names_the_rank_at_once(two_ranks_one_ended,
                                                                          capsys, monkeypatch):
    monkeypatch.setenv("PMI_RANK", "0")
    previous = signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    try:
        world._listen_for_failure_notice()
        with pytest.raises(SystemExit):
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(1)  # the handler runs here, and ends the process
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert (f"the launcher reports that a process ended: lost rank 1 (pid {two_ranks_one_ended} "
            f"on {socket.gethostname()}); stopping every rank") in capsys.readouterr().err
