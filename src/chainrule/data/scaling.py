"""Feature scaling fitted on the training split only, so no statistic leaks from held-out rows."""
from __future__ import annotations

import numpy

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor, as_tensor


class Standardizer:
    """z = (x − μ) / σ per column, with μ and σ (population, ddof=0) from the rows given to ``fit``.

    A column that never varies (σ = 0) is only centred: its scale is set to 1, so it becomes 0
    instead of a division by zero. Works on 1-D targets too (one column). Tensors in, Tensors out;
    arrays in, arrays out. The state is two plain arrays, ``mean_`` and ``scale_``, saved by
    ``state_dict()`` (arrays, for safetensors) or ``to_json()`` (lists, for a JSON config).
    """

    def __init__(self):
        self.mean_ = None
        self.scale_ = None

    def fit(self, X) -> "Standardizer":
        xp = backend.xp
        given = _array(X)
        if given.ndim == 0 or given.shape[0] == 0:
            raise ValueError(f"Standardizer.fit: need at least one row, got shape {given.shape}")
        values = given.astype(backend.float64)  # accumulate in float64: float32 sums drift
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        dtype = given.dtype if backend.is_floating(given.dtype) else backend.float32
        self.mean_ = mean.astype(dtype)
        self.scale_ = xp.where(std > 0, std, 1.0).astype(dtype)
        return self

    def transform(self, X):
        self._check_fitted("transform")
        values = _array(X)
        if not backend.is_floating(values.dtype):
            values = values.astype(self.mean_.dtype)
        self._check_columns(values, "transform")
        scaled = (values - self.mean_) / self.scale_
        return as_tensor(scaled) if isinstance(X, Tensor) else scaled

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """x = z · σ + μ: back to the original units (e.g. a regression model's predictions)."""
        self._check_fitted("inverse_transform")
        values = _array(Z)
        self._check_columns(values, "inverse_transform")
        original = values * self.scale_ + self.mean_
        return as_tensor(original) if isinstance(Z, Tensor) else original

    # ------------------------------------------------------------ saving
    def state_dict(self) -> dict:
        self._check_fitted("state_dict")
        return {"mean": backend.to_numpy(self.mean_), "scale": backend.to_numpy(self.scale_)}

    def load_state_dict(self, state: dict) -> "Standardizer":
        mean = backend.xp.asarray(numpy.asarray(state["mean"]))
        scale = backend.xp.asarray(numpy.asarray(state["scale"]))
        if mean.shape != scale.shape:
            raise ValueError(f"Standardizer.load_state_dict: mean {mean.shape} and scale "
                             f"{scale.shape} differ in shape")
        self.mean_, self.scale_ = mean, scale
        return self

    def to_json(self) -> dict:
        state = self.state_dict()
        return {"mean": state["mean"].tolist(), "scale": state["scale"].tolist(),
                "dtype": str(state["mean"].dtype)}

    @classmethod
    def from_json(cls, config: dict) -> "Standardizer":
        dtype = numpy.dtype(config.get("dtype", "float32"))
        return cls().load_state_dict({"mean": numpy.asarray(config["mean"], dtype=dtype),
                                      "scale": numpy.asarray(config["scale"], dtype=dtype)})

    def _check_fitted(self, caller: str) -> None:
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{caller}: call fit() first")

    def _check_columns(self, values, caller: str) -> None:
        expected = tuple(self.mean_.shape)  # () for a 1-D target, (columns,) for a table
        trailing = tuple(values.shape[values.ndim - len(expected):])
        if values.ndim < len(expected) or trailing != expected:
            raise ShapeError(f"Standardizer.{caller}: fitted on rows of shape {expected}, "
                             f"got an array of shape {tuple(values.shape)}")

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "Standardizer()"
        return f"Standardizer(columns={self.mean_.shape})"


def _array(value):
    return value.data if isinstance(value, Tensor) else backend.xp.asarray(value)
