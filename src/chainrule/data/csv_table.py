"""CSV files as tables: numeric columns as they are, text columns one-hot, a named target.

``load_csv`` learns the encoding from the training file (which columns are numbers, the
categories of each text column, the classes, the fill values for missing cells) and keeps it in a
``TableEncoder``. The encoder saves as JSON and encodes a later file (to evaluate or predict)
into exactly the same features, or says which file, line and column does not fit.

Line numbers in messages count the header as line 1, so they match what an editor shows.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

import numpy

from ..errors import DataError
from .csv_cells import all_formatted_numbers, boolean_spelling, boolean_words, listing, \
    missing_mask, number_or_nan, of_booleans, read_csv, refuse_non_numbers, to_numbers
from .table import Table

MISSING_POLICIES = ("error", "drop", "mean")
# An integer-valued numeric target with at most this many distinct values is taken as classes.
MAX_CLASSES_GUESSED = 20


class MissingValuesError(DataError):
    """Missing cells under ``missing="error"``. ``problem`` says where they are, without the
    remedy, so that a command line can name its own flags."""

    def __init__(self, problem: str):
        super().__init__(f'{problem}; pass missing="drop" to leave those rows out, or '
                         'missing="mean" to fill them with the column mean (the most frequent '
                         'value for a text column)')
        self.problem = problem


@dataclass
class Column:
    """How one feature column becomes features: ``numeric`` (one) or ``categorical`` (one-hot)."""
    name: str
    kind: str
    categories: list | None = None
    fill: float | str | None = None  # the value for a missing cell under missing="mean"

    def feature_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={category}" for category in self.categories]


class TableEncoder:
    """The encoding of a training CSV, re-applied to later files with the same columns."""

    def __init__(self, columns: list[Column], target: str, task: str, classes: list | None,
                 missing: str = "error", delimiter: str = ","):
        self.columns = columns
        self.target = target
        self.task = task
        self.classes = classes
        self.missing = missing
        self.delimiter = delimiter

    @property
    def feature_names(self) -> list[str]:
        return [name for column in self.columns for name in column.feature_names()]

    # ------------------------------------------------------------ saving
    def to_json(self) -> dict:
        return {"format": "chainrule.TableEncoder", "version": 1, "target": self.target,
                "task": self.task, "classes": self.classes, "missing": self.missing,
                "delimiter": self.delimiter,
                "columns": [{"name": c.name, "kind": c.kind, "categories": c.categories,
                             "fill": c.fill} for c in self.columns]}

    @classmethod
    def from_json(cls, config: dict) -> "TableEncoder":
        if config.get("format") != "chainrule.TableEncoder":
            raise DataError("TableEncoder.from_json: not a saved TableEncoder (no "
                            "'format': 'chainrule.TableEncoder' entry)")
        columns = [Column(c["name"], c["kind"], c.get("categories"), c.get("fill"))
                   for c in config["columns"]]
        return cls(columns, config["target"], config["task"], config.get("classes"),
                   config.get("missing", "error"), config.get("delimiter", ","))

    # ------------------------------------------------------------ encoding
    def encode_csv(self, path, with_target: bool | None = None, missing: str | None = None,
                   name: str = "") -> Table:
        """Encode another CSV with the training file's columns (in any order).

        with_target: None encodes the target when the file has that column, True requires it
            (evaluate), False ignores it (predict). missing: the policy, by default the training
            one; under "mean" missing cells get the training file's fill values.
        """
        missing = self.missing if missing is None else missing
        _check_policy(missing)
        path = os.fspath(path)
        header, rows, lines, sha256 = read_csv(path, self.delimiter)
        self._check_columns(path, header, with_target)
        cells = {name: [row[j] for row in rows] for j, name in enumerate(header)}
        masks = {name: missing_mask(column_cells) for name, column_cells in cells.items()}
        return self._encode(path, cells, masks, numpy.asarray(lines, dtype=numpy.int64),
                            use_target=self.target in header and with_target is not False,
                            missing=missing, name=name or os.path.basename(path), sha256=sha256)

    def _encode(self, path: str, cells: dict, masks: dict, lines: numpy.ndarray,
                use_target: bool, missing: str, name: str, sha256: str) -> Table:
        """Features (and targets) from the cells of each column and their missing-cell masks."""
        missing_masks = {c.name: masks[c.name] for c in self.columns}
        if use_target:
            missing_masks[self.target] = masks[self.target]
        keep = _rows_to_keep(path, missing_masks, lines, missing, self.target)

        X = numpy.zeros((int(keep.sum()), len(self.feature_names)), dtype=numpy.float32)
        offset = 0
        for column in self.columns:
            values = [cell for cell, kept in zip(cells[column.name], keep) if kept]
            X[:, offset:offset + len(column.feature_names())] = _encode_column(
                path, column, values, missing_masks[column.name][keep], lines[keep], missing)
            offset += len(column.feature_names())
        y = None
        if use_target:
            values = [cell for cell, kept in zip(cells[self.target], keep) if kept]
            y = self._encode_target(path, values, lines[keep])
        return Table(X, y, self.feature_names, self.target, self.task, self.classes,
                     name=name, encoder=self, lines=lines[keep], sha256=sha256)

    def _check_columns(self, path: str, header: list[str], with_target: bool | None) -> None:
        expected = [column.name for column in self.columns]
        absent = [name for name in expected if name not in header]
        extra = [name for name in header if name not in expected and name != self.target]
        if absent or extra:
            parts = []
            if absent:
                parts.append("missing " + ", ".join(map(repr, absent)))
            if extra:
                parts.append("unexpected " + ", ".join(map(repr, extra)))
            separator = _other_separator(header, self.delimiter)
            hint = (f"; the header is a single column: are the cells separated by "
                    f"{separator!r} rather than {self.delimiter!r}, the training file's "
                    "separator?" if separator else "")
            raise DataError(f"{path}: the columns differ from the training data's: "
                            f"{'; '.join(parts)} (the model was trained on: "
                            f"{', '.join(expected)}; target {self.target!r}){hint}")
        if with_target and self.target not in header:
            raise DataError(f"{path}: no target column {self.target!r} to evaluate against; the "
                            f"columns are: {', '.join(header)}")

    def _encode_target(self, path: str, cells: list[str], lines: numpy.ndarray) -> numpy.ndarray:
        if self.task == "regression":
            values, bad = to_numbers(cells, missing_mask(cells))
            refuse_non_numbers(path, self.target, cells, bad, lines)
            return values.astype(numpy.float32)
        numeric_labels = all(isinstance(label, (int, float)) for label in self.classes)
        if not numeric_labels and of_booleans(self.classes):
            cells = boolean_spelling(cells)
        index = {label: i for i, label in enumerate(self.classes)}
        y = numpy.empty(len(cells), dtype=numpy.int64)
        for row, cell in enumerate(cells):
            label = number_or_nan(cell) if numeric_labels else cell
            if label not in index:
                raise DataError(f"{path}, line {lines[row]}, column {self.target!r}: label "
                                f"{cell!r} was never seen in training; the model knows "
                                f"{len(self.classes)} classes: {listing(self.classes)}")
            y[row] = index[label]
        return y

    def __repr__(self) -> str:
        return (f"TableEncoder({len(self.columns)} columns -> {len(self.feature_names)} "
                f"features, target {self.target!r}, {self.task})")


def _other_separator(header: list[str], delimiter: str) -> str | None:
    """The mark that seems to separate the cells of a header read as one column, if any."""
    if len(header) != 1:
        return None
    return next((mark for mark in (",", ";", "\t", "|")
                 if mark != delimiter and mark in header[0]), None)


def load_csv(path, target: str, missing: str = "error", task: str | None = None,
             delimiter: str = ",", max_categories: int = 100) -> Table:
    """Load a CSV with a header row as a Table, learning a ``TableEncoder`` (``table.encoder``).

    Feature columns whose cells are mostly numbers are numeric (a cell that is not a number is an
    error naming its line); other columns are text, one-hot encoded over their sorted values
    (``"column=value"`` features; more than ``max_categories`` values is refused as an
    identifier); boolean words (True, false, TRUE...) are one category each, ``"False"`` or
    ``"True"``, in any case, in a feature column and in the target (a number among them is an
    error naming its line). Missing cells (those pandas reads as missing: "", NA, N/A, Excel's
    #N/A, NaN, null...; not None; and "?") are refused (``missing="error"``), their rows left
    out (``"drop"``), or filled with the column's mean, or its most frequent value for text
    (``"mean"``); a row whose target is missing is always left out by ``"drop"`` and
    ``"mean"``. The fills are computed over the whole file.

    task: "classification" or "regression"; by default a text target, or an integer one with at
    most 20 distinct values (and at most half as many as rows), means classification, and any
    other numeric target regression; a target that mixes numbers and words is refused, naming
    the first cell of the rarer kind, unless "classification" takes every value as a label.
    """
    _check_policy(missing)
    if task not in (None, "classification", "regression"):
        raise ValueError(f"load_csv: task must be 'classification' or 'regression', not {task!r}")
    path = os.fspath(path)
    header, rows, lines, sha256 = read_csv(path, delimiter)
    if target not in header:
        close = difflib.get_close_matches(target, header, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        separator = _other_separator(header, delimiter)
        if separator:
            hint = (f"; the header is a single column: are the cells separated by "
                    f"{separator!r} rather than {delimiter!r}? Then give "
                    f"delimiter={separator!r}")
        raise DataError(f"{path}: no column named {target!r} (the target); the columns are: "
                        f"{', '.join(header)}{hint}")
    cells = {name: [row[j] for row in rows] for j, name in enumerate(header)}
    masks = {name: missing_mask(column_cells) for name, column_cells in cells.items()}
    line_numbers = numpy.asarray(lines, dtype=numpy.int64)
    columns = [_infer_column(path, name, cells[name], masks[name], line_numbers, max_categories)
               for name in header if name != target]
    if not columns:
        raise DataError(f"{path}: the target {target!r} is the only column, so there is nothing "
                        "to predict it from; a CSV to learn from needs feature columns too")

    keep = _rows_to_keep(path, masks, line_numbers, missing, target)
    target_cells = [cell for cell, kept in zip(cells[target], keep) if kept]
    task, classes = _infer_target(path, target, target_cells, line_numbers[keep], task)
    for column in columns:  # learnt under every policy, so that predict may still fill
        _learn_fill(path, column, cells[column.name], masks[column.name],
                    required=missing == "mean")

    encoder = TableEncoder(columns, target, task, classes, missing, delimiter)
    return encoder._encode(path, cells, masks, line_numbers, use_target=True, missing=missing,
                           name=os.path.basename(path), sha256=sha256)


# ---------------------------------------------------------------- learning the encoding
def _infer_column(path: str, name: str, cells: list[str], missing: numpy.ndarray,
                  lines: numpy.ndarray, max_categories: int) -> Column:
    present = ~missing
    values, bad = to_numbers(cells, missing)
    numbers = int((present & ~bad).sum())
    words = bad & numpy.isnan(values)  # inf, or a number too large for float32, is a number
    if words.sum() == 0 or numbers > words.sum():
        # Mostly numbers: a stray word is a typo to report, not a reason to one-hot the column.
        refuse_non_numbers(path, name, cells, bad, lines, numbers)
        return Column(name, "numeric")
    if all_formatted_numbers(cells, words):  # "1,234": one-hot would hide the numbers
        refuse_non_numbers(path, name, cells, words, lines)
    if (boolean_words(cells) == words).all():  # True and false: two values, not two spellings
        _refuse_numbers_among_booleans(path, name, cells, present & ~words, int(words.sum()),
                                       lines)
        cells = boolean_spelling(cells)
    categories = sorted({cell for cell, here in zip(cells, present) if here})
    if len(categories) > max_categories:
        raise DataError(f"{path}, column {name!r}: {len(categories)} distinct text values "
                        f"(e.g. {listing(categories[:3])}); that looks like an identifier or "
                        f"free text, not a category. Remove the column, or raise max_categories")
    return Column(name, "categorical", categories)


def _refuse_numbers_among_booleans(path: str, name: str, cells: list[str], numbers: numpy.ndarray,
                                  booleans: int, lines: numpy.ndarray) -> None:
    """A DataError naming the first cell marked ``numbers`` in a column of boolean words: a 1
    beside True would be a category of its own."""
    if not numbers.any():
        return
    first, count = int(numpy.argmax(numbers)), int(numbers.sum())
    others = f", {count} such cells" if count > 1 else ""
    raise DataError(f"{path}, line {lines[first]}, column {name!r}: {cells[first]!r} is a number "
                    f"in a column of booleans ({booleans} cells are True or False, in any "
                    f"case){others}; write each as True or False")


def _learn_fill(path: str, column: Column, cells: list[str], missing: numpy.ndarray,
                required: bool) -> None:
    if column.kind == "categorical" and of_booleans(column.categories):
        cells = boolean_spelling(cells)
    present = [cell for cell, gone in zip(cells, missing) if not gone]
    if not present:
        if not required:
            return
        raise DataError(f"{path}, column {column.name!r}: every cell is missing, so there is no "
                        "mean to fill with; remove the column")
    if column.kind == "numeric":
        column.fill = float(numpy.array(present, dtype=numpy.float64).mean())
    else:
        values, counts = numpy.unique(present, return_counts=True)
        column.fill = str(values[numpy.argmax(counts)])  # the most frequent; ties: first sorted


def _infer_target(path: str, target: str, cells: list[str], lines: numpy.ndarray,
                  task: str | None) -> tuple[str, list | None]:
    missing = missing_mask(cells)
    values, bad = to_numbers(cells, missing)
    words = bad & numpy.isnan(values)  # inf, or a number too large for float32, is a number
    if task == "regression" or (task is None and not words.any()):
        refuse_non_numbers(path, target, cells, bad, lines)
        integer_valued = bool(numpy.all(values == numpy.round(values)))
        distinct = len(numpy.unique(values))
        # Labels repeat: as many distinct values as rows (prices, counts) is not a set of classes.
        if task == "regression" or not integer_valued or distinct > MAX_CLASSES_GUESSED \
                or distinct > len(values) / 2:
            return "regression", None
    if task is None and all_formatted_numbers(cells, words):  # "1,234" is a number, no class
        refuse_non_numbers(path, target, cells, words, lines)
    if not words.any():
        classes = sorted({number_or_nan(cell) for cell in cells})
    elif (boolean_words(cells) == words).all():  # True and false: two classes, not spellings
        _refuse_numbers_among_booleans(path, target, cells, ~words, int(words.sum()), lines)
        classes = sorted(set(boolean_spelling(cells)))
    else:
        if task is None:  # told task="classification", every value is a label
            _refuse_numbers_and_words(path, target, cells, ~missing & ~words, words, lines)
        classes = sorted(set(cells))
    if len(classes) < 2:
        raise DataError(f"{path}, column {target!r}: the target has a single class "
                        f"{listing(classes)}; classification needs at least two")
    return "classification", classes


def _refuse_numbers_and_words(path: str, target: str, cells: list[str], numbers: numpy.ndarray,
                              words: numpy.ndarray, lines: numpy.ndarray) -> None:
    """A DataError naming the first cell of the rarer kind in a target of ``numbers`` and
    ``words``: read as text, a column of prices with one 'abc' among them was one class per
    distinct price. Returns if the target holds only one kind."""
    if not (numbers.any() and words.any()):
        return
    if words.sum() <= numbers.sum():
        odd, kind, usual, usual_count = words, "word", "number", int(numbers.sum())
    else:
        odd, kind, usual, usual_count = numbers, "number", "word", int(words.sum())
    first, count = int(numpy.argmax(odd)), int(odd.sum())
    are = f"cell is a {usual}" if usual_count == 1 else f"cells are {usual}s"
    others = f", {count} such cells" if count > 1 else ""
    raise DataError(f"{path}, line {lines[first]}, column {target!r}: {cells[first]!r} is a "
                    f"{kind} in a target of {usual}s ({usual_count} {are}){others}: the column "
                    "mixes numbers and words, which would make it text, one class per distinct "
                    f"value; correct {'them' if count > 1 else 'it'} (leave a cell empty where "
                    "the value is missing), or give task='classification' to take every value "
                    "as a class label")


# ---------------------------------------------------------------- applying it
def _encode_column(path: str, column: Column, cells: list[str], missing: numpy.ndarray,
                   lines: numpy.ndarray, policy: str) -> numpy.ndarray:
    if column.kind == "numeric":
        values, bad = to_numbers(cells, missing)
        refuse_non_numbers(path, column.name, cells, bad, lines)
        if policy == "mean" and missing.any():
            if column.fill is None:
                raise DataError(f"{path}, column {column.name!r}: missing values, and the "
                                "training data had none in this column to take a mean of")
            values[missing] = column.fill
        return values[:, None]
    if of_booleans(column.categories):
        cells = boolean_spelling(cells)
    index = {category: i for i, category in enumerate(column.categories)}
    one_hot = numpy.zeros((len(cells), len(column.categories)), dtype=numpy.float32)
    for row, cell in enumerate(cells):
        if missing[row] and policy == "mean":
            cell = column.fill
        if cell not in index:
            raise DataError(f"{path}, line {lines[row]}, column {column.name!r}: value {cell!r} "
                            f"was never seen in training; known values: "
                            f"{listing(column.categories)}")
        one_hot[row, index[cell]] = 1.0
    return one_hot


def _rows_to_keep(path: str, masks: dict, lines: numpy.ndarray, policy: str,
                  target: str) -> numpy.ndarray:
    """Which rows survive the missing-value policy; under "error", the message lists the gaps."""
    rows = len(lines)
    if policy == "error":
        gaps = {name: mask for name, mask in masks.items() if mask.any()}
        if gaps:
            total = sum(int(mask.sum()) for mask in gaps.values())
            if len(gaps) == 1:
                (column, mask), = gaps.items()
                where = f"in column {column!r} (first at line {lines[numpy.argmax(mask)]})"
            else:
                where = "in columns " + ", ".join(
                    f"{column!r} ({int(mask.sum())}, first at line {lines[numpy.argmax(mask)]})"
                    for column, mask in gaps.items())
            raise MissingValuesError(f"{path}: {total} missing value{'s' * (total != 1)} {where}")
        return numpy.ones(rows, dtype=bool)
    if policy == "drop":
        keep = ~numpy.logical_or.reduce(list(masks.values()))
    else:  # "mean" fills features, but a missing target cannot be made up
        keep = ~masks[target] if target in masks else numpy.ones(rows, dtype=bool)
    if not keep.any():
        empty = [name for name, mask in masks.items() if mask.all()]
        if target in empty:
            why = f"; every cell of the target {target!r} is missing"
        elif empty and policy == "drop":
            why = f"; every cell of column {listing(empty)} is missing: remove it"
        else:
            why = ""
        raise DataError(f"{path}: no rows left after leaving out those with missing values "
                        f'(missing="{policy}"){why}')
    return keep


def _check_policy(missing: str) -> None:
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_POLICIES)}, not {missing!r}")
