"""MNIST and Fashion-MNIST: the IDX file format, from a folder or downloaded into the cache.

IDX (LeCun's format): a big-endian header ``0x00 0x00 TYPE NDIM``, NDIM big-endian uint32
sizes, then the values in row-major order. Images are ``0x00000803`` (uint8, 3 dims) and labels
``0x00000801`` (uint8, 1 dim). Files may be gzip-compressed or raw; the first bytes tell which.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy

from ..errors import DataError
from .download import DownloadError, RemoteFile, existing_folder, fetch, resolve_cache_dir, \
    verify_cached
from .table import Table, TrainTest

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}

MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
# Checksums of the decompressed IDX files, as published for the originals (MNIST: sha256;
# Fashion-MNIST: the md5s in zalandoresearch/fashion-mnist). Mirrors re-gzip the same bytes.
CONTENT_CHECKSUMS = {
    "mnist": {
        "train_images": "sha256:ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "sha256:65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "sha256:0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "sha256:ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train_images": "md5:f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_labels": "md5:9018921c3c673c538a1fc5bad174d6f9",
        "test_images": "md5:8181f5470baa50b63fa0f6fddb340f0a",
        "test_labels": "md5:15d484375f8d13e6eb1aabb0c3f46965",
    },
}
IMAGE_SHAPE = (28, 28)
CLASSES = {
    "mnist": list(range(10)),
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}


def load_idx(path) -> numpy.ndarray:
    """The array in an IDX file (gzip or raw), in native byte order, with the header's shape."""
    path = os.fspath(path)
    raw = _read_bytes(path)
    if not raw:
        raise DataError(f"{path}: the file is empty; an IDX file starts with a magic number")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file: its magic number is 0x{raw[:4].hex()}, "
                        "expected 0x0000TTNN (type, dimensions), e.g. 0x00000803 for images "
                        "or 0x00000801 for labels")
    dtype = numpy.dtype(IDX_TYPES[raw[2]])
    ndim = raw[3]
    data_start = 4 + 4 * ndim
    if len(raw) < data_start:
        raise DataError(f"{path}: the IDX header promises {ndim} sizes but the file ends first")
    shape = struct.unpack(f">{ndim}I", raw[4:data_start])
    expected = math.prod(shape) * dtype.itemsize  # exact: numpy.prod wraps around in int64
    if len(raw) - data_start != expected:
        raise DataError(f"{path}: the IDX header says shape {shape} ({expected} bytes of data), "
                        f"but the file holds {len(raw) - data_start}; it is truncated or damaged")
    array = numpy.frombuffer(raw, dtype=dtype, offset=data_start).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def load_mnist(root=None, kind: str = "mnist", download: bool = True, cache_dir=None,
               flatten: bool = True) -> TrainTest:
    """MNIST or Fashion-MNIST as ``TrainTest(train, test)`` Tables (60,000 and 10,000 rows).

    X: float32 pixels scaled to [0, 1], shape (rows, 784) with ``flatten`` (the default, what
    linear models and MLPs take), else (rows, 28, 28). y: int64 labels 0-9; ``classes`` names them.
    Files come from ``root`` when it holds all four (``train-images-idx3-ubyte[.gz]`` and so on;
    some but not all is an error naming those missing, and so is a ``root`` that is no folder);
    when it holds none, from the cache
    (``cache_dir``, $CHAINRULE_CACHE or ~/.cache/chainrule), downloaded there first if
    ``download``; a cached file is checksum-verified each time it is read.
    """
    kind = kind.lower().replace("_", "-")
    if kind not in MIRRORS:
        raise ValueError(f"load_mnist: kind must be 'mnist' or 'fashion-mnist', not {kind!r}")
    paths = _find_files(existing_folder(root), all_or_none=True) if root is not None else None
    if paths is None:
        folder = resolve_cache_dir(cache_dir) / kind
        paths = _find_files(folder)
        if paths is not None:
            for part, path in paths.items():
                verify_cached(path, _remote_file(kind, part))
        else:
            if not download:
                where = f"{root} or {folder}" if root is not None else str(folder)
                raise FileNotFoundError(f"no {kind} files in {where} (expected "
                                        f"{', '.join(f + '.gz' for f in FILES.values())}); "
                                        "pass download=True to fetch them")
            try:
                paths = {part: fetch(_remote_file(kind, part), folder) for part in FILES}
            except DownloadError as error:  # the remedy needs all four files, not the one
                raise DownloadError(error.problem, [f"{name}.gz" for name in FILES.values()]) \
                    from None
    return TrainTest(
        _image_table(paths["train_images"], paths["train_labels"], kind, flatten, f"{kind} train"),
        _image_table(paths["test_images"], paths["test_labels"], kind, flatten, f"{kind} test"))


def _remote_file(kind: str, part: str) -> RemoteFile:
    name = f"{FILES[part]}.gz"
    return RemoteFile(name, tuple(mirror + name for mirror in MIRRORS[kind]),
                      CONTENT_CHECKSUMS[kind][part], of_content=True)


def _find_files(folder, all_or_none: bool = False) -> dict | None:
    """The four files in ``folder``, gzip or raw, or None unless all four are there.
    all_or_none: some but not all is a DataError naming those missing (a user's folder, where a
    misnamed file must not silently bring in the cache's copy of the data)."""
    paths = {}
    for part, name in FILES.items():
        for candidate in (Path(folder) / f"{name}.gz", Path(folder) / name):
            if candidate.is_file():
                paths[part] = candidate
                break
    if all_or_none and 0 < len(paths) < len(FILES):
        absent = [f"{name}[.gz]" for part, name in FILES.items() if part not in paths]
        raise DataError(f"{folder}: holds {len(paths)} of the 4 IDX files but not "
                        f"{', '.join(absent)}")
    return paths if len(paths) == len(FILES) else None


def _image_table(images_path: Path, labels_path: Path, kind: str, flatten: bool,
                 name: str) -> Table:
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{images_path} and {labels_path}: expected images of 3 dimensions and "
                        f"labels of 1, got shapes {images.shape} and {labels.shape}")
    # Pixels are bytes (0-255, scaled by 1/255 below) in 28×28 images; labels are whole numbers.
    if images.dtype != numpy.uint8 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_path}: expected {kind} images of {IMAGE_SHAPE[0]}×"
                        f"{IMAGE_SHAPE[1]} uint8 pixels (IDX type 0x08), got "
                        f"{images.shape[1:]} images of {images.dtype}")
    if labels.dtype.kind not in "iu":
        raise DataError(f"{labels_path}: expected whole-number labels, got {labels.dtype} values "
                        "(IDX type 0x08 is what MNIST uses)")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path} has {images.shape[0]} images but {labels_path} has "
                        f"{labels.shape[0]} labels")
    if len(images) == 0:
        raise DataError(f"{images_path}: the IDX file holds no images (its header says shape "
                        f"{images.shape})")
    if labels.min() < 0 or labels.max() >= len(CLASSES[kind]):
        raise DataError(f"{labels_path}: labels must lie in 0..{len(CLASSES[kind]) - 1}, found "
                        f"{labels.min()}..{labels.max()}")
    pixels = images.astype(numpy.float32)
    pixels *= numpy.float32(1 / 255)
    if flatten:
        pixels = pixels.reshape(len(pixels), -1)
    names = [f"pixel{i}" for i in range(images.shape[1] * images.shape[2])]
    return Table(pixels, labels.astype(numpy.int64), names, "label", "classification",
                 list(CLASSES[kind]), name=name)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: damaged gzip file ({error})") from None
