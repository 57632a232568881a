"""Datasets and the loader that cuts them into minibatches, with PyTorch's protocol.

A dataset is anything with ``__len__`` and ``__getitem__``. The loader visits its rows in order or
in a seeded random order and hands out each minibatch as a tuple of chainrule Tensors: one pass
over the loader is one epoch of stochastic gradient descent.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor, as_tensor


class Dataset:
    """The protocol: ``len(dataset)`` rows, and ``dataset[i]`` the i-th row (often a tuple)."""

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Rows of equally long arrays: ``TensorDataset(X, y)[i]`` is ``(X[i], y[i])``.

    It holds backend arrays (Tensors are unwrapped, without a copy). Indexing with an integer array
    gathers a whole batch at once: ``dataset[[3, 1, 4]]`` is ``(X[[3, 1, 4]], y[[3, 1, 4]])``.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_backend_array(array) for array in arrays)
        lengths = {array.shape[0] if array.ndim else None for array in self.arrays}
        if len(lengths) != 1 or None in lengths:
            shapes = ", ".join(str(tuple(array.shape)) for array in self.arrays)
            raise ShapeError(f"TensorDataset: the arrays must have the same number of rows "
                             f"(first dimension); got shapes {shapes}")

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        if isinstance(index, (list, numpy.ndarray)) or hasattr(index, "__cuda_array_interface__"):
            index = backend.xp.asarray(index)
        return tuple(array[index] for array in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(array.shape)) for array in self.arrays)
        return f"TensorDataset({shapes})"


class DataLoader:
    """Minibatches of a dataset: ``for X, y in DataLoader(TensorDataset(X, y), batch_size=32)``.

    shuffle: visit the rows in a new random order each epoch, drawn from ``generator`` (a NumPy
        ``Generator``; by default chainrule's own, so ``chainrule.manual_seed`` makes it repeat).
    drop_last: leave out the last batch when it is smaller than ``batch_size``.

    ``len(loader)`` is the number of batches per epoch: ⌈n / batch_size⌉, or ⌊n / batch_size⌋
    with ``drop_last``. A TensorDataset is gathered one fancy-index per array per batch; without
    shuffling each batch is a slice, so a view of the dataset's arrays with no copy at all.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator: numpy.random.Generator | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"not {batch_size!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        rows = len(self.dataset)
        if self.drop_last:
            return rows // self.batch_size
        return math.ceil(rows / self.batch_size)

    def batch_indices(self) -> Iterator[numpy.ndarray | slice]:
        """The rows of each batch of one epoch: slices in order, or index arrays when shuffled."""
        rows = len(self.dataset)
        stop_at = len(self) * self.batch_size
        if self.shuffle:
            # Read the generator at iteration time, so manual_seed after building the loader counts.
            rng = self.generator if self.generator is not None else backend.generator()
            order = rng.permutation(rows)
            for start in range(0, min(stop_at, rows), self.batch_size):
                yield order[start:start + self.batch_size]
        else:
            for start in range(0, min(stop_at, rows), self.batch_size):
                yield slice(start, start + self.batch_size)

    def __iter__(self) -> Iterator:
        for rows in self.batch_indices():
            if isinstance(self.dataset, TensorDataset):
                yield tuple(as_tensor(array) for array in self.dataset[rows])
            else:
                if isinstance(rows, slice):
                    rows = range(rows.start, min(rows.stop, len(self.dataset)))
                yield _collate([self.dataset[int(i)] for i in rows])

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


def _as_backend_array(value):
    if isinstance(value, Tensor):
        return value.data
    return backend.xp.asarray(value)


def _collate(items: list):
    """Stack a list of rows into one batch, field by field, keeping the rows' structure."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate([item[field] for item in items]) for field in range(len(first)))
    return as_tensor(backend.xp.stack([_as_backend_array(item) for item in items]))
