"""--threads N on every command that trains or generates: parsed the same way, applied before the
command runs, shown in each run's header; 0 and -1 are one-line errors."""
import os

import pytest

import chainrule
from chainrule.cli import DEFAULT_THREADS, build_parser, main
from chainrule.threads import THREAD_VARIABLES

COMMANDS = {  # each command with the arguments it needs to parse
    "train": ["train"], "evaluate": ["evaluate", "runs/x"],
    "predict": ["predict", "runs/x", "--input", "x.csv"],
    "lm train": ["lm", "train", "--text", "x.txt", "--out", "runs/x"],
    "lm generate": ["lm", "generate", "runs/x"],
    "rl train": ["rl", "train"], "rl play": ["rl", "play", "runs/x"],
}
TWO = min(2, os.cpu_count() or 1)  # OpenBLAS caps the count at the machine's cores


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    for variable in THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    before = chainrule.get_num_threads()
    yield
    chainrule.set_num_threads(before)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_threads_with_the_same_default(command):
    parser = build_parser()
    assert parser.parse_args(COMMANDS[command]).threads == DEFAULT_THREADS
    assert parser.parse_args([*COMMANDS[command], "--threads", "3"]).threads == 3


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("threads", ["0", "-1"])
def test_fewer_than_one_thread_is_a_one_line_error(command, threads, capsys):
    code = main([*COMMANDS[command], "--threads", threads])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"error: --threads {threads}: give at least 1 thread" in err


def test_train_applies_threads_and_says_so_in_its_header(tmp_path, capsys):
    chainrule.set_num_threads(1)
    code = main(["train", "iris", "--epochs", "1", "--hidden", "4", "--threads", str(TWO),
                 "--out", str(tmp_path / "run")])
    header = [line for line in capsys.readouterr().out.splitlines() if line.startswith("model:")]
    assert code == 0 and chainrule.get_num_threads() == TWO
    assert header[0].endswith(f" · {TWO} BLAS thread{'s' if TWO > 1 else ''}")


def test_train_defaults_to_the_constant(tmp_path, capsys):
    chainrule.set_num_threads(TWO)
    assert main(["train", "iris", "--epochs", "1", "--hidden", "4", "--quiet",
                 "--out", str(tmp_path / "run")]) == 0
    assert chainrule.get_num_threads() == min(DEFAULT_THREADS, os.cpu_count() or 1)


def test_lm_train_header_names_the_threads(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text("the cat sees a dog. a dog sees the king.\n" * 40)
    code = main(["lm", "train", "--text", str(text), "--out", str(tmp_path / "run"),
                 "--max-iters", "1", "--n-layer", "1", "--n-head", "1", "--n-embd", "8",
                 "--block-size", "8", "--batch-size", "2", "--eval-iters", "1", "--threads", "1"])
    header = capsys.readouterr().err.splitlines()[0]
    assert code == 0 and header.startswith("GPT with ") and header.endswith("; 1 BLAS thread")


def test_rl_train_header_names_the_threads(tmp_path, capsys):
    code = main(["rl", "train", "--episodes", "1", "--hidden", "4", "--threads", "1",
                 "--out", str(tmp_path / "run")])
    header = capsys.readouterr().out.splitlines()[0]
    assert code == 0 and header == "REINFORCE on CartPole-v1 · seed 0 · 1 BLAS thread"
