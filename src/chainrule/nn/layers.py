"""Layers: ``Linear``, the activations, ``Dropout``, ``Identity``, ``Flatten``, ``Unflatten``,
``MLP``, and the language model's ``Embedding`` and ``LayerNorm``."""
from __future__ import annotations

import math

from .. import backend
from ..ops import embedding, where
from ..tensor import Tensor, as_tensor
from . import functional as F
from . import init
from .containers import Sequential
from .module import Module, Parameter


class Linear(Module):
    """y = x Wᵀ + b, with W of shape (out_features, in_features) as in PyTorch.

    Initialised as PyTorch does: W and b from U(−1/√in, 1/√in). ``MLP`` re-initialises its
    layers for their activation (Glorot or He).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        dtype = backend.as_dtype(dtype)
        self.weight = Parameter(backend.xp.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(backend.xp.empty((out_features,), dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """max(0, x). ``inplace=True`` is accepted for PyTorch's code and gives the same values and
    gradients; the result is a new tensor all the same (the input keeps its values)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e⁻ˣ)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope · x. ``inplace=True`` is accepted as for ``ReLU``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """log(1 + e^(βx))/β, and x itself where βx > threshold (see ``functional.softplus``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, beta=self.beta, threshold=self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log σ(x) = −log(1 + e⁻ˣ), without overflow for any x."""

    def forward(self, x: Tensor) -> Tensor:
        return F.logsigmoid(x)


class Tanh(Module):
    """tanh(x) = 2σ(2x) − 1."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """x Φ(x); ``approximate="tanh"`` for GPT-2's tanh formula (see ``functional.gelu``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', not {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, dim=self.dim)


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1 − p), so
    the expected activation is unchanged; in evaluation (``model.eval()``), the identity.
    ``inplace=True`` is accepted as ``ReLU``'s is: the same values, in a new tensor."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim`` to ``end_dim``: (N, 28, 28) becomes (N, 784)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: (N, 784) becomes (N, 1, 28, 28)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        axis = self.dim % x.ndim
        return x.reshape(x.shape[:axis] + self.unflattened_size + x.shape[axis + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU}


class MLP(Sequential):
    """A multilayer perceptron: ``MLP([784, 256, 10])`` is Linear(784, 256), ReLU,
    Linear(256, 10) — an activation (and dropout, if any) after every layer but the last,
    whose outputs are the logits or the regression values.

    Weights are initialised for the activation that follows them: Glorot/Xavier uniform,
    U(±√(6/(fan_in + fan_out))), for sigmoid and tanh; He/Kaiming normal, N(0, 2/fan_in), for
    ReLU and GELU; biases zero. The last layer takes the same rule as the hidden ones.
    """

    def __init__(self, sizes: list[int], activation: str = "relu", dropout: float = 0.0,
                 bias: bool = True, dtype=None):
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {', '.join(_ACTIVATIONS)}, "
                             f"not {activation!r}")
        layers = []
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layer = Linear(fan_in, fan_out, bias=bias, dtype=dtype)
            if activation in ("sigmoid", "tanh"):
                init.xavier_uniform_(layer.weight)
            else:
                init.kaiming_normal_(layer.weight, nonlinearity="relu")
            if layer.bias is not None:
                init.zeros_(layer.bias)
            layers.append(layer)
            if index < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(Dropout(dropout))
        super().__init__(*layers)
        self.sizes = list(sizes)
        self.activation = activation
        self.dropout = dropout


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; ``forward(indices)``
    looks up one row per index: (…) integers give (…, embedding_dim).

    A token that appears several times in a batch receives the sum of the gradients of all
    its occurrences. Initialised from N(0, 1), as in PyTorch. ``padding_idx``, as PyTorch's: that
    row starts at zero and receives no gradient (its value is still looked up).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 *, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is outside the table of "
                                 f"{num_embeddings} rows")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        dtype = backend.as_dtype(dtype)
        self.weight = Parameter(backend.xp.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, indices: Tensor) -> Tensor:
        rows = embedding(indices, self.weight)
        if self.padding_idx is None:
            return rows
        index_array = indices.data if isinstance(indices, Tensor) else backend.xp.asarray(indices)
        padding = as_tensor(index_array[..., None] == self.padding_idx)
        return where(padding, rows.detach(), rows)  # the padding rows pass no gradient back

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class LayerNorm(Module):
    """y = (x − μ)/√(σ² + ε) ∘ w + b over the last dimension (w = 1, b = 0 at first);
    ``bias=False`` leaves b out, as GPT models without biases do, and
    ``elementwise_affine=False`` both w and b (PyTorch's order of arguments). Normalising over
    more than the last dimension (a ``normalized_shape`` of two sizes or more) is not provided."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError(f"LayerNorm: normalises over the last dimension only; "
                                 f"normalized_shape {tuple(normalized_shape)} names "
                                 f"{len(normalized_shape)} dimensions")
            normalized_shape = normalized_shape[0]
        self.normalized_shape = int(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = backend.as_dtype(dtype)
        xp = backend.xp
        self.weight = (Parameter(xp.ones((self.normalized_shape,), dtype=dtype))
                       if elementwise_affine else None)
        self.bias = (Parameter(xp.zeros((self.normalized_shape,), dtype=dtype))
                     if elementwise_affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
