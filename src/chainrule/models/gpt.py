"""A GPT: a decoder-only transformer language model, in the shape of nanoGPT's ``model.py``.

Given a sequence of token ids, the model predicts, at every position, a distribution over the
next token:

    x⁰ = wte[tokens] + wpe[positions]                      embeddings of tokens and positions
    xˡ = Block(xˡ⁻¹)  for l = 1…n_layer                    attention + feed-forward, residual
    logits = LayerNorm(xᴸ) Wᵀ                               W = wte when the weights are tied

and is trained to minimise the cross-entropy of the next token. Generation feeds the model its
own samples, one token at a time.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy

from .. import backend
from ..autograd import no_grad
from ..nn import Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, init
from ..nn import functional as F
from ..ops import cat, causal_self_attention, gelu_tanh, softmax
from ..tensor import Tensor, as_tensor


@dataclass
class GPTConfig:
    """The architecture. ``bias`` puts biases in the Linear and LayerNorm layers;
    ``tie_weights`` makes the output layer share the token embedding's matrix."""
    vocab_size: int = 65
    block_size: int = 64          # the context: how many tokens the model looks back on
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    tie_weights: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"GPTConfig: {name} must be at least 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} must be a multiple of "
                             f"n_head={self.n_head}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "GPTConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


# The two sizes of nanoGPT's Shakespeare-character recipe: its CPU run ("baby") and its GPU run.
PRESETS = {
    "baby": dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
    "small": dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
}


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

    def forward_cached(self, x: Tensor, cache: "LayerCache") -> Tensor:
        """The same for the newest positions of ``x`` (B, T_new, C) only, during generation:
        their keys and values join ``cache``, and each new query attends to every cached
        position up to its own. Without gradients (generation runs under no_grad)."""
        xp = backend.xp
        batch, length, _ = x.shape
        head_size = self.n_embd // self.n_head
        qkv = self.c_attn(x).data.reshape(batch, length, 3, self.n_head, head_size)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)               # each (B, nh, T_new, hs)
        k, v = cache.append(k, v)                             # each (B, nh, T_past + T_new, hs)
        scores = xp.matmul(q, xp.swapaxes(k, -1, -2)) * (1 / math.sqrt(head_size))
        past = k.shape[2] - length
        # query i sits at position past + i: it may look at keys 0 … past + i
        future = xp.triu(xp.ones((length, k.shape[2]), dtype=bool), past + 1)
        scores = xp.where(future, -xp.inf, scores)
        scores -= scores.max(axis=-1, keepdims=True)
        weights = xp.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        y = xp.matmul(weights, v).transpose(0, 2, 1, 3).reshape(batch, length, self.n_embd)
        return self.resid_dropout(self.c_proj(as_tensor(y)))

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

    def forward_cached(self, x: Tensor, cache: "LayerCache") -> Tensor:
        x = x + self.attn.forward_cached(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class LayerCache:
    """One attention layer's keys and values for the positions seen so far, (B, nh, T, hs)
    each: during generation a new token's query needs them, and they do not change."""

    def __init__(self):
        self.keys = self.values = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def append(self, keys, values):
        xp = backend.xp
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            self.keys = xp.concatenate([self.keys, keys], axis=2)
            self.values = xp.concatenate([self.values, values], axis=2)
        return self.keys, self.values


class GPT(Module):
    """The model. ``forward(tokens, targets)`` gives (logits, loss); ``generate`` samples."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = Embedding(config.vocab_size, config.n_embd)
        self.wpe = Embedding(config.block_size, config.n_embd)
        self.drop = Dropout(config.dropout)
        self.h = ModuleList([TransformerBlock(config.n_embd, config.n_head, config.dropout,
                                              config.bias) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2's initialisation: N(0, 0.02²) for every matrix and embedding, zero biases, and
        N(0, (0.02/√(2·n_layer))²) for the projections that write into the residual stream, so
        that its variance does not grow with depth."""
        for name, module in self.named_modules():
            if isinstance(module, (Linear, Embedding)):
                init.normal_(module.weight, 0.0, 0.02)
            if isinstance(module, Linear) and module.bias is not None:
                init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for block in self.h:
            init.normal_(block.attn.c_proj.weight, 0.0, residual_std)
            init.normal_(block.mlp.c_proj.weight, 0.0, residual_std)

    def num_parameters(self) -> int:
        """Trainable numbers, each tied matrix counted once."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, tokens: Tensor, targets: Tensor | None = None):
        """``tokens`` (B, T) integer ids, T ≤ block_size. Returns (logits, loss): logits
        (B, T, vocab) and the mean cross-entropy against ``targets`` (B, T); without targets,
        the logits of the last position only, (B, 1, vocab), and loss None (generation)."""
        batch, length = _sequences_shape(tokens)
        if length > self.config.block_size:
            raise ValueError(f"GPT: a sequence of {length} tokens is longer than the context "
                             f"of {self.config.block_size}; crop it to the last "
                             f"{self.config.block_size}")
        # positions 0…T−1 are the first T rows of the position table
        x = self.drop(self.wte(tokens) + self.wpe.weight[:length])
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, -1:, :]), None
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss

    def forward_cached(self, tokens: Tensor, caches: list) -> Tensor:
        """The logits of the last position, (B, 1, vocab), for ``tokens`` (B, T_new) that follow
        the positions already in ``caches`` (one LayerCache per block): the KV-cache path of
        generation, which runs each new token through the model once instead of re-running
        the whole context for every token."""
        past, length = len(caches[0]), _sequences_shape(tokens)[1]
        if past + length > self.config.block_size:  # the position table ends there
            raise ValueError(f"GPT: {length} new tokens after {past} cached positions do not fit "
                             f"in the context of {self.config.block_size}; re-run the last "
                             f"{self.config.block_size} tokens without the cache")
        x = self.drop(self.wte(tokens) + self.wpe.weight[past:past + length])
        for block, cache in zip(self.h, caches):
            x = block.forward_cached(x, cache)
        return self.lm_head(self.ln_f(x[:, -1:, :]))

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on matrices and embeddings only; biases and LayerNorm gains are left
        alone (nanoGPT's rule: decay every parameter with two or more dimensions)."""
        parameters = list(self.parameters())
        return [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
                {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}]

    @no_grad()
    def generate(self, tokens: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, generator=None,
                 on_token: Callable[[int], None] | None = None, use_cache: bool = True) -> Tensor:
        """Extend ``tokens`` (B, T) by ``max_new_tokens`` sampled tokens.

        At each step the model sees the last ``block_size`` tokens (a longer prompt is cropped,
        as GPT does), its logits are divided by ``temperature`` (0 means always the most likely
        token), all but the ``top_k`` largest are dropped, then all but the smallest set of
        most likely tokens whose probabilities add up to ``top_p`` (nucleus sampling), and the
        next token is drawn from the softmax with ``generator`` (``chainrule.manual_seed``'s by
        default). ``on_token`` is called with each new token of the first sequence as soon as it
        is drawn (streaming).

        ``use_cache`` keeps each layer's keys and values (a KV cache), so each new token goes
        through the model once. The logits are those of the full re-run (the tests compare them
        in float64). Once the sequence outgrows the context, every position's place in it
        shifts with each new token, which changes every key and value: from then on each step
        re-runs the last ``block_size`` tokens, with or without the cache.
        """
        check_sampling(max_new_tokens, temperature, top_k, top_p)
        _sequences_shape(tokens)
        rng = generator if generator is not None else backend.generator()
        caches = None
        for _ in range(max_new_tokens):
            if use_cache and tokens.shape[1] <= self.config.block_size:
                if caches is None:  # the prompt, once
                    caches = [LayerCache() for _ in self.h]
                    logits = self.forward_cached(tokens, caches)
                else:
                    logits = self.forward_cached(tokens[:, -1:], caches)
            else:
                logits, _ = self(tokens[:, -self.config.block_size:])
            chosen = _choose(logits.data[:, -1, :].astype(backend.float64), temperature, top_k,
                             top_p, rng)
            tokens = cat([tokens, as_tensor(chosen.reshape(-1, 1).astype(tokens.dtype))], dim=1)
            if on_token is not None:
                on_token(int(chosen[0]))
        return tokens


def _sequences_shape(tokens: Tensor) -> tuple[int, int]:
    """(batch, time) of ``tokens``, which must have those two dimensions."""
    if tokens.ndim != 2:
        raise ValueError(f"GPT: tokens must be (batch, time), got shape {tuple(tokens.shape)}"
                         + ("; for one sequence give tokens[None]" if tokens.ndim == 1 else ""))
    return tokens.shape


def _choose(logits, temperature: float, top_k: int | None, top_p: float | None, rng):
    """The next token of each row of ``logits`` (B, vocab), as ``generate`` describes."""
    xp = backend.xp
    if temperature == 0:
        return logits.argmax(axis=-1)
    # Subtract the largest logit first: divided by a vanishing temperature (1e-310) it stays 0
    # and the others go to −inf, the limit's answer. Divided alone, the logits overflowed to
    # ±inf, the softmax's inf − inf gave NaN, and NaN probabilities always sampled token 0.
    logits = logits - logits.max(axis=-1, keepdims=True)
    with numpy.errstate(over="ignore"):
        logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = xp.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = xp.where(logits < kth, -xp.inf, logits)
    probabilities = softmax(as_tensor(logits), dim=-1).data
    if top_p is not None and top_p < 1:
        probabilities = _nucleus(probabilities, top_p)
    return _sample(probabilities, rng)


def _nucleus(probabilities, top_p: float):
    """Keep the most likely tokens until their probabilities add up to ``top_p``: a token stays
    when the tokens more likely than it hold less than ``top_p`` (so the most likely always
    does); the rest get probability 0. Ties keep their order (a stable sort)."""
    xp = backend.xp
    order = xp.argsort(-probabilities, axis=-1, kind="stable")
    ranked = xp.take_along_axis(probabilities, order, axis=-1)
    before = xp.cumsum(ranked, axis=-1) - ranked
    kept_ranked = before < top_p
    kept = xp.zeros_like(kept_ranked)
    xp.put_along_axis(kept, order, kept_ranked, axis=-1)
    return xp.where(kept, probabilities, 0.0)


def check_sampling(max_new_tokens: int, temperature: float, top_k: int | None,
                   top_p: float | None = None) -> None:
    """Refuse settings that cannot sample (a NaN temperature would turn every logit into NaN)."""
    if not max_new_tokens >= 0:
        raise ValueError(f"generate: max_new_tokens must be ≥ 0, got {max_new_tokens}")
    if not 0 <= temperature < float("inf"):
        raise ValueError(f"generate: temperature must be a finite number ≥ 0, got {temperature}")
    if top_k is not None and not isinstance(top_k, numbers.Integral):
        raise ValueError(f"generate: top_k must be a whole number ≥ 1, got {top_k!r}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"generate: top_k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"generate: top_p must be in (0, 1], got {top_p}")


def _sample(probabilities, rng):
    """One draw per row from a categorical distribution, by inverting its cumulative sum with a
    uniform number u from ``rng``: token i is chosen when c_{i−1} ≤ u < c_i, so a token of
    probability 0 never is. The same seed gives the same tokens on any backend."""
    xp = backend.xp
    cumulative = xp.cumsum(probabilities, axis=-1)
    uniform = xp.asarray(rng.random((probabilities.shape[0], 1)))
    chosen = (cumulative <= uniform * cumulative[:, -1:]).sum(axis=-1)
    return xp.minimum(chosen, probabilities.shape[-1] - 1)
