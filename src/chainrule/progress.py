"""How far training has got, shown the same way by every trainer (``fit``, ``lm.train``,
``rl.train``).

On a terminal, a tqdm bar; its numbers are refreshed at most five times a second, since reading
a loss waits for the device. In a log or a pipe, where a bar's carriage returns would be noise,
plain lines in one format, the first step's and then one every ``every`` steps:

    step   50/2000  loss 2.1034  lr 9.50e-04  7,742 tokens/s

and, whatever ``every`` says, a line after a step that ends a minute or more without one, so that
a log never goes quiet for longer (an epoch of ``fit`` prints nothing else until it ends):

    epoch 3/20  step 1200/1875  loss 0.1275  10,540 samples/s
"""
from __future__ import annotations

import sys
import time
from typing import Callable

REFRESH_SECONDS = 0.2
QUIET_SECONDS = 60  # the longest a log goes without a line while steps are being taken


def line(unit: str, count: int, total: int, numbers: str) -> str:
    """``epoch  3/20  loss 0.1275``: the count right-aligned to the width of the total."""
    return f"{unit} {count:>{len(str(total))}}/{total}  {numbers}"


class Progress:
    """Counts the steps of one run on ``stream`` (standard error by default).

    ``total`` steps of ``unit`` ("step", "episode"), ``start`` of them done already (a resumed
    run). ``every``: steps between plain lines (None: none; the caller prints its own lines with
    ``note``). ``description`` and ``leave`` are the bar's (``leave=False`` wipes it when closed).
    Nothing is shown unless ``enabled``.
    """

    def __init__(self, total: int, *, unit: str = "step", start: int = 0,
                 every: int | None = None, description: str | None = None, leave: bool = True,
                 enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.unit, self.every, self.enabled = total, unit, every, enabled
        self.description = description
        self._last_line = time.monotonic()
        self.done = start
        self.terminal = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = self._bar(total, start, unit, description, leave) if self.terminal else None
        self._next_refresh = 0.0

    def update(self, numbers: Callable[[], str]) -> None:
        """One more step done. ``numbers()`` gives its numbers as text ("loss 0.1234  lr 1e-3"),
        and is called only when they are shown."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            now = time.perf_counter()
            if now >= self._next_refresh:
                self._next_refresh = now + REFRESH_SECONDS
                self.bar.set_postfix_str(numbers(), refresh=False)
        elif self.enabled:
            if self.every and (self.done % self.every == 0 or self.done == 1):
                self._print(line(self.unit, self.done, self.total, numbers()))
            elif time.monotonic() - self._last_line >= QUIET_SECONDS:
                where = line(self.unit, self.done, self.total, numbers())
                self._print(f"{self.description}  {where}" if self.description else where)

    def note(self, message: str) -> None:
        """A line of its own, above the bar on a terminal."""
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        elif self.enabled:
            self._print(message)

    def counter(self, total: int, what: str):
        """A bar for work that is not a step (a final evaluation) on a terminal; None elsewhere,
        where the line announcing the work is the progress shown."""
        return self._bar(total, 0, "batch", what, leave=False) if self.terminal else None

    def close(self, message: str | None = None) -> None:
        """Close the bar, then show ``message`` (a summary of what the bar counted) if given."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if message is not None:
            self.note(message)

    def _bar(self, total: int, start: int, unit: str, description: str | None, leave: bool):
        from .extras import require

        require("train", "tqdm", purpose="the progress bar")
        from tqdm import tqdm

        return tqdm(total=total, initial=start, desc=description, unit=unit, file=self.stream,
                    leave=leave, dynamic_ncols=True)

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        self._last_line = time.monotonic()
