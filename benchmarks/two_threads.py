"""Why the replay does not take a second core for itself: the two facts behind issue 14's
two-thread row, measured.

1. A matrix product cut into halves is not bit for bit the product: OpenBLAS's results depend on
   the shape it is given (and on its thread count), so a replay that split the GPT's products
   between two threads would no longer equal the eager step, which the replay must.
2. What can be cut (elementwise work) gains little after a product: OpenBLAS's worker keeps
   spinning on the second core for a while after each product, and a second Python thread
   doing the other half waits for it. Run once as is and once with OPENBLAS_THREAD_TIMEOUT=4
   (its worker sleeps at once) to see the difference:

    python benchmarks/two_threads.py
    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/two_threads.py
"""
from __future__ import annotations

import threading
import time

import numpy
from threadpoolctl import threadpool_limits

from harness import print_machine, machine_info

SHAPES = [(2048, 128, 384), (2048, 128, 512), (2048, 512, 128), (128, 2048, 384)]  # the GPT's


def halves_differ(rounds: int = 1) -> None:
    rng = numpy.random.default_rng(0)
    print("product (m, k, n)   2 threads = 1 thread   row halves = whole (1 thread)   elements "
          "that differ")
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(numpy.float32)
        b = rng.standard_normal((k, n)).astype(numpy.float32)
        with threadpool_limits(2):
            two = a @ b
        with threadpool_limits(1):
            one = a @ b
            halves = numpy.concatenate([a[:m // 2] @ b, a[m // 2:] @ b])
        print(f"{str((m, k, n)):18}  {str(numpy.array_equal(two, one)):21}  "
              f"{str(numpy.array_equal(halves, one)):30}  {(halves != one).mean():.2%}")


class SecondThread:
    """One worker that runs a function when told, as a replay's helper thread would."""

    def __init__(self):
        self.go, self.done, self.task = threading.Lock(), threading.Lock(), None
        self.go.acquire()
        self.done.acquire()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            self.go.acquire()
            self.task()
            self.done.release()

    def run_beside(self, mine, theirs):
        self.task = theirs
        self.go.release()
        mine()
        self.done.acquire()


def elementwise(a, out):  # four passes, like a GELU's
    numpy.multiply(a, 0.5, out=out)
    numpy.tanh(out, out=out)
    numpy.add(out, 1.0, out=out)
    numpy.multiply(out, a, out=out)


def product_then_elementwise(rounds: int = 300) -> None:
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2048, 128)).astype(numpy.float32)
    w = rng.standard_normal((128, 512)).astype(numpy.float32)
    y, z = numpy.empty((2048, 512), numpy.float32), numpy.empty((2048, 512), numpy.float32)
    helper, half = SecondThread(), 1024
    kinds = {"whole": lambda: elementwise(y, z),
             "halves": lambda: helper.run_beside(lambda: elementwise(y[:half], z[:half]),
                                                 lambda: elementwise(y[half:], z[half:]))}
    times = {kind: [] for kind in kinds}
    with threadpool_limits(2):
        for index in range(rounds):
            for kind in (kinds if index % 2 else list(kinds)[::-1]):
                numpy.dot(x, w, out=y)  # OpenBLAS's worker spins after this
                started = time.perf_counter()
                kinds[kind]()
                times[kind].append(time.perf_counter() - started)
    whole, halves = (numpy.median(times[kind]) * 1e6 for kind in kinds)
    print(f"right after a product on 2 BLAS threads, 1M-element elementwise chain: whole "
          f"{whole:.0f} µs, halves on two threads {halves:.0f} µs ({halves / whole:.2f}×; "
          f"median of {rounds} alternating rounds)")


if __name__ == "__main__":
    print_machine(machine_info())
    halves_differ()
    product_then_elementwise()
