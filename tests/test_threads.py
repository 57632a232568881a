"""set_num_threads / get_num_threads: PyTorch's names over threadpoolctl, checked against what
threadpoolctl itself reports for every BLAS library in the process."""
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

import chainrule
from chainrule.threads import THREAD_VARIABLES


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    """Each test may change the process's BLAS threads; put them (and the variables) back."""
    for variable in THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)  # monkeypatch restores the original value
    before = chainrule.get_num_threads()
    yield
    chainrule.set_num_threads(before)


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_set_then_get_round_trips_and_changes_what_threadpoolctl_reports():
    chainrule.set_num_threads(1)
    assert chainrule.get_num_threads() == 1
    assert blas_threads() == {1}
    most = min(2, os.cpu_count() or 1)  # OpenBLAS caps the count at the machine's cores
    chainrule.set_num_threads(most)
    assert chainrule.get_num_threads() == most
    assert blas_threads() == {most}


def test_a_blas_library_loaded_later_starts_with_the_same_count():
    # SciPy brings its own OpenBLAS; a fresh process loads it only after set_num_threads
    program = ("import chainrule, threadpoolctl\n"
               "chainrule.set_num_threads(1)\n"
               "import scipy.linalg\n"
               "print(sorted({pool['num_threads'] for pool in threadpoolctl.threadpool_info()\n"
               "              if pool['user_api'] == 'blas'}), len(threadpoolctl.threadpool_info()))")
    environment = {key: value for key, value in os.environ.items()
                   if key not in THREAD_VARIABLES}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            env=environment, check=True)
    threads, libraries = result.stdout.split("] ")
    assert threads == "[1" and int(libraries) >= 2


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True, None])
def test_anything_but_a_positive_whole_number_is_refused(threads):
    before = blas_threads()
    with pytest.raises(ValueError, match=f"at least 1, got {threads!r}"):
        chainrule.set_num_threads(threads)
    assert blas_threads() == before


def test_header_phrase_counts_threads_in_words():
    chainrule.set_num_threads(1)
    assert chainrule.threads.describe_threads() == "1 BLAS thread"
