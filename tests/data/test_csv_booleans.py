"""Columns of boolean words (pandas reads True/TRUE/true and False/FALSE/false as booleans): one
value whatever the case it is written in, in training and in the files encoded later."""
import numpy
import pytest

from chainrule.data import TableEncoder, load_csv
from chainrule.errors import DataError

MIXED_CASE_FLAGS = """\
size,flag,kind
1,True,a
2,true,b
3,TRUE,a
4,False,b
5,false,a
6,FALSE,b
"""


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("true, false", [("True", "False"), ("true", "false"),
                                         ("TRUE", "FALSE")])
def test_a_column_of_boolean_words_has_one_category_for_each_boolean(tmp_path, true, false):
    text = f"size,flag,kind\n1,{true},a\n2,{false},b\n3,{true},a\n"
    table = load_csv(write(tmp_path, text), target="kind")
    assert table.feature_names == ["size", "flag=False", "flag=True"]
    numpy.testing.assert_array_equal(table.X[:, 1:], [[0, 1], [1, 0], [0, 1]])


def test_boolean_words_in_mixed_case_are_the_same_two_values(tmp_path):
    # each spelling was a category of its own: six features for two values
    table = load_csv(write(tmp_path, MIXED_CASE_FLAGS), target="kind")
    assert table.feature_names == ["size", "flag=False", "flag=True"]
    numpy.testing.assert_array_equal(table.X[:, 2], [1, 1, 1, 0, 0, 0])


def test_a_later_file_may_spell_the_booleans_in_another_case(tmp_path):
    encoder = TableEncoder.from_json(
        load_csv(write(tmp_path, MIXED_CASE_FLAGS), target="kind").encoder.to_json())
    later = encoder.encode_csv(write(tmp_path, "size,flag\n7,tRUE\n8,FaLsE\n", "later.csv"))
    numpy.testing.assert_array_equal(later.X[:, 1:], [[0, 1], [1, 0]])


def test_the_most_frequent_boolean_fills_a_missing_cell_whatever_its_case(tmp_path):
    text = "size,flag,kind\n1,true,a\n2,TRUE,b\n3,False,a\n4,,b\n"
    table = load_csv(write(tmp_path, text), target="kind", missing="mean")
    numpy.testing.assert_array_equal(table.X[3, 1:], [0, 1])  # true, twice: not False, once


def test_a_target_of_boolean_words_in_mixed_case_has_two_classes(tmp_path):
    text = "size,label\n1,True\n2,true\n3,TRUE\n4,False\n5,false\n6,FALSE\n"
    table = load_csv(write(tmp_path, text), target="label")
    assert table.classes == ["False", "True"]
    numpy.testing.assert_array_equal(table.y, [1, 1, 1, 0, 0, 0])
    later = table.encoder.encode_csv(write(tmp_path, "size,label\n7,false\n8,True\n", "l.csv"))
    numpy.testing.assert_array_equal(later.y, [0, 1])


def test_one_boolean_word_among_numbers_is_refused_with_its_line_and_column(tmp_path):
    text = "size,flag,kind\n1,1,a\n2,0,b\n3,TRUE,a\n4,1,b\n"
    with pytest.raises(DataError, match=r"data\.csv, line 4, column 'flag': 'TRUE' is not a "
                                        r"finite number"):
        load_csv(write(tmp_path, text), target="kind")


def test_a_number_among_boolean_words_is_refused_with_its_line_and_column(tmp_path):
    # as many numbers as words made the column text, with '1' a category beside 'True'
    text = "size,flag,kind\n1,True,a\n2,1,b\n3,false,a\n4,0,b\n"
    with pytest.raises(DataError, match=r"data\.csv, line 3, column 'flag': '1' is a number in "
                                        r"a column of booleans \(2 cells are True or False, in "
                                        r"any case\), 2 such cells; write each as True or "
                                        r"False"):
        load_csv(write(tmp_path, text), target="kind")


def test_a_number_among_boolean_words_in_the_target_is_refused_with_its_line(tmp_path):
    # each spelling and the number were classes of their own: '1', 'False', 'True', 'true'
    text = "size,label\n1,True\n2,False\n3,1\n4,true\n5,False\n6,True\n"
    with pytest.raises(DataError, match=r"data\.csv, line 4, column 'label': '1' is a number in "
                                        r"a column of booleans"):
        load_csv(write(tmp_path, text), target="label")
