"""The named datasets: scikit-learn's bundled ones, and the files the course downloads.

``load_dataset(name)`` is the one entry point the command line uses; each source also has its own
function (``load_sklearn``, ``load_mnist``, ``load_csv``, ``load_text``,
``load_portland_housing``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy

from ..errors import DataError
from .csv_cells import FLOAT32_MAX, number_or_nan, utf8_text
from .csv_table import load_csv
from .download import RemoteFile, existing_folder, fetch, resolve_cache_dir
from . import idx
from .idx import load_mnist
from .table import Table

SKLEARN_DATASETS = {  # name -> (scikit-learn loader, task)
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}

# Single files the course uses, with the sha256 of the exact bytes published at each URL.
REMOTE_FILES = {
    "california-housing": RemoteFile(
        "housing.csv",
        ("https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/"
         "housing.csv",),
        "sha256:8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e"),
    "tiny-shakespeare": RemoteFile(
        "input.txt",
        ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
         "input.txt",),
        "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    # Andrew Ng's Machine Learning course, exercise 1 (ex1data2.txt), at a pinned commit
    "portland-housing": RemoteFile(
        "ex1data2.txt",
        ("https://raw.githubusercontent.com/bansalsamarth/mlclass-python/"
         "887bc4513342242bb89f47f5f949ca40df7af082/ex1/ex1data2.txt",),
        "sha256:0dcfbf4720cfa05a5ba11c5c67fcb31d9b20e87cd3c4569a0e846224ba97aca3"),
}
HOUSING_TARGET = "median_house_value"
PORTLAND_COLUMNS = ("size_sqft", "bedrooms", "price")

DATASETS = (*SKLEARN_DATASETS, "mnist", "fashion-mnist", *REMOTE_FILES)


def load_sklearn(name: str) -> Table:
    """A scikit-learn bundled dataset (no download): X float32; y int64 classes or float32."""
    key = name.lower().replace("-", "_")
    if key not in SKLEARN_DATASETS:
        raise DataError(f"unknown scikit-learn dataset {name!r}; choose one of: "
                        f"{', '.join(SKLEARN_DATASETS)}")
    from ..extras import require

    require("train", "sklearn", purpose=f"the bundled dataset {name!r}")
    import sklearn.datasets  # heavy: imported only when a bundled dataset is asked for

    loader_name, task = SKLEARN_DATASETS[key]
    bunch = getattr(sklearn.datasets, loader_name)()
    X = numpy.asarray(bunch.data, dtype=numpy.float32)
    feature_names = [str(feature) for feature in bunch.get("feature_names", [])] or \
        [f"x{i}" for i in range(X.shape[1])]
    if task == "regression":
        return Table(X, numpy.asarray(bunch.target, dtype=numpy.float32), feature_names,
                     "target", task, None, name=key)
    classes = [label.item() if hasattr(label, "item") else str(label)
               for label in bunch.target_names]
    return Table(X, numpy.asarray(bunch.target, dtype=numpy.int64), feature_names, "target",
                 task, classes, name=key)


def load_text(path) -> str:
    """The contents of a UTF-8 text file (a corpus for a language model); empty is an error."""
    path = os.fspath(path)
    if os.path.isdir(path):  # (open's own words: "[Errno 21] Is a directory")
        raise DataError(f"{path}: is a folder; give the text file itself")
    with open(path, "rb") as file:
        text = utf8_text(path, file.read())
    if not text.strip():
        what = "empty" if not text else "only white space"
        raise DataError(f"{path}: the file is {what}; a text corpus needs some text")
    return text


def load_portland_housing(path) -> Table:
    """The Portland housing prices: a headerless CSV of size (sq ft), bedrooms, price (USD).

    ``path`` is the file or a folder holding ex1data2.txt. X is (size_sqft, bedrooms), y the
    price, both float32 (every value is an integer well inside float32's exact range).
    """
    path = Path(path)
    if path.is_dir():
        path = path / REMOTE_FILES["portland-housing"].name
    rows, lines = [], []
    text = utf8_text(str(path), path.read_bytes())
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != len(PORTLAND_COLUMNS):
            raise DataError(f"{path}, line {number}: {len(cells)} values; expected "
                            f"{len(PORTLAND_COLUMNS)} ({', '.join(PORTLAND_COLUMNS)})")
        row = []
        for column, (name, cell) in enumerate(zip(PORTLAND_COLUMNS, cells), start=1):
            value = float(number_or_nan(cell))
            if not abs(value) <= FLOAT32_MAX:  # a finite value beyond float32 would become inf
                problem = ("is too large for float32" if numpy.isfinite(value)
                           else "is not a finite number")
                raise DataError(f"{path}, line {number}, column {column} ({name}): "
                                f"{cell.strip()!r} {problem}")
            row.append(value)
        rows.append(row)
        lines.append(number)
    if not rows:
        raise DataError(f"{path}: the file has no data rows")
    table = numpy.asarray(rows, dtype=numpy.float32)
    return Table(table[:, :2], table[:, 2], list(PORTLAND_COLUMNS[:2]), PORTLAND_COLUMNS[2],
                 "regression", name="portland-housing", lines=numpy.asarray(lines))


def load_dataset(name: str, root=None, download: bool = True, cache_dir=None,
                 missing: str = "error"):
    """A dataset by name; ``DATASETS`` lists them. What comes back depends on the source:

    digits, iris, wine, breast_cancer, diabetes -> Table (scikit-learn's bundled copy).
    mnist, fashion-mnist -> TrainTest(train, test) of Tables, X of shape (rows, 784).
    california-housing -> Table from housing.csv (target median_house_value; ``missing`` as in
        load_csv: its total_bedrooms column has 207 empty cells).
    portland-housing -> Table from ex1data2.txt: size_sqft and bedrooms, target price.
    tiny-shakespeare -> str, the whole text.

    Files are read from ``root`` when it holds them, or a subfolder of it named after the dataset
    (``mnist``, ``fashion_mnist``, ``california_housing``, ``tinyshakespeare``: so ``root`` may
    be a folder of datasets; one that is no folder is a DataError); else from the cache,
    downloaded into it first (and checksum-verified) if ``download``.
    """
    key = name.lower().replace("_", "-")
    if key.replace("-", "_") in SKLEARN_DATASETS:
        return load_sklearn(key)
    if key in ("mnist", "fashion-mnist"):
        folder = _dataset_folder(root, key, idx.FILES["train_images"] + ".gz",
                                 idx.FILES["train_images"])
        return load_mnist(folder, kind=key, download=download, cache_dir=cache_dir)
    if key not in REMOTE_FILES:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    path = _local_or_cached(REMOTE_FILES[key], key, root, download, cache_dir)
    if key == "tiny-shakespeare":
        return load_text(path)
    if key == "portland-housing":
        return load_portland_housing(path)
    return load_csv(path, HOUSING_TARGET, missing=missing)


def _dataset_folder(root, key: str, *file_names: str) -> Path | None:
    """``root``, or its subfolder for ``key``, whichever holds one of ``file_names``."""
    if root is None:
        return None
    root = existing_folder(root)
    for folder in (root, *(root / name for name in (
            key, key.replace("-", "_"), key.replace("-", "")))):
        if any((folder / name).is_file() for name in file_names):
            return folder
    return root


def _local_or_cached(remote: RemoteFile, key: str, root, download: bool, cache_dir) -> Path:
    folder = _dataset_folder(root, key, remote.name)
    if folder is not None and (folder / remote.name).is_file():
        return folder / remote.name
    folder = resolve_cache_dir(cache_dir) / key
    if (folder / remote.name).is_file() or download:
        return fetch(remote, folder)
    where = f"{root} or {folder}" if root is not None else str(folder)
    raise FileNotFoundError(f"no {remote.name} for {key} in {where}; pass download=True to "
                            "fetch it")
