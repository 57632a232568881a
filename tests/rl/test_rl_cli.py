"""``chainrule rl train`` and ``chainrule rl play``: files written, lines printed, errors in one line."""
import json

import pytest

from chainrule import rl
from chainrule.cli import main


@pytest.mark.parametrize("env_id, message", [
    ("Pendulum-v1", "'Pendulum-v1' has continuous actions"),
    ("MountainCarContinuous-v0", "'MountainCarContinuous-v0' has continuous actions"),
    ("NoSuchGame-v0", "unknown environment 'NoSuchGame-v0'"),
    ("chainrule_no_such_module:Game-v0", "cannot make environment "
                                         "'chainrule_no_such_module:Game-v0': No module named"),
])
def test_a_bad_environment_is_a_one_line_error(env_id, message, tmp_path, capsys):
    code = main(["rl", "train", "--env", env_id, "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("chainrule rl: error: ") and message in captured.err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_train_writes_the_run_and_prints_progress(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["rl", "train", "--episodes", "6", "--seed", "1", "--hidden", "16",
                 "--log-every", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    # progress goes to standard error, as for train and lm train: the first episode, then every 2
    progress = [line for line in captured.err.splitlines() if line.startswith("episode")]
    assert [line.split("  ")[0] for line in progress] == [f"episode {n}/6" for n in (1, 2, 4, 6)]
    assert "return" in progress[-1] and "average of last 6" in progress[-1]
    assert "final average return over the last 6 episodes" in captured.out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["solved_at_episode"] is None
    assert metrics["episodes"] == len(metrics["returns"]) == 6
    assert metrics["final_average_return"] == pytest.approx(sum(metrics["returns"]) / 6)
    assert (out / "returns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    policy, config = rl.load_policy(out)
    assert (config.seed, config.hidden, policy.hidden.out_features) == (1, 16, 16)


def test_an_environment_without_a_reward_threshold_is_said_to_have_none(tmp_path, capsys):
    code = main(["rl", "train", "--env", "Blackjack-v1", "--episodes", "2", "--hidden", "4",
                 "--out", str(tmp_path / "run")])
    assert code == 0
    assert "not solved: Blackjack-v1 has no reward threshold to reach" in capsys.readouterr().out


def test_play_prints_each_return_and_the_mean(balancing_policy, tmp_path, capsys):
    rl.save_policy(tmp_path, balancing_policy, rl.ReinforceConfig(hidden=2))
    code = main(["rl", "play", str(tmp_path), "--episodes", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines == ["episode   1   return    500.0", "episode   2   return    500.0",
                     "mean return over 2 episodes: 500.0"]


def test_play_on_a_directory_without_a_run_is_a_one_line_error(tmp_path, capsys):
    code = main(["rl", "play", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no config.json" in err


@pytest.mark.parametrize("arguments", [["rl", "train", "--seed", "-1"],
                                       ["rl", "play", "somewhere", "--seed", "-1"]])
def test_a_negative_seed_is_a_one_line_error_before_any_work(arguments, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*arguments, "--out", str(tmp_path / "run")] if arguments[1] == "train"
             else arguments)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1 and "--seed" in err
    assert not (tmp_path / "run").exists()


def test_an_environment_without_a_time_limit_gets_the_default_and_the_user_is_told_once(
        tmp_path, capsys, at_most_steps):
    at_most_steps(2 * rl.DEFAULT_MAX_EPISODE_STEPS)
    out = tmp_path / "run"
    code = main(["rl", "train", "--env", "CliffWalking-v1", "--episodes", "2", "--hidden", "4",
                 "--out", str(out)])
    said = capsys.readouterr().out
    assert code == 0
    assert said.count("CliffWalking-v1 has no time limit of its own: each episode is cut after "
                      f"{rl.DEFAULT_MAX_EPISODE_STEPS} steps (--max-episode-steps N to change)") == 1
    assert json.loads((out / "config.json").read_text())["config"]["max_episode_steps"] == \
        rl.DEFAULT_MAX_EPISODE_STEPS


def test_the_time_limit_given_is_saved_and_play_reuses_it_unless_told_otherwise(
        wall_policy, tmp_path, capsys, at_most_steps):
    at_most_steps(2 * 6 + 2 * 6 + 2 * 3)
    out = tmp_path / "trained"
    assert main(["rl", "train", "--env", "CliffWalking-v1", "--episodes", "2", "--hidden", "1",
                 "--max-episode-steps", "6", "--out", str(out)]) == 0
    assert "no time limit" not in capsys.readouterr().out
    assert rl.load_policy(out)[1].max_episode_steps == 6
    # play the wall-walker under that config: each step pays −1, so a return is minus its length
    rl.save_policy(tmp_path / "wall", wall_policy, rl.load_policy(out)[1])
    assert main(["rl", "play", str(tmp_path / "wall"), "--episodes", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "mean return over 2 episodes: -6.0"
    assert main(["rl", "play", str(tmp_path / "wall"), "--episodes", "2",
                 "--max-episode-steps", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "mean return over 2 episodes: -3.0"


def test_a_run_saved_without_a_time_limit_plays_with_the_default_and_says_so(
        wall_policy, tmp_path, capsys, at_most_steps):
    at_most_steps(rl.DEFAULT_MAX_EPISODE_STEPS)
    rl.save_policy(tmp_path, wall_policy, rl.ReinforceConfig(env="CliffWalking-v1", hidden=1))
    config = json.loads((tmp_path / "config.json").read_text())
    del config["config"]["max_episode_steps"]  # as runs saved before the limit was recorded
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert main(["rl", "play", str(tmp_path), "--episodes", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("CliffWalking-v1 has no time limit of its own")
    assert lines[-1] == f"mean return over 1 episodes: {-rl.DEFAULT_MAX_EPISODE_STEPS:.1f}"


@pytest.mark.parametrize("command", ["train", "play"])
@pytest.mark.parametrize("value", ["0", "-4", "2.5"])
def test_a_time_limit_below_one_step_is_a_one_line_error_before_any_work(command, value,
                                                                        tmp_path, capsys):
    arguments = (["rl", "train", "--out", str(tmp_path / "run")] if command == "train"
                 else ["rl", "play", str(tmp_path / "run")])
    with pytest.raises(SystemExit) as exit:
        main([*arguments, "--max-episode-steps", value])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1
    assert f"chainrule rl {command}: error: argument --max-episode-steps: " in err
    assert not (tmp_path / "run").exists()


def test_the_help_states_the_librarys_default_time_limit():
    from chainrule.cli import rl as rl_command

    assert rl_command.DEFAULT_MAX_EPISODE_STEPS == rl.DEFAULT_MAX_EPISODE_STEPS


def test_the_help_states_the_default_time_limit_the_library_applies():
    # the command line spells the number itself (importing chainrule.rl would slow --help)
    from chainrule.cli import rl as rl_command

    assert rl_command.DEFAULT_MAX_EPISODE_STEPS == rl.DEFAULT_MAX_EPISODE_STEPS
