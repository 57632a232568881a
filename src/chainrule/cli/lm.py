"""``chainrule lm``: train a character-level GPT on a text file, and complete prompts with it.

    chainrule lm train --text input.txt --out runs/baby --preset baby [--max-iters N] ...
    chainrule lm generate runs/baby --prompt "ROMEO:" [--max-new-tokens 300] [--seed 1]
"""
from __future__ import annotations

import json
import sys

from ..errors import ChainruleError, DataError
from . import add_compile_option, add_threads_option
from .arguments import (non_negative_float, non_negative_int, positive_float, positive_int,
                        probability, seed, top_probability)

# command-line flag -> setting of GPTConfig or TrainConfig (None: not given, the preset decides),
# with the type that refuses an impossible value while parsing
OVERRIDES = {
    "max_iters": positive_int, "batch_size": positive_int, "block_size": positive_int,
    "n_layer": positive_int, "n_head": positive_int, "n_embd": positive_int,
    "lr": positive_float, "min_lr": non_negative_float, "warmup_iters": non_negative_int,
    "dropout": probability, "weight_decay": non_negative_float, "grad_clip": non_negative_float,
    "eval_interval": positive_int, "eval_iters": positive_int, "seed": seed, "tokenizer": str,
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("lm", help="train a GPT language model on a text; generate text",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    commands = parser.add_subparsers(dest="lm_command", metavar="{train,generate}", required=True)

    train = commands.add_parser("train", help="train a GPT on a text file",
                                description="Train a character-level GPT (nanoGPT's recipe) and "
                                            "write checkpoints and metrics.json to --out.")
    train.add_argument("--text", required=True, metavar="FILE", help="a UTF-8 text file")
    train.add_argument("--out", required=True, metavar="DIR", help="where the run is saved")
    train.add_argument("--preset", default=None, choices=["baby", "small"],
                       help="baby (the default): 4 layers × 128, block 64, batch 12, 2000 steps "
                            "(CPU, minutes); small: 6 layers × 384, block 256, batch 64, 5000 "
                            "steps; with --resume, the run's own")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out (to --max-iters if given)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (it stays until the new run has "
                            "finished)")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument("--bias", action="store_true", default=None,
                       help="biases in the Linear and LayerNorm layers (default: none, as nanoGPT)")
    train.add_argument("--untied", dest="tie_weights", action="store_false", default=None,
                       help="give the output layer its own matrix instead of the token embedding's")
    for name, kind in OVERRIDES.items():
        flag = "--" + name.replace("_", "-")
        choices = ["char", "byte"] if name == "tokenizer" else None
        train.add_argument(flag, type=kind, default=None, choices=choices,
                           help=f"override the preset's {'learning_rate' if name == 'lr' else name}")
    add_compile_option(train)
    add_threads_option(train)
    train.set_defaults(handler=_train)

    generate = commands.add_parser("generate", help="continue a prompt with a trained model",
                                   description="Sample text from a model trained by "
                                               "'chainrule lm train', streaming it as it comes.")
    generate.add_argument("run", metavar="DIR", help="the --out directory of a training run")
    generate.add_argument("--prompt", default=None,
                          help="text to continue (default: a newline, the start of a line)")
    generate.add_argument("--max-new-tokens", type=non_negative_int, default=300,
                          help="how many tokens to sample after the prompt (default: 300)")
    generate.add_argument("--temperature", type=non_negative_float, default=1.0,
                          help="below 1: safer, more repetitive; 0: always the likeliest token "
                               "(default: 1)")
    generate.add_argument("--top-k", type=positive_int, default=None,
                          help="sample among the k likeliest tokens only")
    generate.add_argument("--top-p", type=top_probability, default=None,
                          help="sample among the likeliest tokens whose probabilities add up to "
                               "P (nucleus sampling), 0 < P ≤ 1")
    generate.add_argument("--seed", type=seed, default=None,
                          help="the same seed, the same text (default: a fresh seed each run)")
    add_threads_option(generate)
    generate.set_defaults(handler=_generate)


class SettingError(ChainruleError, ValueError):
    """A command-line setting the model or the recipe cannot use (printed as one line)."""


def _train(args) -> int:
    from .. import lm
    from ..extras import require

    require("train", "safetensors", "tqdm", purpose="chainrule lm train")
    overrides = {("learning_rate" if name == "lr" else name): getattr(args, name)
                 for name in OVERRIDES}
    overrides.update(bias=args.bias, tie_weights=args.tie_weights)
    try:
        metrics = lm.train(args.text, args.out, preset=args.preset, resume=args.resume,
                           overwrite=args.overwrite, progress=not args.quiet,
                           compile=args.compile, **overrides)
    except ValueError as error:  # a setting out of range (e.g. n_embd not a multiple of n_head)
        if isinstance(error, ChainruleError):
            raise
        raise SettingError(str(error)) from None
    summary = {key: metrics[key] for key in ("val_loss", "train_loss", "iterations",
                                             "tokens_per_second", "training_seconds", "compiled")}
    print(json.dumps(summary, indent=1))
    return 0


def _generate(args) -> int:
    from .. import lm

    def show(piece: str) -> None:
        try:
            sys.stdout.write(piece)
        except UnicodeEncodeError:  # e.g. a file written in a Windows code page
            raise ChainruleError(f"standard output ({sys.stdout.encoding}) cannot show "
                                 f"{piece!r}; set PYTHONIOENCODING=utf-8") from None
        sys.stdout.flush()

    model_and_tokenizer = lm.load(args.run)
    prompt = args.prompt
    if prompt is None:
        prompt = "\n"
        try:
            model_and_tokenizer[1].encode(prompt)
        except DataError:  # a text without line breaks: the prompt the user never gave
            raise DataError("no --prompt given, and the default prompt, a newline, is a "
                            "character the model never saw in training; give --prompt") from None
    try:
        lm.generate(args.run, prompt, max_new_tokens=args.max_new_tokens,
                    temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                    seed=args.seed,
                    on_text=show, model_and_tokenizer=model_and_tokenizer)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        raise
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0

