"""chainrule train compiles its step unless --no-compile: the same weights file, byte for byte."""
import json

import numpy
import pytest

from chainrule.cli import main


@pytest.fixture
def clusters(tmp_path):
    """Three noisy clusters in two numeric columns and a text one: 97 rows, so that the
    training split ends each epoch with a smaller batch."""
    rng = numpy.random.default_rng(0)
    lines = ["x,y,colour,kind"]
    for index in range(97):
        x, y = [(0.0, 0.0), (3.0, 0.0), (0.0, 3.0)][index % 3]
        lines.append(f"{x + rng.normal():.3f},{y + rng.normal():.3f},"
                     f"{['red', 'blue'][index % 2]},{'abc'[index % 3]}")
    path = tmp_path / "clusters.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("options", [
    ["--model", "mlp", "--hidden", "16,8", "--dropout", "0.2"],               # Adam, dropout
    ["--model", "mlp", "--hidden", "8", "--optimizer", "sgd", "--momentum", "0.9",
     "--lr-schedule", "cosine"],
    ["--model", "softmax"],                                                   # plain SGD
])
def test_compiled_and_eager_cli_runs_write_the_same_weights_byte_for_byte(tmp_path, clusters,
                                                                          options, capsys):
    common = ["train", "--csv", clusters, "--target", "kind", "--epochs", "5",
              "--batch-size", "16", "--quiet", *options]
    assert main([*common, "--out", str(tmp_path / "compiled")]) == 0
    assert main([*common, "--no-compile", "--out", str(tmp_path / "eager")]) == 0
    assert "eagerly" not in capsys.readouterr().err
    compiled, eager = tmp_path / "compiled", tmp_path / "eager"
    assert (compiled / "model.safetensors").read_bytes() == \
        (eager / "model.safetensors").read_bytes()
    for run, requested in ((compiled, True), (eager, False)):
        config = json.loads((run / "config.json").read_text())
        metrics = json.loads((run / "metrics.json").read_text())
        assert config["fitting"]["compile"] is requested
        assert metrics["compiled"] is requested
    assert json.loads((compiled / "history.json").read_text())["epochs"][-1]["loss"] == \
        json.loads((eager / "history.json").read_text())["epochs"][-1]["loss"]


def test_the_help_says_what_no_compile_does(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--no-compile" in out and "the same bit for bit" in out
    no_compile = out[out.index("--no-compile take every"):out.index("--threads N threads")]
    assert "default" not in no_compile  # "(default: True)" read as if it were on by default


@pytest.mark.parametrize("resume_with", [[], ["--no-compile"]])
def test_an_interrupted_compiled_run_resumes_to_the_weights_of_one_never_interrupted(
        tmp_path, clusters, resume_with, monkeypatch, capsys):
    # the checkpoint is written between epochs, outside the compiled step; the resumed process
    # records its step anew (or, with --no-compile, steps eagerly) and ends on the same bytes
    from chainrule import training

    common = ["train", "--csv", clusters, "--target", "kind", "--model", "mlp", "--hidden", "8",
              "--dropout", "0.2", "--epochs", "5", "--batch-size", "16", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "straight")]) == 0
    monkeypatch.setattr(training, "CHECKPOINT_INTERVAL_SECONDS", 0.0)  # one after every epoch
    epochs_begun = []
    real_train_epoch = training._train_epoch

    def interrupted_in_epoch_4(*args):
        epochs_begun.append(args[4])  # _train_epoch(step, train, batch_size, seed, epoch, ...)
        if epochs_begun == [1, 2, 3, 4]:
            raise KeyboardInterrupt
        return real_train_epoch(*args)
    monkeypatch.setattr(training, "_train_epoch", interrupted_in_epoch_4)
    assert main([*common, "--out", str(tmp_path / "resumed")]) == 130
    assert main([*common, *resume_with, "--out", str(tmp_path / "resumed"), "--resume"]) == 0
    assert epochs_begun == [1, 2, 3, 4, 4, 5]  # it went on from epoch 3's checkpoint
    assert "eagerly" not in capsys.readouterr().err
    assert (tmp_path / "resumed" / "model.safetensors").read_bytes() == \
        (tmp_path / "straight" / "model.safetensors").read_bytes()
    history = json.loads((tmp_path / "resumed" / "history.json").read_text())["epochs"]
    assert [record["epoch"] for record in history] == [1, 2, 3, 4, 5]
    metrics = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert metrics["compiled"] is ("--no-compile" not in resume_with)
