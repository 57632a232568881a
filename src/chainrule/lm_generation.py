"""A trained language model's run, read back: its checkpoint checked against the declared
schemas (``saved_run``, which ``lm.train`` reads to resume), the model and tokenizer (``load``),
and text sampled from it, streamed as it comes (``generate``). ``chainrule.lm`` exports
``load`` and ``generate``."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy

from . import backend
from .checkpoint import check_file_holds, load_checkpoint
from .data.tokenizers import tokenizer_from_dict
from .errors import CheckpointError, DataError
from .models.gpt import GPT, GPTConfig, check_sampling
from .run_schemas import LANGUAGE_MODEL_PROGRESS, LANGUAGE_MODEL_RUN
from .rundir import read_config
from .schema import validate
from .tensor import as_tensor


def saved_run(out_dir: Path) -> dict:
    """The run's checkpoint, its config and progress checked against their declared schemas."""
    checkpoint = load_checkpoint(out_dir, restore_rng=False)
    path = checkpoint["path"]
    if checkpoint["config"] is None:
        raise CheckpointError(f"{path}: not a language-model run (its checkpoint holds no config)")
    validate(checkpoint["config"], LANGUAGE_MODEL_RUN, path, "metadata config")
    validate(checkpoint["extra"], LANGUAGE_MODEL_PROGRESS, path, "metadata extra")
    return checkpoint


def _gpt_config(saved: dict) -> GPTConfig:
    """The architecture of a saved run, refused before it is built if the checkpoint cannot
    hold it (an absurd size in an edited config would otherwise take all the memory)."""
    path, model = saved["path"], saved["config"]["model"]
    n = model["n_embd"]
    at_least = (model["vocab_size"] + model["block_size"]) * n + 12 * model["n_layer"] * n * n
    check_file_holds(path, at_least, f"{path}: metadata config.model")
    try:
        return GPTConfig.from_dict(model)
    except ValueError as error:
        raise CheckpointError(f"{path}: metadata config.model: {error}") from None


def load(out_dir) -> tuple[GPT, object]:
    """The trained model (in evaluation mode) and its tokenizer, from a finished run."""
    read_config(out_dir, LANGUAGE_MODEL_RUN, "language-model run")
    saved = saved_run(Path(out_dir))
    model = GPT(_gpt_config(saved))
    load_checkpoint(saved["path"], model, restore_rng=False)  # checks dtypes and values too
    return model.eval(), tokenizer_from_dict(saved["config"]["tokenizer"])


def generate(out_dir, prompt: str, max_new_tokens: int = 300, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             on_text: Callable[[str], None] | None = None, model_and_tokenizer=None) -> str:
    """The prompt followed by ``max_new_tokens`` sampled tokens, decoded. ``on_text`` receives
    the prompt, then each piece of new text as soon as it is sampled (to stream it to a
    terminal). ``model_and_tokenizer`` saves reloading the run (as returned by ``load``)."""
    check_sampling(max_new_tokens, temperature, top_k, top_p)  # before the prompt is shown
    model, tokenizer = model_and_tokenizer or load(out_dir)
    if not prompt:
        raise DataError("the prompt is empty; give at least one character to continue from")
    ids = tokenizer.encode(prompt, what="the prompt")
    if on_text is not None:
        on_text(prompt)
    generator = numpy.random.default_rng(seed)
    decode_one = tokenizer.stream_decoder()
    new_ids = []

    def on_token(token: int) -> None:
        new_ids.append(token)
        if on_text is not None:
            piece = decode_one(token)
            if piece:
                on_text(piece)

    tokens = as_tensor(backend.xp.asarray([ids], dtype=backend.int64))
    model.generate(tokens, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                   generator=generator, on_token=on_token)
    rest = decode_one(None)  # the bytes of a character the last token left unfinished
    if rest and on_text is not None:
        on_text(rest)
    return prompt + tokenizer.decode(new_ids)
