"""Train a character-level GPT on a text file, and complete prompts with it.

The recipe is nanoGPT's ``train.py`` for Tiny Shakespeare: random windows of the text as
batches (the next character is each position's target), AdamW with a linear warm-up and cosine
decay of the learning rate, gradient clipping at norm 1, and a validation loss every few hundred
steps. The first 90% of the text trains, the last 10% validates: split by position, so the
validation text is text the model has never seen a window of.

    from chainrule import lm
    metrics = lm.train("input.txt", "runs/baby", preset="baby")
    text = lm.generate("runs/baby", "ROMEO:", max_new_tokens=300, seed=1)
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable

import numpy

from . import backend, distributed
from .autograd import no_grad
from .checkpoint import load_checkpoint, save_checkpoint
from .data import load_text
from .data.text_batches import get_batch, split_tokens  # also lm.get_batch, lm.split_tokens
from .data.tokenizers import TOKENIZERS, tokenizer_from_dict
from .divergence import DivergenceGuard, check_parameters
from .errors import DataError
from .lm_generation import generate, load, saved_run  # noqa: F401 (lm.generate, lm.load)
from .models.gpt import GPT, PRESETS, GPTConfig
from .nn.utils import clip_grad_norm_
from .optim import AdamW
from .optim.lr_scheduler import WarmupCosineLR
from .progress import Progress, line
from .rundir import RunDirectory
from .tensor import as_tensor
from .threads import describe_threads
from .training_step import AVERAGED_IN_HOOKS, TrainingStep


@dataclass
class TrainConfig:
    """How to train (the model's own settings are in ``GPTConfig``)."""
    batch_size: int = 12
    max_iters: int = 2000
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250      # steps between validation estimates (and checkpoints)
    eval_iters: int = 20          # batches per estimate during training
    final_eval_iters: int = 200   # batches for the final training-loss estimate
    tokenizer: str = "char"
    seed: int = 1337

    def __post_init__(self):
        # zero evaluation batches would average nothing into a NaN loss
        for name in ("batch_size", "max_iters", "eval_interval", "eval_iters", "final_eval_iters"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig: {name} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"TrainConfig: seed must be ≥ 0, got {self.seed}")
        # Refused here, in the recipe's words: the schedule's own message names its internals
        # (warmup_steps, decay_steps). The decay ends with the run unless told otherwise.
        if not 0 <= self.warmup_iters < self.lr_decay_iters:
            end = (f"max_iters={self.max_iters!r}" if self.lr_decay_iters == self.max_iters
                   else f"lr_decay_iters={self.lr_decay_iters!r}")
            raise ValueError(f"TrainConfig: warmup_iters={self.warmup_iters!r} must be at least 0 "
                             f"and below {end}: the warm-up ends before the decay does")
        if self.min_lr > self.learning_rate:  # the cosine "decay" would raise the rate
            raise ValueError(f"TrainConfig: min_lr={self.min_lr!r} is above "
                             f"learning_rate={self.learning_rate!r}, so the schedule would raise "
                             f"the rate as it decays; give min_lr={self.learning_rate / 10!r} "
                             "(a tenth, as nanoGPT) or less")


# nanoGPT's config/train_shakespeare_char.py: "baby" is its CPU run, "small" its GPU run.
TRAIN_PRESETS = {
    "baby": dict(batch_size=12, max_iters=2000, lr_decay_iters=2000, learning_rate=1e-3,
                 min_lr=1e-4, warmup_iters=100, eval_interval=250),
    "small": dict(batch_size=64, max_iters=5000, lr_decay_iters=5000, learning_rate=1e-3,
                  min_lr=1e-4, warmup_iters=100, eval_interval=250),
}


def configs(preset: str = "baby", **overrides) -> tuple[GPTConfig, TrainConfig]:
    """The preset's two configs with ``overrides`` (any field of either) applied. Changing
    ``max_iters`` alone stretches the learning-rate decay and the warm-up with it, as the
    presets tie them (decay over the whole run, warm-up over its first 5%)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    model_fields = {f.name for f in fields(GPTConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = set(overrides) - model_fields - train_fields
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if "max_iters" in overrides and "lr_decay_iters" not in overrides:
        overrides["lr_decay_iters"] = overrides["max_iters"]
    if "max_iters" in overrides and "warmup_iters" not in overrides:
        preset_train = TRAIN_PRESETS[preset]  # keep warm-up the same share of the run (5%)
        share = preset_train["warmup_iters"] / preset_train["max_iters"]
        overrides["warmup_iters"] = min(round(share * overrides["max_iters"]),
                                        overrides["lr_decay_iters"] - 1)
    model = {**PRESETS[preset], **{k: v for k, v in overrides.items() if k in model_fields}}
    train = {**TRAIN_PRESETS[preset], **{k: v for k, v in overrides.items() if k in train_fields}}
    train_config = TrainConfig(**train)
    if train_config.tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {train_config.tokenizer!r}; choose one of: "
                         f"{', '.join(TOKENIZERS)}")
    return GPTConfig(**model), train_config


# ---------------------------------------------------------------- loss estimates
@no_grad()
def estimate_loss(model: GPT, data: numpy.ndarray, batch_size: int, batches: int,
                  seed: int, on_batch: Callable[[], object] | None = None) -> float:
    """The mean loss over ``batches`` random batches. The generator is seeded afresh, so every
    estimate sees the same windows (comparable over training) and training's own random
    numbers are left alone (evaluating does not change what is learned)."""
    rng = numpy.random.default_rng(seed)
    was_training = model.training
    model.eval()
    losses = []
    for _ in range(batches):
        x, y = get_batch(data, batch_size, model.config.block_size, rng)
        losses.append(model(x, y)[1].item())
        if on_batch is not None:
            on_batch()
    model.train(was_training)
    return float(numpy.mean(losses))


@no_grad()
def full_loss(model: GPT, data: numpy.ndarray, batch_size: int,
              on_batch: Callable[[], object] | None = None) -> float:
    """The exact mean loss over all of ``data``, cut into consecutive blocks (no sampling
    noise), ``batch_size * 4`` blocks at a time: the validation loss that metrics.json reports."""
    block = model.config.block_size
    count = (len(data) - 1) // block
    starts = numpy.arange(count) * block
    was_training = model.training
    model.eval()
    total = 0.0
    for first in range(0, count, batch_size * 4):
        offsets = starts[first:first + batch_size * 4, None] + numpy.arange(block)
        x = as_tensor(backend.xp.asarray(data[offsets]))
        y = as_tensor(backend.xp.asarray(data[offsets + 1]))
        total += model(x, y)[1].item() * len(offsets)
        if on_batch is not None:
            on_batch()
    model.train(was_training)
    return total / count


# ---------------------------------------------------------------- training
def train(text_path, out_dir, preset: str | None = None, resume: bool = False,
          overwrite: bool = False, progress: bool = True, compile: bool = True,
          **overrides) -> dict:
    """Train a GPT on the text in ``text_path`` (the ``preset``'s settings, "baby" unless given,
    with ``overrides``), saving checkpoints and ``metrics.json`` in ``out_dir``. With
    ``resume`` the run continues from ``out_dir``'s checkpoint (its settings, weights,
    optimizer, schedule, random state and history of evaluations), up to ``max_iters`` if
    given anew (not below the step it reached); an existing run is otherwise refused unless
    ``overwrite`` (replaced once this one finishes).
    ``compile`` records the training step once and replays it (``chainrule.compile``): the same
    weights bit for bit, faster; ``compile=False`` takes every step eagerly.
    Returns the metrics: final ``val_loss`` (over the whole validation split) and ``train_loss``.
    """
    with RunDirectory(out_dir, overwrite=overwrite, resume=resume) as run:
        text = load_text(text_path)
        model_config, train_config, tokenizer, preset = _settings(run, text, preset, overrides)
        train_data, val_data = split_tokens(text, tokenizer, model_config.block_size, text_path)
        model, optimizer, scheduler = build(model_config, train_config)
        run_config = {"model": asdict(model_config), "train": asdict(train_config),
                      "tokenizer": tokenizer.to_dict(), "preset": preset,
                      "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        start, guard, history = 0, DivergenceGuard(), []
        if resume:
            # restores the weights, AdamW's moments, the schedule and the random generator
            saved = load_checkpoint(run.path, model, optimizer, scheduler)
            if saved["config"].get("text_sha256", run_config["text_sha256"]) != \
                    run_config["text_sha256"]:  # (runs saved before it was kept: on trust)
                raise DataError(f"resume=True continues {run.path} on the text it was trained "
                                f"on, but {text_path} is another text (its SHA-256 differs); "
                                "give that text, or train anew with overwrite=True")
            run.begin(train_config.max_iters,
                      lambda folder: saved_run(folder)["extra"]["iteration"], unit="step")
            if run.continued_at is not None:
                # an interrupted extension's copy, further on than the finished run
                saved = load_checkpoint(run.folder, model, optimizer, scheduler)
            start, guard.first_loss = saved["extra"]["iteration"], saved["extra"].get("first_loss")
            history = saved["extra"]["history"]  # the evaluations before it stopped

        main = distributed.is_main_process()  # under mpiexec rank 0 alone prints and writes
        # five lines per evaluation, and five in all where none comes after the first: a log
        # must not go quiet for the whole run because eval_interval exceeds max_iters
        every = min(train_config.eval_interval, train_config.max_iters) // 5
        bar = Progress(train_config.max_iters, start=start, enabled=progress and main,
                       every=max(1, every))
        bar.note(f"GPT with {model.num_parameters():,} parameters; {len(train_data):,} training "
                 f"and {len(val_data):,} validation tokens; vocabulary {tokenizer.vocab_size}; "
                 f"{describe_threads()}" + (f"; resuming at step {start}" if resume else ""))
        if run.discarded:
            bar.note(run.discarded)
        if run.continued_at is not None:
            bar.note(f"continuing the interrupted extension of the finished run in {run.path} "
                     f"from its checkpoint at step {start}, in its copy {run.folder}: the run "
                     "stays as it is until the extension has finished")
        save = (lambda step, history: _save(run.folder, model, optimizer, scheduler, run_config,
                                            step, history, guard)) if main else None
        last_loss, seconds, compiled = _training_loop(
            model, optimizer, scheduler, train_data, val_data, train_config, start, history, guard,
            bar, save, compile)
        val_loss, train_loss = _final_evaluation(model, train_data, val_data, train_config, bar)
        final = train_config.max_iters
        tokens_per_step = train_config.batch_size * model_config.block_size
        metrics = {"val_loss": val_loss, "train_loss": train_loss, "iterations": final,
                   "last_batch_loss": last_loss, "training_seconds": seconds,
                   "tokens_per_second": tokens_per_step * (final - start) / max(seconds, 1e-9),
                   "parameters": model.num_parameters(), "history": history,
                   "compiled": compiled,
                   "val_loss_note": "mean over every block of the validation split (last 10%)",
                   "train_loss_note": f"mean over {train_config.final_eval_iters} random "
                                      "batches"}
        run.finish(metrics)
    bar.note(f"done: val loss {val_loss:.4f}, train loss {train_loss:.4f} ({seconds:.0f} s of "
             f"training steps, {metrics['tokens_per_second']:,.0f} tokens/s)")
    return metrics


def _settings(run: RunDirectory, text: str, preset: str | None,
              overrides: dict) -> tuple[GPTConfig, TrainConfig, object, str | None]:
    """The model's and the recipe's settings, the tokenizer and the preset's name: the preset's
    with ``overrides`` for a new run, the saved ones (``max_iters`` alone may change) to resume
    (the name None for a run saved before it was kept)."""
    if not run.resume:
        preset = preset or "baby"
        model_config, train_config = configs(preset, **overrides)
        tokenizer = TOKENIZERS[train_config.tokenizer].from_text(text) \
            if train_config.tokenizer == "char" else TOKENIZERS[train_config.tokenizer]()
        if overrides.get("vocab_size") not in (None, tokenizer.vocab_size):  # else ignored
            raise ValueError(f"vocab_size={overrides['vocab_size']!r}: the vocabulary is the "
                             f"tokenizer's, {tokenizer.vocab_size} for this text with "
                             f"tokenizer={train_config.tokenizer!r}; leave vocab_size out")
        return (replace(model_config, vocab_size=tokenizer.vocab_size), train_config, tokenizer,
                preset)
    checkpoint = saved_run(run.path)
    saved, reached = checkpoint["config"], checkpoint["extra"]["iteration"]
    # the run's own settings given again (its command repeated with --resume) are no change
    saved_values = {**saved["model"], **saved["train"]}
    changed = [f"{key}={value!r} (saved: {saved_values[key]!r})" if key in saved_values else key
               for key, value in sorted(overrides.items())
               if value is not None and key != "max_iters"
               and not (key in saved_values and value == saved_values[key])]
    if preset is not None and saved.get("preset") not in (None, preset):  # None: an older run
        changed.insert(0, f"preset={preset!r} (saved: {saved['preset']!r})")
    if changed:
        raise ValueError(f"resume=True continues {run.path} with its saved settings; only "
                         f"max_iters may change, not {', '.join(changed)}")
    try:
        train_config = TrainConfig(**saved["train"])
    except ValueError as error:  # saved by a version that took it (a min_lr above the rate)
        raise ValueError(f"resume=True: {run.path} cannot be resumed: it was saved with settings "
                         f"now refused ({error}); train it anew with overwrite=True") from None
    if overrides.get("max_iters") is not None:
        if overrides["max_iters"] < reached:
            raise ValueError(f"resume=True: {run.path} has reached step {reached}; "
                             f"max_iters={overrides['max_iters']} would end before it (a run "
                             f"cannot be shortened): give max_iters={reached} or more")
        train_config = replace(train_config, max_iters=overrides["max_iters"])
    return (GPTConfig.from_dict(saved["model"]), train_config,
            tokenizer_from_dict(saved["tokenizer"]), saved.get("preset"))


def build(model_config: GPTConfig, train_config: TrainConfig):
    """A fresh model from the recipe's seed, AdamW over it and the learning-rate schedule."""
    backend.manual_seed(train_config.seed)
    model = GPT(model_config)
    optimizer = AdamW(model.optimizer_groups(train_config.weight_decay),
                      lr=train_config.learning_rate,
                      betas=(train_config.beta1, train_config.beta2))
    scheduler = WarmupCosineLR(optimizer, train_config.warmup_iters, train_config.lr_decay_iters,
                               train_config.min_lr)
    return model, optimizer, scheduler


def training_step(model, stepping, optimizer, scheduler, grad_clip: float, compile: bool,
                  note) -> TrainingStep:
    """``step(inputs, targets, weight)`` → (the batch's loss, the gradient norm before clipping
    or None): one step of the recipe on one batch, forward, backward, clipping, AdamW's update
    and the schedule's next rate, recorded once and replayed when ``compile``. Under mpiexec
    ``stepping`` is the ``DistributedDataParallel`` wrapper of ``model``, and the step eager.

    Each step lets go of its gradients once they are used (``zero_grad()`` after the update, as
    nanoGPT's train.py does), so none are kept between steps: a compiled step then needs no
    gradient buffers past the call and reuses their memory within it."""
    optimizer.zero_grad()  # (gradients the caller left)

    def gpt_step(inputs, targets, weight):
        _, loss = stepping(inputs, targets)
        (loss if weight == 1 else loss * weight).backward()
        norm = clip_grad_norm_(model.parameters(), grad_clip) if grad_clip > 0 else None
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        return loss, norm
    why_eager = AVERAGED_IN_HOOKS if stepping is not model else None
    return TrainingStep(gpt_step, model, optimizer, compile, why_eager, note, scheduler)


def _training_loop(model, optimizer, scheduler, train_data, val_data, config: TrainConfig,
                   start: int, history: list, guard: DivergenceGuard, bar: Progress,
                   save: Callable[[int, list], None] | None,
                   compile: bool) -> tuple[float, float, bool]:
    """Steps ``start`` to ``config.max_iters``, estimating the losses (appended to ``history``,
    a resumed run's estimates so far) and saving (``save``, None on ranks that do not write)
    every ``eval_interval`` steps and at the end. Returns the last batch's loss, the seconds
    spent in steps alone and whether the steps were compiled. The loss and the gradient norm
    are checked after the update (a compiled step cannot stop midway); a diverged run stops
    there, before anything is saved."""
    stepping = distributed.DistributedDataParallel(model) if distributed.init() > 1 else model
    take_step = training_step(model, stepping, optimizer, scheduler, config.grad_clip, compile,
                              bar.note)
    tokens_per_step = config.batch_size * model.config.block_size
    seconds, last_loss = 0.0, float("nan")
    rng = backend.generator()
    for step in range(start, config.max_iters):
        # evaluate (and save) every eval_interval steps, unless a resumed run did so at this
        # step before it stopped (a run that ended at max_iters saved there without evaluating)
        if step % config.eval_interval == 0 and not (history and history[-1]["step"] == step):
            history.append(_evaluate(model, train_data, val_data, config, step, bar))
            guard.check(history[-1]["val_loss"], f"at step {step} (validation)")
            if save is not None:
                save(step, history)
        began = time.perf_counter()
        inputs, targets = get_batch(train_data, config.batch_size, model.config.block_size, rng)
        rows, weight = distributed.shard_of_batch(len(inputs))
        loss, gradient_norm = take_step(inputs[rows], targets[rows], weight)
        if len(inputs) % distributed.get_world_size():
            # dropout drew one number per row of this rank's unequal shard: the next windows
            # are every rank's only from one generator state, rank 0's
            backend.set_rng_state(distributed.broadcast_object(backend.get_rng_state()))
        last_loss = distributed.average(loss.item() * weight)  # the global batch's loss
        # judged on every rank alike: a shard's own loss could grow on one rank alone, which
        # would stop there while the others went on to their next collective (the gradient
        # norm is every rank's already, taken after the gradients were averaged)
        guard.check(last_loss, f"at step {step + 1}",
                    None if gradient_norm is None else gradient_norm.item())
        seconds += time.perf_counter() - began
        bar.update(lambda: f"loss {last_loss:.4f}  lr {scheduler.get_last_lr()[0]:.2e}  "
                           f"{tokens_per_step * (bar.done - start) / max(seconds, 1e-9):,.0f} "
                           "tokens/s")
    bar.close()
    check_parameters(model, f"at step {config.max_iters}")
    if stepping is not model:
        stepping.remove_hooks()
        stepping.check_last_backward()  # the last step's: no forward comes after it
    if save is not None:
        save(config.max_iters, history)
    return last_loss, seconds, take_step.is_compiled


def _final_evaluation(model, train_data, val_data, config: TrainConfig,
                      bar: Progress) -> tuple[float, float]:
    """The validation loss over every block of the split and the training loss over
    ``final_eval_iters`` random batches."""
    val_batches = math.ceil(((len(val_data) - 1) // model.config.block_size)
                            / (config.batch_size * 4))
    bar.note(f"final evaluation: every block of the {len(val_data):,} validation tokens "
             f"({val_batches} batches) and {config.final_eval_iters} training batches ...")
    counter = bar.counter(val_batches + config.final_eval_iters, "final evaluation")
    on_batch = counter.update if counter is not None else None
    val_loss = full_loss(model, val_data, config.batch_size, on_batch)
    train_loss = estimate_loss(model, train_data, config.batch_size, config.final_eval_iters,
                               config.seed + 2, on_batch)
    if counter is not None:
        counter.close()
    return val_loss, train_loss


def _evaluate(model, train_data, val_data, config: TrainConfig, step: int, bar: Progress) -> dict:
    losses = {"step": step,
              "train_loss": estimate_loss(model, train_data, config.batch_size, config.eval_iters,
                                          config.seed + 1),
              "val_loss": estimate_loss(model, val_data, config.batch_size, config.eval_iters,
                                        config.seed + 1)}
    bar.note(line("step", step, config.max_iters, f"train loss {losses['train_loss']:.4f}  "
                                                  f"val loss {losses['val_loss']:.4f}"))
    return losses


def _save(folder, model, optimizer, scheduler, run_config, step, history, guard) -> None:
    save_checkpoint(folder, model, optimizer, scheduler, config=run_config,
                    extra={"iteration": step, "history": history,
                           "first_loss": guard.first_loss})
