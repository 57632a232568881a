"""Every error of the command line is one line on stderr with exit status 2; a newcomer's first
mistakes (a missing extra, a closed pipe, an option the model ignores) get a message, not a
traceback."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule
from chainrule.cli import main

from test_train_cli import fails, write_csv

SOURCE = str(Path(chainrule.__file__).resolve().parents[1])  # the chainrule under test


@pytest.fixture
def labels(tmp_path):
    """x in 0..39, y = x mod 2: a tiny two-class CSV."""
    return write_csv(tmp_path / "labels.csv", ["x", "y"], [[str(i), str(i % 2)] for i in range(40)])


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize("arguments, flag", [
    (["train", "iris", "--seed", "-1"], "--seed"),
    (["train", "iris", "--seed", "one"], "--seed"),
    (["lm", "train", "--text", "t.txt", "--out", "o", "--eval-interval", "0"], "--eval-interval"),
    (["lm", "train", "--text", "t.txt", "--out", "o", "--eval-iters", "0"], "--eval-iters"),
    (["lm", "train", "--text", "t.txt", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (["lm", "train", "--text", "t.txt", "--out", "o", "--lr", "nan"], "--lr"),
    (["rl", "train", "--lr", "inf"], "--lr"),
    (["train", "iris", "--no-such-option"], "--no-such-option"),
])
def test_an_impossible_value_is_refused_while_parsing_in_one_line(arguments, flag, capsys):
    with pytest.raises(SystemExit) as exit:
        main(arguments)
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert len(err.strip().splitlines()) == 1 and flag in err and "usage:" not in err


def test_help_shows_no_default_of_none(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in out
    assert "(default: digits, unless --csv is given)" in out
    assert "(default: 512)" in out and "(default: relu)" in out


# ---------------------------------------------------------------- train
def test_a_csv_with_only_the_target_column_is_refused(tmp_path, capsys):
    path = write_csv(tmp_path / "only.csv", ["y"], [[str(i % 2)] for i in range(20)])
    for model in ("linear", "softmax", "mlp"):
        err = fails(capsys, ["train", "--csv", path, "--target", "y", "--model", model,
                             "--out", str(tmp_path / model)])
        assert "the target 'y' is the only column" in err
        assert not (tmp_path / model).exists()


def test_a_target_mixing_numbers_and_words_names_the_cell_and_the_task_flag(tmp_path, capsys):
    rows = [[str(i), f"{i * 1.5:.1f}"] for i in range(30)] + [["30", "unknown"]]
    path = write_csv(tmp_path / "prices.csv", ["x", "price"], rows)
    err = fails(capsys, ["train", "--csv", path, "--target", "price", "--out",
                         str(tmp_path / "run")])
    assert err == (f"chainrule train: error: {path}, line 32, column 'price': 'unknown' is a word "
                   "in a target of numbers (30 cells are numbers): the column mixes numbers and "
                   "words, which would make it text, one class per distinct value; correct it "
                   "(leave a cell empty where the value is missing), or give --task "
                   "classification to take every value as a class label\n")
    assert not (tmp_path / "run").exists()


def test_a_model_too_large_for_memory_says_how_much_it_needs_before_allocating(tmp_path, capsys):
    out = tmp_path / "huge"
    err = fails(capsys, ["train", "iris", "--hidden", "2000000000", "--out", str(out)])
    assert "--hidden 2000000000" in err and "16,000,000,003 parameters" in err and "GiB" in err
    assert not out.exists()


@pytest.mark.parametrize("arguments, message", [
    (["--model", "softmax", "--hidden", "16"], "--hidden 16: only an MLP has hidden layers"),
    (["--model", "logistic", "--activation", "tanh", "--dropout", "0.2"],
     "--activation tanh, --dropout 0.2: only an MLP has hidden layers"),
    (["--momentum", "0.9"], "--momentum 0.9 is SGD's; adam keeps its own"),
    (["--model", "softmax", "--optimizer", "adam", "--momentum", "0.5"], "--momentum 0.5"),
    (["--patience", "3", "--val", "0"], "--val 0 holds out no validation rows"),
])
def test_an_option_the_model_or_optimiser_would_ignore_is_refused(arguments, message, tmp_path,
                                                                   labels, capsys):
    out = tmp_path / "run"
    err = fails(capsys, ["train", "--csv", labels, "--target", "y", *arguments, "--out", str(out)])
    assert message in err and not out.exists()


def test_momentum_with_sgd_and_patience_with_validation_are_accepted(tmp_path, labels, capsys):
    assert main(["train", "--csv", labels, "--target", "y", "--model", "logistic", "--momentum",
                 "0.9", "--patience", "2", "--epochs", "2", "--quiet",
                 "--out", str(tmp_path / "run")]) == 0


def test_a_cell_that_overflows_float32_is_refused_by_train_evaluate_and_predict(tmp_path, labels,
                                                                               capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--csv", labels, "--target", "y", "--model", "logistic", "--epochs",
                 "1", "--quiet", "--out", run]) == 0
    capsys.readouterr()
    rows = [[str(i), str(i % 2)] for i in range(10)]
    rows[3][0] = "1e308"
    huge = write_csv(tmp_path / "huge.csv", ["x", "y"], rows)
    for arguments in (["train", "--csv", huge, "--target", "y", "--model", "logistic"],
                      ["evaluate", run, "--csv", huge], ["predict", run, "--input", huge]):
        err = fails(capsys, arguments)
        assert "huge.csv, line 5, column 'x': '1e308' is too large for float32" in err
    regression = write_csv(tmp_path / "target.csv", ["x", "y"],
                           [[str(i), "1e308" if i == 7 else str(0.5 * i)] for i in range(30)])
    err = fails(capsys, ["train", "--csv", regression, "--target", "y", "--model", "linear"])
    assert "line 9, column 'y': '1e308' is too large for float32" in err


def test_predict_suggests_the_flag_it_accepts_and_fills_when_asked(tmp_path, labels, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--csv", labels, "--target", "y", "--model", "logistic", "--epochs",
                 "1", "--quiet", "--out", run]) == 0
    capsys.readouterr()
    gaps = write_csv(tmp_path / "gaps.csv", ["x"], [["1"], [""], ["3"]])
    err = fails(capsys, ["predict", run, "--input", gaps])
    assert "gaps.csv: 1 missing value in column 'x'" in err
    assert "--missing mean" in err and "--missing drop" not in err
    assert main(["predict", run, "--input", gaps, "--missing", "mean"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3  # the header and every input row


def test_a_run_trained_with_drop_predicts_every_row_or_refuses(tmp_path, capsys):
    rows = [[str(i), str(i % 2)] for i in range(40)] + [["", "1"]]
    training = write_csv(tmp_path / "gappy.csv", ["x", "y"], rows)
    run = str(tmp_path / "run")
    assert main(["train", "--csv", training, "--target", "y", "--model", "logistic", "--missing",
                 "drop", "--epochs", "1", "--quiet", "--out", run]) == 0
    capsys.readouterr()
    gaps = write_csv(tmp_path / "gaps.csv", ["x"], [["1"], [""], ["3"]])
    assert "--missing mean" in fails(capsys, ["predict", run, "--input", gaps])
    assert main(["predict", run, "--input", gaps, "--missing", "mean"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3


def test_evaluate_does_not_suggest_a_flag_it_lacks(tmp_path, labels, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--csv", labels, "--target", "y", "--model", "logistic", "--epochs",
                 "1", "--quiet", "--out", run]) == 0
    capsys.readouterr()
    gaps = write_csv(tmp_path / "gaps.csv", ["x", "y"], [["1", "0"], ["", "1"], ["3", "1"]])
    err = fails(capsys, ["evaluate", run, "--csv", gaps])
    assert "gaps.csv: 1 missing value in column 'x'" in err
    assert "--missing" not in err and 'missing="' not in err


def test_train_still_suggests_its_own_missing_flags(tmp_path, capsys):
    path = write_csv(tmp_path / "gaps.csv", ["x", "y"], [["1", "0"], ["", "1"]] * 5)
    err = fails(capsys, ["train", "--csv", path, "--target", "y", "--model", "logistic"])
    assert "--missing drop" in err and "--missing mean" in err and 'missing="' not in err


def test_a_resumed_run_says_where_it_resumes(tmp_path, labels, capsys):
    run = str(tmp_path / "run")
    common = ["train", "--csv", labels, "--target", "y", "--model", "logistic", "--out", run]
    assert main([*common, "--epochs", "2", "--quiet"]) == 0
    capsys.readouterr()
    assert main([*common, "--epochs", "4", "--resume"]) == 0
    out, err = capsys.readouterr()
    # a finished run is extended in a copy beside it, which the line names
    copy = out.split(f"extending the finished run in {run} in a copy, ")[1].split(":")[0]
    assert copy.startswith(str(tmp_path / ".run.extending-"))
    assert f"resuming at epoch 3 of 4 (checkpoint in {copy}/checkpoint)" in err
    assert err.index("resuming at epoch 3") < err.index("epoch 3/4")
    (tmp_path / "run" / "metrics.json").unlink()  # as if killed: resumed in place
    assert main([*common, "--epochs", "4", "--resume"]) == 0
    out, err = capsys.readouterr()
    assert "extending" not in out
    assert f"all 4 epochs were already trained (checkpoint in {run}/checkpoint)" in err


def test_an_offline_mnist_download_suggests_data_dir(tmp_path, monkeypatch, capsys):
    from chainrule.data import download

    def offline(url):
        raise OSError("network is unreachable")

    monkeypatch.setattr(download, "open_url", offline)
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path / "cache"))
    code = main(["train", "mnist", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert err[-1].startswith("chainrule train: error: ")
    assert "network is unreachable" in err[-1] and "give it as --data-dir FOLDER" in err[-1]
    assert "train-images-idx3-ubyte.gz" in err[-1] and "root=" not in err[-1]



def test_a_cache_that_cannot_be_a_folder_is_one_line_not_a_traceback(tmp_path, monkeypatch,
                                                                     capsys):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path / "a-file" / "cache"))
    err = fails(capsys, ["train", "california-housing", "--out", str(tmp_path / "run")])
    assert "cannot write the download cache there" in err and "CHAINRULE_CACHE" in err

# ---------------------------------------------------------------- optional dependencies
@pytest.mark.parametrize("module, arguments, extra", [
    ("sklearn", ["train", "iris"], "train"),
    ("safetensors", ["train", "--csv", "LABELS", "--target", "y"], "train"),
    ("matplotlib", ["train", "--csv", "LABELS", "--target", "y"], "train"),
    ("safetensors", ["lm", "train", "--text", "LABELS"], "train"),
    ("gymnasium", ["rl", "train"], "rl"),
    ("matplotlib", ["rl", "train"], "rl"),
])
def test_a_missing_extra_is_named_before_any_work(module, arguments, extra, tmp_path, labels,
                                                  monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like
    out = tmp_path / "run"
    arguments = [labels if argument == "LABELS" else argument for argument in arguments]
    err = fails(capsys, [*arguments, "--out", str(out)])
    assert f"pip install 'chainrule[{extra}]'" in err
    assert not out.exists()


def test_the_library_names_the_extra_too(tmp_path, monkeypatch):
    from chainrule import checkpoint, nn
    from chainrule.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(MissingExtraError, match=r"needs safetensors.*chainrule\[train\]"):
        checkpoint.save_weights(tmp_path / "never.safetensors", nn.Linear(2, 1))
    assert not (tmp_path / "never.safetensors").exists()


# ---------------------------------------------------------------- pipes
def test_a_closed_pipe_ends_quietly():
    """``chainrule explain ... | head -1``: the reader goes away before the output is written."""
    environment = {**os.environ, "PYTHONPATH": SOURCE}
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "explain", "x * x + sin(x)",
                                "--at", "x=3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment)
    process.stdout.close()  # as `head` does once it has what it wants
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert err == ""


# ---------------------------------------------------------------- explain
def test_an_expression_may_start_with_a_minus(capsys):
    assert main(["explain", "-x**2", "--at", "x=3"]) == 0
    assert "Gradients: ∂f/∂x = -6" in capsys.readouterr().out


def test_an_expression_swallowed_by_at_says_where_to_put_it(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["explain", "--at", "x=3", "-x**2"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "give it before the options, or after --" in err


def test_explain_json_is_still_json(capsys):
    assert main(["explain", "-x*y", "--at", "x=2", "y=5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {step["name"] for step in report["forward"]} >= {"x", "y"}


def test_no_rows_left_after_drop_names_the_flag(tmp_path, capsys):
    path = write_csv(tmp_path / "gaps.csv", ["x", "y"], [["1", ""], ["", "1"]])
    err = fails(capsys, ["train", "--csv", path, "--target", "y", "--model", "logistic",
                         "--missing", "drop"])
    assert "gaps.csv: no rows left" in err and "(--missing drop)" in err and "missing=" not in err


def test_a_text_too_short_for_the_block_names_the_flag(tmp_path, capsys):
    text = tmp_path / "short.txt"
    text.write_text("abcdefgh" * 30)
    err = fails(capsys, ["lm", "train", "--text", str(text), "--out", str(tmp_path / "run"),
                         "--block-size", "64"])
    assert "too short for a block of 64" in err and "(--block-size 64 now)" in err
    assert "block_size" not in err


@pytest.mark.parametrize("python, flags", [
    ("pass overwrite=True or resume=True", "pass --overwrite or --resume"),
    ("give it with values={'x': VALUE}", "give it with --at x=VALUE"),
    ("wrt=['w', 'b']: no such variables; wrt= names variables",
     "--wrt w b: no such variables; --wrt names variables"),
    ('pass missing="drop" or missing="mean"', "pass --missing drop or --missing mean"),
    ("a smaller block size (block_size=64 now)", "a smaller block size (--block-size 64 now)"),
    ("or give task='classification' to take", "or give --task classification to take"),
    # an argument the command line has no flag for is left as the library wrote it
    ("pass retain_graph=True to backward()", "pass retain_graph=True to backward()"),
    ("expected NAME=VALUE, e.g. w=0.5", "expected NAME=VALUE, e.g. w=0.5"),
])
def test_library_arguments_become_the_command_lines_flags(python, flags):
    from chainrule.cli import as_flags

    assert as_flags(ValueError(python)) == flags


def test_a_file_too_small_for_a_test_split_says_how_many_rows_it_has(tmp_path, capsys):
    path = write_csv(tmp_path / "tiny.csv", ["x", "y"], [["1", "0"], ["2", "1"], ["3", "0"],
                                                          ["4", "1"]])
    err = fails(capsys, ["train", "--csv", path, "--target", "y", "--model", "logistic",
                         "--out", str(tmp_path / "run")])
    assert "--test 0.2 leaves no rows to test on" in err and "only 4 rows" in err
    assert "such as --test 0.2" not in err  # the fraction it was given


@pytest.mark.parametrize("arguments", [
    ["train", "--csv", "FILE/data.csv", "--target", "y"],
    ["train", "--csv", "LABELS", "--target", "y", "--model", "logistic", "--out", "FILE/run"],
    ["lm", "train", "--text", "FILE/corpus.txt", "--out", "RUN"],
])
def test_a_path_through_a_file_is_one_line_not_a_traceback(arguments, tmp_path, labels, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    given = [argument.replace("FILE", str(tmp_path / "a-file")).replace("LABELS", labels)
             .replace("RUN", str(tmp_path / "run")) for argument in arguments]
    assert "a-file" in fails(capsys, given)


def test_an_unsupported_operation_keeps_its_traceback(monkeypatch, capsys):
    # io.UnsupportedOperation is an OSError, but it comes from a bug, not from the user's paths
    import chainrule.cli

    def no_fileno():
        raise io.UnsupportedOperation("fileno")
    monkeypatch.setattr(chainrule.cli, "_quiet_unless_rank_zero", no_fileno)
    with pytest.raises(io.UnsupportedOperation):
        chainrule.cli.main(["train", "iris", "--epochs", "1", "--quiet"])
