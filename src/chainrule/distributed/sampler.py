"""Each rank's share of an epoch: the same shuffled order on every rank, cut by rank.

Every rank draws the epoch's order from the shared seed, ``numpy.random.default_rng((seed,
epoch))`` (the generator ``chainrule.training.fit`` shuffles with), so no order is ever sent.
``batches(batch_size)`` then takes the global batches of that order, exactly as one process
would, and gives rank r the rows r, r + p, r + 2p … of each. The batch size stays the global
one: the same command trains the same model on 1, 2 or 4 processes.
"""
from __future__ import annotations

from typing import Iterator

import numpy

from . import world


class DistributedSampler:
    """The rows of ``dataset`` (or of ``range(n)`` for an int) this rank sees in one epoch.

    ``set_epoch(e)`` before each epoch, as in PyTorch, changes the order. ``iter(sampler)`` gives
    this rank's rows ``order[rank::world_size]``; ``batches(batch_size)`` the same rows grouped by
    global batch, with the weight each shard's mean loss needs (see ``batches``).
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0):
        self.rows = dataset if isinstance(dataset, int) else len(dataset)
        self.num_replicas = world.get_world_size() if num_replicas is None else num_replicas
        self.rank = world.get_rank() if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in 0 … "
                             f"{self.num_replicas - 1}")
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> numpy.ndarray:
        """The epoch's order of all rows, the same on every rank."""
        if not self.shuffle:
            return numpy.arange(self.rows)
        return numpy.random.default_rng((self.seed, self.epoch)).permutation(self.rows)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return len(range(self.rank, self.rows, self.num_replicas))

    def batches(self, batch_size: int) -> Iterator[tuple[numpy.ndarray, float]]:
        """(rows, weight) for each global batch of ``batch_size`` rows of the epoch's order.

        ``rows`` is this rank's share, every p-th row of the batch from the rank's own; ``weight``
        is p·|share|/|batch|, the factor by which this rank multiplies its mean loss so that the
        average over ranks is the whole batch's mean loss exactly, also when p does not divide
        the batch (the epoch's last batch, or any batch size). A rank whose share is empty (a
        last batch smaller than p) gets the batch's first row with weight 0: it still takes part
        in the gradient all-reduce, contributing zeros.
        """
        if batch_size < 1:
            raise ValueError(f"DistributedSampler.batches: batch_size must be positive, "
                             f"not {batch_size}")
        order = self.order()
        for start in range(0, self.rows, batch_size):
            batch = order[start:start + batch_size]
            share = batch[self.rank::self.num_replicas]
            if len(share) == 0:
                yield batch[:1], 0.0
            else:
                yield share, self.num_replicas * len(share) / len(batch)


def shard_of_batch(rows: int) -> tuple[slice, float]:
    """This rank's rows of a batch of ``rows`` that every rank drew alike (the same generator
    state), as a slice (rows r, r + p, …), and the weight of ``DistributedSampler.batches``."""
    processes, rank = world.get_world_size(), world.get_rank()
    mine = len(range(rank, rows, processes))
    if mine == 0:
        return slice(0, 1), 0.0
    return slice(rank, None, processes), processes * mine / rows
