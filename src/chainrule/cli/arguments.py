"""What every command's parser shares: one-line errors, honest help, and argument types that
refuse an impossible value while parsing, before any work (or any output) starts."""
from __future__ import annotations

import argparse
import math


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on standard error, with exit status 2 (the
    usage it would print is what ``--help`` shows, and a command's usage runs to many lines).

    A parser with ``dash_words_are_values`` set and only long options (besides -h) reads a word
    that starts with a single ``-`` as a value: ``chainrule explain "-x**2"`` is a formula.
    """
    dash_words_are_values = False

    def _parse_optional(self, arg_string):
        if (self.dash_words_are_values and arg_string.startswith("-")
                and not arg_string.startswith("--") and arg_string not in ("-h", "-")):
            return None  # argparse's own answer for a positional value
        return super()._parse_optional(arg_string)

    def error(self, message: str):
        if self.dash_words_are_values and "required" in message:
            # an option taking several values (--at) also takes the value that follows it
            message += "; give it before the options, or after --"
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except None: an option whose default depends on others says
    so in its own help, and "(default: None)" after that would contradict it; and except a flag
    that stores a constant (``--resume``, ``--no-compile``): the default is the flag left out,
    and "--no-compile ... (default: True)" reads as if it were given."""

    def _get_help_string(self, action):
        if action.default is None or (action.nargs == 0 and action.const is not None):
            return action.help
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    value = _parse(int, text, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _parse(int, text, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def seed(text: str) -> int:
    value = _parse(int, text, "a whole number")
    if value < 0:  # NumPy's generators take non-negative seeds only
        raise argparse.ArgumentTypeError(f"a seed is a whole number ≥ 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got {text}")
    return value


def probability(text: str) -> float:
    value = _parse(float, text, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1), got {text}")
    return value


def top_probability(text: str) -> float:
    value = _parse(float, text, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _parse(kind, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
