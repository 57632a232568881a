"""Fused primitives of the transformer: embedding lookup, GELU, and scaled dot-product attention.

Each could be composed from smaller ops; each is one op here because a language model spends
most of its step in them, and one node with a derived VJP makes fewer passes over the
activations than a dozen small ones. Every VJP has a fast path on the arrays the forward saved
and, under ``create_graph``, the same formula in Tensor ops, so gradients of gradients work.
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from .primitive import Rejects, Sample, ShapeError, constant, fast_vjp, primitive
from .shape import cat

# Above this many elements the one-hot matrix of an embedding's backward costs more than sorting.
ONE_HOT_LIMIT = 1 << 22

_TOKENS = numpy.array([[0, 2, 2], [1, 0, 2]])


def _check_indices(indices, count: int, op: str):
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, not {indices.dtype}")
    if indices.data.size and (indices.data.min() < 0 or indices.data.max() >= count):
        bad = indices.data[(indices.data < 0) | (indices.data >= count)].reshape(-1)[0]
        raise IndexError(f"{op}: index {int(bad)} is out of range for {count} embeddings")


@primitive(samples=[Sample((_TOKENS, (3, 4)))],
           rejects=[Rejects((numpy.array([0, 3]), (3, 4)), {}, IndexError)], saves=("indices",))
def embedding(indices, weight):
    """Row lookup: out[..., :] = W[i, :] for each index i. The VJP adds each row of ȳ into the
    row of W̄ its index picked: a token that occurs n times collects n contributions."""
    _check_indices(indices, weight.shape[0], "embedding")
    out = weight.data[indices.data]
    weight_vjp = lambda g, out: embedding_dense_backward(g, indices, num_weights=weight.shape[0])
    return out, (None, weight_vjp)


@primitive(samples=[Sample(((2, 3, 4), _TOKENS), {"num_weights": 3})], saves=("indices",))
def embedding_dense_backward(g, indices, num_weights: int = 0):
    """W̄[r] = Σ over positions p with indices[p] = r of g[p]: the adjoint of ``embedding``.

    NumPy's ``add.at`` does this one element at a time: for 2048 tokens of width 128 and 65
    rows it takes 4.2 ms, a one-hot matrix product (small vocabularies) 0.9 ms, a sort followed
    by ``add.reduceat`` (large ones, where the one-hot matrix would be huge) 1.3 ms.
    """
    xp = backend.xp
    rows = g.data.reshape(-1, g.shape[-1])
    flat = indices.data.reshape(-1)
    if num_weights * flat.size <= ONE_HOT_LIMIT:
        one_hot = xp.zeros((num_weights, flat.size), dtype=g.dtype)
        one_hot[flat, xp.arange(flat.size)] = 1
        out = one_hot @ rows
    else:
        order = xp.argsort(flat, kind="stable")
        ordered = flat[order]
        starts = xp.flatnonzero(xp.concatenate([xp.ones(1, dtype=bool), ordered[1:] != ordered[:-1]]))
        out = xp.zeros((num_weights, g.shape[-1]), dtype=g.dtype)
        out[ordered[starts]] = xp.add.reduceat(rows[order], starts, axis=0)
    return out, (lambda g2, out: embedding(indices, g2), None)


# ---------------------------------------------------------------- GELU
_GELU_SCALE = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


@primitive(samples=[Sample(((3, 4),), low=-4, high=4), Sample(((),), low=-4, high=4)])
def gelu_tanh(x):
    """GPT-2's GELU: ½x(1 + tanh(u)) with u = √(2/π)(x + 0.044715x³), computed as x σ(2u)
    (the same function: ½(1 + tanh u) = σ(2u) = 1/(1 + e⁻²ᵘ)), one exponential per element.

    Derivative: σ(2u) + x σ(2u)(1 − σ(2u)) · 2√(2/π)(1 + 3·0.044715x²).
    """
    xp = backend.xp
    data = x.data
    # −2u as x(−2√(2/π) − 2√(2/π)·0.044715x²): four passes over the activations, one of them
    # reading x alone (square), where x·x, ·0.044715, +1, ·x, ·(−2√(2/π)) took five
    two_u = xp.square(data, out=xp.empty_like(data))  # out=: a 0-d input stays an array
    two_u *= -2 * _GELU_SCALE * _GELU_CUBIC
    two_u -= 2 * _GELU_SCALE
    two_u *= data                                  # now −2u
    # e⁸⁰ is finite in float32; σ is 0 there anyway. The bound is a row of 80s, not the number:
    # NumPy's minimum runs its vector loop only on two arrays (3× faster; the same numbers).
    xp.minimum(two_u, xp.full(data.shape[-1:], 80, dtype=data.dtype), out=two_u)
    gate = xp.exp(two_u, out=two_u)
    gate += 1
    # σ(2u) = 1/(1 + e⁻²ᵘ): NumPy divides a number by an array twice as fast as reciprocal()
    # computes the same correctly rounded quotients
    xp.divide(1, gate, out=gate)
    out = xp.multiply(data, gate, out=xp.empty_like(data))
    return out, fast_vjp(lambda g, out: _gelu_backward(g, data, gate),
                         lambda g, out: _gelu_backward_t(g, x))


def _gelu_backward(g, x, gate):
    """x̄ on arrays, from the forward's gate σ(2u), in place in one new array (and a temporary
    for 1 − σ)."""
    xp = backend.xp
    slope = xp.square(x, out=xp.empty_like(x))
    slope *= 6 * _GELU_SCALE * _GELU_CUBIC
    slope += 2 * _GELU_SCALE                       # 2√(2/π)(1 + 3·0.044715x²)
    slope *= x
    slope *= gate
    slope *= xp.subtract(1, gate)
    slope += gate
    slope *= g
    return slope


def _gelu_backward_t(g, x):
    """x̄ in Tensor ops, the gate recomputed from x, so that x̄ is differentiable in x."""
    gate = (2 * _GELU_SCALE * (x + _GELU_CUBIC * x * x * x)).sigmoid()
    slope = 2 * _GELU_SCALE * (1 + 3 * _GELU_CUBIC * x * x)
    return g * (gate + x * gate * (1 - gate) * slope)


# ---------------------------------------------------------------- attention
_QKV = (1, 2, 3, 2)


def _causal_mask(rows: int, columns: int):
    """True above the diagonal: the future positions that position i may not look at."""
    return backend.xp.triu(backend.xp.ones((rows, columns), dtype=bool), 1)


def _weights(q, k, scale: float, causal: bool):
    """softmax(q kᵀ · scale) with the future masked out, as Tensor ops (for create_graph)."""
    scores = (q @ k.mT) * scale
    if causal:
        scores = scores.masked_fill(constant(_causal_mask(q.shape[-2], k.shape[-2])), float("-inf"))
    return scores.softmax(dim=-1)


def _attend(q, k, v, scale: float, causal: bool, out=None):
    """The forward on arrays: (y, A) for A = softmax(q kᵀ · s) with the future masked out;
    y written into ``out`` if given."""
    xp = backend.xp
    weights = xp.matmul(q, xp.swapaxes(k, -1, -2))
    weights *= scale
    rows, columns = weights.shape[-2:]
    if causal:
        # −∞ above the diagonal, added to each (T, T) matrix seen as one row of T·T numbers:
        # a long inner loop, several times faster than broadcasting over rows of T.
        future = xp.where(_causal_mask(rows, columns), -xp.inf, 0).astype(weights.dtype)
        flat = weights.reshape(-1, rows * columns)
        flat += future.reshape(-1)
    weights -= weights.max(axis=-1, keepdims=True)
    xp.exp(weights, out=weights)
    # The row sums as a product with a vector of ones: one BLAS call per matrix, about three
    # times faster than sum() over rows this short.
    weights /= (weights @ xp.ones(columns, dtype=weights.dtype))[..., None]
    return xp.matmul(weights, v, out=out), weights


def _attend_backward(g, q, k, v, weights, scale: float, out=None):
    """The VJPs on arrays: (q̄, k̄, v̄), written into the three arrays of ``out`` if given."""
    xp = backend.xp
    score_signal = xp.matmul(g, xp.swapaxes(v, -1, -2))  # Ā, then S̄ in place
    # rowsum(Ā ∘ A) as one pass of row-wise dot products, without the product as an array
    score_signal -= xp.einsum("...ij,...ij->...i", score_signal, weights)[..., None]
    score_signal *= weights
    score_signal *= scale
    q_out, k_out, v_out = out if out is not None else (None, None, None)
    return (xp.matmul(score_signal, k, out=q_out),
            xp.matmul(xp.swapaxes(score_signal, -1, -2), q, out=k_out),
            xp.matmul(xp.swapaxes(weights, -1, -2), g, out=v_out))


@primitive(samples=[Sample((_QKV, _QKV, _QKV), {"is_causal": True}), Sample(((2, 3, 2),) * 3),
                    Sample(((2, 2), (3, 2), (3, 4)))],
           rejects=[Rejects(((2, 3, 2), (2, 3, 4), (2, 3, 2)), {}, ShapeError)])
def scaled_dot_product_attention(q, k, v, is_causal: bool = False, scale: float | None = None):
    """Attention over the last two dimensions, (…, T, d) for q, k and v:

        A = softmax(q kᵀ · s),  y = A v,  with s = 1/√d and, if causal, Aᵢⱼ = 0 for j > i.

    VJPs, with S̄ = A ∘ (Ā − rowsum(Ā ∘ A)) · s and Ā = ȳ vᵀ:
        q̄ = S̄ k,   k̄ = S̄ᵀ q,   v̄ = Aᵀ ȳ.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: q {tuple(q.shape)}, k {tuple(k.shape)} "
                         f"and v {tuple(v.shape)} do not fit: q and k need the same last size, "
                         "k and v the same length")
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    out, weights = _attend(q.data, k.data, v.data, scale, is_causal)
    saved = {}

    def signals(g):
        """The three VJPs share their work: the first to be asked computes all three."""
        if saved.get("error_signal") is not g:
            saved["error_signal"] = g
            saved["signals"] = _attend_backward(g, q.data, k.data, v.data, weights, scale)
        return saved["signals"]

    def vjp(position):
        return fast_vjp(lambda g, out: signals(g)[position],
                        lambda g, out: _attention_signals_t(g, q, k, v, scale, is_causal)[position])
    return out, (vjp(0), vjp(1), vjp(2))


def _attention_signals_t(g, q, k, v, scale, causal):
    """(q̄, k̄, v̄) as Tensor ops, differentiable in q, k, v and ȳ (for create_graph)."""
    score_signal = _score_signal_t(g, q, k, v, scale, causal)
    return score_signal @ k, score_signal.mT @ q, _weights(q, k, scale, causal).mT @ g


@primitive(samples=[Sample(((2, 3, 12),), {"n_head": 2}), Sample(((1, 4, 6),))],
           rejects=[Rejects(((2, 3, 12),), {"n_head": 5}, ShapeError)])
def causal_self_attention(qkv, n_head: int = 1):
    """Multi-head causal self-attention on packed projections, as a GPT computes it.

    ``qkv`` (B, T, 3C) holds the queries, keys and values side by side; each of the n_head heads
    takes a slice of C/n_head of each and attends as ``scaled_dot_product_attention`` with
    ``is_causal=True``; the heads' outputs come back side by side, (B, T, C). One op instead of
    splitting, reshaping and transposing in the graph: the head views cost nothing forward,
    and backward writes q̄, k̄ and v̄ straight into one (B, T, 3C) gradient.
    """
    batch, length, packed = qkv.shape
    if packed % (3 * n_head):
        raise ShapeError(f"causal_self_attention: the last size of qkv {tuple(qkv.shape)} must be "
                         f"3 × n_embd with n_embd a multiple of n_head={n_head}")
    channels = packed // 3
    scale = 1 / math.sqrt(packed // (3 * n_head))
    q, k, v = _heads(qkv.data, n_head)
    # each head's output written straight into its columns of y (B, T, C), without a copy
    out = backend.xp.empty((batch, length, channels), dtype=qkv.dtype)
    _, weights = _attend(q, k, v, scale, causal=True, out=_head_view(out, n_head))
    vjp = fast_vjp(lambda g, out: _packed_attention_backward(g, q, k, v, weights, scale, n_head),
                   lambda g, out: _packed_attention_signal_t(g, qkv, n_head))
    return out, vjp


def _heads(packed, n_head: int):
    """(B, T, 3C) seen as (B, T, 3, nh, hs), then as q, k, v of shape (B, nh, T, hs): views,
    no copies."""
    batch, length, size = packed.shape
    return packed.reshape(batch, length, 3, n_head, size // (3 * n_head)).transpose(2, 0, 3, 1, 4)


def _head_view(packed, n_head: int):
    """(B, T, C) seen as (B, nh, T, hs): head h is columns h·hs … (h+1)·hs − 1. A view."""
    batch, length, channels = packed.shape
    return packed.reshape(batch, length, n_head, channels // n_head).transpose(0, 2, 1, 3)


def _packed_attention_backward(g, q, k, v, weights, scale: float, n_head: int):
    """The VJP of ``causal_self_attention`` on arrays: each head's q̄, k̄ and v̄ written straight
    into its slices of one (B, T, 3C) gradient."""
    batch, length, channels = g.shape
    signal = backend.xp.empty((batch, length, 3 * channels), dtype=q.dtype)
    _attend_backward(_head_view(g, n_head), q, k, v, weights, scale, out=_heads(signal, n_head))
    return signal


def _packed_attention_signal_t(g, qkv, n_head):
    """The VJP of ``causal_self_attention`` as Tensor ops (for create_graph)."""
    batch, length, packed = qkv.shape
    channels, head_size = packed // 3, packed // (3 * n_head)

    def heads(tensor):
        return tensor.reshape(batch, length, n_head, head_size).transpose(1, 2)

    q, k, v = (heads(part) for part in qkv.split(channels, dim=2))
    signals = _attention_signals_t(heads(g), q, k, v, 1 / math.sqrt(head_size), True)
    return cat([s.transpose(1, 2).reshape(batch, length, channels) for s in signals], dim=2)


def _score_signal_t(g, q, k, v, scale, causal):
    """S̄ as Tensor ops, differentiable in q, k, v and ȳ."""
    weights = _weights(q, k, scale, causal)
    weights_signal = g @ v.mT
    return weights * (weights_signal - (weights_signal * weights).sum(dim=-1, keepdim=True)) * scale
