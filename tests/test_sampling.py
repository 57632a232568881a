"""multinomial: PyTorch's shapes and dtype, frequencies proportional to the weights, refusals."""
import numpy
import pytest

import chainrule

WEIGHTS = numpy.array([0.5, 0.0, 2.0, 1.5])  # probabilities 1/8, 0, 1/2, 3/8


def test_draws_with_replacement_come_as_often_as_their_weights_say():
    draws = chainrule.multinomial(chainrule.tensor(WEIGHTS), 40_000, replacement=True,
                                  generator=numpy.random.default_rng(0))
    assert draws.dtype == chainrule.int64 and draws.shape == (40_000,)
    counts = numpy.bincount(draws.numpy(), minlength=4)
    expected = 40_000 * WEIGHTS / WEIGHTS.sum()
    spread = numpy.sqrt(expected * (1 - WEIGHTS / WEIGHTS.sum()))
    assert counts[1] == 0  # a weight of 0 is never drawn
    assert (numpy.abs(counts - expected) <= 5 * spread).all()


def test_the_first_draw_without_replacement_follows_the_weights_and_none_repeats():
    rows = chainrule.tensor(numpy.tile(WEIGHTS, (20_000, 1)))
    draws = chainrule.multinomial(rows, 3, generator=numpy.random.default_rng(1)).numpy()
    assert draws.shape == (20_000, 3)
    assert (numpy.sort(draws, axis=1) == [0, 2, 3]).all()  # the three of nonzero weight, once
    first = numpy.bincount(draws[:, 0], minlength=4) / 20_000
    numpy.testing.assert_allclose(first, WEIGHTS / WEIGHTS.sum(), atol=0.015)
    # the second draw is from the rest: after 2 (probability ½), 3 comes with 1.5 / 2.0
    after_two = draws[draws[:, 0] == 2, 1]
    assert abs((after_two == 3).mean() - 0.75) < 0.02


def test_the_same_seed_gives_the_same_draws():
    probabilities = chainrule.softmax(chainrule.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]]), dim=-1)
    chainrule.manual_seed(7)
    first = chainrule.multinomial(probabilities, 2, replacement=True)
    chainrule.manual_seed(7)
    assert chainrule.equal(first, chainrule.multinomial(probabilities, 2, replacement=True))


@pytest.mark.parametrize("replacement", [True, False])
def test_no_rows_of_weights_give_no_rows_of_draws(replacement):
    draws = chainrule.multinomial(chainrule.ones(0, 4), 2, replacement=replacement)
    assert draws.shape == (0, 2) and draws.dtype == chainrule.int64


@pytest.mark.parametrize("weights,settings,message", [
    ([0.2, -0.1, 0.9], {}, "finite and ≥ 0"),
    ([0.2, float("nan"), 0.9], {}, "finite and ≥ 0"),
    ([0.0, 0.0], {}, "sums to 0"),
    ([0.5, 0.0, 0.5], {"num_samples": 3}, "3 samples without replacement from 2 categories"),
    ([[[0.5]]], {}, r"shape \(C,\) or \(N, C\)"),
    ([0.5, 0.5], {"num_samples": 0}, "num_samples must be"),
])
def test_bad_weights_or_counts_are_refused_by_name(weights, settings, message):
    with pytest.raises(ValueError, match=f"^multinomial: .*{message}"):
        chainrule.multinomial(chainrule.tensor(weights), settings.get("num_samples", 1))
