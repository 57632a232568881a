import gzip
import json
import re

import numpy
import pytest

from chainrule.data import TableEncoder, load_csv
from chainrule.errors import DataError

HOUSES = """\
rooms,area,district,price,kind
3,70.5,north,210000,flat
4,95.0,south,320000,house
2,40.0,north,150000,flat
5,120.0,east,410000,house
"""


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_numeric_columns_pass_through_and_text_columns_become_one_hot(tmp_path):
    table = load_csv(write(tmp_path, HOUSES), target="kind")
    assert table.feature_names == ["rooms", "area", "district=east", "district=north",
                                   "district=south", "price"]
    assert table.X.dtype == numpy.float32 and table.X.shape == (4, 6)
    numpy.testing.assert_array_equal(table.X[0], [3, 70.5, 0, 1, 0, 210000])
    assert table.task == "classification"
    assert table.classes == ["flat", "house"]
    numpy.testing.assert_array_equal(table.y, [0, 1, 0, 1])
    assert table.y.dtype == numpy.int64
    numpy.testing.assert_array_equal(table.lines, [2, 3, 4, 5])


def test_a_numeric_target_with_many_values_is_regression(tmp_path):
    table = load_csv(write(tmp_path, HOUSES), target="price")
    assert table.task == "regression" and table.classes is None
    assert table.y.dtype == numpy.float32
    numpy.testing.assert_array_equal(table.y, [210000, 320000, 150000, 410000])


def test_few_integer_labels_are_classes_unless_told_otherwise(tmp_path):
    path = write(tmp_path, "x,label\n0.5,1\n0.1,3\n0.7,1\n0.2,10\n0.3,3\n0.9,1\n")
    table = load_csv(path, target="label")
    assert table.task == "classification"
    assert table.classes == [1, 3, 10]  # sorted as numbers, kept as ints
    numpy.testing.assert_array_equal(table.y, [0, 1, 0, 2, 1, 0])
    assert load_csv(path, target="label", task="regression").task == "regression"
    assert load_csv(write(tmp_path, HOUSES), target="price", task="classification").n_classes == 4


def test_missing_target_column_lists_the_columns(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv: no column named 'cost'.*rooms, area, "
                                        r"district, price, kind"):
        load_csv(write(tmp_path, HOUSES), target="cost")


def test_a_near_miss_target_name_gets_a_suggestion(tmp_path):
    with pytest.raises(DataError, match="did you mean 'price'"):
        load_csv(write(tmp_path, HOUSES), target="Price")


def test_non_numeric_cell_in_numeric_column_names_file_line_and_column(tmp_path):
    text = HOUSES.replace("95.0,south", "ninety,south")
    with pytest.raises(DataError, match=r"data\.csv, line 3, column 'area': 'ninety' is not a "
                                        r"finite number"):
        load_csv(write(tmp_path, text), target="kind")


def test_infinity_is_not_a_usable_number(tmp_path):
    with pytest.raises(DataError, match=r"line 4, column 'area': 'inf'"):
        load_csv(write(tmp_path, HOUSES.replace("40.0", "inf")), target="kind")


def test_missing_values_under_error_are_counted_named_and_the_arguments_suggested(tmp_path):
    text = "a,b,y\n1,,0\n2,5,1\n,,0\n4,6,1\n"
    with pytest.raises(DataError) as caught:
        load_csv(write(tmp_path, text), target="y")
    message = str(caught.value)
    assert "3 missing values in columns 'a' (1, first at line 4), 'b' (2, first at line 2)" \
        in message
    # the library speaks Python; the command line names its own flags
    assert 'missing="drop"' in message and 'missing="mean"' in message
    assert "--missing" not in message


@pytest.mark.parametrize("cell", ["1e308", "-4e38", "3.5e38"])
def test_a_feature_that_overflows_float32_is_refused_with_its_line_and_column(tmp_path, cell):
    with pytest.raises(DataError, match=rf"line 4, column 'area': '{cell}' is too large for "
                                        r"float32"):
        load_csv(write(tmp_path, HOUSES.replace("40.0", cell)), target="kind")


def test_the_largest_float32_is_still_accepted(tmp_path):
    table = load_csv(write(tmp_path, HOUSES.replace("40.0", "3.4e38")), target="kind")
    assert numpy.isfinite(table.X).all() and table.X.max() == numpy.float32(3.4e38)


def test_a_target_that_overflows_float32_is_refused_not_taken_for_a_class(tmp_path):
    rows = "".join(f"{i},{2.5 * i}\n" for i in range(30)).replace("12.5", "1e308")
    with pytest.raises(DataError, match=r"line 7, column 'y': '1e308' is too large for float32"):
        load_csv(write(tmp_path, "x,y\n" + rows), target="y")


def test_an_overflowing_cell_at_predict_time_names_its_line(tmp_path):
    encoder = load_csv(write(tmp_path, HOUSES), target="kind").encoder
    later = tmp_path / "later.csv"
    later.write_text(HOUSES.replace("40.0", "1e308"))
    with pytest.raises(DataError, match=r"later.csv, line 4, column 'area': '1e308' is too large"):
        encoder.encode_csv(later, with_target=False)


def test_a_file_with_only_the_target_column_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"the target 'y' is the only column"):
        load_csv(write(tmp_path, "y\n" + "".join(f"{i % 2}\n" for i in range(10))), target="y")


def test_missing_values_in_one_column_name_it_and_its_first_line(tmp_path):
    text = "a,b,y\n1,2,0\n2,NA,1\n3,4,0\n"
    with pytest.raises(DataError, match=r"1 missing value in column 'b' \(first at line 3\)"):
        load_csv(write(tmp_path, text), target="y")


def test_drop_leaves_out_rows_with_a_missing_cell(tmp_path):
    text = "a,b,y\n1,,0\n2,5,1\n3,7,\n4,6,1\n5,8,0\n"
    table = load_csv(write(tmp_path, text), target="y", missing="drop")
    numpy.testing.assert_array_equal(table.X, [[2, 5], [4, 6], [5, 8]])
    numpy.testing.assert_array_equal(table.lines, [3, 5, 6])


def test_mean_fills_numbers_with_the_mean_and_text_with_the_most_frequent(tmp_path):
    text = "a,colour,y\n1,red,0\n,blue,1\n5,,0\n3,red,1\n,red,\n"
    table = load_csv(write(tmp_path, text), target="y", missing="mean")
    assert len(table) == 4  # the row without a target is left out
    numpy.testing.assert_allclose(table.X[:, 0], [1, 3, 5, 3])
    assert table.feature_names == ["a", "colour=blue", "colour=red"]
    numpy.testing.assert_array_equal(table.X[2, 1:], [0, 1])


def test_empty_and_header_only_files_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        load_csv(write(tmp_path, "", "empty.csv"), target="y")
    with pytest.raises(DataError, match="header but no data rows"):
        load_csv(write(tmp_path, "a,y\n"), target="y")


def test_a_row_with_the_wrong_number_of_fields_names_its_line(tmp_path):
    with pytest.raises(DataError, match=r"line 3: 2 fields, but the header \(line 1\) has 3"):
        load_csv(write(tmp_path, "a,b,y\n1,2,0\n3,1\n"), target="y")


def test_line_numbers_count_blank_lines_and_multi_line_quoted_cells(tmp_path):
    text = 'note,x,y\n"two\nlines",1,0\n\n"plain",oops,1\n"a",2,0\n"b",3,1\n'
    with pytest.raises(DataError, match=r"line 5, column 'x': 'oops'"):
        load_csv(write(tmp_path, text), target="y")


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,y\ncafé,1\nthé,0\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv, line 2: not UTF-8 text \(byte 0xe9"):
        load_csv(path, target="y")


def test_a_target_with_one_class_is_refused(tmp_path):
    with pytest.raises(DataError, match="single class"):
        load_csv(write(tmp_path, "a,y\n1,cat\n2,cat\n"), target="y")


def test_a_text_column_with_too_many_values_is_taken_for_an_identifier(tmp_path):
    rows = "".join(f"id{i},{i % 2}\n" for i in range(12))
    with pytest.raises(DataError, match="column 'name': 12 distinct text values"):
        load_csv(write(tmp_path, "name,y\n" + rows), target="y", max_categories=10)


# ---------------------------------------------------------------- the encoder at predict time
def saved_encoder(tmp_path, **options):
    table = load_csv(write(tmp_path, HOUSES, "train.csv"), target="kind", **options)
    return table, TableEncoder.from_json(json.loads(json.dumps(table.encoder.to_json())))


def test_saved_encoder_encodes_a_new_file_like_the_training_one(tmp_path):
    table, encoder = saved_encoder(tmp_path)
    reordered = "kind,price,district,rooms,area\nhouse,320000,south,4,95.0\nflat,150000,east,2,40\n"
    new = encoder.encode_csv(write(tmp_path, reordered, "new.csv"))
    numpy.testing.assert_array_equal(new.X[0], table.X[1])
    numpy.testing.assert_array_equal(new.X[1], [2, 40, 1, 0, 0, 150000])
    numpy.testing.assert_array_equal(new.y, [1, 0])
    assert new.feature_names == table.feature_names


def test_predict_file_without_the_target_column_is_encoded_without_y(tmp_path):
    _, encoder = saved_encoder(tmp_path)
    new = encoder.encode_csv(write(tmp_path, "rooms,area,district,price\n3,50,east,1\n"),
                             with_target=False)
    assert new.y is None and new.X.shape == (1, 6)
    with pytest.raises(DataError, match="no target column 'kind' to evaluate against"):
        encoder.encode_csv(write(tmp_path, "rooms,area,district,price\n3,50,east,1\n"),
                           with_target=True)


def test_columns_that_differ_from_training_are_named(tmp_path):
    _, encoder = saved_encoder(tmp_path)
    path = write(tmp_path, "rooms,size,district,price\n3,50,east,1\n", "other.csv")
    with pytest.raises(DataError, match=r"other\.csv: the columns differ from the training "
                                        r"data's: missing 'area'; unexpected 'size'"):
        encoder.encode_csv(path)


def test_unseen_category_names_file_line_column_and_known_values(tmp_path):
    _, encoder = saved_encoder(tmp_path)
    path = write(tmp_path, "rooms,area,district,price\n3,50,east,1\n2,40,west,1\n", "new.csv")
    with pytest.raises(DataError, match=r"new\.csv, line 3, column 'district': value 'west' was "
                                        r"never seen in training; known values: 'east', 'north', "
                                        r"'south'"):
        encoder.encode_csv(path)


def test_unseen_label_at_evaluate_time_names_file_line_and_column(tmp_path):
    _, encoder = saved_encoder(tmp_path)
    path = write(tmp_path, "rooms,area,district,price,kind\n3,50,east,1,castle\n", "eval.csv")
    with pytest.raises(DataError, match=r"eval\.csv, line 2, column 'kind': label 'castle' was "
                                        r"never seen in training"):
        encoder.encode_csv(path, with_target=True)


def test_non_number_in_a_numeric_column_at_predict_time(tmp_path):
    _, encoder = saved_encoder(tmp_path)
    path = write(tmp_path, "rooms,area,district,price\nthree,50,east,1\n", "new.csv")
    with pytest.raises(DataError, match=r"new\.csv, line 2, column 'rooms': 'three'"):
        encoder.encode_csv(path)


def test_training_fill_values_are_used_for_missing_cells_at_predict_time(tmp_path):
    _, encoder = saved_encoder(tmp_path, missing="mean")
    new = encoder.encode_csv(write(tmp_path, "rooms,area,district,price\n,50,,1\n"))
    numpy.testing.assert_allclose(new.X[0], [3.5, 50, 0, 1, 0, 1])  # mean rooms; 'north' twice
    with pytest.raises(DataError, match=r"2 missing values in columns 'rooms' .*'district'"):
        encoder.encode_csv(write(tmp_path, "rooms,area,district,price\n,50,,1\n"),
                           missing="error")


def test_numeric_labels_match_by_value_at_evaluate_time(tmp_path):
    train = load_csv(write(tmp_path, "x,y\n1,0\n2,1\n3,0\n4,1\n"), target="y")
    new = train.encoder.encode_csv(write(tmp_path, "x,y\n5,1.0\n6,0\n", "new.csv"))
    assert train.task == "classification" and train.classes == [0, 1]
    numpy.testing.assert_array_equal(new.y, [1, 0])
    assert new.y.dtype == numpy.int64


def test_no_rows_left_after_drop_names_the_python_argument(tmp_path):
    text = "a,b,y\n1,,0\n,5,1\n"
    with pytest.raises(DataError, match="no rows left") as caught:
        load_csv(write(tmp_path, text), target="y", missing="drop")
    assert '(missing="drop")' in str(caught.value) and "--missing" not in str(caught.value)


@pytest.mark.parametrize("cells", [('"1,234"', '"2,345"', '"3,456"', '"4,567"'),
                                   ('"1,234"', '"2,345"', "999", "12"),
                                   ("1 234", "2 345", "3 456", "4 567"),
                                   ('"1,5"', '"2,5"', '"3,5"', '"4,5"')])
def test_numbers_with_thousands_separators_or_decimal_commas_are_refused_not_one_hot(tmp_path,
                                                                                      cells):
    rows = "".join(f"{cell},{label}\n" for cell, label in zip(cells, (0, 1, 0, 1)))
    path = write(tmp_path, "size,label\n" + rows)
    with pytest.raises(DataError, match=r"data\.csv, line 2, column 'size': '1[, ][25].*thousands "
                                        r"separator or a decimal comma"):
        load_csv(path, target="label")


def test_a_target_of_numbers_with_thousands_separators_is_refused_not_taken_as_classes(tmp_path):
    path = write(tmp_path, 'rooms,price\n3,"210,000"\n4,"320,000"\n2,"150,000"\n')
    with pytest.raises(DataError, match=r"line 2, column 'price': '210,000' is a number written "
                                        "with a thousands separator"):
        load_csv(path, target="price")


PRICES_AND_A_WORD = "rooms,price\n3,1.5\n4,2.0\n2,abc\n5,3.25\n3,4.0\n4,5.5\n"


def test_a_target_of_numbers_with_a_word_among_them_is_refused_not_taken_as_classes(tmp_path):
    # one 'abc' made the prices text: classification with one class per distinct price
    with pytest.raises(DataError, match=r"data\.csv, line 4, column 'price': 'abc' is a word in a "
                                        r"target of numbers \(5 cells are numbers\): the column "
                                        r"mixes numbers and words.*task='classification'"):
        load_csv(write(tmp_path, PRICES_AND_A_WORD), target="price")


def test_a_number_among_the_words_of_a_target_is_refused_naming_every_such_cell(tmp_path):
    text = "x,kind\n1,cat\n2,dog\n3,3\n4,cat\n5,dog\n6,7\n"
    with pytest.raises(DataError, match=r"data\.csv, line 4, column 'kind': '3' is a number in a "
                                        r"target of words \(4 cells are words\), 2 such cells: "
                                        r"the column mixes numbers and words"):
        load_csv(write(tmp_path, text), target="kind")


def test_a_target_told_to_be_classes_keeps_numbers_and_words_as_labels(tmp_path):
    table = load_csv(write(tmp_path, PRICES_AND_A_WORD), target="price", task="classification")
    assert table.classes == ["1.5", "2.0", "3.25", "4.0", "5.5", "abc"]
    numpy.testing.assert_array_equal(table.y, [0, 1, 5, 2, 3, 4])
    with pytest.raises(DataError, match=r"line 4, column 'price': 'abc' is not a finite number"):
        load_csv(write(tmp_path, PRICES_AND_A_WORD), target="price", task="regression")


def test_a_missing_value_marker_among_numbers_is_missing_not_a_word(tmp_path):
    path = write(tmp_path, PRICES_AND_A_WORD.replace("abc", "n/a"))
    with pytest.raises(DataError, match=r"1 missing value in column 'price' \(first at line 4\)"):
        load_csv(path, target="price")
    table = load_csv(path, target="price", missing="drop")
    assert table.task == "regression"
    numpy.testing.assert_array_equal(table.lines, [2, 3, 5, 6, 7])


def test_a_text_column_with_one_comma_value_stays_text(tmp_path):
    path = write(tmp_path, 'size,label\nsmall,0\n"3,5",1\nlarge,0\nsmall,1\n')
    table = load_csv(path, target="label")
    assert table.feature_names == ["size=3,5", "size=large", "size=small"]


def test_a_header_repeated_mid_file_is_refused_not_read_as_a_row(tmp_path):
    # two files joined with `cat`: with text columns only, "c" would be a colour and "y" a class
    path = write(tmp_path, "c,y\nred,0\nblue,1\nc,y\nred,0\nblue,1\n")
    with pytest.raises(DataError, match=r"data\.csv, line 4: the header \(line 1\) again"):
        load_csv(path, target="y")


def test_a_quote_never_closed_is_refused_not_left_to_swallow_the_rows_after_it(tmp_path):
    # read leniently, lines 3-5 became one label "1\n3,0\n4,1" and two rows were lost
    path = write(tmp_path, 'a,y\n1,0\n2,"1\n3,0\n4,1\n')
    with pytest.raises(DataError, match=r"data\.csv, line 3: not readable as CSV: unexpected end "
                                        "of data; a quote opened in this row is never closed"):
        load_csv(path, target="y")


def test_text_after_a_closing_quote_is_refused_not_run_together(tmp_path):
    path = write(tmp_path, 'a,y\n1,0\n2,"1"x\n3,0\n')  # leniently: the label "1x"
    with pytest.raises(DataError, match=r"data\.csv, line 3: not readable as CSV: ',' expected "
                                        "after '\"'"):
        load_csv(path, target="y")


def test_a_column_with_every_cell_missing_is_named_when_dropping_leaves_no_rows(tmp_path):
    path = write(tmp_path, "a,b,y\n1,,0\n2,,1\n3,,0\n")
    with pytest.raises(DataError, match=r"no rows left after leaving out those with missing values "
                                        r"\(missing=\"drop\"\); every cell of column 'b' is "
                                        "missing: remove it"):
        load_csv(path, target="y", missing="drop")


def test_a_file_separated_by_semicolons_says_so_when_the_target_is_not_found(tmp_path):
    path = write(tmp_path, "a;y\n1;0\n2;1\n")
    with pytest.raises(DataError, match=r"no column named 'y' \(the target\); the columns are: "
                                        r"a;y; the header is a single column: are the cells "
                                        r"separated by ';' rather than ','\?"):
        load_csv(path, target="y")
    assert load_csv(path, target="y", delimiter=";").y.tolist() == [0.0, 1.0]


def test_a_file_separated_by_commas_read_with_another_delimiter_says_so(tmp_path):
    # --delimiter ';' given for a comma-separated file: ',' was not among the marks looked for
    path = write(tmp_path, "a,y\n1,0\n2,1\n")
    with pytest.raises(DataError, match=r"the header is a single column: are the cells "
                                        r"separated by ',' rather than ';'\? Then give "
                                        r"delimiter=','"):
        load_csv(path, target="y", delimiter=";")


def test_a_new_file_separated_otherwise_than_the_training_files_says_so(tmp_path):
    # evaluate and predict read with the run's delimiter: a file written with another one had
    # its whole header named as one unexpected column, and no word of the separator
    encoder = load_csv(write(tmp_path, "a;y\n1;0\n2;1\n"), target="y", delimiter=";").encoder
    later = write(tmp_path, "a,y\n3,1\n", "later.csv")
    with pytest.raises(DataError, match=r"unexpected 'a,y' .*; the header is a single column: "
                                        r"are the cells separated by ',' rather than ';', "
                                        r"the training file's separator\?"):
        encoder.encode_csv(later)


def test_a_gzip_compressed_csv_is_named_as_such(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(HOUSES.encode("utf-8")))
    with pytest.raises(DataError, match=r"data\.csv\.gz: a gzip-compressed file, not text; "
                                        r"decompress it first"):
        load_csv(path, target="kind")


def test_a_file_without_a_header_whose_first_row_comes_again_says_the_header_is_missing(tmp_path):
    # its first row, taken for the header, is data; a later copy of it is a duplicate row, not
    # "the header again" to remove: what is wrong is the missing header, which the target's
    # lookup shows (the columns are numbers)
    path = write(tmp_path, "5.1,3.5,0\n4.9,3.0,1\n5.1,3.5,0\n")
    with pytest.raises(DataError, match=r"no column named 'y' \(the target\); the columns are: "
                                        r"5\.1, 3\.5, 0"):
        load_csv(path, target="y")


def test_infinity_in_a_column_of_few_numbers_is_refused_not_taken_for_text(tmp_path):
    # one number and one "inf": a column of numbers with a bad one, not two text categories
    with pytest.raises(DataError, match=r"line 2, column 'x': 'inf' is not a finite number"):
        load_csv(write(tmp_path, "x,y,label\ninf,2,a\n3,4,b\n"), target="label")


def test_infinity_among_integer_labels_is_refused_not_made_a_class_of_text(tmp_path):
    text = "x,label\n" + "".join(f"{i},{i % 2}\n" for i in range(6)) + "6,inf\n"
    with pytest.raises(DataError, match=r"line 8, column 'label': 'inf' is not a finite number"):
        load_csv(write(tmp_path, text), target="label")


def test_an_underscore_makes_a_code_not_a_python_number_literal(tmp_path):
    # float("2021_03") is 202103.0; in a CSV it is a code, a text value
    text = "x,code,label\n1,2021_03,a\n2,2021_04,b\n3,2021_03,a\n4,2021_04,b\n"
    table = load_csv(write(tmp_path, text), target="label")
    assert table.feature_names == ["x", "code=2021_03", "code=2021_04"]
    # in a numeric column, "1_000" is refused as a formatted number, not read as 1000
    text = "x,label\n1_000,a\n2,b\n3,a\n4,b\n"
    with pytest.raises(DataError, match=r"line 2, column 'x': '1_000' is a number written with a "
                                        r"thousands separator"):
        load_csv(write(tmp_path, text), target="label")


def test_a_typographic_minus_sign_is_refused_not_taken_for_text(tmp_path):
    # "−3" (U+2212), as web pages write negative numbers: half the column, not categories
    text = "temp,label\n−3,a\n5,b\n−2,a\n4,b\n"
    with pytest.raises(DataError, match=r"line 2, column 'temp': '−3' is written with a "
                                        r"typographic minus sign '−' \(U\+2212.* \(2 such cells\)"):
        load_csv(write(tmp_path, text), target="label")


def test_excel_not_available_cells_are_missing_not_a_text_category(tmp_path):
    # mostly "#N/A": one-hot encoded as "x=#N/A" and "x=3.5" before; pandas reads them as NaN
    text = "x,y,label\n#N/A,2,a\n#N/A,4,b\n3.5,6,a\n#N/A,8,b\n"
    with pytest.raises(DataError, match=r"3 missing values in column 'x' \(first at line 2\)"):
        load_csv(write(tmp_path, text), target="label")
    table = load_csv(write(tmp_path, text), target="label", missing="mean")
    assert table.feature_names == ["x", "y"]
    numpy.testing.assert_array_equal(table.X[:, 0], [3.5, 3.5, 3.5, 3.5])


def test_none_stays_a_category_where_a_data_set_uses_it_as_one(tmp_path):
    # Ames housing's masonry veneer type: "None" is the most frequent value, not a gap to fill
    text = "veneer,label\nNone,a\nStone,b\nNone,a\nBrkFace,b\n"
    table = load_csv(write(tmp_path, text), target="label", missing="mean")
    assert table.feature_names == ["veneer=BrkFace", "veneer=None", "veneer=Stone"]
    numpy.testing.assert_array_equal(table.X[:, 1], [1, 0, 1, 0])


def test_a_csv_saved_as_utf16_is_named_as_such(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(HOUSES.encode("utf-16"))  # what Excel's "Unicode Text" writes
    with pytest.raises(DataError, match=r"data\.csv: UTF-16 text .*save the file as UTF-8"):
        load_csv(path, target="kind")


def test_a_nul_byte_in_a_csv_is_refused_not_read_into_a_text_category(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(HOUSES.replace("south", "sou\x00th").encode("utf-8"))  # a new category
    with pytest.raises(DataError, match=r"data\.csv, line 3: a NUL byte"):
        load_csv(path, target="kind")


@pytest.mark.parametrize("cells", [("10%", "25%", "5%", "40%"), ("$12", "$7.50", "$3", "$120"),
                                   ("5 €", "12 €", "7 €", "3 €")])
def test_numbers_with_a_percent_or_currency_sign_are_refused_not_one_hot(tmp_path, cells):
    rows = "".join(f"{cell},{label}\n" for cell, label in zip(cells, "abab"))
    with pytest.raises(DataError, match=rf"line 2, column 'share': '{re.escape(cells[0])}' is a "
                                        r"number written .* currency or percent sign"):
        load_csv(write(tmp_path, "share,label\n" + rows), target="label")


def test_a_line_of_spaces_is_a_blank_line_skipped_not_a_row_of_one_field(tmp_path):
    text = "  \nx,label\n1,a\n \t \n2,b\n3,a\n4,b\n   \n"
    table = load_csv(write(tmp_path, text), target="label")
    numpy.testing.assert_array_equal(table.X[:, 0], [1, 2, 3, 4])
    numpy.testing.assert_array_equal(table.lines, [3, 5, 6, 7])
    # but '""' is one empty cell: in a file of one column to predict from, a missing value
    with pytest.raises(DataError, match=r"1 missing value in column 'x' \(first at line 3\)"):
        table.encoder.encode_csv(write(tmp_path, 'x\n1\n""\n   \n2\n', "new.csv"))


def test_messages_count_one_cell_or_field_in_the_singular(tmp_path):
    with pytest.raises(DataError, match=r"'inf' is not a finite number; the column is numeric "
                                        r"\(1 cell is a number\)"):
        load_csv(write(tmp_path, "x,y,label\ninf,2,a\n3,4,b\n"), target="label")
    with pytest.raises(DataError, match=r"line 3: 1 field, but the header \(line 1\) has 3"):
        load_csv(write(tmp_path, "x,y,label\n1,2,a\n3\n"), target="label")


def test_an_excel_separator_line_is_named_not_read_as_the_header(tmp_path):
    path = write(tmp_path, "sep=;\r\nx;label\r\n1;a\r\n2;b\r\n")
    for delimiter in (",", ";"):
        with pytest.raises(DataError, match=r"data\.csv, line 1: 'sep=;' is Excel's note of the "
                                            r"separator, not a header row; delete that line \(and "
                                            r"give delimiter=';'\)"):
            load_csv(path, target="label", delimiter=delimiter)
