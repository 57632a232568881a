"""The transformer's layers: embedding gradients, causal attention, the fused primitives."""
import math

import numpy
import pytest

import chainrule
from chainrule.models.gpt import CausalSelfAttention, TransformerBlock
from chainrule.nn import Embedding, LayerNorm
from chainrule.ops import REGISTRY, embedding_dense_backward, gelu_tanh, layer_norm
from chainrule.ops.transformer import ONE_HOT_LIMIT


def test_repeated_tokens_accumulate_their_gradients():
    chainrule.manual_seed(0)
    table = Embedding(5, 3).double()
    tokens = chainrule.tensor([[1, 3, 1], [1, 0, 3]])  # token 1 three times, token 3 twice
    signal = numpy.random.default_rng(0).standard_normal((2, 3, 3))
    (table(tokens) * chainrule.tensor(signal)).sum().backward()
    grad = table.weight.grad.numpy()
    assert numpy.allclose(grad[1], signal[0, 0] + signal[0, 2] + signal[1, 0])
    assert numpy.allclose(grad[3], signal[0, 1] + signal[1, 2])
    assert numpy.allclose(grad[[2, 4]], 0)


def test_embedding_gradient_matches_finite_differences_with_repeats():
    chainrule.manual_seed(1)
    weight = chainrule.randn(4, 3, dtype=chainrule.float64, requires_grad=True)
    tokens = chainrule.tensor([[2, 2, 0], [2, 1, 0]])
    assert chainrule.gradcheck(lambda w: chainrule.ops.embedding(tokens, w).tanh(), [weight])
    assert chainrule.gradgradcheck(lambda w: chainrule.ops.embedding(tokens, w).tanh(), [weight])


def test_large_vocabulary_backward_sorts_and_agrees_with_add_at():
    rng = numpy.random.default_rng(0)
    vocabulary = ONE_HOT_LIMIT // 100 + 1  # past the one-hot limit for 100 positions
    indices = rng.integers(0, 20, size=100)  # few distinct rows, many repeats
    signal = rng.standard_normal((100, 4))
    expected = numpy.zeros((vocabulary, 4))
    numpy.add.at(expected, indices, signal)
    got = embedding_dense_backward(chainrule.tensor(signal), chainrule.tensor(indices),
                                   num_weights=vocabulary)
    assert numpy.allclose(got.numpy(), expected)


def test_embedding_refuses_a_token_outside_the_table():
    with pytest.raises(IndexError, match="index 7 is out of range for 5 embeddings"):
        Embedding(5, 2)(chainrule.tensor([1, 7]))


def test_fused_primitives_are_registered_for_the_gradient_checks():
    for name in ("layer_norm", "embedding", "embedding_dense_backward", "gelu_tanh",
                 "scaled_dot_product_attention"):
        assert REGISTRY[name].kind == "primitive" and REGISTRY[name].samples


def test_layer_norm_is_gradient_checked_through_the_registry_to_second_order():
    info = REGISTRY["layer_norm"]
    rng = numpy.random.default_rng(3)
    for sample in info.samples:
        inputs = [chainrule.tensor(rng.uniform(-2, 2, size=shape), dtype=chainrule.float64,
                                   requires_grad=True) for shape in sample.args]
        assert chainrule.gradcheck(lambda *xs: info.function(*xs, **sample.kwargs), inputs)
        assert chainrule.gradgradcheck(lambda *xs: info.function(*xs, **sample.kwargs), inputs)


def test_layer_norm_normalises_rows_then_scales_and_shifts():
    x = numpy.random.default_rng(0).standard_normal((4, 6)) * 3 + 2
    weight, bias = numpy.linspace(0.5, 2, 6), numpy.linspace(-1, 1, 6)
    expected = (x - x.mean(1, keepdims=True)) / numpy.sqrt(x.var(1, keepdims=True) + 1e-5) * weight + bias
    got = layer_norm(chainrule.tensor(x), chainrule.tensor(weight), chainrule.tensor(bias))
    assert numpy.allclose(got.numpy(), expected)
    assert LayerNorm(6, bias=False).bias is None


def test_gelu_tanh_is_gpt2s_formula_and_stays_finite_far_out():
    x = numpy.array([-100.0, -3.0, -0.5, 0.0, 0.7, 4.0, 100.0])
    expected = 0.5 * x * (1 + numpy.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    assert numpy.allclose(gelu_tanh(chainrule.tensor(x)).numpy(), expected)
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):
        assert numpy.isfinite(gelu_tanh(chainrule.tensor(x, dtype=chainrule.float32)).numpy()).all()


def test_gelu_tanh_in_float32_is_within_a_few_rounding_errors_of_the_float64_formula():
    x = numpy.concatenate([numpy.linspace(-12, 12, 20001),
                           numpy.random.default_rng(0).standard_normal(20000) * 3])
    x32 = x.astype(numpy.float32)
    exact = x32.astype(numpy.float64)
    tanh = numpy.tanh(math.sqrt(2 / math.pi) * (exact + 0.044715 * exact ** 3))
    value = 0.5 * exact * (1 + tanh)
    slope = 0.5 * (1 + tanh) + 0.5 * exact * (1 - tanh ** 2) * math.sqrt(2 / math.pi) \
        * (1 + 3 * 0.044715 * exact ** 2)
    inputs = chainrule.tensor(x32, requires_grad=True)
    outputs = gelu_tanh(inputs)
    outputs.sum().backward()
    assert outputs.dtype == inputs.grad.dtype == chainrule.float32
    # float32 keeps about 7 digits: values up to 12, slopes up to 1.13
    assert numpy.abs(outputs.detach().numpy() - value).max() < 1e-6
    assert numpy.abs(inputs.grad.numpy() - slope).max() < 4e-6


def test_attention_never_looks_at_the_future():
    chainrule.manual_seed(0)
    attention = CausalSelfAttention(n_embd=8, n_head=2).double()
    x = numpy.random.default_rng(0).standard_normal((2, 5, 8))
    changed = x.copy()
    changed[:, 3:] += 10.0  # rewrite positions 3 and 4
    before = attention(chainrule.tensor(x)).detach().numpy()
    after = attention(chainrule.tensor(changed)).detach().numpy()
    assert numpy.allclose(before[:, :3], after[:, :3])
    assert not numpy.allclose(before[:, 3:], after[:, 3:])


def test_attention_heads_match_a_loop_over_heads_with_a_masked_softmax():
    chainrule.manual_seed(0)
    attention = CausalSelfAttention(n_embd=6, n_head=3, bias=True).double()
    x = numpy.random.default_rng(1).standard_normal((1, 4, 6))
    qkv = x[0] @ attention.c_attn.weight.detach().numpy().T + attention.c_attn.bias.detach().numpy()
    heads = []
    for h in range(3):
        q, k, v = (qkv[:, part * 6 + 2 * h: part * 6 + 2 * h + 2] for part in range(3))
        scores = q @ k.T / math.sqrt(2) + numpy.triu(numpy.full((4, 4), -numpy.inf), 1)
        weights = numpy.exp(scores - scores.max(1, keepdims=True))
        heads.append(weights / weights.sum(1, keepdims=True) @ v)
    expected = numpy.concatenate(heads, axis=1) @ attention.c_proj.weight.detach().numpy().T \
        + attention.c_proj.bias.detach().numpy()
    assert numpy.allclose(attention(chainrule.tensor(x)).detach().numpy()[0], expected)


def test_a_block_passes_gradient_checks_end_to_end():
    chainrule.manual_seed(2)
    block = TransformerBlock(n_embd=4, n_head=2, bias=True).double()
    x = chainrule.randn(1, 3, 4, dtype=chainrule.float64, requires_grad=True)
    assert chainrule.gradcheck(block, [x])


def test_packed_attention_equals_splitting_heads_and_attending_each():
    rng = numpy.random.default_rng(5)
    qkv = chainrule.tensor(rng.standard_normal((2, 5, 12)), requires_grad=True)
    fused = chainrule.ops.causal_self_attention(qkv, n_head=2)
    q, k, v = (part.reshape(2, 5, 2, 2).transpose(1, 2) for part in qkv.split(4, dim=2))
    composed = chainrule.ops.scaled_dot_product_attention(q, k, v, is_causal=True)
    composed = composed.transpose(1, 2).reshape(2, 5, 4)
    assert numpy.allclose(fused.detach().numpy(), composed.detach().numpy())
    signal = chainrule.tensor(rng.standard_normal((2, 5, 4)))
    fused_grad, = chainrule.autograd.grad(fused, [qkv], signal)
    composed_grad, = chainrule.autograd.grad(composed, [qkv], signal)
    assert numpy.allclose(fused_grad.numpy(), composed_grad.numpy())
