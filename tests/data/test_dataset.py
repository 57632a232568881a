import numpy
import pytest

import chainrule
from chainrule.data import DataLoader, Dataset, TensorDataset
from chainrule.errors import ShapeError


def make_dataset(rows=10):
    X = numpy.arange(rows * 3, dtype=numpy.float32).reshape(rows, 3)
    y = numpy.arange(rows, dtype=numpy.int64)
    return X, y, TensorDataset(X, y)


def test_tensor_dataset_returns_rows_and_gathers_batches():
    X, y, dataset = make_dataset()
    assert len(dataset) == 10
    row_x, row_y = dataset[4]
    numpy.testing.assert_array_equal(row_x, X[4])
    assert row_y == 4
    batch_x, batch_y = dataset[numpy.array([3, 1, 4])]
    numpy.testing.assert_array_equal(batch_x, X[[3, 1, 4]])
    numpy.testing.assert_array_equal(batch_y, [3, 1, 4])


def test_tensor_dataset_unwraps_tensors_without_copying():
    X = chainrule.randn(5, 2)
    dataset = TensorDataset(X, chainrule.zeros(5))
    assert dataset.arrays[0] is X.data


def test_tensor_dataset_refuses_arrays_of_different_lengths():
    with pytest.raises(ShapeError, match=r"\(5, 2\), \(4,\)"):
        TensorDataset(numpy.zeros((5, 2)), numpy.zeros(4))


def test_loader_in_order_yields_tensors_covering_every_row_once():
    X, y, dataset = make_dataset(10)
    batches = list(DataLoader(dataset, batch_size=4))
    assert [len(b_y) for _, b_y in batches] == [4, 4, 2]
    assert all(isinstance(t, chainrule.Tensor) for batch in batches for t in batch)
    numpy.testing.assert_array_equal(numpy.concatenate([b_x.numpy() for b_x, _ in batches]), X)


def test_loader_length_is_the_number_of_batches():
    _, _, dataset = make_dataset(10)
    assert len(DataLoader(dataset, batch_size=4)) == 3
    assert len(DataLoader(dataset, batch_size=4, drop_last=True)) == 2
    assert len(list(DataLoader(dataset, batch_size=4, drop_last=True))) == 2
    assert len(DataLoader(dataset, batch_size=5, drop_last=True)) == 2


def test_shuffled_epoch_is_a_permutation_and_rows_stay_paired():
    X, y, dataset = make_dataset(23)
    loader = DataLoader(dataset, batch_size=5, shuffle=True, generator=numpy.random.default_rng(1))
    seen = []
    for batch_x, batch_y in loader:
        numpy.testing.assert_array_equal(batch_x.numpy(), X[batch_y.numpy()])
        seen.extend(batch_y.numpy().tolist())
    assert sorted(seen) == list(range(23))
    assert seen != list(range(23))


def test_shuffle_repeats_under_manual_seed_and_changes_between_epochs():
    _, _, dataset = make_dataset(50)
    loader = DataLoader(dataset, batch_size=50, shuffle=True)

    def epoch():
        return next(iter(loader))[1].numpy()

    chainrule.manual_seed(7)
    first, second = epoch(), epoch()
    chainrule.manual_seed(7)
    numpy.testing.assert_array_equal(epoch(), first)
    assert not numpy.array_equal(first, second)


def test_shuffled_drop_last_leaves_out_only_the_short_batch():
    _, _, dataset = make_dataset(10)
    loader = DataLoader(dataset, batch_size=3, shuffle=True, drop_last=True)
    sizes = [len(b_y) for _, b_y in loader]
    assert sizes == [3, 3, 3]


class Squares(Dataset):
    """A dataset computed per row, to exercise the generic (non-TensorDataset) path."""

    def __len__(self):
        return 7

    def __getitem__(self, index):
        return numpy.array([index, index * index], dtype=numpy.float32), index % 2


def test_loader_collates_a_generic_dataset_field_by_field():
    batches = list(DataLoader(Squares(), batch_size=3))
    features, parity = batches[-1]
    assert features.shape == (1, 2) and parity.shape == (1,)
    numpy.testing.assert_array_equal(batches[0][0].numpy(), [[0, 0], [1, 1], [2, 4]])
    numpy.testing.assert_array_equal(batches[0][1].numpy(), [0, 1, 0])


def test_loader_refuses_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Squares(), batch_size=0)


def test_a_tensor_dataset_is_gathered_once_per_batch_not_once_per_row():
    class CountingDataset(TensorDataset):
        calls = 0

        def __getitem__(self, index):
            CountingDataset.calls += 1
            return super().__getitem__(index)

    X, y, _ = make_dataset(10)
    for shuffle in (False, True):
        CountingDataset.calls = 0
        batches = list(DataLoader(CountingDataset(X, y), batch_size=4, shuffle=shuffle))
        assert CountingDataset.calls == len(batches) == 3


def test_in_order_batches_are_views_of_the_dataset_arrays():
    X, y, dataset = make_dataset(10)
    first_x, _ = next(iter(DataLoader(dataset, batch_size=4)))
    assert numpy.shares_memory(first_x.data, dataset.arrays[0])
