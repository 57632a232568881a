"""``lm train`` compiles its step unless --no-compile: the same checkpoint, bit for bit; the step
lets go of its gradients after the update, so none enter from before the run or are left after."""
import json
import struct
import sys

import numpy

import chainrule
from chainrule import lm
from chainrule.checkpoint import CHECKPOINT_FILE
from chainrule.cli import main

from tiny_lm import TINY, make_text


def contents(path):
    """A safetensors file as (its header, parsed, and the bytes of its tensors): the order of
    the metadata's keys in the file changes from one save to the next, the values do not."""
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + length]), data[8 + length:]


def building_into(models, stale_gradients=False):
    """``lm.build`` that appends each model it builds to ``models``, with a gradient of ones on
    every parameter if ``stale_gradients`` (as a caller's or an earlier run's would be)."""
    build = lm.build

    def built(*configs):
        model, optimizer, scheduler = build(*configs)
        if stale_gradients:
            for p in model.parameters():
                p.grad = chainrule.tensor(numpy.ones(p.shape, dtype=numpy.float32))
        models.append(model)
        return model, optimizer, scheduler
    return built


def test_compiled_and_eager_lm_runs_save_the_same_checkpoint_bit_for_bit(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text(make_text(), encoding="utf-8")
    # dropout: fresh masks on every replayed step, drawn as the eager steps draw them
    settings = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "8",
                "--batch-size", "4", "--max-iters", "12", "--eval-interval", "5",
                "--eval-iters", "1", "--dropout", "0.1", "--lr", "0.01", "--seed", "3"]
    for name, extra in (("compiled", []), ("eager", ["--no-compile"])):
        assert main(["lm", "train", "--text", str(text), "--out", str(tmp_path / name),
                     "--quiet", *settings, *extra]) == 0
    out = capsys.readouterr().out
    assert out.count('"compiled": true') == 1 and out.count('"compiled": false') == 1
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text())
               for name in ("compiled", "eager")]
    assert [run["compiled"] for run in metrics] == [True, False]
    assert metrics[0]["val_loss"] == metrics[1]["val_loss"]
    assert metrics[0]["last_batch_loss"] == metrics[1]["last_batch_loss"]
    compiled, eager = (tmp_path / name / CHECKPOINT_FILE for name in ("compiled", "eager"))
    compiled_header, compiled_tensors = contents(compiled)
    eager_header, eager_tensors = contents(eager)
    assert compiled_tensors == eager_tensors  # weights and AdamW's moments, byte for byte
    assert compiled_header == eager_header  # the step count, the schedule, the random state


def test_lm_train_records_its_step_once_across_evaluations_and_checkpoints(text_file, tmp_path,
                                                                           monkeypatch):
    steps = []

    class Watched(lm.TrainingStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            steps.append(self)
    monkeypatch.setattr(lm, "TrainingStep", Watched)
    lm.train(text_file, tmp_path / "run", max_iters=30, progress=False,
             **{**TINY, "eval_interval": 10})
    (step,) = steps
    assert step.is_compiled and step.compiled.recordings == 1


def test_a_recording_that_fails_after_the_step_ran_falls_back_to_the_eager_checkpoint(
        text_file, tmp_path, monkeypatch):
    # the recording call ran the whole step (AdamW's update, the schedule's next rate) before
    # the program is built; undoing it must put the schedule back too, or every later step
    # would take the next step's learning rate
    settings = dict(TINY, max_iters=6, eval_interval=5)
    lm.train(text_file, tmp_path / "eager", progress=False, compile=False, **settings)

    def broken(*args):
        raise RuntimeError("a recording bug")
    # building the program, after the recorded step has run (chainrule.compile is the function;
    # its module is only reached through sys.modules)
    monkeypatch.setattr(sys.modules["chainrule.compile"], "Program", broken)
    metrics = lm.train(text_file, tmp_path / "fallback", progress=False, **settings)
    assert metrics["compiled"] is False
    eager_header, eager_tensors = contents(tmp_path / "eager" / CHECKPOINT_FILE)
    fallback_header, fallback_tensors = contents(tmp_path / "fallback" / CHECKPOINT_FILE)
    assert fallback_tensors == eager_tensors
    assert fallback_header == eager_header


def test_gradients_left_on_the_model_before_training_do_not_enter_its_first_step(
        text_file, tmp_path, monkeypatch):
    # the step lets go of its gradients after the update, not before its backward, so those
    # the model came with are let go of once, before the first step
    settings = dict(TINY, max_iters=6, eval_interval=5)
    lm.train(text_file, tmp_path / "clean", progress=False, **settings)
    monkeypatch.setattr(lm, "build", building_into([], stale_gradients=True))
    for compile in (True, False):
        lm.train(text_file, tmp_path / f"stale {compile}", progress=False, compile=compile,
                 **settings)
        assert contents(tmp_path / f"stale {compile}" / CHECKPOINT_FILE) == \
            contents(tmp_path / "clean" / CHECKPOINT_FILE)


def test_no_gradient_is_left_on_the_model_after_training(text_file, tmp_path, monkeypatch):
    # (nanoGPT's zero_grad(set_to_none=True) after the update: a compiled step then keeps no
    # gradient buffers past the call)
    models = []
    monkeypatch.setattr(lm, "build", building_into(models))
    for compile in (True, False):
        metrics = lm.train(text_file, tmp_path / f"run {compile}", progress=False,
                           compile=compile, **dict(TINY, max_iters=6, eval_interval=5))
        assert metrics["compiled"] is compile
    assert len(models) == 2
    for model in models:
        assert all(p.grad is None for p in model.parameters())


def test_a_recording_that_fails_after_the_backward_is_undone_with_its_gradients(
        text_file, tmp_path, monkeypatch):
    # the step zeroes its gradients last, so the eager call that runs the failed recording's
    # batch again would add its gradients to those the failed call's backward left
    settings = dict(TINY, max_iters=6, eval_interval=5)
    lm.train(text_file, tmp_path / "eager", progress=False, compile=False, **settings)
    build, calls = lm.build, []

    def failing_once(*configs):
        model, optimizer, scheduler = build(*configs)
        step = optimizer.step

        def fails_once():
            calls.append(None)
            if len(calls) == 2:  # the second step: the one recorded
                raise RuntimeError("an optimiser that fails once")
            return step()
        optimizer.step = fails_once
        return model, optimizer, scheduler
    monkeypatch.setattr(lm, "build", failing_once)
    metrics = lm.train(text_file, tmp_path / "fallback", progress=False, **settings)
    assert metrics["compiled"] is False and len(calls) == 7  # the failed call, then 6 steps
    assert contents(tmp_path / "fallback" / CHECKPOINT_FILE) == \
        contents(tmp_path / "eager" / CHECKPOINT_FILE)
