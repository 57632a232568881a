"""``chainrule lm``: bad inputs are one line on stderr (exit 2); generate prints the text."""
import pytest

from chainrule.cli import main

from conftest import make_text


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("content,message", [
    ("", "the file is empty"),
    ("First Citizen:\nBefore we proceed any further, hear me speak.\n", "too short for a block"),
])
def test_bad_text_is_a_one_line_error(tmp_path, capsys, content, message):
    text = tmp_path / "input.txt"
    text.write_text(content)
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(text), "--out", str(tmp_path / "r"))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("chainrule lm: error: ") and message in err


def test_a_missing_or_undecodable_file_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(tmp_path / "nope.txt"),
                           "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1 and "nope.txt" in err
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"abc\n\xff\xfe")
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(binary), "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1 and "not UTF-8" in err


def test_inconsistent_settings_are_a_one_line_error(tmp_path, capsys):
    text = tmp_path / "input.txt"
    text.write_text(make_text())
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(text), "--out", str(tmp_path / "r"),
                           "--n-embd", "30", "--n-head", "4")
    assert code == 2 and err.count("\n") == 1 and "multiple of n_head=4" in err


def test_train_then_generate_from_the_command_line(trained_run, capsys):
    run, _ = trained_run
    code, out, _ = run_cli(capsys, "lm", "generate", str(run), "--prompt", "the cat",
                           "--max-new-tokens", "30", "--seed", "5", "--top-k", "5")
    assert code == 0 and out.startswith("the cat") and len(out) == len("the cat") + 30 + 1
    code, again, _ = run_cli(capsys, "lm", "generate", str(run), "--prompt", "the cat",
                             "--max-new-tokens", "30", "--seed", "5", "--top-k", "5")
    assert again == out


def test_generate_names_an_unknown_character(trained_run, capsys):
    run, _ = trained_run
    code, out, err = run_cli(capsys, "lm", "generate", str(run), "--prompt", "QUEEN:")
    assert code == 2 and err.count("\n") == 1 and "'Q'" in err and out == ""


def test_generate_from_a_directory_without_a_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "lm", "generate", str(tmp_path), "--prompt", "a")
    assert code == 2 and err.count("\n") == 1 and "not a language-model run directory" in err


def test_resume_refuses_new_settings_other_than_max_iters(trained_run, tmp_path, capsys):
    run, _ = trained_run
    text = tmp_path / "input.txt"
    text.write_text(make_text())
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(text), "--out", str(run),
                           "--resume", "--lr", "0.1")
    assert code == 2 and err.count("\n") == 1 and "only max_iters may change" in err
