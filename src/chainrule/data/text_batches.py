"""A text as a language model's batches: its token ids cut by position into a training and a
validation part, and random windows of a part as (inputs, next-token targets).
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..errors import DataError
from ..tensor import Tensor, as_tensor

TRAIN_FRACTION = 0.9  # the first 90% trains, the last 10% validates


def split_tokens(text: str, tokenizer, block_size: int, path) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The text's ids, cut by position: the first 90% trains, the last 10% validates. Each part
    must hold at least one block and its next-token targets."""
    ids = numpy.asarray(tokenizer.encode(text, what=str(path)), dtype=numpy.int64)
    cut = int(len(ids) * TRAIN_FRACTION)
    train, val = ids[:cut], ids[cut:]
    needed = block_size + 1
    if len(val) < needed:
        raise DataError(f"{path}: the text is too short for a block of {block_size}: it has "
                        f"{len(ids)} tokens, and its last 10% (validation, {len(val)} tokens) "
                        f"needs at least {needed}; use at least "
                        f"{math.ceil(needed / (1 - TRAIN_FRACTION))} tokens or a smaller block "
                        f"size (block_size={block_size} now)")
    return train, val


def get_batch(data: numpy.ndarray, batch_size: int, block_size: int, rng) -> tuple[Tensor, Tensor]:
    """``batch_size`` random windows of the text: inputs (B, T) and the same shifted by one,
    the next-token targets."""
    starts = rng.integers(0, len(data) - block_size, size=batch_size)
    offsets = starts[:, None] + numpy.arange(block_size)
    return (as_tensor(backend.xp.asarray(data[offsets])),
            as_tensor(backend.xp.asarray(data[offsets + 1])))
