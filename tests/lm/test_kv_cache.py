"""The KV cache gives the full re-run's logits and text; nucleus (top-p) sampling keeps the
smallest set of likeliest tokens."""
import numpy
import pytest

import chainrule
from chainrule.models.gpt import GPT, GPTConfig, LayerCache, _nucleus


def model_in_float64(block_size=16, seed=0):
    chainrule.manual_seed(seed)
    chainrule.set_default_dtype(chainrule.float64)
    try:
        model = GPT(GPTConfig(vocab_size=11, block_size=block_size, n_layer=2, n_head=2,
                              n_embd=8, bias=True))
    finally:
        chainrule.set_default_dtype(chainrule.float32)
    return model.eval()


def test_cached_logits_equal_the_full_re_run_at_every_position_in_float64():
    model = model_in_float64()
    tokens = chainrule.randint(0, 11, (3, 12))
    with chainrule.no_grad():
        caches = [LayerCache() for _ in model.h]
        prompt = 5
        cached = [model.forward_cached(tokens[:, :prompt], caches)]
        for t in range(prompt, 12):
            cached.append(model.forward_cached(tokens[:, t:t + 1], caches))
        for step, logits in enumerate(cached):
            full, _ = model(tokens[:, :prompt + step])
            assert full.dtype == chainrule.float64
            numpy.testing.assert_allclose(logits.numpy(), full.numpy(), rtol=0, atol=1e-12)
    assert len(caches[0]) == 12


@pytest.mark.parametrize("top_k,top_p", [(None, None), (4, None), (None, 0.7)])
def test_generation_with_and_without_the_cache_gives_the_same_tokens(top_k, top_p):
    model = model_in_float64(block_size=16)
    prompt = chainrule.randint(0, 11, (2, 3))
    # 30 new tokens: past the context of 16, where every step re-runs the last 16 tokens
    runs = [model.generate(prompt, 30, top_k=top_k, top_p=top_p, use_cache=use_cache,
                           generator=numpy.random.default_rng(5)).numpy()
            for use_cache in (True, False)]
    numpy.testing.assert_array_equal(runs[0], runs[1])


def test_nucleus_keeps_the_likeliest_tokens_up_to_top_p():
    probabilities = numpy.array([[0.05, 0.5, 0.15, 0.3], [0.25, 0.25, 0.25, 0.25]])
    kept = _nucleus(probabilities, 0.8)
    # row 0: 0.5 and 0.3 reach 0.8; row 1: three quarters fall short of 0.8, so all four stay
    numpy.testing.assert_array_equal(kept[0], [0, 0.5, 0, 0.3])
    numpy.testing.assert_array_equal(kept[1], [0.25, 0.25, 0.25, 0.25])
    numpy.testing.assert_array_equal(_nucleus(probabilities, 0.75)[1], [0.25, 0.25, 0.25, 0])
    numpy.testing.assert_array_equal(_nucleus(probabilities, 0.81)[0], [0, 0.5, 0.15, 0.3])
    numpy.testing.assert_array_equal(_nucleus(probabilities, 1e-9)[0], [0, 0.5, 0, 0])


def test_a_tiny_top_p_samples_the_likeliest_token_as_temperature_zero_does():
    model = model_in_float64()
    prompt = chainrule.randint(0, 11, (1, 4))
    nucleus = model.generate(prompt, 10, top_p=1e-9, generator=numpy.random.default_rng(1))
    greedy = model.generate(prompt, 10, temperature=0)
    numpy.testing.assert_array_equal(nucleus.numpy(), greedy.numpy())


@pytest.mark.parametrize("top_p", [0, -0.5, 1.5, float("nan")])
def test_top_p_outside_zero_to_one_is_refused(top_p):
    model = model_in_float64()
    with pytest.raises(ValueError, match="top_p must be in"):
        model.generate(chainrule.randint(0, 11, (1, 2)), 3, top_p=top_p)


@pytest.mark.parametrize("temperature", [1e-300, 1e-310, 5e-324])
def test_a_vanishing_temperature_samples_as_temperature_zero_does(temperature):
    # logits / 1e-310 overflow to ±inf, and softmax's inf − inf made every probability NaN,
    # which always sampled token 0
    model = model_in_float64()
    prompt = chainrule.randint(0, 11, (2, 4))
    cold = model.generate(prompt, 10, temperature=temperature,
                          generator=numpy.random.default_rng(1))
    greedy = model.generate(prompt, 10, temperature=0)
    numpy.testing.assert_array_equal(cold.numpy(), greedy.numpy())


def test_tokens_without_a_batch_dimension_are_refused_with_the_fix():
    model = model_in_float64()
    tokens = chainrule.randint(0, 11, (5,))
    for call in (lambda: model.generate(tokens, 3), lambda: model(tokens)):
        with pytest.raises(ValueError, match=r"GPT: tokens must be \(batch, time\), got shape "
                                             r"\(5,\); for one sequence give tokens\[None\]"):
            call()
    assert model.generate(tokens[None], 3).shape == (1, 8)


def test_cached_positions_past_the_context_are_refused_by_name():
    model = model_in_float64(block_size=8)
    caches = [LayerCache() for _ in model.h]
    with chainrule.no_grad():
        model.forward_cached(chainrule.randint(0, 11, (1, 6)), caches)
        with pytest.raises(ValueError, match=r"GPT: 3 new tokens after 6 cached positions do "
                                             r"not fit in the context of 8"):
            model.forward_cached(chainrule.randint(0, 11, (1, 3)), caches)


@pytest.mark.parametrize("top_k", [2.5, "3"])
def test_a_top_k_that_is_not_a_whole_number_is_refused(top_k):
    model = model_in_float64()
    with pytest.raises(ValueError, match="top_k must be a whole number"):
        model.generate(chainrule.randint(0, 11, (1, 2)), 3, top_k=top_k)
