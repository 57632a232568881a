"""Tokenizers: text to the integer ids a language model reads, and back.

- ``CharTokenizer``: one id per distinct character of the training text (65 for Tiny
  Shakespeare). Small and readable; a character it never saw cannot be encoded.
- ``ByteTokenizer``: the 256 byte values of the text's UTF-8 encoding. Any text at all, at the
  price of several ids for a non-ASCII character.

Both save themselves as a small JSON-able dict, kept with the model's checkpoint so that
generation uses exactly the vocabulary the model was trained with.
"""
from __future__ import annotations

import codecs
from typing import Callable, Iterable

from ..errors import DataError

__all__ = ["CharTokenizer", "ByteTokenizer", "tokenizer_from_dict", "TOKENIZERS"]


class CharTokenizer:
    """Characters ↔ ids, the vocabulary being the sorted distinct characters of a text."""

    kind = "char"

    def __init__(self, chars: Iterable[str]):
        self.chars = "".join(chars)
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharTokenizer: the vocabulary lists a character twice")
        self.ids = {char: index for index, char in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str, what: str = "the text") -> list[int]:
        """The ids of ``text``; an unknown character is a ``DataError`` that names it and where
        it is (``what`` says which text, e.g. "the prompt")."""
        try:
            return [self.ids[char] for char in text]
        except KeyError as missing:
            char = missing.args[0]
            position = text.index(char)
            line = text.count("\n", 0, position) + 1
            column = position - text.rfind("\n", 0, position)  # 1-based, as an editor counts
            raise DataError(f"{what} contains {char!r} (U+{ord(char):04X}) at position "
                            f"{position} (line {line}, column {column}), a character the model "
                            f"never saw in training; its vocabulary is the {self.vocab_size} "
                            f"characters {self.chars!r}") from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def stream_decoder(self) -> Callable[[int | None], str]:
        """A function from one id to its text, for printing tokens as they are generated
        (``None``, the end of the stream, has none)."""
        return lambda token: "" if token is None else self.chars[token]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "chars": self.chars}


class ByteTokenizer:
    """UTF-8 bytes as ids 0–255: every text can be encoded, nothing is unknown."""

    kind = "byte"
    vocab_size = 256

    def encode(self, text: str, what: str = "the text") -> list[int]:
        try:
            return list(text.encode("utf-8"))
        except UnicodeEncodeError as error:  # a lone surrogate, e.g. from a non-UTF-8 argv
            char = text[error.start]
            raise DataError(f"{what} contains {char!r} (U+{ord(char):04X}) at position "
                            f"{error.start}, which UTF-8 cannot encode (a surrogate, not a "
                            "character: Python's stand-in for a byte that was not UTF-8)") \
                from None

    def decode(self, ids: Iterable[int]) -> str:
        # A model may produce byte sequences that are not UTF-8: show those as U+FFFD.
        return bytes(ids).decode("utf-8", errors="replace")

    def stream_decoder(self) -> Callable[[int | None], str]:
        """One id at a time: a character made of several bytes appears once all have come.
        ``None`` ends the stream: bytes of a character left unfinished become U+FFFD, as
        ``decode`` shows them, so the pieces add up to the decoded text."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return lambda token: decoder.decode(b"" if token is None else bytes([token]),
                                            final=token is None)

    def to_dict(self) -> dict:
        return {"kind": self.kind}


TOKENIZERS = {"char": CharTokenizer, "byte": ByteTokenizer}


def tokenizer_from_dict(values: dict):
    """Rebuild a tokenizer saved with ``to_dict``."""
    kind = values.get("kind")
    if kind == "char":
        return CharTokenizer(values["chars"])
    if kind == "byte":
        return ByteTokenizer()
    raise DataError(f"unknown tokenizer kind {kind!r}; expected one of {', '.join(TOKENIZERS)}")
