"""Generation: seeded, streamed, cropped to the context, and clear about unknown characters."""
import pytest

from chainrule import lm
from chainrule.data.tokenizers import ByteTokenizer, CharTokenizer
from chainrule.errors import DataError

from tiny_lm import TINY


def test_the_same_seed_gives_the_same_text(trained_run):
    run, _ = trained_run
    first = lm.generate(run, "the ", max_new_tokens=40, seed=7)
    again = lm.generate(run, "the ", max_new_tokens=40, seed=7)
    other = lm.generate(run, "the ", max_new_tokens=40, seed=8)
    assert first == again and first != other
    assert first.startswith("the ") and len(first) == 44


def test_text_is_streamed_piece_by_piece_as_it_is_sampled(trained_run):
    run, _ = trained_run
    pieces = []
    text = lm.generate(run, "a dog", max_new_tokens=25, seed=1, on_text=pieces.append)
    assert pieces[0] == "a dog" and len(pieces) == 1 + 25 and "".join(pieces) == text


def test_a_prompt_longer_than_the_context_is_cropped_to_its_end(trained_run):
    run, _ = trained_run  # block_size 8: the model sees the last 8 characters only
    long_prompt = "my lord loves the king.\nthe cat sees a rose.\na dog bites "
    long = lm.generate(run, long_prompt, max_new_tokens=20, seed=3)
    short = lm.generate(run, long_prompt[-8:], max_new_tokens=20, seed=3)
    assert long[len(long_prompt):] == short[8:]


def test_temperature_zero_always_takes_the_likeliest_token(trained_run):
    run, _ = trained_run
    assert lm.generate(run, "the", 15, temperature=0, seed=1) == \
        lm.generate(run, "the", 15, temperature=0, seed=2)


def test_an_unknown_character_in_the_prompt_is_named(trained_run):
    run, _ = trained_run
    with pytest.raises(DataError, match=r"'Z' \(U\+005A\) at position 4.*never saw"):
        lm.generate(run, "the Zebra", max_new_tokens=5, seed=0)


def test_top_k_one_is_greedy(trained_run):
    run, _ = trained_run
    assert lm.generate(run, "a", 12, top_k=1, seed=4) == lm.generate(run, "a", 12, temperature=0)


def test_character_tokenizer_round_trips_and_saves_its_vocabulary():
    tokenizer = CharTokenizer.from_text("hello world")
    assert tokenizer.vocab_size == 8
    assert tokenizer.decode(tokenizer.encode("low row")) == "low row"
    assert CharTokenizer(**{"chars": tokenizer.to_dict()["chars"]}).encode("old") == \
        tokenizer.encode("old")


def test_byte_tokenizer_takes_any_text_and_streams_multibyte_characters_whole():
    tokenizer = ByteTokenizer()
    ids = tokenizer.encode("né ☃")
    assert len(ids) == 7 and tokenizer.decode(ids) == "né ☃"
    stream = tokenizer.stream_decoder()
    assert [stream(i) for i in ids] == ["n", "", "é", " ", "", "", "☃"]


def test_sampling_follows_the_probabilities_and_never_picks_an_impossible_token():
    import numpy

    from chainrule.models.gpt import _sample

    probabilities = numpy.tile([0.0, 0.2, 0.0, 0.8], (20_000, 1))
    chosen = _sample(probabilities, numpy.random.default_rng(0))
    counts = numpy.bincount(chosen, minlength=4) / len(chosen)
    assert counts[0] == counts[2] == 0
    assert abs(counts[1] - 0.2) < 0.01 and abs(counts[3] - 0.8) < 0.01


def test_an_unknown_character_in_a_text_file_is_named_with_its_line_and_column():
    # a run resumed on another file: its characters are checked against the saved vocabulary
    tokenizer = CharTokenizer.from_text("abc\n")
    with pytest.raises(DataError, match=r"more\.txt contains 'Z' \(U\+005A\) at position 10 "
                                        r"\(line 3, column 3\), a character the model never saw"):
        tokenizer.encode("abc\ncba\nabZ\n", what="more.txt")


def test_a_character_cut_short_at_the_end_is_streamed_as_the_returned_text_has_it():
    tokenizer = ByteTokenizer()
    snowman = tokenizer.encode("a☃")  # 'a' and three bytes
    stream = tokenizer.stream_decoder()
    pieces = [stream(i) for i in snowman[:3]] + [stream(None)]  # None: the stream has ended
    assert "".join(pieces) == tokenizer.decode(snowman[:3]) == "a\ufffd"
    assert CharTokenizer.from_text("ab").stream_decoder()(None) == ""


def test_byte_level_generation_streams_exactly_the_text_it_returns(tmp_path):
    text = tmp_path / "unicode.txt"
    text.write_text("naïve café, señor! ☃ 日本語 " * 60, encoding="utf-8")
    lm.train(text, tmp_path / "run", max_iters=3, progress=False, tokenizer="byte", **TINY)
    loaded = lm.load(tmp_path / "run")
    cut_short = 0
    for seed in range(20):  # hot sampling from a barely trained model: many cut characters
        pieces = []
        completed = lm.generate(tmp_path / "run", "é", max_new_tokens=5, temperature=3, seed=seed,
                                on_text=pieces.append, model_and_tokenizer=loaded)
        assert "".join(pieces) == completed
        cut_short += completed.endswith("\ufffd")
    assert cut_short > 0


def test_a_prompt_that_utf8_cannot_encode_is_named_by_the_byte_tokenizer():
    # a byte that is not UTF-8 in a command-line argument reaches Python as a lone surrogate
    with pytest.raises(DataError, match=r"the prompt contains '\\udcff' \(U\+DCFF\) at position "
                                        r"2, which UTF-8 cannot encode"):
        ByteTokenizer().encode("ab\udcffc", what="the prompt")
