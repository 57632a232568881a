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
