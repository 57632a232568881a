"""chainrule.progress: one display for fit, lm train and rl train."""
import io
import re
import time

import numpy

from chainrule import nn, optim, training
from chainrule.nn import functional as F
from chainrule.progress import REFRESH_SECONDS, Progress, line


class Terminal(io.StringIO):
    def isatty(self):
        return True


def counting(calls: list):
    """A ``numbers`` function that records each time it is read."""
    def numbers():
        calls.append(len(calls) + 1)
        return f"loss {calls[-1]:.4f}"
    return numbers


def test_a_line_aligns_the_count_to_the_total():
    assert line("epoch", 3, 20, "loss 0.1") == "epoch  3/20  loss 0.1"
    assert line("step", 250, 2000, "x") == "step  250/2000  x"


def test_in_a_pipe_the_first_step_and_every_nth_print_and_only_they_read_the_numbers():
    stream, calls = io.StringIO(), []
    progress = Progress(10, every=4, stream=stream)
    for _ in range(10):
        progress.update(counting(calls))
    progress.close("done")
    assert stream.getvalue().splitlines() == ["step  1/10  loss 1.0000", "step  4/10  loss 2.0000",
                                              "step  8/10  loss 3.0000", "done"]
    assert len(calls) == 3


def test_a_resumed_run_counts_on_from_where_it_stopped():
    stream = io.StringIO()
    progress = Progress(100, unit="episode", start=40, every=5, stream=stream)
    for _ in range(5):
        progress.update(lambda: "return 9.0")
    assert stream.getvalue() == "episode  45/100  return 9.0\n"


def test_without_every_only_notes_and_the_closing_message_print():
    stream = io.StringIO()
    progress = Progress(3, stream=stream)
    for _ in range(3):
        progress.update(lambda: "never read")
    progress.note("a note")
    progress.close("the summary")
    assert stream.getvalue() == "a note\nthe summary\n"


def test_disabled_progress_prints_nothing_and_reads_nothing():
    stream, calls = io.StringIO(), []
    progress = Progress(5, every=1, enabled=False, stream=Terminal())
    for _ in range(5):
        progress.update(counting(calls))
    progress.note("quiet")
    progress.close("quiet")
    assert progress.bar is None and progress.counter(3, "x") is None
    assert stream.getvalue() == "" and calls == []


def test_on_a_terminal_a_bar_counts_and_reads_the_numbers_at_most_five_times_a_second():
    stream, calls = Terminal(), []
    progress = Progress(1000, description="epoch 1/2", stream=stream)
    bar = progress.bar
    began = time.perf_counter()
    for _ in range(1000):
        progress.update(counting(calls))
    elapsed = time.perf_counter() - began
    assert (bar.n, bar.total, bar.desc) == (1000, 1000, "epoch 1/2")
    assert 1 <= len(calls) <= 1 + elapsed / REFRESH_SECONDS  # not once per step
    assert f"loss {len(calls)}.0000" in bar.postfix
    progress.note("a line above the bar")
    progress.close("the summary")
    assert progress.bar is None
    assert "a line above the bar\n" in stream.getvalue() and "the summary\n" in stream.getvalue()


def test_fit_on_a_terminal_shows_a_bar_per_epoch_and_keeps_one_line_per_epoch():
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(numpy.float32)
    y = X @ numpy.ones((3, 1), dtype=numpy.float32)
    model = nn.Linear(3, 1)
    stream = Terminal()
    training.fit(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
                 batch_size=16, stream=stream)
    pieces = re.split(r"[\r\n]", stream.getvalue())
    bars = {piece.split(":")[0] for piece in pieces if re.match(r"epoch \d/2: ", piece)}
    records = [piece for piece in pieces if re.match(r"epoch \d/2  loss \d+\.\d{4}  ", piece)]
    assert bars == {"epoch 1/2", "epoch 2/2"}
    assert [record.split("  ")[0] for record in records] == ["epoch 1/2", "epoch 2/2"]


class Clock:
    """time.monotonic for chainrule.progress, moved by hand: a test of minutes that takes none."""
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


def test_in_a_pipe_a_line_comes_after_a_step_that_ends_a_quiet_minute(monkeypatch):
    from chainrule import progress as progress_module

    clock = Clock()
    monkeypatch.setattr(progress_module, "time", clock)
    stream, calls = io.StringIO(), []
    progress = Progress(10, description="epoch 3/20", stream=stream)  # fit's: no every
    for _ in range(10):
        clock.now += 25  # a slow step: a line after the 3rd, 6th and 9th (75 s without one)
        progress.update(counting(calls))
    progress.close("epoch  3/20  loss 0.5")
    assert stream.getvalue().splitlines() == [
        "epoch 3/20  step  3/10  loss 1.0000", "epoch 3/20  step  6/10  loss 2.0000",
        "epoch 3/20  step  9/10  loss 3.0000", "epoch  3/20  loss 0.5"]
    assert len(calls) == 3


def test_the_quiet_minute_counts_from_the_last_line_of_any_kind(monkeypatch):
    from chainrule import progress as progress_module

    clock = Clock()
    monkeypatch.setattr(progress_module, "time", clock)
    stream = io.StringIO()
    progress = Progress(100, unit="episode", every=50, stream=stream)
    clock.now += 59
    progress.update(lambda: "return 1.0")   # episode 1: its own line
    clock.now += 59
    progress.note("a note")                 # a line too: the minute starts again
    clock.now += 59
    progress.update(lambda: "return 2.0")   # 59 s since the note: nothing
    clock.now += 1
    progress.update(lambda: "return 3.0")   # a minute since the note
    assert stream.getvalue().splitlines() == ["episode   1/100  return 1.0", "a note",
                                              "episode   3/100  return 3.0"]
