"""Draws of categories from a tensor of weights: PyTorch's ``multinomial``."""
from __future__ import annotations

import numbers

import numpy

from . import backend
from .tensor import Tensor, as_tensor


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: numpy.random.Generator | None = None) -> Tensor:
    """Category indices drawn with probabilities proportional to the weights in each row of
    ``input`` ((C,) or (N, C), not necessarily summing to 1): int64 of shape (num_samples,) or
    (N, num_samples), as in PyTorch, from the generator seeded by ``chainrule.manual_seed`` (or
    ``generator``, a NumPy one). With replacement each draw inverts the cumulative sum with a
    uniform number, so a weight of 0 is never drawn; without, the categories of the
    num_samples smallest E/w (E exponential) are the draws, the order in which drawing one at a
    time and removing it would give them (PyTorch's method too). The draws differ from
    PyTorch's: each library has its own generator."""
    if input.ndim not in (1, 2):
        raise ValueError(f"multinomial: expected weights of shape (C,) or (N, C), got "
                         f"{tuple(input.shape)}")
    if not isinstance(num_samples, numbers.Integral) or num_samples < 1:
        raise ValueError(f"multinomial: num_samples must be a whole number ≥ 1, got "
                         f"{num_samples!r}")
    weights = backend.to_numpy(input.data).astype(numpy.float64).reshape(-1, input.shape[-1])
    if not numpy.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("multinomial: the weights must be finite and ≥ 0 (got inf, nan or a "
                         "negative one); pass probabilities, e.g. softmax(logits), not logits")
    if (weights.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: a row of weights sums to 0: there is nothing to draw")
    rng = generator if generator is not None else backend.generator()
    if replacement:
        cumulative = numpy.cumsum(weights, axis=1)
        uniform = rng.random((len(weights), num_samples))
        # the categories whose cumulative weight is at most the draw, counted by a binary search
        # in each row (not a (rows, num_samples, C) table of comparisons: 5·10⁸ of them for
        # 10,000 draws from a vocabulary of 50,000)
        chosen = numpy.array([numpy.searchsorted(row, draws * row[-1], side="right")
                              for row, draws in zip(cumulative, uniform)],
                             dtype=numpy.int64).reshape(len(weights), num_samples)
        chosen = numpy.minimum(chosen, weights.shape[1] - 1)
    else:
        # (initial: weights of shape (0, C) have no row to take the minimum over)
        possible = int((weights > 0).sum(axis=1).min(initial=weights.shape[1]))
        if num_samples > possible:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from {possible} categories of nonzero weight; pass "
                             "replacement=True")
        with numpy.errstate(divide="ignore"):  # a weight of 0 waits forever: it is never drawn
            waits = rng.standard_exponential(weights.shape) / weights
        chosen = numpy.argsort(waits, axis=1, kind="stable")[:, :num_samples]
    chosen = chosen.astype(numpy.int64)
    return as_tensor(backend.xp.asarray(chosen[0] if input.ndim == 1 else chosen))
