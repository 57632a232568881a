import numpy
import pytest
from hypothesis import given, settings, strategies as st

from chainrule.data import train_val_test_split
from chainrule.errors import DataError


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(3, 500), val=st.floats(0, 0.45), test=st.floats(0, 0.45),
       seed=st.integers(0, 2**32 - 1))
def test_parts_never_overlap_and_cover_every_row(rows, val, test, seed):
    split = train_val_test_split(rows, val=val, test=test, seed=seed)
    everything = numpy.concatenate([split.train, split.val, split.test])
    assert len(everything) == rows
    assert numpy.array_equal(numpy.sort(everything), numpy.arange(rows))
    assert len(split.train) > 0
    assert abs(len(split.test) - test * rows) <= 1
    assert abs(len(split.val) - val * rows) <= 1


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 80), min_size=2, max_size=5), seed=st.integers(0, 1000))
def test_stratified_parts_keep_class_proportions(counts, seed):
    labels = numpy.repeat(numpy.arange(len(counts)), counts)
    numpy.random.default_rng(seed).shuffle(labels)
    split = train_val_test_split(labels, val=0.2, test=0.3, stratify=labels, seed=seed)
    everything = numpy.sort(numpy.concatenate([split.train, split.val, split.test]))
    assert numpy.array_equal(everything, numpy.arange(len(labels)))
    for part, fraction in ((split.val, 0.2), (split.test, 0.3)):
        per_class = numpy.bincount(labels[part], minlength=len(counts))
        assert numpy.all(numpy.abs(per_class - fraction * numpy.array(counts)) <= 1)


def test_stratified_split_is_exact_when_classes_divide_evenly():
    labels = numpy.array([0] * 60 + [1] * 30 + [2] * 10)
    split = train_val_test_split(100, val=0.1, test=0.2, stratify=labels, seed=3)
    assert numpy.bincount(labels[split.test]).tolist() == [12, 6, 2]
    assert numpy.bincount(labels[split.val]).tolist() == [6, 3, 1]


def test_same_seed_same_split_and_another_seed_another():
    first = train_val_test_split(100, seed=5)
    again = train_val_test_split(100, seed=5)
    other = train_val_test_split(100, seed=6)
    assert all(numpy.array_equal(a, b) for a, b in zip(first.sizes(), again.sizes()))
    assert numpy.array_equal(first.test, again.test) and numpy.array_equal(first.val, again.val)
    assert not numpy.array_equal(first.test, other.test)


def test_sizes_round_to_the_nearest_row():
    assert train_val_test_split(10, val=0.1, test=0.2).sizes() == (7, 1, 2)
    assert train_val_test_split(1000, val=0.15, test=0.15).sizes() == (700, 150, 150)


@pytest.mark.parametrize("val, test, message", [
    (0.5, 0.5, "add up to less than 1"),
    (0.7, 0.6, "add up to less than 1"),
    (-0.1, 0.2, "val=-0.1"),
    (0.1, 1.0, "test=1.0"),
])
def test_fractions_that_do_not_add_up_are_refused(val, test, message):
    with pytest.raises(DataError, match=message):
        train_val_test_split(100, val=val, test=test)


def test_stratify_labels_must_match_rows():
    with pytest.raises(DataError, match="one label per row"):
        train_val_test_split(10, stratify=numpy.zeros(9))


def test_rounding_always_leaves_a_row_for_training():
    assert train_val_test_split(4, val=0.375, test=0.375).sizes() == (1, 1, 2)


def test_stratified_split_with_no_row_left_for_training_is_refused():
    labels = numpy.array([0, 0, 1, 1])
    with pytest.raises(DataError, match="no rows for training"):
        train_val_test_split(4, val=0.45, test=0.5, stratify=labels)
