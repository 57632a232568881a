"""A REINFORCE run from outside is checked, not trusted; an existing run is never lost."""
import json

import numpy
import pytest
import safetensors.numpy

from chainrule import rl
from chainrule.cli import main


@pytest.fixture
def saved(balancing_policy, tmp_path):
    rl.save_policy(tmp_path / "run", balancing_policy, rl.ReinforceConfig(hidden=2))
    return tmp_path / "run"


def play_fails(capsys, run) -> str:
    code = main(["rl", "play", str(run), "--episodes", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["config"].update(activation="swish"), "config.json: config.activation: expected "
                                                       "one of 'relu', 'tanh', got 'swish'"),
    (lambda c: c["config"].update(hidden=-1), "config.json: config.hidden: expected an integer"),
    (lambda c: c.pop("action_count"), "config.json: action_count: missing"),
    (lambda c: c["config"].update(gamma=None), "config.json: config.gamma: expected a finite"),
    (lambda c: c["config"].update(max_episode_steps=0),
     "config.json: config.max_episode_steps: expected an integer of at least 1, got 0"),
    (lambda c: c.update(observation_size=10 ** 9), "config.json: sizes: describes a model of"),
])
def test_play_refuses_a_config_out_of_its_schema(saved, capsys, edit, message):
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (saved / "config.json").write_text(json.dumps(config))
    assert message in play_fails(capsys, saved)


def test_play_refuses_an_environment_of_other_sizes_than_the_policy(saved, capsys):
    config = json.loads((saved / "config.json").read_text())
    config["config"]["env"] = "Acrobot-v1"  # 6 numbers observed, 3 actions; the policy: 4 and 2
    (saved / "config.json").write_text(json.dumps(config))
    assert ("environment 'Acrobot-v1' has observations of size 6 and 3 actions, but the policy "
            "was made for observations of size 4 and 2 actions") in play_fails(capsys, saved)


@pytest.mark.parametrize("dtype", [numpy.int32, numpy.bool_])
def test_play_refuses_weights_of_another_dtype(saved, capsys, dtype):
    weights = safetensors.numpy.load_file(str(saved / "policy.safetensors"))
    weights["hidden.weight"] = weights["hidden.weight"].astype(dtype)
    safetensors.numpy.save_file(weights, str(saved / "policy.safetensors"))
    assert f"tensor 'hidden.weight' has dtype {numpy.dtype(dtype)}" in play_fails(capsys, saved)


def test_play_refuses_weights_holding_nan(saved, capsys):
    weights = safetensors.numpy.load_file(str(saved / "policy.safetensors"))
    weights["output.bias"][0] = numpy.nan
    safetensors.numpy.save_file(weights, str(saved / "policy.safetensors"))
    assert "tensor 'output.bias' holds NaN or infinite values" in play_fails(capsys, saved)


def test_rl_train_refuses_an_existing_run_unless_overwrite(saved, capsys):
    before = (saved / "policy.safetensors").read_bytes()
    arguments = ["rl", "train", "--episodes", "2", "--hidden", "4", "--out", str(saved)]
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert "already holds an unfinished run; pass --overwrite" in err and "--resume" not in err
    assert (saved / "policy.safetensors").read_bytes() == before
    assert main(arguments + ["--overwrite"]) == 0
    assert json.loads((saved / "metrics.json").read_text())["episodes"] == 2


def test_a_file_where_a_run_directory_should_be_is_named_as_a_file(tmp_path, capsys):
    (tmp_path / "notes").write_text("not a run")
    assert "notes: not a run directory (a file)" in play_fails(capsys, tmp_path / "notes")
    code = main(["rl", "train", "--episodes", "1", "--out", str(tmp_path / "notes" / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"notes/run: cannot be made inside {tmp_path / 'notes'}, a file" in err


def test_train_resume_into_a_run_of_another_kind_names_its_kind(saved, capsys):
    before = {path.name: path.read_bytes() for path in saved.iterdir()}
    code = main(["train", "iris", "--model", "softmax", "--epochs", "2", "--out", str(saved),
                 "--resume", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"{saved}: a reinforcement-learning run, not a training run" in err
    assert {path.name: path.read_bytes() for path in saved.iterdir()} == before


@pytest.mark.parametrize("crashing", ["save_json", "save_weights"])
def test_a_run_that_crashed_while_saving_is_replaced_by_overwrite(tmp_path, capsys, monkeypatch,
                                                                  crashing):
    # as a kill between the two writes: the policy alone made a directory that rl train called
    # "an unfinished run; pass --overwrite" and --overwrite called "not a run directory"
    from chainrule import checkpoint

    def crash(*args, **kwargs):
        raise OSError(5, "Input/output error")

    arguments = ["rl", "train", "--episodes", "2", "--hidden", "4", "--out",
                 str(tmp_path / "run")]
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, crashing, crash)
        assert main(arguments) == 2
    capsys.readouterr()
    assert main(arguments + ["--overwrite"]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["episodes"] == 2
