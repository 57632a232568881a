"""A language-model run from outside is checked, not trusted; an existing run is never lost."""
import json
import shutil

import numpy
import pytest
import safetensors
import safetensors.numpy

from chainrule import lm
from chainrule.cli import main
from chainrule.errors import CheckpointError, RunDirectoryError

from tiny_lm import TINY


@pytest.fixture
def run_copy(trained_run, tmp_path):
    run, _ = trained_run
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def rewrite_metadata(run, key: str, edit) -> None:
    path = run / "checkpoint.safetensors"
    with safetensors.safe_open(str(path), framework="np") as file:
        metadata = file.metadata()
    value = json.loads(metadata[key])
    edit(value)
    tensors = safetensors.numpy.load_file(str(path))
    safetensors.numpy.save_file(tensors, str(path), {**metadata, key: json.dumps(value)})


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["model"].update(n_embd=-8), "metadata config.model.n_embd: expected an integer "
                                             "of at least 1, got -8"),
    (lambda c: c["model"].update(n_head=3), "metadata config.model: GPTConfig: n_embd=32 must be "
                                            "a multiple of n_head=3"),
    (lambda c: c["tokenizer"].update(kind="words"), "metadata config.tokenizer.kind"),
    (lambda c: c.pop("train"), "metadata config.train: missing"),
    (lambda c: c["model"].update(n_layer=10_000), "metadata config.model: describes a model of"),
])
def test_generate_refuses_a_checkpoint_config_out_of_its_schema(run_copy, capsys, edit, message):
    rewrite_metadata(run_copy, "config", edit)
    code = main(["lm", "generate", str(run_copy), "--prompt", "the", "--max-new-tokens", "3"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "checkpoint.safetensors: " + message in err


def test_generate_refuses_a_config_json_that_is_not_an_object(run_copy, capsys):
    (run_copy / "config.json").write_text("null")
    code = main(["lm", "generate", str(run_copy), "--prompt", "the"])
    err = capsys.readouterr().err
    assert code == 2 and "config.json: the whole file: expected an object" in err


def test_resume_refuses_damaged_progress(run_copy, text_file):
    rewrite_metadata(run_copy, "extra", lambda extra: extra.update(iteration="ten"))
    with pytest.raises(CheckpointError, match="metadata extra.iteration: expected an integer"):
        lm.train(text_file, run_copy, resume=True, max_iters=120, progress=False)


def test_an_existing_run_is_refused_unless_overwrite(run_copy, text_file):
    with pytest.raises(RunDirectoryError, match="already holds a run; pass overwrite=True"):
        lm.train(text_file, run_copy, max_iters=5, progress=False, **TINY)
    metrics = lm.train(text_file, run_copy, max_iters=5, overwrite=True, progress=False, **TINY)
    assert json.loads((run_copy / "metrics.json").read_text())["iterations"] == 5
    assert metrics["iterations"] == 5


def test_an_interrupted_extension_leaves_the_finished_run_as_it_was(run_copy, text_file,
                                                                    monkeypatch):
    # it used to delete the finished run's metrics.json and write its steps over the run
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    before = {path.name: path.read_bytes() for path in run_copy.iterdir()}
    monkeypatch.setattr(lm, "full_loss", interrupted)  # dies after the last step
    with pytest.raises(KeyboardInterrupt) as raised:
        lm.train(text_file, run_copy, resume=True, max_iters=110, progress=False)
    [copy] = [path for path in run_copy.parent.iterdir() if path.name.startswith(".run")]
    assert copy.name.startswith(".run.extending-")
    assert raised.value.__notes__ == [f"the finished run in {run_copy} is as it was, not "
                                      f"extended yet: the extension's progress is kept in "
                                      f"{copy}, and the same command continues it"]
    assert {path.name: path.read_bytes() for path in run_copy.iterdir()} == before
    lm.load(run_copy)


def test_an_interrupted_extension_is_continued_from_its_copy_to_a_straight_runs_weights(
        text_file, tmp_path, monkeypatch, capsys):
    # a finished run of 100 steps extended to 150, interrupted once step 125 is saved (its
    # rate decays over 150 steps, as a straight run's of 150 does)
    settings = dict(TINY, lr_decay_iters=150, warmup_iters=3, progress=False)
    run_copy = tmp_path / "run"
    lm.train(text_file, run_copy, max_iters=100, **settings)
    real_save = lm._save

    def interrupted_after_step_125(folder, model, optimizer, scheduler, run_config, step, *rest):
        real_save(folder, model, optimizer, scheduler, run_config, step, *rest)
        if step == 125:
            raise KeyboardInterrupt
    before = {path.name: path.read_bytes() for path in run_copy.iterdir()}
    monkeypatch.setattr(lm, "_save", interrupted_after_step_125)
    with pytest.raises(KeyboardInterrupt):
        lm.train(text_file, run_copy, resume=True, max_iters=150, progress=False)
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in run_copy.iterdir()} == before
    [copy] = [path for path in run_copy.parent.iterdir() if path.name.startswith(".run")]
    capsys.readouterr()
    extended = lm.train(text_file, run_copy, resume=True, max_iters=150, progress=True)
    err = capsys.readouterr().err
    assert "resuming at step 125" in err
    assert f"continuing the interrupted extension of the finished run in {run_copy} from its " \
           f"checkpoint at step 125, in its copy {copy}" in err
    straight = lm.train(text_file, tmp_path / "straight", max_iters=150, **settings)
    assert extended["history"] == straight["history"]
    assert [extended[key] for key in ("val_loss", "train_loss", "last_batch_loss")] == \
        [straight[key] for key in ("val_loss", "train_loss", "last_batch_loss")]
    weights = [safetensors.numpy.load_file(str(folder / "checkpoint.safetensors"))
               for folder in (run_copy, tmp_path / "straight")]
    assert weights[0].keys() == weights[1].keys()
    for name, weight in weights[1].items():
        numpy.testing.assert_array_equal(weights[0][name], weight)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus.txt", "run", "straight"]


def test_resume_refuses_a_text_that_changed_since_the_run(trained_run, run_copy, tmp_path,
                                                          capsys):
    # the same lines in another order: the tokenizer fits, and resuming used to continue the
    # old weights on the new text, its validation loss measured on the new text's last 10%
    lines = (trained_run[0].parent / "corpus.txt").read_text(encoding="utf-8").splitlines()
    other = tmp_path / "other.txt"
    other.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    before = {path.name: path.read_bytes() for path in run_copy.iterdir()}
    code = main(["lm", "train", "--text", str(other), "--out", str(run_copy), "--resume",
                 "--max-iters", "120", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"--resume continues {run_copy} on the text it was trained on, but {other} is " \
           "another text (its SHA-256 differs); give that text, or train anew with " \
           "--overwrite" in err
    assert {path.name: path.read_bytes() for path in run_copy.iterdir()} == before


def test_a_run_saved_before_its_preset_was_kept_resumes_with_any_preset_on_trust(run_copy,
                                                                                  text_file):
    rewrite_metadata(run_copy, "config", lambda config: config.pop("preset"))
    metrics = lm.train(text_file, run_copy, resume=True, preset="small", max_iters=110,
                       progress=False)
    assert metrics["iterations"] == 110
    # and resumed again: the name it could not know is not held against the next resume
    assert lm.train(text_file, run_copy, resume=True, preset="small", max_iters=115,
                    progress=False)["iterations"] == 115
