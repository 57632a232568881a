"""``lm train`` compiles its step unless --no-compile: the same checkpoint, bit for bit."""
import json
import struct
import sys

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
