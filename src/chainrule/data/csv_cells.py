"""Reading a CSV file, cell by cell: the rows with their line numbers, which cells are missing,
and the cells as numbers, refused with the file, line and column when they are no finite float32.

Line numbers count the header as line 1, so they match what an editor shows.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import re

import numpy

from ..errors import DataError

# Cells that mean "no value", compared after stripping spaces and lower-casing: those pandas reads
# as missing (Excel's #N/A among them), but "None", a category in some data sets (Ames housing's
# masonry veneer type), and "?" (the UCI repository's)
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "-nan", "null", "<na>", "#na", "#n/a",
                            "#n/a n/a", "1.#ind", "-1.#ind", "1.#qnan", "-1.#qnan", "?"})
# The words pandas reads as booleans (True/TRUE/true, False/FALSE/false; here in any case), each
# with the one spelling that a column or target of them keeps as its category or class
BOOLEAN_WORDS = {"false": "False", "true": "True"}
# The first bytes of files often given for text that are none, and what each is.
NOT_TEXT = {
    b"\x1f\x8b": "a gzip-compressed file, not text; decompress it first (gunzip)",
    b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook is one), not text; extract it, or "
                   "save the sheet as CSV UTF-8",
    b"\xff\xfe": "UTF-16 text (it starts with UTF-16's byte order mark), not UTF-8; save the "
                 "file as UTF-8",
    b"\xfe\xff": "UTF-16 text (it starts with UTF-16's byte order mark), not UTF-8; save the "
                 "file as UTF-8",
}
# Features and targets are float32: a cell beyond its range would become ±inf, then NaN.
FLOAT32_MAX = float(numpy.finfo(numpy.float32).max)
# A number as a spreadsheet or a web page displays it: thousands separated ("1,234", "1 234",
# "1.234,5", "1_000"), with a decimal comma ("3,5"), a currency or percent sign ("$12", "15%"),
# or a typographic minus sign ("−3", U+2212). float() refuses it (or reads "1_000" as Python
# would: see to_numbers), and it is no text category either. (A plain number matches too, but
# is only ever tested here when float() refused it.)
TYPOGRAPHIC_MINUS = "\u2212"
FORMATTED_NUMBER = re.compile(r"[+\-\u2212]?[$€£¥]?"  # sign, currency
                              r"(\d{1,3}([,. '_\u00a0\u202f])\d{3}(\2\d{3})*([.,]\d+)?"
                              r"|\d+,\d+|\d*\.?\d+)"  # thousands separated, decimal comma, plain
                              r" ?[%€]?")


def read_csv(path: str, delimiter: str = ",") -> tuple[list[str], list[list[str]], list[int],
                                                      str]:
    """The header, the rows (cells stripped of surrounding spaces), each row's line number, and
    the SHA-256 of the file's bytes (what ``sha256sum`` prints), of the very bytes read: a run
    keeps it to tell later whether the file has changed."""
    rows, lines = [], []
    start_line = 1
    with open(path, "rb") as file:
        raw = file.read()
    sha256 = hashlib.sha256(raw).hexdigest()
    text = utf8_text(path, raw)
    excel_hint = re.match(r"sep=(.)\r?$", text.partition("\n")[0], re.IGNORECASE)
    if excel_hint:  # read as a header of one or two columns, it made every row ragged
        raise DataError(f"{path}, line 1: {excel_hint[0].rstrip()!r} is Excel's note of the "
                        "separator, not a header row; delete that line (and give "
                        f"delimiter={excel_hint[1]!r})")
    try:
        # strict: a quote never closed, or text after a closing quote ("0"x), is an error rather
        # than cells silently run together
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        header = next(reader, None)
        while header is not None and _blank(header):  # blank lines before the header
            header = next(reader, None)
        while True:
            start_line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not _blank(row):  # skip it, as pandas and numpy do
                rows.append([cell.strip() for cell in row])
                lines.append(start_line)
    except csv.Error as error:
        unclosed = "end of data" in str(error)
        hint = "; a quote opened in this row is never closed"
        raise DataError(f"{path}, line {start_line}: not readable as CSV: "
                        f"{error}{hint * unclosed}") from None
    if header is None:
        raise DataError(f"{path}: the file is empty; a CSV needs a header row and data rows")
    header = [name.strip() or f"column_{j + 1}" for j, name in enumerate(header)]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}, line 1: the header repeats column name(s) "
                        f"{', '.join(map(repr, duplicates))}; each column needs its own name")
    if not rows:
        raise DataError(f"{path}: the file has a header but no data rows")
    # a first line of numbers is no header: a copy of it is a duplicate row, and the target's
    # lookup says what is wrong (the columns are numbers)
    named = any(math.isnan(number_or_nan(name)) for name in header)
    for row, line in zip(rows, lines):
        if row == header and named:  # files joined with `cat`: the header would be read as data
            raise DataError(f"{path}, line {line}: the header (line 1) again; a CSV has one "
                            "header row, so remove this one (if line 1 is data, the file has "
                            "no header row: add one)")
        if len(row) != len(header):
            fields = f"{len(row)} field{'s' * (len(row) != 1)}"
            raise DataError(f"{path}, line {line}: {fields}, but the header (line 1) has "
                            f"{len(header)} columns")
    return header, rows, lines, sha256


def _blank(row: list[str]) -> bool:
    """csv's row for a blank line: [], or [" "] for a line of spaces, which an editor shows as
    blank too; [""] is a line '""', one empty cell (a missing value in a file of one column)."""
    return not row or (len(row) == 1 and row[0] != "" and not row[0].strip())


def utf8_text(path: str, raw: bytes) -> str:
    """``raw`` decoded as UTF-8 (a byte order mark dropped), or a DataError naming what the file
    is instead, or the line of the first byte that is not UTF-8 or is NUL (valid UTF-8, but no
    text holds it: it is binary data, or UTF-16 text without its byte order mark)."""
    for magic, what in NOT_TEXT.items():
        if raw.startswith(magic):
            raise DataError(f"{path}: {what}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                        f"offset {error.start}); save the file as UTF-8") from None
    if "\x00" in text:
        offset = raw.index(b"\x00")
        line = raw[:offset].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: a NUL byte (offset {offset}), which no text holds: "
                        "binary data, or UTF-16 text; save the file as UTF-8 text")
    return text.removeprefix("\ufeff")


def missing_mask(cells: list[str]) -> numpy.ndarray:
    """True where a cell means "no value" (MISSING_TOKENS)."""
    return numpy.fromiter((cell.lower() in MISSING_TOKENS for cell in cells), dtype=bool,
                          count=len(cells))


def to_numbers(cells: list[str], missing: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    """float64 values (NaN where missing or bad) and a mask of present cells that are no number."""
    text = ["nan" if gone else cell for cell, gone in zip(cells, missing)]
    try:
        values = numpy.array(text, dtype=numpy.float64)  # one C loop when every cell parses
    except ValueError:  # (number_or_nan refuses an underscore itself)
        values = numpy.array([number_or_nan(cell) for cell in text], dtype=numpy.float64)
    else:
        # NumPy reads "1_000" as float() does, a Python literal, but in a CSV an underscore
        # makes a code ("2021_03"), not the number 202103; the cells are looked at one by one
        # only when the column has one
        if "_" in "".join(text):
            values[numpy.fromiter(("_" in cell for cell in text), dtype=bool,
                                  count=len(text))] = numpy.nan
    # Infinity parses as a float but is no usable feature or target; nor is a number that
    # float32 cannot hold.
    with numpy.errstate(invalid="ignore"):
        bad = ~missing & ~(numpy.abs(values) <= FLOAT32_MAX)
    return values, bad


def number_or_nan(cell: str):
    """The cell as an int if it is a whole number (a class label 3, not 3.0), else a float; NaN
    if it is no number."""
    if "_" in cell:  # float() reads "1_000", a Python literal, not how a CSV writes numbers
        return numpy.nan
    try:
        value = float(cell)
    except ValueError:
        return numpy.nan
    return int(value) if value.is_integer() else value


def boolean_words(cells: list[str]) -> numpy.ndarray:
    """True where a cell is a boolean word (BOOLEAN_WORDS), in any case."""
    return numpy.fromiter((cell.lower() in BOOLEAN_WORDS for cell in cells), dtype=bool,
                          count=len(cells))


def boolean_spelling(cells: list[str]) -> list[str]:
    """The cells with each boolean word spelt False or True, the others as they are."""
    return [BOOLEAN_WORDS.get(cell.lower(), cell) for cell in cells]


def of_booleans(values: list) -> bool:
    """Whether a column's categories (or a target's classes) are booleans, so that its cells are
    read in any case."""
    return set(values) <= set(BOOLEAN_WORDS.values())


def all_formatted_numbers(cells: list[str], words: numpy.ndarray) -> bool:
    """True if there are cells marked ``words`` and each is a FORMATTED_NUMBER."""
    chosen = [cell for cell, word in zip(cells, words) if word]
    return bool(chosen) and all(FORMATTED_NUMBER.fullmatch(cell) for cell in chosen)


def refuse_non_numbers(path: str, column: str, cells: list[str], bad: numpy.ndarray,
                        lines: numpy.ndarray, numbers: int | None = None) -> None:
    """Raise a DataError naming the first cell marked ``bad``, its line and column, and how many
    more there are; return if none is."""
    if not bad.any():
        return
    first = int(numpy.argmax(bad))
    count = int(bad.sum())
    others = f" ({count} such cells)" if count > 1 else ""
    are = "cell is a number" if numbers == 1 else "cells are numbers"
    context = f"; the column is numeric ({numbers} {are})" if numbers else ""
    if math.isfinite(number_or_nan(cells[first])):  # a number, yet bad: beyond float32
        problem = f"is too large for float32 (at most ±{FLOAT32_MAX:.4g}); rescale the column"
    elif TYPOGRAPHIC_MINUS in cells[first]:
        problem = ("is written with a typographic minus sign '−' (U+2212, as web pages show "
                   "negative numbers); write the column's numbers with '-'")
    elif FORMATTED_NUMBER.fullmatch(cells[first]):
        problem = ("is a number written with a thousands separator or a decimal comma, or with "
                   "a currency or percent sign; write the column's numbers plainly, as 1234.5 "
                   "(and 15% as 0.15)")
    else:
        problem = "is not a finite number"
    raise DataError(f"{path}, line {lines[first]}, column {column!r}: {cells[first]!r} "
                    f"{problem}{others}{context}")


def listing(values: list, limit: int = 10) -> str:
    """``'a', 'b', … (12 in all)``: the first ``limit`` values for a message."""
    shown = ", ".join(repr(value) for value in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")
