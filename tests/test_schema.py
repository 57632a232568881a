"""The declared schemas: each field's type, range and choices, errors naming the file and field."""
import math

import pytest

from chainrule.errors import CheckpointError
from chainrule.schema import (Boolean, Integer, ListOf, Nullable, Number, Record, Text,
                              validate)

LAYERS = Record({"sizes": ListOf(Integer(1, 4096), min_length=2),
                 "activation": Nullable(Text(["relu", "tanh"])),
                 "dropout": Number(0, 1), "lr": Number(0, above=True), "bias": Boolean()},
                optional={"note": Text()})
GOOD = {"sizes": [4, 8, 2], "activation": None, "dropout": 0.0, "lr": 0.1, "bias": True}


def test_a_value_that_fits_comes_back_unchanged_and_extra_fields_are_allowed():
    value = {**GOOD, "written_by": "a newer version"}
    assert validate(value, LAYERS, "run/config.json") is value


@pytest.mark.parametrize("change, message", [
    ({"sizes": [4]}, "sizes: expected at least 2 items, got 1"),
    ({"sizes": [4, 0]}, "sizes[1]: expected an integer from 1 to 4096, got 0"),
    ({"sizes": [4, 10 ** 6]}, "sizes[1]: expected an integer from 1 to 4096, got 1000000"),
    ({"sizes": [4, True]}, "sizes[1]: expected an integer from 1 to 4096, got True"),
    ({"sizes": [4, 8.0]}, "sizes[1]: expected an integer from 1 to 4096, got 8.0"),
    ({"activation": "swish"}, "activation: expected one of 'relu', 'tanh', got 'swish'"),
    ({"dropout": 1.5}, "dropout: expected a finite number at least 0 and at most 1, got 1.5"),
    ({"dropout": math.nan}, "dropout: expected a finite number at least 0 and at most 1, got nan"),
    ({"lr": 0}, "lr: expected a finite number above 0, got 0"),
    ({"lr": "0.1"}, "lr: expected a finite number above 0, got '0.1'"),
    ({"bias": 1}, "bias: expected true or false, got 1"),
    ({"note": 3}, "note: expected a string, got 3"),
])
def test_each_violation_names_the_file_and_the_field(change, message):
    with pytest.raises(CheckpointError) as error:
        validate({**GOOD, **change}, LAYERS, "run/config.json")
    assert str(error.value) == f"run/config.json: {message}"


def test_a_missing_field_is_named():
    incomplete = {key: value for key, value in GOOD.items() if key != "bias"}
    with pytest.raises(CheckpointError, match="^run/config.json: bias: missing$"):
        validate(incomplete, LAYERS, "run/config.json")


@pytest.mark.parametrize("value, shown", [(None, "null"), ([1, 2], "[1, 2]"), ("x", "'x'")])
def test_a_file_that_is_not_an_object_says_so(value, shown):
    with pytest.raises(CheckpointError, match=rf"^f.json: the whole file: expected an object "
                                              rf"\(\{{...\}}\), got {__import__('re').escape(shown)}$"):
        validate(value, LAYERS, "f.json")


def test_a_prefix_names_the_part_of_the_file_checked():
    with pytest.raises(CheckpointError, match="^ck.safetensors: metadata config.bias: missing$"):
        validate({}, Record({"bias": Boolean()}), "ck.safetensors", "metadata config")
