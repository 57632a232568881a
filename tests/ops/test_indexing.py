"""Indexing along a dimension, running sums and products, sorting, whole-tensor comparisons and
einsum: values against NumPy, gradients where the registry's random samples can't reach."""
import numpy
import pytest

import chainrule
from chainrule import ShapeError


def double(values, requires_grad=True):
    return chainrule.tensor(numpy.asarray(values, dtype=numpy.float64), requires_grad=requires_grad)


def test_gather_picks_along_a_dimension_and_repeated_indices_add_their_gradients():
    x = double(numpy.arange(12.0).reshape(3, 4))
    index = chainrule.tensor([[0, 0], [3, 1], [2, 2]])
    picked = x.gather(1, index)
    assert picked.tolist() == [[0.0, 0.0], [7.0, 5.0], [10.0, 10.0]]
    picked.sum().backward()
    assert x.grad.tolist() == [[2, 0, 0, 0], [0, 1, 0, 1], [0, 0, 2, 0]]


def test_advanced_indexing_with_repeated_rows_accumulates_the_gradient():
    x = double(numpy.ones((3, 2)))
    (x[chainrule.tensor([0, 2, 0, 0])] * double([[1.0, 2.0]], False)).sum().backward()
    assert x.grad.tolist() == [[3.0, 6.0], [0.0, 0.0], [1.0, 2.0]]


def test_scatter_add_adds_repeated_places_and_scatter_refuses_them():
    base = chainrule.zeros(2, 3)
    index = chainrule.tensor([[0, 0, 2], [1, 1, 1]])
    src = chainrule.ones(2, 3)
    assert base.scatter_add(1, index, src).tolist() == [[2, 0, 1], [0, 3, 0]]
    with pytest.raises(ValueError, match="scatter_add"):
        base.scatter(1, index, src)


def test_scatter_in_place_with_a_value_builds_one_hot_rows():
    labels = chainrule.tensor([2, 0])
    one_hot = chainrule.zeros(2, 3).scatter_(1, labels.unsqueeze(1), 1.0)
    assert one_hot.tolist() == [[0, 0, 1], [1, 0, 0]]


def test_scatter_sends_the_gradient_to_src_where_written_and_to_input_elsewhere():
    x = double(numpy.zeros((2, 3)))
    src = double([[5.0], [7.0]])
    y = chainrule.scatter(x, 1, chainrule.tensor([[1], [2]]), src)
    assert y.tolist() == [[0, 5, 0], [0, 0, 7]]
    (y * double([[1, 2, 3], [4, 5, 6]], False)).sum().backward()
    assert x.grad.tolist() == [[1, 0, 3], [4, 5, 0]]
    assert src.grad.tolist() == [[2], [6]]


def test_index_select_and_take_along_dim_match_numpy():
    values = numpy.random.default_rng(0).standard_normal((3, 4))
    x = chainrule.tensor(values)
    assert numpy.array_equal(x.index_select(1, chainrule.tensor([3, 0, 3])).numpy(),
                             values[:, [3, 0, 3]])
    order = numpy.argsort(values, axis=1)
    assert numpy.array_equal(chainrule.take_along_dim(x, chainrule.tensor(order), dim=1).numpy(),
                             numpy.take_along_axis(values, order, axis=1))
    assert numpy.array_equal(chainrule.take_along_dim(x, chainrule.tensor([5, 0])).numpy(),
                             values.reshape(-1)[[5, 0]])


def test_gather_out_of_range_names_the_op_index_and_size():
    with pytest.raises(IndexError, match="gather: index 4 is out of range for dimension 1 of size 4"):
        chainrule.zeros(2, 4).gather(1, chainrule.tensor([[4]]))
    with pytest.raises(IndexError, match="gather: index -1 is out of range"):
        chainrule.zeros(2, 4).gather(1, chainrule.tensor([[-1]]))


def test_cumsum_matches_numpy_and_counts_integers_in_int64():
    values = numpy.random.default_rng(1).standard_normal((3, 4))
    assert numpy.allclose(chainrule.tensor(values).cumsum(1).numpy(), values.cumsum(1))
    counted = chainrule.tensor([True, False, True]).cumsum(0)
    assert counted.dtype == chainrule.int64 and counted.tolist() == [1, 1, 2]


@pytest.mark.parametrize("values", [[[2.0, 0.0, 3.0, -1.5], [1.0, 2.0, 0.5, 4.0]],
                                    [[0.0, 0.0, 3.0, 2.0], [0.0, 1.5, 0.5, 0.0]]],
                         ids=["one zero", "two zeros"])
def test_prod_gradients_are_exact_where_elements_are_zero(values):
    x = double(values)
    y = x.prod(1)
    y.sum().backward()
    expected = [[numpy.prod(numpy.delete(row, i)) for i in range(4)] for row in values]
    assert numpy.array_equal(x.grad.numpy(), expected)
    assert chainrule.gradcheck(lambda t: t.prod(1), [double(values)])
    assert chainrule.gradgradcheck(lambda t: t.prod(1), [double(values)])


def test_prod_of_all_elements():
    assert chainrule.prod(chainrule.tensor([[1.0, 2.0], [3.0, 4.0]])).item() == 24.0


def test_sort_is_stable_and_topk_takes_the_largest_first():
    x = chainrule.tensor([[3.0, 1.0, 3.0, 2.0]])
    values, indices = x.sort(descending=True)
    assert values.tolist() == [[3, 3, 2, 1]] and indices.tolist() == [[0, 2, 3, 1]]
    assert chainrule.argsort(x).tolist() == [[1, 3, 0, 2]]
    top = x.topk(2)
    assert top.values.tolist() == [[3, 3]] and top.indices.tolist() == [[0, 2]]
    assert x.topk(1, largest=False).values.tolist() == [[1]]


def test_sorted_values_send_their_gradient_back_to_where_they_came_from():
    x = double([4.0, 1.0, 3.0])
    (chainrule.sort(x).values * double([1.0, 10.0, 100.0], False)).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_equal_allclose_and_isclose():
    a = chainrule.tensor([1.0, 2.0])
    assert chainrule.equal(a, chainrule.tensor([1.0, 2.0]))
    assert not chainrule.equal(a, chainrule.tensor([[1.0, 2.0]]))
    assert chainrule.allclose(a, a + 1e-9) and not a.allclose(a + 1e-3)
    assert a.isclose(chainrule.tensor([1.0, 2.1])).tolist() == [True, False]
    with pytest.raises(ShapeError, match="isclose"):
        chainrule.isclose(a, chainrule.ones(3))


def test_einsum_agrees_with_numpy_and_refuses_what_it_does_not_support():
    rng = numpy.random.default_rng(2)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    got = chainrule.einsum("bij,bjk->bik", chainrule.tensor(a), chainrule.tensor(b))
    assert numpy.allclose(got.numpy(), a @ b)
    assert numpy.allclose(chainrule.einsum("bij,bjk", [chainrule.tensor(a), chainrule.tensor(b)]).numpy(),
                          numpy.einsum("bij,bjk", a, b))
    with pytest.raises(ValueError, match="diagonals are not supported"):
        chainrule.einsum("ii->i", chainrule.ones(3, 3))
    with pytest.raises(ValueError, match="ellipsis"):
        chainrule.einsum("...ij->...ji", chainrule.ones(3, 3))
    with pytest.raises(ShapeError, match="einsum: 'j' is 4 in one operand and 5"):
        chainrule.einsum("ij,jk->ik", chainrule.ones(3, 4), chainrule.ones(5, 2))


@pytest.mark.parametrize("call", [lambda x: x.cumsum(dim=0), lambda x: chainrule.prod(x, dim=0),
                                  lambda x: x.sort(), lambda x: x.topk(1),
                                  lambda x: x.gather(0, chainrule.tensor(0))])
def test_ops_along_a_dimension_name_the_missing_dimension_of_a_0d_tensor(call):
    # they raised "tuple index out of range"
    with pytest.raises(ShapeError, match=r"^\w+: a 0-d tensor \(shape \(\)\) has no dimension"):
        call(chainrule.tensor(2.0))


def test_float32_running_sums_are_rounded_once_not_per_element():
    tenths = numpy.full(100_000, 0.1, dtype=numpy.float32)
    exact = numpy.cumsum(tenths.astype(numpy.float64))
    got = chainrule.tensor(tenths).cumsum(dim=0)
    assert got.dtype == chainrule.float32
    numpy.testing.assert_allclose(got.numpy(), exact, rtol=numpy.finfo(numpy.float32).eps)


def test_nan_is_the_largest_in_decreasing_sorts_as_in_max():
    x = chainrule.tensor([[1.0, numpy.nan, 3.0, -numpy.inf, numpy.nan, 3.0]])
    values, indices = x.sort(descending=True)
    assert indices.tolist() == [[1, 4, 2, 5, 0, 3]]  # NaNs first, then ties in their order
    assert numpy.isnan(x.topk(1).values.item()) and x.argmax().item() == 1
    assert x.sort().indices.tolist() == [[3, 0, 2, 5, 1, 4]]  # increasing: NaNs last
    assert chainrule.tensor([3, 1, 2]).sort(descending=True).indices.tolist() == [0, 2, 1]


def test_split_and_chunk_of_an_empty_dimension_and_of_nonpositive_sizes():
    empty = chainrule.zeros(3, 0)
    assert [piece.shape for piece in empty.split(2, dim=1)] == [(3, 0)]
    assert [piece.shape for piece in empty.chunk(2, dim=1)] == [(3, 0), (3, 0)]
    with pytest.raises(ValueError, match=r"split: split_size must be positive, got 0"):
        chainrule.zeros(4).split(0)
    with pytest.raises(ValueError, match=r"chunk: chunks must be positive, got 0"):
        chainrule.zeros(4).chunk(0)
