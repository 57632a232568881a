import codecs
import hashlib

import numpy
import pytest

from chainrule.data import (DataLoader, Table, load_dataset, load_portland_housing, load_sklearn,
                            load_text, sources, train_val_test_split)
from chainrule.data.download import RemoteFile
from chainrule.errors import DataError


@pytest.mark.parametrize("name, rows, features, classes", [
    ("digits", 1797, 64, 10), ("iris", 150, 4, 3), ("wine", 178, 13, 3),
    ("breast_cancer", 569, 30, 2), ("diabetes", 442, 10, None),
])
def test_bundled_sklearn_datasets_load_as_float32_tables(name, rows, features, classes):
    table = load_sklearn(name)
    assert table.X.shape == (rows, features) and table.X.dtype == numpy.float32
    assert len(table.feature_names) == features
    assert table.n_classes == classes
    if classes is None:
        assert table.task == "regression" and table.y.dtype == numpy.float32
    else:
        assert table.task == "classification" and table.y.dtype == numpy.int64
        assert set(numpy.unique(table.y)) == set(range(classes))


def test_iris_classes_are_named():
    assert load_dataset("iris").classes == ["setosa", "versicolor", "virginica"]


def test_unknown_sklearn_dataset_lists_the_valid_ones():
    with pytest.raises(DataError, match="digits, iris, wine, breast_cancer, diabetes"):
        load_sklearn("boston")


def test_unknown_dataset_lists_every_name():
    with pytest.raises(DataError, match="mnist, fashion-mnist, california-housing, "
                                        "tiny-shakespeare"):
        load_dataset("cifar10")


def test_load_text_reads_utf8(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be — that is the question.\n", encoding="utf-8")
    assert load_text(path).startswith("To be, or not to be —")


@pytest.mark.parametrize("content, what", [("", "empty"), ("\n \n", "only white space")])
def test_empty_text_file_is_a_data_error(tmp_path, content, what):
    path = tmp_path / "empty.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=rf"empty\.txt: the file is {what}"):
        load_text(path)


def test_a_folder_given_for_a_text_file_is_named_a_folder(tmp_path):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(DataError, match=r"corpus: is a folder; give the text file itself"):
        load_text(tmp_path / "corpus")


def test_text_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("one\ntwo\nthé\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt, line 3: not UTF-8 text \(byte 0xe9"):
        load_text(path)


def test_utf16_text_without_a_byte_order_mark_is_refused_naming_the_nul_byte(tmp_path):
    # every other byte NUL: valid UTF-8, and before, a corpus of "R\x00O\x00M\x00..." to learn
    path = tmp_path / "corpus.txt"
    path.write_bytes("ROMEO:\nPeace.\n".encode("utf-16-le"))
    with pytest.raises(DataError, match=r"corpus\.txt, line 1: a NUL byte \(offset 1\).*UTF-16"):
        load_text(path)


@pytest.mark.parametrize("content, what", [
    ("ROMEO:\nPeace.\n".encode("utf-16"), "UTF-16 text"),
    (b"PK\x03\x04\x14\x00\x06\x00", "a zip archive"),  # how an Excel .xlsx workbook starts
], ids=["utf-16", "xlsx"])
def test_a_file_that_is_no_text_says_what_it_is(tmp_path, content, what):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"corpus\.txt: {what}"):
        load_text(path)


def test_named_files_load_from_root_when_present(tmp_path):
    (tmp_path / "input.txt").write_text("First Citizen:\nSpeak.\n")
    assert load_dataset("tiny-shakespeare", root=tmp_path) == "First Citizen:\nSpeak.\n"


def test_housing_downloads_into_the_cache_and_loads_with_missing_values(tmp_path, monkeypatch):
    text = ("longitude,median_income,median_house_value,ocean_proximity\n"
            "-122.2,8.3,452600.0,NEAR BAY\n-122.3,,358500.0,INLAND\n-121.1,5.6,352100.0,INLAND\n")
    source = tmp_path / "server" / "housing.csv"
    source.parent.mkdir()
    source.write_text(text)
    remote = RemoteFile("housing.csv", (source.as_uri(),),
                        "sha256:" + hashlib.sha256(text.encode()).hexdigest())
    monkeypatch.setitem(sources.REMOTE_FILES, "california-housing", remote)

    with pytest.raises(DataError, match="1 missing value in column 'median_income'"):
        load_dataset("california-housing", cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "california-housing" / "housing.csv").read_text() == text
    table = load_dataset("california_housing", cache_dir=tmp_path / "cache", missing="mean")
    assert table.task == "regression" and table.X.shape == (3, 4)
    numpy.testing.assert_allclose(table.X[1, :2], [-122.3, (8.3 + 5.6) / 2], rtol=1e-6)


def test_root_may_be_a_folder_of_datasets(tmp_path):
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("ROMEO:\nPeace.\n")
    assert load_dataset("tiny-shakespeare", root=tmp_path, download=False) == "ROMEO:\nPeace.\n"


def test_named_file_without_download_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="input.txt"):
        load_dataset("tiny-shakespeare", root=tmp_path, download=False,
                     cache_dir=tmp_path / "cache")


def test_table_subset_and_dataset_feed_a_loader():
    table = load_sklearn("iris")
    split = train_val_test_split(len(table), stratify=table.y, seed=0)
    train = table.subset(split.train)
    assert isinstance(train, Table) and len(train) == len(split.train) == 105
    numpy.testing.assert_array_equal(train.y, table.y[split.train])
    X, y = next(iter(DataLoader(train.dataset(), batch_size=len(train))))
    numpy.testing.assert_array_equal(X.numpy(), train.X)
    assert numpy.bincount(y.numpy()).tolist() == [35, 35, 35]


PORTLAND_ROWS = "2104,3,399900\n1600,3,329900\n2400,3,369000\n\n"


def test_portland_housing_loads_size_and_bedrooms_against_price(tmp_path):
    (tmp_path / "ex1data2.txt").write_text(PORTLAND_ROWS)
    table = load_dataset("portland-housing", root=tmp_path, download=False)
    assert table.feature_names == ["size_sqft", "bedrooms"] and table.target_name == "price"
    numpy.testing.assert_array_equal(table.X[:, 0], [2104, 1600, 2400])
    numpy.testing.assert_array_equal(table.y, [399900, 329900, 369000])
    assert list(table.lines) == [1, 2, 3]
    assert load_portland_housing(tmp_path / "ex1data2.txt").X.shape == (3, 2)


def test_portland_housing_downloads_into_the_cache_verified(tmp_path, monkeypatch):
    source = tmp_path / "server" / "ex1data2.txt"
    source.parent.mkdir()
    source.write_text(PORTLAND_ROWS)
    checksum = "sha256:" + hashlib.sha256(PORTLAND_ROWS.encode()).hexdigest()
    monkeypatch.setitem(sources.REMOTE_FILES, "portland-housing",
                        RemoteFile("ex1data2.txt", (source.as_uri(),), checksum))
    table = load_dataset("portland_housing", cache_dir=tmp_path / "cache")
    assert len(table) == 3
    assert (tmp_path / "cache" / "portland-housing" / "ex1data2.txt").read_text() == PORTLAND_ROWS


def test_a_bad_portland_cell_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "ex1data2.txt"
    path.write_text("2104,3,399900\n1600,three,329900\n")
    with pytest.raises(DataError, match=r"ex1data2\.txt, line 2, column 2 \(bedrooms\): 'three'"):
        load_portland_housing(path)
    path.write_text("2104,3\n")
    with pytest.raises(DataError, match="line 1: 2 values; expected 3"):
        load_portland_housing(path)


def test_a_byte_order_mark_is_no_character_of_the_text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(codecs.BOM_UTF8 + "ROMEO:\nPeace.\n".encode("utf-8"))
    assert load_text(path) == "ROMEO:\nPeace.\n"


def test_portland_housing_not_utf8_is_a_data_error_naming_the_line(tmp_path):
    path = tmp_path / "ex1data2.txt"
    path.write_bytes("2104,3,399900\n1600,3,329900 é\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"ex1data2\.txt, line 2: not UTF-8 text \(byte 0xe9"):
        load_portland_housing(path)


def test_portland_housing_refuses_a_value_float32_would_read_as_infinity(tmp_path):
    path = tmp_path / "ex1data2.txt"
    path.write_text("2104,3,399900\n1600,3,4e38\n")
    with pytest.raises(DataError, match=r"line 2, column 3 \(price\): '4e38' is too large"):
        load_portland_housing(path)


def test_portland_housing_reads_a_file_saved_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "ex1data2.txt"
    path.write_bytes(codecs.BOM_UTF8 + PORTLAND_ROWS.encode("utf-8"))
    numpy.testing.assert_array_equal(load_portland_housing(path).X[:, 0], [2104, 1600, 2400])


def test_a_portland_cell_with_an_underscore_is_no_python_number_literal(tmp_path):
    path = tmp_path / "ex1data2.txt"
    path.write_text("2104,3,399900\n1_600,3,329900\n")
    with pytest.raises(DataError, match=r"line 2, column 1 \(size_sqft\): '1_600'"):
        load_portland_housing(path)


@pytest.mark.parametrize("name", ["tiny-shakespeare", "mnist"])
def test_a_root_that_is_no_folder_is_refused_not_a_reason_to_use_the_cache(tmp_path, name):
    cache = tmp_path / "cache"
    for dataset in ("tiny-shakespeare", "mnist"):  # the cache holds the files (unverified here)
        (cache / dataset).mkdir(parents=True)
    (cache / "tiny-shakespeare" / "input.txt").write_text("from the cache\n")
    with pytest.raises(DataError, match=r"typo: the data folder does not exist"):
        load_dataset(name, root=tmp_path / "typo", download=False, cache_dir=cache)
    (tmp_path / "input.txt").write_text("ROMEO:\n")
    with pytest.raises(DataError, match=r"input\.txt: the data folder is a file, not a folder"):
        load_dataset(name, root=tmp_path / "input.txt", download=False, cache_dir=cache)
