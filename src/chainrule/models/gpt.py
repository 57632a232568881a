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
from dataclasses import asdict, dataclass, fields
from typing import Callable

from .. import backend
from ..autograd import no_grad
from ..nn import Dropout, Linear, Module, ModuleList, init
from ..nn import functional as F
from ..nn.transformer import Embedding, LayerNorm, TransformerBlock
from ..ops import cat, softmax
from ..tensor import Tensor


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
        batch, length = tokens.shape
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

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on matrices and embeddings only; biases and LayerNorm gains are left
        alone (nanoGPT's rule: decay every parameter with two or more dimensions)."""
        parameters = list(self.parameters())
        return [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
                {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}]

    @no_grad()
    def generate(self, tokens: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator=None,
                 on_token: Callable[[int], None] | None = None) -> Tensor:
        """Extend ``tokens`` (B, T) by ``max_new_tokens`` sampled tokens.

        At each step the model sees the last ``block_size`` tokens (a longer prompt is cropped,
        as GPT does), its logits are divided by ``temperature`` (0 means always the most likely
        token), all but the ``top_k`` largest are dropped, and the next token is drawn from the
        softmax with ``generator`` (``chainrule.manual_seed``'s by default). ``on_token`` is
        called with each new token of the first sequence as soon as it is drawn (streaming).
        """
        check_sampling(max_new_tokens, temperature, top_k)
        xp = backend.xp
        rng = generator if generator is not None else backend.generator()
        for _ in range(max_new_tokens):
            context = tokens[:, -self.config.block_size:]
            logits, _ = self(context)
            logits = logits.data[:, -1, :].astype(backend.float64)
            if temperature == 0:
                chosen = logits.argmax(axis=-1)
            else:
                logits = logits / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    kth = xp.sort(logits, axis=-1)[:, -top_k][:, None]
                    logits = xp.where(logits < kth, -xp.inf, logits)
                probabilities = softmax(Tensor._wrap(logits), dim=-1).data
                chosen = _sample(probabilities, rng)
            tokens = cat([tokens, Tensor._wrap(chosen.reshape(-1, 1).astype(tokens.dtype))], dim=1)
            if on_token is not None:
                on_token(int(chosen[0]))
        return tokens


def check_sampling(max_new_tokens: int, temperature: float, top_k: int | None) -> None:
    """Refuse settings that cannot sample (a NaN temperature would turn every logit into NaN)."""
    if not max_new_tokens >= 0:
        raise ValueError(f"generate: max_new_tokens must be ≥ 0, got {max_new_tokens}")
    if not 0 <= temperature < float("inf"):
        raise ValueError(f"generate: temperature must be a finite number ≥ 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"generate: top_k must be at least 1, got {top_k}")


def _sample(probabilities, rng):
    """One draw per row from a categorical distribution, by inverting its cumulative sum with a
    uniform number u from ``rng``: token i is chosen when c_{i−1} ≤ u < c_i, so a token of
    probability 0 never is. The same seed gives the same tokens on any backend."""
    xp = backend.xp
    cumulative = xp.cumsum(probabilities, axis=-1)
    uniform = xp.asarray(rng.random((probabilities.shape[0], 1)))
    chosen = (cumulative <= uniform * cumulative[:, -1:]).sum(axis=-1)
    return xp.minimum(chosen, probabilities.shape[-1] - 1)
