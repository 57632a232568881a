"""The shape every tabular source returns: features, targets, and what they mean."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy

from .dataset import TensorDataset

if TYPE_CHECKING:
    from .csv_table import TableEncoder

TASKS = ("classification", "regression")


@dataclass
class Table:
    """A supervised dataset held as host NumPy arrays.

    X: features, float32, shape (rows, features) (images may keep (rows, 28, 28)).
    y: int64 class indices into ``classes`` for classification, float32 values for regression;
       None when the source had no target (a CSV to predict on).
    classes: the label of each class index (ints or strings), None for regression.
    encoder: for a CSV, the ``TableEncoder`` that turns another CSV with the same columns into
       the same features (save it with ``encoder.to_json()``).
    lines: for a CSV, the file's line number of each row (the header is line 1).
    sha256: for a CSV, the SHA-256 of the file's bytes as read (what ``sha256sum`` prints), by
       which a run tells later whether the file is still the one it was trained on.
    """
    X: numpy.ndarray
    y: numpy.ndarray | None
    feature_names: list[str]
    target_name: str
    task: str
    classes: list | None = None
    name: str = ""
    encoder: "TableEncoder | None" = field(default=None, repr=False)
    lines: numpy.ndarray | None = field(default=None, repr=False)
    sha256: str | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"Table: task must be one of {TASKS}, not {self.task!r}")

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return int(numpy.prod(self.X.shape[1:]))

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def subset(self, rows) -> "Table":
        """The table restricted to ``rows`` (indices or a boolean mask), e.g. a split's part."""
        return replace(self, X=self.X[rows], y=None if self.y is None else self.y[rows],
                       lines=None if self.lines is None else self.lines[rows])

    def dataset(self) -> TensorDataset:
        """A TensorDataset of (X, y), ready for a DataLoader."""
        if self.y is None:
            return TensorDataset(self.X)
        return TensorDataset(self.X, self.y)

    def __repr__(self) -> str:
        what = f"{self.n_classes} classes" if self.task == "classification" else "regression"
        name = f"{self.name}: " if self.name else ""
        return (f"Table({name}{len(self)} rows × {self.n_features} features, "
                f"target {self.target_name!r}, {what})")


class TrainTest(NamedTuple):
    """A source that comes already split (MNIST): ``train, test = load_mnist(...)``."""
    train: Table
    test: Table
