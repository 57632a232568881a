"""``chainrule lm``: bad inputs are one line on stderr (exit 2); generate prints the text."""
import pytest

from chainrule.cli import main

from tiny_lm import TINY, make_text


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


def test_nucleus_sampling_from_the_command_line_is_seeded(trained_run, capsys):
    run, _ = trained_run
    texts = [run_cli(capsys, "lm", "generate", str(run), "--prompt", "the cat", "--max-new-tokens",
                     "30", "--seed", "5", "--top-p", top_p)[1] for top_p in ("0.9", "0.9", "1e-6")]
    assert texts[0] == texts[1] and texts[0].startswith("the cat")
    greedy = run_cli(capsys, "lm", "generate", str(run), "--prompt", "the cat",
                     "--max-new-tokens", "30", "--temperature", "0")[1]
    assert texts[2] == greedy  # a tiny nucleus holds the likeliest token alone


def test_generate_names_an_unknown_character(trained_run, capsys):
    run, _ = trained_run
    code, out, err = run_cli(capsys, "lm", "generate", str(run), "--prompt", "QUEEN:")
    assert code == 2 and err.count("\n") == 1 and "'Q'" in err and out == ""


def test_generate_without_a_prompt_on_a_model_that_never_saw_a_newline(tmp_path, capsys):
    from chainrule import lm

    text = tmp_path / "one_line.txt"
    text.write_text(make_text().replace("\n", " "))
    lm.train(text, tmp_path / "run", max_iters=2, progress=False, **TINY)
    code, out, err = run_cli(capsys, "lm", "generate", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1 and out == ""
    assert "no --prompt given, and the default prompt, a newline, is a character the model " \
           "never saw in training; give --prompt" in err


def test_generate_to_an_output_that_cannot_show_a_character(tmp_path, capsys, monkeypatch):
    import io
    import sys

    from chainrule import lm

    text = tmp_path / "french.txt"
    text.write_text("le café est très bon. " * 60, encoding="utf-8")
    lm.train(text, tmp_path / "run", max_iters=2, progress=False, **TINY)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    code = main(["lm", "generate", str(tmp_path / "run"), "--prompt", "café", "--max-new-tokens",
                 "3"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "standard output (ascii) cannot show 'café'; set PYTHONIOENCODING=utf-8" in err


def test_generate_from_a_directory_without_a_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "lm", "generate", str(tmp_path), "--prompt", "a")
    assert code == 2 and err.count("\n") == 1 and "not a language-model run directory" in err


def test_generate_given_the_checkpoint_file_points_at_its_run_directory(trained_run, capsys):
    run, _ = trained_run
    code, out, err = run_cli(capsys, "lm", "generate", str(run / "checkpoint.safetensors"))
    assert code == 2 and err.count("\n") == 1 and out == ""
    assert "checkpoint.safetensors: not a run directory (a file); give the directory the run " \
           f"was saved in: {run}" in err


def test_evaluate_given_a_language_model_run_says_which_kind_of_run_it_is(trained_run, capsys):
    run, _ = trained_run
    code, _, err = run_cli(capsys, "evaluate", str(run))
    assert code == 2 and err.count("\n") == 1
    assert f"{run}: a language-model run, not a training run" in err


def test_resume_refuses_new_settings_other_than_max_iters(trained_run, tmp_path, capsys):
    run, _ = trained_run
    text = tmp_path / "input.txt"
    text.write_text(make_text())
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(text), "--out", str(run),
                           "--resume", "--lr", "0.1")
    assert code == 2 and err.count("\n") == 1 and "only max_iters may change" in err


def test_resume_refuses_to_shorten_the_run_in_flags(trained_run, tmp_path, capsys):
    run, _ = trained_run  # trained for 100 steps
    text = tmp_path / "input.txt"
    text.write_text(make_text())
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(text), "--out", str(run),
                           "--resume", "--max-iters", "40")
    assert code == 2 and err.count("\n") == 1
    assert "has reached step 100; --max-iters 40 would end before it" in err
    assert "give --max-iters 100 or more" in err


@pytest.mark.parametrize("option, value", [("--temperature", "-1"), ("--temperature", "nan"),
                                           ("--temperature", "inf"), ("--top-k", "0"),
                                           ("--top-p", "0"), ("--top-p", "1.5"),
                                           ("--max-new-tokens", "-5"), ("--seed", "-1")])
def test_impossible_sampling_settings_are_refused_before_the_prompt_prints(
        trained_run, capsys, option, value):
    run, _ = trained_run
    with pytest.raises(SystemExit) as exit:
        main(["lm", "generate", str(run), "--prompt", "the cat", option, value])
    captured = capsys.readouterr()
    assert exit.value.code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and option in captured.err


@pytest.mark.parametrize("setting", [dict(temperature=float("nan")), dict(temperature=-1.0),
                                     dict(top_k=0), dict(top_p=0.0), dict(max_new_tokens=-5)])
def test_the_library_refuses_them_before_the_prompt_is_passed_on(trained_run, setting):
    from chainrule import lm

    run, _ = trained_run
    shown = []
    with pytest.raises(ValueError, match="generate: "):
        lm.generate(run, "the cat", on_text=shown.append, **setting)
    assert shown == []


@pytest.mark.parametrize("setting", ["eval_interval", "eval_iters", "batch_size", "max_iters"])
def test_a_training_setting_of_zero_is_refused(setting, tmp_path, text_file):
    from chainrule import lm

    with pytest.raises(ValueError, match=f"TrainConfig: {setting} must be at least 1, got 0"):
        lm.train(text_file, tmp_path / "run", progress=False, **{setting: 0})
    assert not (tmp_path / "run").exists()


def test_a_learning_rate_below_the_preset_min_lr_is_refused_not_raised_over_the_run(
        tmp_path, text_file, capsys):
    # the baby preset decays to min_lr 1e-4: with --lr 5e-5 its "decay" would double the rate
    code, _, err = run_cli(capsys, "lm", "train", "--text", str(text_file), "--out",
                           str(tmp_path / "run"), "--lr", "5e-5", "--max-iters", "2")
    assert code == 2 and err.count("\n") == 1
    assert "--min-lr 0.0001 is above --lr 5e-05" in err and "give --min-lr" in err
    assert not (tmp_path / "run").exists()


def test_the_documented_streaming_call_prints_the_text_as_it_is_returned(trained_run, capsys):
    """docs/language-model.md's ``lm.generate(..., on_text=...)``, run as written."""
    from pathlib import Path

    from chainrule import lm

    docs = Path(__file__).resolve().parents[2] / "docs" / "language-model.md"
    text = docs.read_text()
    call = text[text.index("text = lm.generate("):]
    call = call[:call.index("```")]
    run, _ = trained_run
    namespace = {"lm": lm}
    exec(call.replace('"runs/baby", "ROMEO:"', f'r"{run}", "the cat"')
         .replace("max_new_tokens=300", "max_new_tokens=40"), namespace)
    printed = capsys.readouterr().out
    assert printed == namespace["text"] and len(printed) == len("the cat") + 40


def test_the_final_evaluation_is_announced(text_file, tmp_path, capsys):
    code = main(["lm", "train", "--text", str(text_file), "--out", str(tmp_path / "run"),
                 "--max-iters", "5", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
                 "--block-size", "8", "--batch-size", "4", "--eval-iters", "1"])
    err = capsys.readouterr().err
    assert code == 0
    final = err.index("final evaluation: every block of the")
    assert final < err.index("done: val loss")


def test_the_final_evaluation_reports_every_batch_it_runs(trained_run):
    import numpy

    from chainrule import lm

    model, _ = lm.load(trained_run[0])
    data = numpy.arange(8 * 20 + 1) % model.config.vocab_size  # 20 blocks of 8
    calls = []
    lm.full_loss(model, data, batch_size=2, on_batch=lambda: calls.append("val"))
    lm.estimate_loss(model, data, 2, 5, seed=0, on_batch=lambda: calls.append("train"))
    assert calls == ["val"] * 3 + ["train"] * 5  # 20 blocks, 8 per batch: 3 batches


def test_on_a_terminal_the_final_evaluation_gets_its_own_bar():
    import io

    from chainrule.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    progress = Progress(10, every=1, stream=Terminal())
    counter = progress.counter(3, "final evaluation")
    for _ in range(3):
        counter.update()
    assert (counter.n, counter.total, counter.desc) == (3, 3, "final evaluation")
    counter.close()
    progress.close()
    assert Progress(10, every=1, stream=io.StringIO()).counter(3, "x") is None


def test_a_log_gets_progress_lines_even_when_no_evaluation_comes_after_the_first(text_file,
                                                                               tmp_path, capsys):
    # --eval-interval beyond --max-iters: the lines came every eval_interval // 5 steps, none
    # after step 1, so a long run in a log said nothing until it ended
    code = main(["lm", "train", "--text", str(text_file), "--out", str(tmp_path / "run"),
                 "--max-iters", "10", "--eval-interval", "1000", "--n-layer", "1", "--n-head",
                 "2", "--n-embd", "16", "--block-size", "8", "--batch-size", "4",
                 "--eval-iters", "1"])
    err = capsys.readouterr().err
    assert code == 0
    steps = [line.split()[1] for line in err.splitlines()
             if line.startswith("step") and "  loss " in line]
    assert steps == ["1/10", "2/10", "4/10", "6/10", "8/10", "10/10"]
