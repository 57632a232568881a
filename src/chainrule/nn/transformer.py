"""The layers of a transformer language model: ``Embedding``, ``LayerNorm``,
``CausalSelfAttention``, ``FeedForward`` and the residual ``TransformerBlock``.

Names, shapes and parameter names follow PyTorch and nanoGPT (``c_attn``, ``c_proj``, ``c_fc``),
so a state_dict copies across to either. The heavy lifting happens in fused primitives
(``chainrule.ops.normalization`` and ``chainrule.ops.transformer``), each gradient-checked.
"""
from __future__ import annotations

from .. import backend
from ..ops import causal_self_attention, embedding, gelu_tanh, layer_norm
from ..tensor import Tensor
from . import init
from .layers import Dropout, Linear
from .module import Module, Parameter


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; ``forward(indices)``
    looks up one row per index: (…) integers give (…, embedding_dim).

    A token that appears several times in a batch receives the sum of the gradients of all
    its occurrences. Initialised from N(0, 1), as in PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        dtype = backend.as_dtype(dtype)
        self.weight = Parameter(backend.xp.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight)

    def forward(self, indices: Tensor) -> Tensor:
        return embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """y = (x − μ)/√(σ² + ε) ∘ w + b over the last dimension (w = 1, b = 0 at first);
    ``bias=False`` leaves b out, as GPT models without biases do."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, bias: bool = True, dtype=None):
        super().__init__()
        self.normalized_shape = normalized_shape
        self.eps = eps
        dtype = backend.as_dtype(dtype)
        self.weight = Parameter(backend.xp.ones((normalized_shape,), dtype=dtype))
        self.bias = Parameter(backend.xp.zeros((normalized_shape,), dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, bias={self.bias is not None}"


class CausalSelfAttention(Module):
    """Multi-head self-attention in which position t sees positions 0…t only.

    One linear map gives queries, keys and values for all heads at once; each head h attends
    with softmax(q_h k_hᵀ / √d) (future positions masked), the heads' outputs are put side by
    side again and mixed by the output projection ``c_proj``.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 dtype=None):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"CausalSelfAttention: n_embd={n_embd} must be a multiple of "
                             f"n_head={n_head}")
        self.n_embd = n_embd
        self.n_head = n_head
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias, dtype=dtype)
        self.c_proj = Linear(n_embd, n_embd, bias=bias, dtype=dtype)
        self.resid_dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        # c_attn gives (B, T, 3C): q, k and v side by side, each C = n_head × head_size wide.
        # The fused op splits them into heads, attends within each head, and puts the heads'
        # outputs side by side again: the same as
        #     q, k, v = qkv.split(C, dim=2), each .reshape(B, T, n_head, head_size).transpose(1, 2)
        #     y = scaled_dot_product_attention(q, k, v, is_causal=True)
        #     y = y.transpose(1, 2).reshape(B, T, C)
        # without the copies those reshapes make, forward and backward.
        y = causal_self_attention(self.c_attn(x), n_head=self.n_head)
        return self.resid_dropout(self.c_proj(y))

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}"


class FeedForward(Module):
    """Position-wise: Linear(C, 4C), GELU (GPT-2's tanh form), Linear(4C, C), dropout."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True, dtype=None):
        super().__init__()
        self.c_fc = Linear(n_embd, 4 * n_embd, bias=bias, dtype=dtype)
        self.c_proj = Linear(4 * n_embd, n_embd, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(gelu_tanh(self.c_fc(x))))


class TransformerBlock(Module):
    """A pre-norm residual block: x + attention(LN(x)), then x + feed-forward(LN(x)).

    The residual sums give gradients a path around every block, which is what lets a deep
    stack train at all."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=bias, dtype=dtype)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias, dtype)
        self.ln_2 = LayerNorm(n_embd, bias=bias, dtype=dtype)
        self.mlp = FeedForward(n_embd, dropout, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
