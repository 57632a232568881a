"""One test walks the registry: every op, first and second order, on each of its samples."""
import numpy
import pytest

import chainrule
from chainrule.ops import REGISTRY
from chainrule.ops.primitive import Sample

# The public ops of chainrule.* and Tensor that take part in gradients: each must be registered.
PUBLIC_DIFFERENTIABLE = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "exp", "log", "sqrt", "abs", "sin", "cos",
    "tanh", "sigmoid", "relu", "erf", "maximum", "minimum", "where", "clamp", "cast", "sum", "mean",
    "var", "std", "amax", "amin", "logsumexp", "softmax", "log_softmax", "reshape", "permute",
    "transpose", "unsqueeze", "squeeze", "flatten", "expand", "sum_to", "getitem", "scatter_add",
    "cat", "stack", "tril", "triu", "masked_fill", "linear", "cross_entropy", "nll_loss",
    "mse_loss", "binary_cross_entropy_with_logits", "gelu", "cross_entropy_per_sample",
    "binary_cross_entropy_with_logits_per_element", "matmul2d", "gather", "scatter",
    "scatter_add_dim", "index_select", "take_along_dim", "flip", "cumsum", "prod", "sort", "topk",
    "einsum", "conv", "conv_input_grad", "conv_weight_grad", "max_pool2d", "avg_pool2d",
    "adaptive_avg_pool2d", "batch_norm",
]


def build_inputs(sample: Sample, seed: int):
    rng = numpy.random.default_rng(seed)
    inputs = []
    for arg in sample.args:
        if isinstance(arg, tuple):
            values = rng.uniform(sample.low, sample.high, size=arg)
            inputs.append(chainrule.tensor(values, dtype=chainrule.float64, requires_grad=True))
        else:
            inputs.append(chainrule.tensor(arg))
    return inputs


CASES = [(name, i) for name, info in sorted(REGISTRY.items()) for i in range(len(info.samples))]
REJECTS = [(name, i) for name, info in sorted(REGISTRY.items()) for i in range(len(info.rejects))]


def test_every_public_op_is_registered_with_samples():
    missing = [name for name in PUBLIC_DIFFERENTIABLE if name not in REGISTRY]
    assert not missing, f"ops without registry entries: {missing}"
    without_samples = [name for name, info in REGISTRY.items() if not info.samples]
    assert not without_samples, f"registered ops without samples: {without_samples}"


@pytest.mark.parametrize("name,index", CASES)
def test_first_order_matches_finite_differences(name, index):
    info = REGISTRY[name]
    sample = info.samples[index]
    inputs = build_inputs(sample, seed=index)
    assert chainrule.gradcheck(lambda *xs: info.function(*xs, **sample.kwargs), inputs)


@pytest.mark.parametrize("name,index", [c for c in CASES if REGISTRY[c[0]].second_order])
def test_second_order_matches_finite_differences(name, index):
    info = REGISTRY[name]
    sample = info.samples[index]
    inputs = build_inputs(sample, seed=index)
    assert chainrule.gradgradcheck(lambda *xs: info.function(*xs, **sample.kwargs), inputs)


@pytest.mark.parametrize("name,index", REJECTS)
def test_bad_inputs_are_refused(name, index):
    info = REGISTRY[name]
    reject = info.rejects[index]
    inputs = build_inputs(Sample(reject.args), seed=0)
    with pytest.raises(reject.error) as caught:
        info.function(*inputs, **reject.kwargs)
    assert name.split("_")[0] in str(caught.value) or "range" in str(caught.value)
