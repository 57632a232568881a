import json

import numpy
import pytest

import chainrule
from chainrule.data import Standardizer
from chainrule.errors import ShapeError


def test_transformed_training_columns_have_zero_mean_and_unit_std():
    X = numpy.random.default_rng(0).normal(3.0, 5.0, size=(200, 4)).astype(numpy.float32)
    Z = Standardizer().fit_transform(X)
    assert Z.dtype == numpy.float32
    numpy.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    numpy.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-5)


def test_statistics_come_from_fit_rows_only():
    train = numpy.array([[0.0], [2.0]])
    scaler = Standardizer().fit(train)
    numpy.testing.assert_allclose(scaler.transform(numpy.array([[4.0]])), [[3.0]])


def test_constant_column_is_centred_not_divided_by_zero():
    X = numpy.array([[1.0, 5.0], [3.0, 5.0]], dtype=numpy.float32)
    Z = Standardizer().fit_transform(X)
    assert numpy.isfinite(Z).all()
    numpy.testing.assert_array_equal(Z[:, 1], [0.0, 0.0])


def test_inverse_transform_round_trips_and_accepts_tensors():
    X = numpy.random.default_rng(1).uniform(-10, 10, size=(30, 3))
    scaler = Standardizer().fit(X)
    Z = scaler.transform(chainrule.tensor(X))
    assert isinstance(Z, chainrule.Tensor)
    numpy.testing.assert_allclose(scaler.inverse_transform(Z).numpy(), X, atol=1e-12)


def test_one_dimensional_target_round_trips():
    y = numpy.array([100.0, 200.0, 600.0], dtype=numpy.float32)
    scaler = Standardizer().fit(y)
    numpy.testing.assert_allclose(scaler.inverse_transform(scaler.transform(y)), y, rtol=1e-6)


def test_state_survives_json_and_state_dict():
    X = numpy.random.default_rng(2).normal(size=(20, 3)).astype(numpy.float32)
    scaler = Standardizer().fit(X)
    from_json = Standardizer.from_json(json.loads(json.dumps(scaler.to_json())))
    from_state = Standardizer().load_state_dict(scaler.state_dict())
    for restored in (from_json, from_state):
        numpy.testing.assert_array_equal(restored.transform(X), scaler.transform(X))


def test_wrong_number_of_columns_names_both_shapes():
    scaler = Standardizer().fit(numpy.zeros((4, 3)))
    with pytest.raises(ShapeError, match=r"\(3,\).*\(4, 2\)"):
        scaler.transform(numpy.zeros((4, 2)))


def test_transform_before_fit_is_refused():
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(numpy.zeros((2, 2)))
