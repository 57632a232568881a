"""Training a tiny GPT: the loss falls, resuming is exact, bad inputs are one clear error."""
import json
import math

import numpy
import pytest

from chainrule import lm
from chainrule.checkpoint import load_checkpoint
from chainrule.errors import DataError

from tiny_lm import TINY, make_text


def test_a_hundred_steps_bring_the_loss_well_below_chance(trained_run):
    run, metrics = trained_run
    chance = math.log(len(set(make_text())))  # a uniform guess over the vocabulary
    first = metrics["history"][0]
    assert first["val_loss"] == pytest.approx(chance, rel=0.05)
    assert metrics["val_loss"] < 0.6 * chance
    assert metrics["train_loss"] < 0.6 * chance
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["val_loss"] == metrics["val_loss"] and saved["train_loss"] == metrics["train_loss"]


def test_resuming_gives_the_same_weights_as_an_uninterrupted_run(text_file, tmp_path):
    settings = dict(TINY, lr_decay_iters=30, warmup_iters=3, progress=False)
    lm.train(text_file, tmp_path / "straight", max_iters=30, **settings)
    lm.train(text_file, tmp_path / "halves", max_iters=15, **settings)
    lm.train(text_file, tmp_path / "halves", resume=True, max_iters=30, progress=False)
    straight = load_checkpoint(tmp_path / "straight", restore_rng=False)
    resumed = load_checkpoint(tmp_path / "halves", restore_rng=False)
    assert resumed["extra"]["iteration"] == 30
    for name, weight in straight["model_state"].items():
        numpy.testing.assert_array_equal(resumed["model_state"][name], weight)


def test_the_split_is_by_position_first_ninety_percent_trains():
    tokenizer = lm.TOKENIZERS["char"].from_text("abcdefghij" * 10)
    train, val = lm.split_tokens("abcdefghij" * 10, tokenizer, block_size=4, path="t.txt")
    assert len(train) == 90 and len(val) == 10
    assert tokenizer.decode(val.tolist()) == "abcdefghij"


def test_an_empty_file_is_a_data_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(DataError, match="empty"):
        lm.train(empty, tmp_path / "run", progress=False, **TINY)


def test_a_text_shorter_than_a_block_is_a_data_error(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be: that is the question.")
    with pytest.raises(DataError, match="too short for a block of 64") as caught:
        lm.train(short, tmp_path / "run", progress=False)
    # the library names the Python argument; the command line alone says --block-size
    assert "(block_size=64 now)" in str(caught.value) and "--" not in str(caught.value)


def test_presets_and_overrides_give_the_documented_settings():
    model, recipe = lm.configs("baby")
    assert (model.n_layer, model.n_head, model.n_embd, model.block_size, model.dropout) == \
        (4, 4, 128, 64, 0.0)
    assert (recipe.batch_size, recipe.max_iters, recipe.learning_rate, recipe.lr_decay_iters,
            recipe.min_lr, recipe.warmup_iters) == (12, 2000, 1e-3, 2000, 1e-4, 100)
    _, shorter = lm.configs("baby", max_iters=400)
    assert (shorter.lr_decay_iters, shorter.warmup_iters) == (400, 20)
    with pytest.raises(TypeError, match="unknown settings: n_layers"):
        lm.configs("baby", n_layers=3)


def test_a_warm_up_that_does_not_end_before_the_decay_is_refused_in_the_recipes_words():
    with pytest.raises(ValueError, match=r"warmup_iters=60 must be at least 0 and below "
                                         r"max_iters=50: the warm-up ends before the decay"):
        lm.configs("baby", max_iters=50, warmup_iters=60)
    with pytest.raises(ValueError, match=r"warmup_iters=40 .* below lr_decay_iters=40"):
        lm.configs("baby", max_iters=50, lr_decay_iters=40, warmup_iters=40)
    assert lm.configs("baby", max_iters=50, warmup_iters=49)[1].warmup_iters == 49


def test_a_min_lr_above_the_learning_rate_is_refused():
    with pytest.raises(ValueError, match=r"TrainConfig: min_lr=0\.01 is above "
                                         r"learning_rate=0\.001"):
        lm.configs("baby", learning_rate=1e-3, min_lr=1e-2)
    assert lm.configs("baby", learning_rate=1e-3, min_lr=1e-3)[1].min_lr == 1e-3  # flat: allowed


def test_a_vocab_size_other_than_the_tokenizers_is_refused_not_ignored(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(make_text(), encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab_size=1000: the vocabulary is the tokenizer's, "
                                         r"256 for this text with tokenizer='byte'"):
        lm.train(text, tmp_path / "run", max_iters=1, progress=False, tokenizer="byte",
                 vocab_size=1000, **TINY)
    assert not (tmp_path / "run").exists()
    metrics = lm.train(text, tmp_path / "run", max_iters=1, progress=False, tokenizer="byte",
                       vocab_size=256, **TINY)  # the tokenizer's own: no change
    assert math.isfinite(metrics["val_loss"])


def test_the_byte_tokenizer_trains_on_any_text_and_generates(tmp_path):
    text = tmp_path / "unicode.txt"
    text.write_text("naïve café, señor! ☃ " * 40, encoding="utf-8")
    run = tmp_path / "run"
    metrics = lm.train(text, run, max_iters=5, progress=False, tokenizer="byte", **TINY)
    assert metrics["parameters"] > 0 and math.isfinite(metrics["val_loss"])
    completed = lm.generate(run, "Zürich ☃", max_new_tokens=12, seed=0)  # unseen characters too
    assert completed.startswith("Zürich ☃")


def test_a_resumed_run_keeps_the_evaluations_made_before_it_stopped(text_file, tmp_path):
    # eval_interval 25: the uninterrupted run evaluates at steps 0, 25 and 50; the first part
    # stops at 25 without evaluating there (its last step is 24), so the resumed run must
    settings = dict(TINY, lr_decay_iters=60, warmup_iters=3, progress=False)
    straight = lm.train(text_file, tmp_path / "straight", max_iters=60, **settings)
    lm.train(text_file, tmp_path / "halves", max_iters=25, **settings)
    resumed = lm.train(text_file, tmp_path / "halves", resume=True, max_iters=60, progress=False)
    assert [entry["step"] for entry in straight["history"]] == [0, 25, 50]
    assert resumed["history"] == straight["history"]
    saved = json.loads((tmp_path / "halves" / "metrics.json").read_text())
    assert saved["history"] == straight["history"]
    checkpoint = load_checkpoint(tmp_path / "halves", restore_rng=False)
    assert checkpoint["extra"]["history"] == straight["history"]


def test_resume_takes_the_runs_own_settings_again_and_names_a_changed_one(text_file, tmp_path):
    settings = dict(TINY, progress=False)
    lm.train(text_file, tmp_path / "run", max_iters=20, **settings)
    # the first command repeated with a larger max_iters: nothing changes but the length
    assert lm.train(text_file, tmp_path / "run", resume=True, max_iters=30,
                    **settings)["iterations"] == 30
    with pytest.raises(ValueError, match=r"only max_iters may change, not n_embd=16 \(saved: "
                                         r"32\)$"):
        lm.train(text_file, tmp_path / "run", resume=True, max_iters=40,
                 **dict(settings, n_embd=16))


def test_resume_refuses_another_preset_and_takes_the_runs_own(text_file, tmp_path):
    settings = dict(TINY, progress=False)
    lm.train(text_file, tmp_path / "run", preset="small", max_iters=10, **settings)
    with pytest.raises(ValueError, match=r"only max_iters may change, not preset='baby' "
                                         r"\(saved: 'small'\)$"):
        lm.train(text_file, tmp_path / "run", resume=True, preset="baby", max_iters=20,
                 progress=False)
    assert lm.train(text_file, tmp_path / "run", resume=True, preset="small", max_iters=20,
                    progress=False)["iterations"] == 20


def test_resume_refuses_a_max_iters_below_the_step_the_run_reached(text_file, tmp_path):
    lm.train(text_file, tmp_path / "run", max_iters=30, **dict(TINY, progress=False))
    before = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()}
    with pytest.raises(ValueError, match=r"reached step 30; max_iters=10 would end before it "
                                         r".*: give max_iters=30 or more"):
        lm.train(text_file, tmp_path / "run", resume=True, max_iters=10, progress=False)
    assert {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()} == before


def test_a_run_saved_with_settings_now_refused_says_it_cannot_be_resumed(text_file, tmp_path,
                                                                         monkeypatch):
    # a run saved before min_lr above the rate was refused: resuming it asked for another
    # min_lr, which resume then refused as a change of the run's settings
    checks = lm.TrainConfig.__post_init__
    monkeypatch.setattr(lm.TrainConfig, "__post_init__", lambda config: None)  # those days
    lm.train(text_file, tmp_path / "run", max_iters=10,
             **dict(TINY, learning_rate=1e-4, min_lr=1e-3, progress=False))
    monkeypatch.setattr(lm.TrainConfig, "__post_init__", checks)
    with pytest.raises(ValueError, match=r"cannot be resumed: it was saved with settings now "
                                         r"refused \(TrainConfig: min_lr=0\.001 is above .*\); "
                                         r"train it anew with overwrite=True"):
        lm.train(text_file, tmp_path / "run", resume=True, max_iters=20, progress=False)
