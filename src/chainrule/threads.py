"""How many threads NumPy's BLAS may use for a matrix product: PyTorch's ``set_num_threads`` and
``get_num_threads``, with threadpoolctl doing the work.

Why a course library cares: its matrices are small, so a second thread gains little, and on a
machine whose cores are busy with other work OpenBLAS's threads wait for each other: the same
training can take 2–8 times as long (docs/performance.md has the measurements).
"""
from __future__ import annotations

import os

# Read by a BLAS library when it is loaded; set too, so that one loaded later (SciPy's own
# OpenBLAS, pulled in by scikit-learn) starts with the same count as the ones limited now.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _blas_pools() -> list[dict]:
    from threadpoolctl import threadpool_info  # imported here: `import chainrule` stays fast

    return [pool for pool in threadpool_info() if pool["user_api"] == "blas"]


def set_num_threads(threads: int) -> None:
    """Let every BLAS library in the process use at most ``threads`` threads from now on."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: expected a whole number of threads of at least 1, "
                         f"got {threads!r}")
    import numpy  # noqa: F401  (loads NumPy's BLAS: threadpoolctl limits loaded libraries only)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)


def get_num_threads() -> int:
    """The most threads a loaded BLAS library may use for one matrix product; the machine's CPU
    count where threadpoolctl finds no BLAS it can ask (Apple's Accelerate decides by itself)."""
    pools = _blas_pools()
    if not pools:
        return os.cpu_count() or 1
    return max(pool["num_threads"] for pool in pools)


def describe_threads() -> str:
    """"1 BLAS thread" or "N BLAS threads": the part of a run's header line that says it."""
    threads = get_num_threads()
    return f"{threads} BLAS thread{'' if threads == 1 else 's'}"
