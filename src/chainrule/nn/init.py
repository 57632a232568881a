"""Weight initialisation, in place, with PyTorch's names (``chainrule.nn.init``).

Random draws come from the generator seeded by ``chainrule.manual_seed`` (or the ``generator``
passed), so a seed fixes a model's initial weights. The fans of a weight of shape (out, in, k…)
are fan_in = in·k…, fan_out = out·k….

- Xavier/Glorot (for sigmoid and tanh units) keeps the variance of signals and of gradients
  alike across layers: Var(w) = gain² · 2 / (fan_in + fan_out).
- He/Kaiming (for ReLU units, which zero half their inputs) keeps the forward variance:
  Var(w) = gain² / fan, with gain = √2 for ReLU.
"""
from __future__ import annotations

import math

from .. import autograd, backend
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that makes up for how an activation shrinks variance (PyTorch's values)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape "
                         f"{tuple(tensor.shape)}")
    receptive_field = 1
    for size in tensor.shape[2:]:
        receptive_field *= size
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fill(tensor: Tensor, kind: str, low_or_mean: float, high_or_std: float,
          generator) -> Tensor:
    """Overwrite ``tensor.data`` (no graph is recorded: these are assignments, not ops)."""
    draws = backend.random_array(kind, tensor.shape, tensor.dtype, generator)
    if kind == "uniform":
        draws = low_or_mean + (high_or_std - low_or_mean) * draws
    else:
        draws = low_or_mean + high_or_std * draws
    tensor.data[...] = draws
    autograd.increment_version(tensor)  # an in-place write, as PyTorch's init counts it
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from U(a, b)."""
    return _fill(tensor, "uniform", a, b, generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from N(mean, std²)."""
    return _fill(tensor, "normal", mean, std, generator)


def constant_(tensor: Tensor, val: float) -> Tensor:
    tensor.data[...] = val
    autograd.increment_version(tensor)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(−a, a) with a = gain · √(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, σ²) with σ = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', not {mode!r}")
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(−b, b) with b = gain · √(3 / fan) (He et al., 2015); gain √2 for ReLU (a = 0)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """N(0, σ²) with σ = gain / √fan (He et al., 2015); σ = √(2 / fan_in) for ReLU."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)
