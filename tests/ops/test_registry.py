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
    "adaptive_avg_pool2d", "batch_norm", "softplus", "logsigmoid", "leaky_relu", "l1_loss",
    "huber_loss", "smooth_l1_loss", "kl_div", "normalize",
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


PRIMITIVE_CASES = [c for c in CASES if REGISTRY[c[0]].kind == "primitive"]


def _gradients(info, sample, seed, change_unsaved: bool, create_graph: bool):
    """The op's gradients on a sample; with ``change_unsaved``, every float tensor the op does not
    declare in ``saves`` (inputs and output) is changed after the forward, before the backward."""
    inputs = build_inputs(sample, seed)
    out = info.function(*inputs, **sample.kwargs)
    names = [name for name in _input_names(info.function, len(inputs))]
    if change_unsaved:
        with chainrule.no_grad():
            for name, tensor in zip(names, inputs):
                if name not in info.function.saves and tensor.dtype.kind == "f":
                    tensor.data[...] = tensor.data * 1.5 + 0.25  # in place: views see it too
            if "out" not in info.function.saves:
                out.data = out.data * 1.5 + 0.25
    wrt = [t for t in inputs if t.requires_grad]
    probe = chainrule.tensor(numpy.random.default_rng(7).standard_normal(out.shape),
                             dtype=out.dtype)
    grads = chainrule.autograd.grad(out, wrt, probe, allow_unused=True, create_graph=create_graph)
    return [None if g is None else g.detach().numpy() for g in grads]


def _input_names(function, count):
    import inspect

    parameters = list(inspect.signature(function.__wrapped__).parameters.values())
    if parameters[0].kind is parameters[0].VAR_POSITIONAL:
        return [parameters[0].name] * count
    return [p.name for p in parameters[:count]]


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensor-ops"])
@pytest.mark.parametrize("name,index", PRIMITIVE_CASES)
def test_what_an_op_does_not_save_its_gradients_do_not_read(name, index, create_graph):
    """The check of ``saves``: a VJP reading an undeclared tensor would see the change here."""
    info = REGISTRY[name]
    sample = info.samples[index]
    expected = _gradients(info, sample, index, change_unsaved=False, create_graph=create_graph)
    found = _gradients(info, sample, index, change_unsaved=True, create_graph=create_graph)
    for want, got in zip(expected, found):
        if want is None:
            assert got is None
        else:
            numpy.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name,index", PRIMITIVE_CASES)
def test_changing_what_an_op_saved_makes_backward_refuse(name, index):
    info = REGISTRY[name]
    sample = info.samples[index]
    names = _input_names(info.function, len(sample.args))
    for changed in info.function.saves:
        inputs = build_inputs(sample, index)
        out = info.function(*inputs, **sample.kwargs)
        if changed in sample.kwargs:  # a setting holding index arrays (getitem's index)
            setting = sample.kwargs[changed]
            arrays = [a for a in (setting if isinstance(setting, tuple) else (setting,))
                      if isinstance(a, numpy.ndarray)]
            if not arrays:
                continue  # basic slices: nothing an in-place write could change
            targets = [chainrule.from_numpy(array) for array in arrays]
        else:
            targets = [out if changed == "out" else inputs[names.index(changed)]]
        with chainrule.no_grad():
            for target in targets:  # same values; the write is what counts
                target.copy_(target.detach().clone())
        with pytest.raises(RuntimeError, match=f"{name}: its .*modified by an in-place"):
            chainrule.autograd.grad(out, [t for t in inputs if t.requires_grad],
                                    chainrule.ones_like(out), allow_unused=True)
