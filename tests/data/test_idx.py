import gzip
import hashlib
import struct

import numpy
import pytest

from chainrule.data import idx, load_idx, load_mnist
from chainrule.errors import DataError


def idx_bytes(array: numpy.ndarray, type_code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, type_code=0x08, compress=True):
    raw = idx_bytes(array, type_code)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def tiny_mnist(folder, train=5, test=3, compress=True, seed=0):
    """Four IDX files in MNIST's layout, with random 28×28 images."""
    rng = numpy.random.default_rng(seed)
    suffix = ".gz" if compress else ""
    arrays = {}
    for part, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=numpy.uint8)
        labels = rng.integers(0, 10, size=count, dtype=numpy.uint8)
        write_idx(folder / f"{part}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(folder / f"{part}-labels-idx1-ubyte{suffix}", labels, compress=compress)
        arrays[part] = images, labels
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_load_idx_reads_gzip_and_raw_files(tmp_path, compress):
    images = numpy.arange(2 * 3 * 4, dtype=numpy.uint8).reshape(2, 3, 4)
    loaded = load_idx(write_idx(tmp_path / "images.idx", images, compress=compress))
    assert loaded.dtype == numpy.uint8
    numpy.testing.assert_array_equal(loaded, images)


def test_load_idx_reads_big_endian_wider_types_into_native_order(tmp_path):
    values = numpy.array([[1.5, -2.25], [3.0, 1e6]], dtype=numpy.float32)
    loaded = load_idx(write_idx(tmp_path / "floats.idx", values, type_code=0x0D))
    assert loaded.dtype == numpy.float32 and loaded.dtype.isnative
    numpy.testing.assert_array_equal(loaded, values)
    shorts = numpy.array([-300, 7, 30000], dtype=numpy.int16)
    numpy.testing.assert_array_equal(load_idx(write_idx(tmp_path / "s.idx", shorts, 0x0B)), shorts)


def test_bad_magic_number_names_the_file(tmp_path):
    path = tmp_path / "not-idx.gz"
    path.write_bytes(gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(20)))
    with pytest.raises(DataError, match=r"not-idx\.gz: not an IDX file: its magic number is "
                                        r"0x89504e47"):
        load_idx(path)


def test_truncated_file_says_how_many_bytes_are_missing(tmp_path):
    raw = idx_bytes(numpy.zeros((4, 28, 28), dtype=numpy.uint8))
    path = tmp_path / "cut.idx"
    path.write_bytes(raw[:-100])
    with pytest.raises(DataError, match=r"cut\.idx: the IDX header says shape \(4, 28, 28\) "
                                        r"\(3136 bytes of data\), but the file holds 3036"):
        load_idx(path)


def test_a_header_promising_more_than_int64_counts_says_the_true_size(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(struct.pack(">BBBB3I", 0, 0, 0x08, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1))
    with pytest.raises(DataError, match=rf"\({(2**32 - 1) ** 3} bytes of data\), but the file "
                                        r"holds 0"):
        load_idx(path)


def test_damaged_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(numpy.zeros(50, dtype=numpy.uint8)))[:-12])
    with pytest.raises(DataError, match=r"broken\.gz: damaged gzip"):
        load_idx(path)


@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_from_a_folder_scales_and_flattens(tmp_path, compress):
    arrays = tiny_mnist(tmp_path, compress=compress)
    train, test = load_mnist(tmp_path, download=False)
    assert train.X.shape == (5, 784) and test.X.shape == (3, 784)
    assert train.X.dtype == numpy.float32 and train.y.dtype == numpy.int64
    numpy.testing.assert_allclose(train.X * 255, arrays["train"][0].reshape(5, 784), atol=1e-4)
    numpy.testing.assert_array_equal(test.y, arrays["t10k"][1])
    assert 0 <= train.X.min() and train.X.max() <= 1
    assert train.classes == list(range(10)) and train.task == "classification"


def test_load_mnist_keeps_images_square_when_asked(tmp_path):
    tiny_mnist(tmp_path)
    train, _ = load_mnist(tmp_path, kind="fashion-mnist", download=False, flatten=False)
    assert train.X.shape == (5, 28, 28)
    assert train.classes[9] == "Ankle boot"


def test_load_mnist_without_files_or_download_says_what_it_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, download=False, cache_dir=tmp_path / "cache")


def test_images_and_labels_of_different_counts_are_refused(tmp_path):
    tiny_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", numpy.zeros(4, dtype=numpy.uint8))
    with pytest.raises(DataError, match="has 5 images but .*train-labels-idx1-ubyte.gz has 4"):
        load_mnist(tmp_path, download=False)


def test_files_with_no_images_are_refused_naming_the_file(tmp_path):
    tiny_mnist(tmp_path, test=0)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: the IDX file holds no "
                                        r"images \(its header says shape \(0, 28, 28\)\)"):
        load_mnist(tmp_path, download=False)


def test_load_mnist_downloads_verified_files_into_the_cache_once(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    tiny_mnist(mirror)
    checksums = {}
    for part, name in idx.FILES.items():
        content = gzip.decompress((mirror / f"{name}.gz").read_bytes())
        checksums[part] = "sha256:" + hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(idx.MIRRORS, "mnist", ("file:///nowhere/", mirror.as_uri() + "/"))
    monkeypatch.setitem(idx.CONTENT_CHECKSUMS, "mnist", checksums)
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path / "cache"))

    train, test = load_mnist()
    assert len(train) == 5 and len(test) == 3
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == \
        sorted(f"{name}.gz" for name in idx.FILES.values())

    def no_network(url):
        raise AssertionError(f"downloaded {url} although it is cached")

    monkeypatch.setattr("chainrule.data.download.open_url", no_network)
    assert len(load_mnist()[0]) == 5


def test_an_empty_file_is_said_to_be_empty(tmp_path):
    (tmp_path / "labels.idx").write_bytes(b"")
    with pytest.raises(DataError, match=r"labels\.idx: the file is empty"):
        load_idx(tmp_path / "labels.idx")


def test_images_that_are_not_28_by_28_bytes_are_refused_naming_the_file(tmp_path):
    tiny_mnist(tmp_path)
    small = numpy.zeros((5, 20, 20), dtype=numpy.uint8)  # 400 features where the test has 784
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", small)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: expected mnist images of "
                                        r"28×28 uint8 pixels .*got \(20, 20\) images of uint8"):
        load_mnist(tmp_path, download=False)
    halves = numpy.full((5, 28, 28), 0.5, dtype=numpy.float32)  # would be scaled by 1/255
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", halves, type_code=0x0D)
    with pytest.raises(DataError, match=r"got \(28, 28\) images of float32"):
        load_mnist(tmp_path, download=False)


def test_labels_that_are_not_whole_numbers_are_refused(tmp_path):
    tiny_mnist(tmp_path)
    fractions = numpy.array([0, 1.5, 2, 3, 4], dtype=numpy.float32)  # 1.5 would become 1
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", fractions, type_code=0x0D)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: expected whole-number "
                                        "labels, got float32"):
        load_mnist(tmp_path, download=False)


def test_a_cached_mnist_file_whose_content_differs_from_the_published_is_refused(tmp_path,
                                                                                 monkeypatch):
    (tmp_path / "cache" / "mnist").mkdir(parents=True)
    tiny_mnist(tmp_path / "cache" / "mnist")  # random images: not MNIST's published content
    monkeypatch.setattr("chainrule.data.download.open_url", lambda url: pytest.fail(url))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: checksum mismatch for the "
                                        r"cached decompressed content: expected sha256 ba8910"):
        load_mnist(cache_dir=tmp_path / "cache")


def test_a_folder_with_some_but_not_all_files_names_those_missing(tmp_path, monkeypatch):
    tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").rename(tmp_path / "t10k-labels.gz")  # misnamed
    monkeypatch.setattr("chainrule.data.download.open_url", lambda url: pytest.fail(url))
    with pytest.raises(DataError, match=r"holds 3 of the 4 IDX files but not "
                                        r"t10k-labels-idx1-ubyte\[\.gz\]"):
        load_mnist(tmp_path, cache_dir=tmp_path / "cache")


def test_a_cache_with_some_files_downloads_only_the_others(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    tiny_mnist(mirror)
    checksums = {part: "sha256:" + hashlib.sha256(
        gzip.decompress((mirror / f"{name}.gz").read_bytes())).hexdigest()
        for part, name in idx.FILES.items()}
    monkeypatch.setitem(idx.MIRRORS, "mnist", (mirror.as_uri() + "/",))
    monkeypatch.setitem(idx.CONTENT_CHECKSUMS, "mnist", checksums)
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    name = idx.FILES["train_images"] + ".gz"
    (cache / name).write_bytes((mirror / name).read_bytes())  # an earlier, interrupted run's
    train, test = load_mnist(cache_dir=tmp_path / "cache")
    assert len(train) == 5 and len(test) == 3
