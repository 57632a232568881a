"""Train / validation / test splits that never overlap, optionally stratified by class."""
from __future__ import annotations

from dataclasses import dataclass

import numpy

from .. import backend
from ..errors import DataError


@dataclass(frozen=True)
class Split:
    """Row indices of each part, as sorted int64 arrays; together they cover every row once."""
    train: numpy.ndarray
    val: numpy.ndarray
    test: numpy.ndarray

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def train_val_test_split(n_or_array, val: float = 0.1, test: float = 0.2, stratify=None,
                         seed: int | None = 0) -> Split:
    """Split ``n`` rows (or the rows of an array) at random into train, validation and test.

    Each part gets ``round(fraction · n)`` rows, at least one when its fraction is positive, and
    the training part the rest (at least one row). ``stratify`` (class labels, one per row)
    splits each class on its own, so that every part keeps the classes' proportions to within
    one row per class. The same ``seed`` gives the same split; ``seed=None`` draws from
    chainrule's generator instead.
    """
    rows = _row_count(n_or_array)
    _check_fractions(val, test)
    rng = backend.generator() if seed is None else numpy.random.default_rng(seed)
    if stratify is None:
        groups = [rng.permutation(rows)]
    else:
        labels = backend.to_numpy(getattr(stratify, "data", stratify))
        if labels.shape != (rows,):
            raise DataError(f"train_val_test_split: stratify needs one label per row: "
                            f"{rows} rows but labels of shape {labels.shape}")
        _, label_codes = numpy.unique(labels, return_inverse=True)
        groups = [rng.permutation(numpy.flatnonzero(label_codes == code))
                  for code in range(label_codes.max(initial=-1) + 1)]

    train, validation, testing = [], [], []
    for group in groups:
        n_val, n_test = _part_sizes(len(group), val, test, at_least_one=stratify is None)
        testing.append(group[:n_test])
        validation.append(group[n_test:n_test + n_val])
        train.append(group[n_test + n_val:])
    split = Split(*(numpy.sort(numpy.concatenate(part)).astype(numpy.int64)
                    for part in (train, validation, testing)))
    if len(split.train) == 0:
        raise DataError(f"train_val_test_split: with {rows} rows, val={val} and test={test} leave "
                        "no rows for training; use smaller fractions or more data")
    return split


def _row_count(n_or_array) -> int:
    if isinstance(n_or_array, (int, numpy.integer)) and not isinstance(n_or_array, bool):
        rows = int(n_or_array)
    elif hasattr(n_or_array, "shape") and len(n_or_array.shape) > 0:
        rows = int(n_or_array.shape[0])
    elif hasattr(n_or_array, "__len__"):
        rows = len(n_or_array)
    else:
        raise TypeError(f"train_val_test_split: expected a row count or an array, "
                        f"not {type(n_or_array).__name__}")
    if rows < 1:
        raise DataError(f"train_val_test_split: there are no rows to split (n={rows})")
    return rows


def _check_fractions(val: float, test: float) -> None:
    for name, fraction in (("val", val), ("test", test)):
        if not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
            raise DataError(f"train_val_test_split: {name}={fraction!r} must be a fraction in "
                            "[0, 1)")
    if val + test >= 1:
        raise DataError(f"train_val_test_split: val + test = {val} + {test} = {val + test:g} "
                        "leaves nothing for training; the two fractions must add up to less "
                        "than 1")


def _part_sizes(rows: int, val: float, test: float, at_least_one: bool) -> tuple[int, int]:
    """Rows for validation and test; round half up, so that 0.5 of a row still counts."""
    n_val = int(numpy.floor(val * rows + 0.5))
    n_test = int(numpy.floor(test * rows + 0.5))
    if at_least_one:
        # A part asked for must not come out empty, as long as a row for training remains.
        if val > 0 and n_val == 0 and rows - n_test - 1 >= 1:
            n_val = 1
        if test > 0 and n_test == 0 and rows - n_val - 1 >= 1:
            n_test = 1
    # Rounding up both parts may leave no row to train on: give rows back, validation first.
    keep_for_training = 1 if at_least_one else 0
    while n_val + n_test > rows - keep_for_training and n_val + n_test > 0:
        if n_val > 0:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test
