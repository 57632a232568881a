"""Does chainrule's public API behave like PyTorch's wherever PyTorch has the thing?

Each case below is written ONCE, as a function of a library namespace (``chainrule`` or
``torch``) and its ``nn.functional``; it runs on both with the same float64 inputs (random, with
broadcast shapes), and the outputs and the input gradients (backward of a random projection
Σ r ∘ out) must agree to 1e-10 relative (max-norm). Outputs must also agree in shape and dtype.
Cases that call ``autograd.grad(..., create_graph=True)`` inside compare second derivatives.
The same cases then run on float32 inputs: the output dtypes must match, the values to 1e-5.

Then: creation functions (dtype, shape, values), Tensor properties and autograd behaviour
(in-place updates included), each compared as text; and a last table of probes where the APIs
themselves differ (dtype rules, defaults, names), printing what each library does: those are
documented, not counted as failures.

    python benchmarks/parity_torch.py            # exit status 1 if anything but the probes fails
"""
from __future__ import annotations

import os
import sys
import time
import traceback
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as torch_F  # noqa: E402

import chainrule  # noqa: E402
import chainrule.nn.functional as chainrule_F  # noqa: E402

torch.set_num_threads(1)
TOLERANCE = 1e-10
FLOAT32_TOLERANCE = 1e-5
LIBRARIES = {"chainrule": (chainrule, chainrule_F), "torch": (torch, torch_F)}


# ---------------------------------------------------------------- inputs
class Float:
    """A float64 input with given values that requires grad (e.g. ties for max/min)."""

    def __init__(self, values):
        self.values = numpy.asarray(values, dtype=numpy.float64)


class Positive:
    """A random float64 input in [0.5, 2) that requires grad (log, sqrt, powers, divisors)."""

    def __init__(self, *shape):
        self.shape = shape


def make_inputs(spec, seed: int) -> list:
    """Turn a case's spec into NumPy values: shapes → random float64 that require grad,
    Float/Positive → float64 that require grad, arrays → constants, anything else as it is."""
    rng = numpy.random.default_rng(seed)
    values = []
    for item in spec:
        if isinstance(item, tuple):
            values.append(("grad", rng.uniform(-2, 2, size=item)))
        elif isinstance(item, Positive):
            values.append(("grad", rng.uniform(0.5, 2, size=item.shape)))
        elif isinstance(item, Float):
            values.append(("grad", item.values.copy()))
        elif isinstance(item, numpy.ndarray):
            values.append(("const", item))
        else:
            values.append(("raw", item))
    return values


def to_library(lib, values, float_dtype=numpy.float64) -> list:
    out = []
    for kind, value in values:
        if kind == "grad":
            out.append(lib.tensor(value.astype(float_dtype), requires_grad=True))
        elif kind == "const":
            float_values = value.dtype.kind == "f"
            out.append(lib.tensor(value.astype(float_dtype) if float_values else value.copy()))
        else:
            out.append(value)
    return out


def as_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, chainrule.Tensor):
        return value.detach().numpy()
    return numpy.asarray(value)


def outputs_of(result) -> list:
    """A case returns a tensor, or a tuple of them ((values, indices), pieces of split...)."""
    return list(result) if isinstance(result, (tuple, list)) else [result]


def relative_error(got, want) -> float:
    got, want = numpy.asarray(got, dtype=numpy.float64), numpy.asarray(want, dtype=numpy.float64)
    if got.shape != want.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    scale = max(float(numpy.abs(want).max()), 1e-300)
    return float(numpy.abs(got - want).max()) / scale


# ---------------------------------------------------------------- cases
CASES: list = []


def case(name: str, function, *spec) -> None:
    """Register ``function(lib, F, *inputs)`` as a parity case over the inputs in ``spec``."""
    CASES.append((name, function, spec))


ROWS = numpy.array([0, 2, 2, 1, 0])          # repeated indices: their gradients accumulate
COLUMNS = numpy.array([1, 1, 3, 0, 1])
LABELS = numpy.array([0, 3, 1, 2, 3])
LABELS_ND = numpy.array([[0, 3, 1], [2, 2, 0]])  # (N, d) labels for (N, C, d) logits
MASK = numpy.array([[True, False, True, True], [False, False, True, False],
                    [True, True, False, True]])
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 0.5], [0.0, -4.0, 5.0, 5.0]]

# arithmetic, Python numbers on either side, broadcasting
case("x + y (3,4)+(4,)", lambda lib, F, x, y: x + y, (3, 4), (4,))
case("x + y (2,1,4)+(3,1)", lambda lib, F, x, y: x + y, (2, 1, 4), (3, 1))
case("x + 2.5, 2.5 + x", lambda lib, F, x: (x + 2.5, 2.5 + x), (3, 4))
case("x - y, 3 - x, x - 3", lambda lib, F, x, y: (x - y, 3 - x, x - 3), (3, 4), (3, 1))
case("x * y, 2 * x, x * 2", lambda lib, F, x, y: (x * y, 2 * x, x * 2), (2, 3, 4), (4,))
case("x / y, 2 / y, x / 3", lambda lib, F, x, y: (x / y, 2 / y, x / 3),
                (3, 4), Positive(3, 4))
case("x ** y (broadcast)", lambda lib, F, x, y: x ** y, Positive(3, 4), (4,))
case("x ** 2, x ** 0.5, x ** -1", lambda lib, F, x: (x ** 2, x ** 0.5, x ** -1),
                Positive(3, 4))
case("x ** 3 (negative base)", lambda lib, F, x: x ** 3, (3, 4))
case("2 ** x, x.pow(3)", lambda lib, F, x: (2 ** x, x.pow(3)), (3, 4))
case("lib.pow(x, y)", lambda lib, F, x, y: lib.pow(x, y), Positive(3, 4), (3, 4))
case("-x", lambda lib, F, x: -x, (3, 4))
case("lib.add/sub/mul/div", lambda lib, F, x, y: (lib.add(x, y), lib.sub(x, y),
                                                             lib.mul(x, y), lib.div(x, y)),
                (3, 4), Positive(4,))

# matrix products, NumPy's 1-D rules
for shapes in [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4, 5)),
               ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 5))]:
    case(f"x @ y {shapes[0]}@{shapes[1]}", lambda lib, F, x, y: x @ y, *shapes)
case("lib.matmul(x, y)", lambda lib, F, x, y: lib.matmul(x, y), (2, 3, 4), (2, 4, 3))
case("x.matmul(y)", lambda lib, F, x, y: x.matmul(y), (3, 4), (4, 2))

# elementwise functions, as functions and as methods
for op in ["exp", "sin", "cos", "tanh", "sigmoid", "relu", "abs"]:
    case(f"lib.{op}, x.{op}()",
                    lambda lib, F, x, op=op: (getattr(lib, op)(x), getattr(x, op)()), (3, 4))
for op in ["log", "sqrt"]:
    case(f"lib.{op}, x.{op}()",
                    lambda lib, F, x, op=op: (getattr(lib, op)(x), getattr(x, op)()),
                    Positive(3, 4))
case("maximum/minimum (broadcast)",
                lambda lib, F, x, y: (lib.maximum(x, y), lib.minimum(x, y)), (3, 4), (4,))
case("maximum/minimum (ties halve)",
                lambda lib, F, x, y: (lib.maximum(x, y), lib.minimum(x, y), x.maximum(y)),
                Float(TIES), Float(numpy.full((3, 4), 2.0)))
case("where(cond, x, y)", lambda lib, F, c, x, y: lib.where(c, x, y),
                MASK, (3, 4), (4,))
case("where(x > 0, x, 0.0)", lambda lib, F, x: lib.where(x > 0, x, 0.0), (3, 4))
case("clamp(min=, max=)", lambda lib, F, x: (x.clamp(min=-0.5, max=0.7),
                                                        lib.clamp(x, min=0.1), x.clamp(max=0.3)),
                (3, 4))
case("clamp(x, lo, hi) positional", lambda lib, F, x: (lib.clamp(x, -0.5, 0.5),
                                                                  x.clamp(-1.0)), (3, 4))
case("clip", lambda lib, F, x: (lib.clip(x, -0.5, 0.5), x.clip(min=0.0)), (3, 4))

# reductions
case("sum", lambda lib, F, x: (x.sum(), x.sum(dim=1), x.sum(dim=(0, 2), keepdim=True),
                                          x.sum(-1), lib.sum(x, dim=0)), (2, 3, 4))
case("sum positional dim", lambda lib, F, x: (x.sum(1), lib.sum(x, 1),
                                                         x.sum((0, 2)), x.sum(1, True)),
                (2, 3, 4))
case("mean", lambda lib, F, x: (x.mean(), x.mean(dim=1), x.mean(1),
                                           x.mean(dim=(0, 2), keepdim=True), lib.mean(x, -1)),
                (2, 3, 4))
case("var", lambda lib, F, x: (x.var(), x.var(dim=1), x.var(1, keepdim=True),
                                          x.var(dim=1, correction=0), x.var(unbiased=False),
                                          lib.var(x, dim=(0, 2))), (2, 3, 4))
case("std", lambda lib, F, x: (x.std(), x.std(dim=1), x.std(dim=0, correction=0)),
                (2, 3, 4))
case("max/min (all)", lambda lib, F, x: (x.max(), x.min(), lib.max(x), lib.min(x)),
                (3, 4))
case("max/min(dim) values, indices",
                lambda lib, F, x: (*x.max(dim=1), *x.min(dim=0), *lib.max(x, 1, keepdim=True),
                                   *lib.min(x, -1)), (3, 4))
case("max(dim).values/.indices",
                lambda lib, F, x: (x.max(dim=1).values, x.max(dim=1).indices), (3, 4))
case("max(x, y) / min(x, y)", lambda lib, F, x, y: (lib.max(x, y), lib.min(x, y)),
                (3, 4), (4,))
case("amax/amin", lambda lib, F, x: (x.amax(dim=(0, 2)), x.amin(dim=-1),
                                                lib.amax(x, dim=1, keepdim=True), x.amax(),
                                                lib.amin(x, dim=(1, 2))), (2, 3, 4))
case("amax/amin positional dim", lambda lib, F, x: (x.amax(1), lib.amin(x, 0)), (3, 4))
case("max()/amax ties share", lambda lib, F, x: (x.max(), x.amax(dim=1), x.amin(dim=1)),
                Float(TIES))
case("logsumexp", lambda lib, F, x: (lib.logsumexp(x, dim=1), x.logsumexp(dim=(0, 2)),
                                                x.logsumexp(dim=-1, keepdim=True)), (2, 3, 4))
case("logsumexp positional dim", lambda lib, F, x: (x.logsumexp(1),
                                                               lib.logsumexp(x, 0)), (3, 4))
case("softmax/log_softmax", lambda lib, F, x: (lib.softmax(x, dim=1),
                                                          x.softmax(dim=-1), x.log_softmax(dim=0),
                                                          lib.log_softmax(x, dim=2)), (2, 3, 4))
case("softmax positional dim", lambda lib, F, x: (x.softmax(1), lib.softmax(x, 0),
                                                             x.log_softmax(-1),
                                                             lib.log_softmax(x, 1)), (3, 4))

# shapes
case("reshape/view", lambda lib, F, x: (x.reshape(2, 6), x.reshape((6, 2)), x.view(-1),
                                                   x.view(3, -1), x.reshape([4, 3])), (3, 4))
case("lib.reshape(x, shape)", lambda lib, F, x: lib.reshape(x, (4, 3)), (3, 4))
case("transpose", lambda lib, F, x: (x.transpose(0, 2), lib.transpose(x, -1, -2),
                                                x.transpose(1, -1)), (2, 3, 4))
case(".T, .mT", lambda lib, F, x, y: (x.T, y.mT), (3, 4), (2, 3, 4))
case("permute", lambda lib, F, x: (x.permute(2, 0, 1), x.permute((1, 2, 0)),
                                              x.permute(-1, 0, 1)), (2, 3, 4))
case("lib.permute(x, dims)", lambda lib, F, x: lib.permute(x, (2, 0, 1)), (2, 3, 4))
case("unsqueeze", lambda lib, F, x: (x.unsqueeze(1), lib.unsqueeze(x, -1),
                                                x.unsqueeze(0)), (3, 4))
case("squeeze", lambda lib, F, x: (x.squeeze(), x.squeeze(1), x.squeeze(0),
                                              lib.squeeze(x, -1), x.squeeze(dim=3)), (3, 1, 4, 1))
case("squeeze(tuple of dims)", lambda lib, F, x: x.squeeze((1, 3)), (3, 1, 4, 1))
case("expand", lambda lib, F, x, y: (x.expand(2, 3, 4), x.expand((2, 3, 4)),
                                                y.expand(3, -1)), (3, 1), (4,))
case("flatten", lambda lib, F, x: (x.flatten(), x.flatten(1), lib.flatten(x, 0, 1)),
                (2, 3, 4))

# indexing
case("x[1:3], x[..., 2], x[-1], x[::2]",
                lambda lib, F, x: (x[1:3], x[..., 2], x[-1], x[::2], x[:, 1:-1]), (4, 5))
case("x[:, None], x[None]", lambda lib, F, x: (x[:, None], x[None], x[..., None]),
                (4, 5))
case("x[rows] (repeated)", lambda lib, F, x, r: x[r], (4, 5), ROWS)
case("x[rows, cols] (repeated)", lambda lib, F, x, r, c: x[r, c], (4, 5), ROWS, COLUMNS)
case("x[:, cols]", lambda lib, F, x, c: x[:, c], (4, 5), COLUMNS)
case("x[bool mask]", lambda lib, F, x, m: x[m], (3, 4), MASK)
case("x[list]", lambda lib, F, x: x[[0, 2, 2]], (4, 5))

# joining
case("cat", lambda lib, F, x, y, z: (lib.cat([x, y], dim=0), lib.cat((x, z), dim=1),
                                                lib.cat([x, z], -1), lib.cat([x, y])),
                (2, 3), (4, 3), (2, 1))
case("stack", lambda lib, F, x, y: (lib.stack([x, y]), lib.stack((x, y), dim=2),
                                               lib.stack([x, y], -1), lib.stack([x, y], 1)),
                (2, 3), (2, 3))

# comparisons: boolean tensors, no gradient
case("comparisons", lambda lib, F, x, y: (x > y, x < y, x >= y, x <= 0.5, x == y,
                                                     x != y, x == x, lib.gt(x, y), lib.eq(x, y),
                                                     lib.le(x, 0.0)), (3, 4), (4,))

# nn.functional
case("F.relu/sigmoid/tanh", lambda lib, F, x: (F.relu(x), F.sigmoid(x), F.tanh(x)),
                (3, 4))
case("F.gelu (none, tanh)", lambda lib, F, x: (F.gelu(x), F.gelu(x, approximate="tanh"),
                                                          F.gelu(x, approximate="none")), (3, 4))
case("F.softmax/log_softmax", lambda lib, F, x: (F.softmax(x, dim=1),
                                                            F.log_softmax(x, dim=-1),
                                                            F.softmax(x, 0), F.log_softmax(x, 1)),
                (3, 4))
def reductions(loss, *args, **options) -> tuple:
    """The loss with reduction "mean", "sum" and "none"."""
    return tuple(loss(*args, reduction=r, **options) for r in ("mean", "sum", "none"))


case("F.mse_loss", lambda lib, F, x, y: reductions(F.mse_loss, x, y), (3, 4), (3, 4))
case("F.binary_cross_entropy_with_logits",
                lambda lib, F, x, t: reductions(F.binary_cross_entropy_with_logits, x, t),
                (3, 4), Positive(3, 4))
case("F.bce_with_logits(pos_weight=, weight=)",
     lambda lib, F, x, t: reductions(F.binary_cross_entropy_with_logits, x, t,
                                     pos_weight=lib.tensor([1.0, 2.0, 0.5, 3.0]).to(x.dtype),
                                     weight=lib.tensor([[0.5], [1.0], [2.0]]).to(x.dtype)),
     (3, 4), Positive(3, 4))
case("F.bce_with_logits (0/1 constant target)",
                lambda lib, F, x, t: F.binary_cross_entropy_with_logits(x, t),
                (3, 4), MASK.astype(numpy.float64))
case("F.cross_entropy (N,C)", lambda lib, F, x, t: reductions(F.cross_entropy, x, t),
                (5, 4), LABELS)
case("F.cross_entropy (N,C,d)", lambda lib, F, x, t: reductions(F.cross_entropy, x, t),
                (2, 4, 3), LABELS_ND)
case("F.cross_entropy (C,) unbatched", lambda lib, F, x, t: F.cross_entropy(x, t),
                (4,), numpy.array(2))
case("F.nll_loss (N,C)", lambda lib, F, x, t: (F.nll_loss(x, t),
                                                          F.nll_loss(x, t, reduction="sum"),
                                                          F.nll_loss(x.log_softmax(dim=1), t,
                                                                     reduction="none")),
                (5, 4), LABELS)
case("F.nll_loss (N,C,d)", lambda lib, F, x, t: (F.nll_loss(x, t),
                                                            F.nll_loss(x, t, reduction="sum"),
                                                            F.nll_loss(x, t, reduction="none")),
                (2, 4, 3), LABELS_ND)
WEIGHTS = numpy.array([1.0, 2.0, 0.5, 1.5])
LABELS_IGNORED = numpy.array([0, -100, 1, 2, -100])


def weights_like(lib, x):
    """Class weights in the logits' dtype (PyTorch refuses others)."""
    return lib.tensor(WEIGHTS).to(x.dtype)


case("F.cross_entropy(weight=)", lambda lib, F, x, t: (
    F.cross_entropy(x, t, weight=weights_like(lib, x)),
    F.cross_entropy(x, t, weight=weights_like(lib, x), reduction="sum"),
    F.cross_entropy(x, t, weight=weights_like(lib, x), reduction="none")), (5, 4), LABELS)
case("F.cross_entropy ignore_index (-100, 3)", lambda lib, F, x, t, u: (
    F.cross_entropy(x, t), F.cross_entropy(x, t, reduction="none"),
    F.cross_entropy(x, u, ignore_index=3), F.cross_entropy(x, u, ignore_index=3, reduction="sum")),
    (5, 4), LABELS_IGNORED, LABELS)
case("F.cross_entropy(label_smoothing=)", lambda lib, F, x, t, u: (
    F.cross_entropy(x, t, label_smoothing=0.1),
    F.cross_entropy(x, u, label_smoothing=0.2, reduction="none"),
    F.cross_entropy(x, u, label_smoothing=0.2, weight=weights_like(lib, x)),
    F.cross_entropy(x, u, label_smoothing=0.2, weight=weights_like(lib, x), reduction="sum")),
    (5, 4), LABELS, LABELS_IGNORED)
case("F.cross_entropy (N,C,d) weight, smoothing", lambda lib, F, x, t: (
    F.cross_entropy(x, t, weight=weights_like(lib, x), label_smoothing=0.3),
    F.cross_entropy(x, t, weight=weights_like(lib, x), ignore_index=2, reduction="none")),
    (2, 4, 3), LABELS_ND)
case("F.cross_entropy probabilities target", lambda lib, F, x, p, y, q: (
    F.cross_entropy(x, p), F.cross_entropy(x, p, reduction="none"),
    F.cross_entropy(x, p, weight=weights_like(lib, x), label_smoothing=0.1),
    F.cross_entropy(y, q, weight=weights_like(lib, x), reduction="sum")),
    (5, 4), Positive(5, 4), (2, 4, 3), Positive(2, 4, 3))
case("F.nll_loss weight, ignore_index", lambda lib, F, x, t, u: (
    F.nll_loss(x, t, weight=weights_like(lib, x)), F.nll_loss(x, t, reduction="none"),
    F.nll_loss(x, u, ignore_index=1, weight=weights_like(lib, x), reduction="sum")),
    (5, 4), LABELS_IGNORED, LABELS)
case("labels out of range: both refuse", lambda lib, F, x, t: _refuses(
    lambda: F.cross_entropy(x, t), lambda: F.nll_loss(x, t),
    lambda: F.cross_entropy(x, t, weight=weights_like(lib, x)), lambda: F.nll_loss(x, t - 5)),
    (5, 4), LABELS + 1)


def _refuses(*calls):
    """A bool tensor: did each call raise? (compared across the libraries like any output)"""
    raised = []
    for call in calls:
        try:
            call()
            raised.append(False)
        except (IndexError, RuntimeError, ValueError):
            raised.append(True)
    return chainrule.tensor(raised)
case("F.linear", lambda lib, F, x, w, b: (F.linear(x, w, b), F.linear(x, w),
                                                     F.linear(x, w, bias=b)),
                (5, 4), (3, 4), (3,))


# subgradients at kinks: relu and abs at 0, clamp at its bounds, sqrt/pow at 0
KINKS = [[0.0, -0.5, 0.5, 1.0], [-1.0, 2.0, 0.0, -0.5], [0.25, 0.5, -1.0, 0.0]]
case("at kinks: relu, abs, clamp bounds", lambda lib, F, x: (
    x.relu(), x.abs(), x.clamp(-0.5, 0.5), x.clamp(min=0.0), F.relu(x), lib.maximum(x, 0.0 * x)),
    Float(KINKS))
case("x ** 2 and x ** 3 at 0", lambda lib, F, x: (x ** 2, x ** 3, x.pow(1)),
                Float(KINKS))
case("argmax/argmin", lambda lib, F, x: (x.argmax(dim=1), x.argmin(dim=0), x.argmax(),
                                                    lib.argmax(x, dim=1, keepdim=True)), (3, 4))
case("autograd.grad(grad_outputs=)", lambda lib, F, x, v: lib.autograd.grad(
    (x.exp() * x).sum(dim=0), x, grad_outputs=v), (3, 4), numpy.linspace(-1, 1, 4))


# indexing along a dimension, running sums and products, sorting, einsum
ALONG = numpy.array([[0, 2, 2], [1, 0, 1], [3, 3, 3]])
ZEROS = [[2.0, 0.0, 3.0, -1.5], [0.0, 0.0, 3.0, 2.0], [1.0, 2.0, 0.5, 4.0]]
case("gather, take_along_dim", lambda lib, F, x, i: (x.gather(1, i), lib.gather(x.T, 0, i.T),
                                                    lib.take_along_dim(x, i, dim=1)), (3, 4), ALONG)
# src as large as the index: PyTorch's backward refuses a src larger than the index it scatters by
case("scatter_add, scatter", lambda lib, F, x, s, i: (
    x.scatter_add(1, i, s), lib.scatter_add(x, 1, i[:, :2], s[:, :2]),
    x.scatter(1, i[:, :1], s[:, :1])), (3, 4), (3, 3), ALONG)
case("index_select", lambda lib, F, x, i: (x.index_select(0, i), lib.index_select(x, 1, i[:2])),
     (4, 5), ROWS[:4])
case("cumsum, flip", lambda lib, F, x: (x.cumsum(1), lib.cumsum(x, dim=0), x.flip(1),
                                        lib.flip(x, (0, 2))), (2, 3, 4))
case("prod (zeros in the input)", lambda lib, F, x: (x.prod(1), lib.prod(x, 0, keepdim=True),
                                                     x.prod()), Float(ZEROS))
case("sort, argsort, topk", lambda lib, F, x: (*x.sort(dim=1), *lib.sort(x, 0, descending=True),
                                               x.argsort(dim=1), *x.topk(2), *x.topk(2, dim=0,
                                                                                   largest=False)),
     (3, 4))
case("einsum", lambda lib, F, x, y, z: (lib.einsum("bij,bjk->bik", x, y),
                                        lib.einsum("bij,bjk", x, y), lib.einsum("bij->j", x),
                                        lib.einsum("i,j->ij", z, z), lib.einsum("bij,bij->b", x, x)),
     (2, 3, 4), (2, 4, 5), (3,))

# convolutions on random geometries (stride, padding, dilation, groups), pooling, batch norm
GEOMETRIES = numpy.random.default_rng(17)
for number in range(8):
    groups = int(GEOMETRIES.choice([1, 2, 3]))
    stride, padding, dilation, kernel = (tuple(int(v) for v in GEOMETRIES.integers(low, high, 2))
                                         for low, high in ((1, 3), (0, 3), (1, 3), (1, 4)))
    settings = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    case(f"F.conv2d k{kernel} s{stride} p{padding} d{dilation} g{groups}".replace(", ", ","),
         lambda lib, F, x, w, b, settings=settings: (F.conv2d(x, w, b, **settings),
                                                     F.conv2d(x, w, **settings)),
         (2, 2 * groups, 7, 8), (3 * groups, 2) + kernel, (3 * groups,))
case("F.conv1d stride, padding, dilation, groups", lambda lib, F, x, w, b: (
    F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), F.conv1d(x, w, padding="same", groups=2)),
    (2, 4, 9), (6, 2, 3), (6,))
case("nn.Conv2d(padding='same')", lambda lib, F, x, w: F.conv2d(x, w, padding="same",
                                                                 dilation=(1, 2)),
     (2, 3, 6, 7), (4, 3, 3, 3))
case("F.max_pool2d", lambda lib, F, x: (F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1),
                                        F.max_pool2d(x, (3, 2), stride=(1, 2), dilation=(2, 1))),
     (2, 3, 7, 8))
case("F.avg_pool2d", lambda lib, F, x: (F.avg_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1),
                                        F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
     (2, 3, 7, 8))
case("F.adaptive_avg_pool2d", lambda lib, F, x: (F.adaptive_avg_pool2d(x, 1),
                                                 F.adaptive_avg_pool2d(x, (3, 2)),
                                                 F.adaptive_avg_pool2d(x, (7, None))),
     (2, 3, 7, 8))
STATISTICS = numpy.array([0.2, -0.5, 1.0]), numpy.array([0.5, 1.5, 2.0])
case("F.batch_norm train (N,C,H,W), running stats", lambda lib, F, x, w, b, m, v: (
    F.batch_norm(x, m, v, w, b, training=True, momentum=0.3), m * 1, v * 1),
    (4, 3, 2, 5), (3,), (3,), *STATISTICS)
case("F.batch_norm eval, (N,C) and (N,C,L)", lambda lib, F, x, y, w, b, m, v: (
    F.batch_norm(x, m, v, w, b, training=False, eps=1e-3), F.batch_norm(y, m, v, w, b)),
    (5, 3), (2, 3, 4), (3,), (3,), *STATISTICS)
case("F.batch_norm without affine or running stats", lambda lib, F, x: F.batch_norm(
    x, None, None, training=True), (4, 3, 2, 2))

# second order: autograd.grad with create_graph, then the harness differentiates the gradient
def hessian_case(name, function, *spec):
    def gradient(lib, F, *inputs):
        wrt = [t for t in inputs if getattr(t, "requires_grad", False)]
        return lib.autograd.grad(function(lib, F, *inputs), wrt, create_graph=True)
    CASES.append((f"2nd order: {name}", gradient, spec))


case("F.softplus/logsigmoid/leaky_relu",
     lambda lib, F, x: (F.softplus(x), F.softplus(x, beta=2.0, threshold=1.5), F.logsigmoid(x),
                        F.leaky_relu(x), F.leaky_relu(x, 0.2)), (3, 4))
case("F.layer_norm, F.normalize",
     lambda lib, F, x, w, b: (F.layer_norm(x, (4,), w, b), F.layer_norm(x, (4,)),
                              F.normalize(x), F.normalize(x, p=1.0, dim=0)), (3, 4), (4,), (4,))
case("F.l1_loss/huber_loss/smooth_l1_loss",
     lambda lib, F, x, y: (reductions(F.l1_loss, x, y) + reductions(F.huber_loss, x, y, delta=0.5)
                           + reductions(F.smooth_l1_loss, x, y, beta=0.5)
                           + reductions(F.smooth_l1_loss, x, y, beta=0.0)), (3, 4), (3, 4))
case("F.kl_div (batchmean, sum, none, log_target)",
     lambda lib, F, x, t: tuple(F.kl_div(x.log_softmax(dim=1), t, reduction=r)
                                for r in ("batchmean", "sum", "none"))
     + (F.kl_div(x.log_softmax(dim=1), t.log(), reduction="batchmean", log_target=True),),
     (3, 4), Positive(3, 4))
hessian_case("tanh", lambda lib, F, x: x.tanh().sum(), (3, 4))
hessian_case("sigmoid", lambda lib, F, x: (x.sigmoid() ** 2).sum(), (3, 4))
hessian_case("exp * sin", lambda lib, F, x: (x.exp() * x.sin()).sum(), (3, 4))
hessian_case("log, pow", lambda lib, F, x, y: (x.log() * x ** y).sum(), Positive(3, 4), (4,))
hessian_case("softmax", lambda lib, F, x, r: (F.softmax(x, dim=1) * r).sum(), (3, 4),
             numpy.linspace(-1, 1, 12).reshape(3, 4))
hessian_case("log_softmax", lambda lib, F, x, r: (F.log_softmax(x, dim=1) * r).sum(), (3, 4),
             numpy.linspace(-1, 1, 12).reshape(3, 4))
hessian_case("logsumexp", lambda lib, F, x: (x.logsumexp(dim=0) ** 2).sum(), (3, 4))
hessian_case("matmul, tanh (MLP)", lambda lib, F, x, w1, w2: ((x @ w1).tanh() @ w2).pow(2).sum(),
             (5, 3), (3, 4), (4, 2))
hessian_case("cross_entropy", lambda lib, F, x, w, t: F.cross_entropy(x @ w, t), (5, 3), (3, 4),
             LABELS)
hessian_case("bce_with_logits", lambda lib, F, x, t: F.binary_cross_entropy_with_logits(x, t),
             (3, 4), MASK.astype(numpy.float64))
hessian_case("gelu (both)", lambda lib, F, x: (F.gelu(x) * F.gelu(x, approximate="tanh")).sum(),
             (3, 4))
hessian_case("mse_loss", lambda lib, F, x, y: F.mse_loss(x * y, y), (3, 4), (3, 4))
hessian_case("softplus, logsigmoid, huber, kl_div",
             lambda lib, F, x, y: ((F.softplus(x, beta=2.0) * F.logsigmoid(y)).sum()
                                   + F.huber_loss(x * y, y, delta=0.5)
                                   + F.kl_div(x.log_softmax(dim=1), y.softmax(dim=1),
                                              reduction="batchmean")), (3, 4), (3, 4))
hessian_case("max, where, clamp", lambda lib, F, x: (lib.where(x > 0, x * x, x.clamp(min=-1) ** 3)
                                                     .amax(dim=1) ** 2).sum(), (3, 4))
hessian_case("var, mean", lambda lib, F, x: (x.var(dim=1) * x.mean(dim=0).sum()).sum(), (3, 4))
hessian_case("conv2d (groups, stride, dilation)", lambda lib, F, x, w: (F.conv2d(
    x, w, stride=2, padding=1, dilation=(1, 2), groups=2) ** 2).sum(), (2, 4, 6, 7), (4, 2, 3, 2))
hessian_case("batch_norm (training)", lambda lib, F, x, w: (F.batch_norm(
    x, None, None, w, None, training=True) ** 3).sum(), (4, 3, 2, 2), (3,))
hessian_case("max_pool2d, prod, einsum", lambda lib, F, x: (lib.einsum(
    "nchw,nchw->n", F.max_pool2d(x, 2), F.max_pool2d(x, 2)).prod()), (2, 2, 4, 4))
hessian_case("indexing, cat", lambda lib, F, x: (lib.cat([x[ROWS], x[1:3]]) ** 3).sum(), (4, 5))


def run_case(name, function, spec, seed, float_dtype=numpy.float64) -> tuple:
    """(forward error, gradient error, note) of one case: inf when shapes or dtypes differ."""
    values = make_inputs(spec, seed)
    results, grads = {}, {}
    for label, (lib, F) in LIBRARIES.items():
        inputs = to_library(lib, values, float_dtype)
        outs = outputs_of(function(lib, F, *inputs))
        results[label] = outs
        projected = None
        rng = numpy.random.default_rng(seed + 1)
        for out in outs:
            weights = rng.standard_normal(tuple(out.shape))
            if out.requires_grad:
                term = (out * lib.tensor(weights, dtype=out.dtype)).sum()
                projected = term if projected is None else projected + term
        wrt = [t for t in inputs if getattr(t, "requires_grad", False)]
        grads[label] = (lib.autograd.grad(projected, wrt, allow_unused=True)
                        if projected is not None else [None] * len(wrt))
    forward_error, notes = 0.0, []
    mine, theirs = results["chainrule"], results["torch"]
    if len(mine) != len(theirs):
        return float("inf"), float("inf"), f"{len(mine)} outputs vs {len(theirs)}"
    for i, (a, b) in enumerate(zip(mine, theirs)):
        a_dtype, b_dtype = str(a.dtype), str(b.dtype).replace("torch.", "")
        if a_dtype != b_dtype:
            notes.append(f"output {i}: dtype {a_dtype} vs {b_dtype}")
            forward_error = float("inf")
        if tuple(a.shape) != tuple(b.shape):
            notes.append(f"output {i}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
            forward_error = float("inf")
            continue
        forward_error = max(forward_error, relative_error(as_numpy(a), as_numpy(b)))
    gradient_error = None
    for a, b in zip(grads["chainrule"], grads["torch"]):
        if a is None and b is None:
            continue
        gradient_error = gradient_error or 0.0
        if a is None or b is None:
            gradient_error = float("inf")
            notes.append("a gradient is missing on one side")
            continue
        gradient_error = max(gradient_error, relative_error(as_numpy(a), as_numpy(b)))
    return forward_error, gradient_error, "; ".join(notes)


# ---------------------------------------------------------------- creation and properties
def creation_checks() -> list:
    """(what, chainrule's, torch's): dtype and shape (and values where not random)."""
    numpy_array = numpy.array([1.5, 2.5])
    calls = {
        "zeros(2, 3)": lambda lib: lib.zeros(2, 3),
        "zeros((2, 3))": lambda lib: lib.zeros((2, 3)),
        "ones([2, 3])": lambda lib: lib.ones([2, 3]),
        "zeros(size=(2, 3))": lambda lib: lib.zeros(size=(2, 3)),
        "ones(2, dtype=float64)": lambda lib: lib.ones(2, dtype=lib.float64),
        "empty(2, 3).shape": lambda lib: lib.empty(2, 3).shape,
        "full((2, 3), 1.5)": lambda lib: lib.full((2, 3), 1.5),
        "full((2,), 7)": lambda lib: lib.full((2,), 7),
        "full((2,), True)": lambda lib: lib.full((2,), True),
        "arange(5)": lambda lib: lib.arange(5),
        "arange(0, 1, 0.25)": lambda lib: lib.arange(0, 1, 0.25),
        "arange(1.0, 4.0)": lambda lib: lib.arange(1.0, 4.0),
        "arange(2, 9, 3)": lambda lib: lib.arange(2, 9, 3),
        "linspace(0, 1, 5)": lambda lib: lib.linspace(0, 1, 5),
        "eye(3)": lambda lib: lib.eye(3),
        "eye(2, 3)": lambda lib: lib.eye(2, 3),
        "rand(2, 3)": lambda lib: lib.rand(2, 3).dtype,
        "randn(2, 3)": lambda lib: (lib.randn(2, 3).dtype, lib.randn(2, 3).shape),
        "randn((2, 3))": lambda lib: lib.randn((2, 3)).shape,
        "randint(0, 5, (3,))": lambda lib: (lib.randint(0, 5, (3,)).dtype,
                                           lib.randint(0, 5, (3,)).shape),
        "randint(5, (3,))": lambda lib: lib.randint(5, (3,)).dtype,
        "randperm(4)": lambda lib: (lib.randperm(4).dtype, sorted(lib.randperm(4).tolist())),
        "zeros_like(int tensor)": lambda lib: lib.zeros_like(lib.tensor([1, 2])),
        "ones_like(float64)": lambda lib: lib.ones_like(lib.tensor(numpy_array)),
        "full_like(x, 2.0)": lambda lib: lib.full_like(lib.tensor([1.0, 2.0]), 2.0),
        "rand_like(x).dtype": lambda lib: lib.rand_like(lib.tensor(numpy_array)).dtype,
        "tensor([1, 2])": lambda lib: lib.tensor([1, 2]),
        "tensor([1.0, 2])": lambda lib: lib.tensor([1.0, 2]),
        "tensor(True)": lambda lib: lib.tensor(True),
        "tensor(3)": lambda lib: lib.tensor(3),
        "tensor(2.5)": lambda lib: lib.tensor(2.5),
        "tensor(float64 ndarray)": lambda lib: lib.tensor(numpy_array),
        "tensor(int32 ndarray)": lambda lib: lib.tensor(numpy.array([1, 2], dtype=numpy.int32)),
        "tensor([[1, 2]], dtype=float64)": lambda lib: lib.tensor([[1, 2]], dtype=lib.float64),
        "as_tensor([1.0])": lambda lib: lib.as_tensor([1.0]),
        "tensor([]).shape": lambda lib: lib.tensor([]),
    }
    return [(what, describe(call, chainrule), describe(call, torch))
            for what, call in calls.items()]


def property_checks() -> list:
    def properties(lib):
        x = lib.tensor(numpy.arange(6.0).reshape(2, 3), requires_grad=True)
        y = (x * x).sum()
        y.backward()
        scalar = lib.tensor(numpy.float64(2.5))
        return {
            ".shape == (2, 3)": x.shape == (2, 3),
            ".shape[1]": x.shape[1],
            ".dtype == lib.float64": x.dtype == lib.float64,
            ".ndim": x.ndim,
            ".size(), .size(1), .numel(), .dim()": (tuple(x.size()), x.size(1), x.numel(), x.dim()),
            ".T.shape": tuple(x.T.shape),
            ".item() of 0-d float": (type(scalar.item()).__name__, scalar.item()),
            ".item() of int": (type(lib.tensor([7]).item()).__name__, lib.tensor([7]).item()),
            ".item() of bool": type(lib.tensor(True).item()).__name__,
            ".detach(): no grad, shares memory": (x.detach().requires_grad, x.detach().is_leaf,
                                                  _shares_memory(x, x.detach())),
            ".requires_grad, .is_leaf (leaf)": (x.requires_grad, x.is_leaf),
            ".requires_grad, .is_leaf (result)": (y.requires_grad, y.is_leaf),
            ".grad after backward": x.grad.tolist(),
            ".grad accumulates": _accumulates(lib),
            ".tolist()": x.detach().tolist(),
            "len(x)": len(x),
            "float(0-d), int(0-d)": (float(scalar), int(lib.tensor(3))),
            "x.float().dtype, x.double().dtype, x.long().dtype": (
                str(x.float().dtype).replace("torch.", ""),
                str(x.double().dtype).replace("torch.", ""),
                str(x.long().dtype).replace("torch.", "")),
            "x.to(float32).dtype": str(x.to(lib.float32).dtype).replace("torch.", ""),
            "no_grad(): result.requires_grad": _under_no_grad(lib, x),
            "requires_grad on int tensor": _raises(lambda: lib.tensor([1, 2], requires_grad=True)),
            "backward of non-scalar without gradient": _raises(lambda: (x * 2).backward()),
            "backward(gradient=v)": _backward_with_gradient(lib),
            "retain_graph: a second backward": _second_backward(lib, retain=True),
            "a second backward without retain_graph": _second_backward(lib, retain=False),
            "comparison: requires_grad, dtype": ((x > 1).requires_grad, _show((x > 1).dtype)),
            "retain_grad() on an intermediate": _retained(lib),
            "requires_grad_() on a leaf": lib.zeros(2).requires_grad_().requires_grad,
            "manual SGD step p -= lr * p.grad (no_grad)": _sgd_step(lib),
            "y = x; y += 1; y *= 3: x sees it": _alias(lib),
            "w += 1 on a leaf that requires grad": _raises(lambda: _add_one(lib)),
            "h = x * x; h += x: gradient": _graph_iadd(lib),
            "buf.mul_(0.5).add_(v, alpha=-2)": _show(lib.ones(3).mul_(0.5).add_(
                lib.tensor([1.0, 2.0, 3.0]), alpha=-2)),
            "int tensor += 0.5": _raises(lambda: _add_half(lib)),
            "grad of unused input (allow_unused)": lib.autograd.grad(
                (x * 2).sum(), [x, lib.ones(2, requires_grad=True)], allow_unused=True)[1],
        }
    mine, theirs = properties(chainrule), properties(torch)
    return [(what, _show(mine[what]), _show(theirs[what])) for what in mine]


def _shares_memory(x, y) -> bool:
    return bool(numpy.shares_memory(x.detach().numpy(), y.numpy()))


def _sgd_step(lib):
    w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
    parameters = [w]
    (w * w).sum().backward()
    with lib.no_grad():
        for p in parameters:
            p -= 0.25 * p.grad
    return w.tolist(), w.requires_grad, parameters[0] is w


def _alias(lib):
    x = lib.zeros(2)
    y = x
    y += 1
    y *= 3
    return x.tolist(), y is x


def _add_one(lib):
    w = lib.ones(2, requires_grad=True)
    w += 1


def _add_half(lib):
    counts = lib.tensor([1, 2])
    counts += 0.5


def _graph_iadd(lib):
    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    h = x * x
    h += x
    h.sum().backward()
    return x.grad.tolist()


def _backward_with_gradient(lib):
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
    (x * x).backward(gradient=lib.tensor([1.0, 0.5, -1.0], dtype=lib.float64))
    return x.grad.tolist()


def _second_backward(lib, retain: bool):
    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=retain)
    outcome = _raises(y.backward)
    return outcome, x.grad.tolist()


def _retained(lib):
    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    return h.grad.tolist()


def _accumulates(lib):
    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    return x.grad.tolist()


def _under_no_grad(lib, x):
    with lib.no_grad():
        return (x * 2).requires_grad


def _raises(call) -> str:
    try:
        call()
    except Exception as error:  # the kind of error is what we compare
        return f"raises {_error_kind(error)}"
    return "no error"


def _error_kind(error) -> str:
    # chainrule's errors subclass the builtin PyTorch raises in the same place
    for kind in (IndexError, TypeError, RuntimeError, ValueError):
        if isinstance(error, kind):
            return kind.__name__
    return type(error).__name__


def _show(value) -> str:
    """One library-neutral text for a result: tensors by dtype, shape and values."""
    if isinstance(value, (chainrule.Tensor, torch.Tensor)):
        return f"{_show(value.dtype)} {tuple(value.shape)} {as_numpy(value).tolist()}"
    if isinstance(value, (torch.dtype, numpy.dtype)):
        return str(value).replace("torch.", "")
    if isinstance(value, tuple):  # torch.Size included
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def describe(call, lib) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _show(call(lib))
    except Exception as error:
        return f"raises {_error_kind(error)}: {str(error).splitlines()[0][:70]}"


# ---------------------------------------------------------------- where the APIs differ
def _x32(lib):
    return lib.tensor([[1.0, -2.0, 3.0]])


def _ints(lib):
    return lib.tensor([3, 4, 7])


def _side_by_side(probes: dict) -> list:
    """(what, chainrule's outcome, torch's outcome) of each ``probe(lib, F)``."""
    rows = []
    for what, probe in probes.items():
        mine = describe(lambda lib: probe(lib, LIBRARIES[_name(lib)][1]), chainrule)
        theirs = describe(lambda lib: probe(lib, LIBRARIES[_name(lib)][1]), torch)
        rows.append((what, mine, theirs))
    return rows


def dtype_checks() -> list:
    """PyTorch's type promotion (where NumPy's differs), and results that must be the same."""
    ints, x32 = _ints, _x32
    probes = {
        "int64 tensor / 2": lambda lib, F: ints(lib) / 2,
        "int64 tensor / int64 tensor": lambda lib, F: ints(lib) / ints(lib),
        "int64 tensor + 2.5": lambda lib, F: ints(lib) + 2.5,
        "int64 tensor * float32 tensor": lambda lib, F: ints(lib) * x32(lib),
        "int64 tensor ** 0.5": lambda lib, F: ints(lib) ** 0.5,
        "where(mask, int64, 0.5)": lambda lib, F: lib.where(ints(lib) > 3, ints(lib), 0.5),
        "bool tensor + 1": lambda lib, F: (ints(lib) > 3) + 1,
        "bool tensor * 2.0": lambda lib, F: (ints(lib) > 3) * 2.0,
        "bool tensor sum()": lambda lib, F: (ints(lib) > 3).sum(),
        "float32 * float64 0-d tensor":
            lambda lib, F: x32(lib) * lib.tensor(2.0, dtype=lib.float64),
        "int64 * float64 0-d tensor": lambda lib, F: ints(lib) * lib.tensor(2.0, dtype=lib.float64),
        "cat of int64 and float32": lambda lib, F: lib.cat([ints(lib), x32(lib)[0]]),
        "exp, log, sqrt, sigmoid, tanh of int64": lambda lib, F: tuple(
            _approx(getattr(ints(lib), name)()) for name in ("exp", "log", "sqrt", "sigmoid",
                                                             "tanh")),
        "sin, cos of bool": lambda lib, F: (_approx((ints(lib) > 3).sin()),
                                            _approx((ints(lib) > 3).cos())),
        "int64.clamp(0.5, 5.5), int64.clamp(4)": lambda lib, F: (ints(lib).clamp(0.5, 5.5),
                                                                ints(lib).clamp(4)),
        "x[mask] = 0 (setitem)": lambda lib, F: _set_zero(lib),
        "x.var(dim) with n - correction = 0": lambda lib, F: lib.ones(1, 3).var(dim=0),
        "x.expand_as(y), view_as, reshape_as": lambda lib, F: (
            lib.zeros(3, 1).expand_as(lib.zeros(2, 3, 4)).shape,
            lib.zeros(6).view_as(lib.zeros(2, 3)).shape,
            lib.zeros(6).reshape_as(lib.zeros(2, 3)).shape),
        "x.type_as(y)": lambda lib, F: ints(lib).type_as(x32(lib)).dtype,
        "x.t(), x.cpu(), is_floating_point()": lambda lib, F: (
            x32(lib).t().shape, x32(lib).cpu().shape, ints(lib).is_floating_point()),
        "from_numpy shares memory": lambda lib, F: _from_numpy(lib),
        "with set_grad_enabled(False)": lambda lib, F: _grad_mode_block(lib),
    }
    return _side_by_side(probes)


def _approx(result) -> tuple:
    """dtype and values to 6 significant digits (float32 functions may differ in the last bit)."""
    return result.dtype, tuple(float(f"{v:.6g}") for v in as_numpy(result).ravel().tolist())


def _from_numpy(lib):
    array = numpy.array([1.0, 2.0])
    x = lib.from_numpy(array)
    array[0] = 5.0
    return x


def _grad_mode_block(lib):
    w = lib.ones(2, requires_grad=True)
    with lib.set_grad_enabled(False):
        inside = (w * 2).requires_grad
    return inside, (w * 2).requires_grad, lib.is_grad_enabled()


def difference_probes() -> list:
    """Where the APIs still differ: code written once, run on both, outcomes side by side."""
    ints, x32 = _ints, _x32

    def max_dim_ties(lib):
        x = lib.tensor([[1.0, 3.0, 3.0]], dtype=lib.float64, requires_grad=True)
        x.max(dim=1).values.sum().backward()
        return x.grad

    def implicit_softmax_dim(lib, F):
        return F.softmax(lib.tensor([[[1.0, 2.0]], [[3.0, 5.0]]]))

    probes = {
        "x.max(dim) with ties: gradient": lambda lib, F: max_dim_ties(lib),
        "F.cross_entropy(x, t, 'sum'): 3rd positional": lambda lib, F: F.cross_entropy(
            x32(lib), lib.tensor([0]), "sum"),
        "cross_entropy(float32 logits, weight=float64)": lambda lib, F: F.cross_entropy(
            x32(lib), lib.tensor([0]), weight=lib.ones(3, dtype=lib.float64)),
        "mse_loss((3,), (3, 1)) broadcast": lambda lib, F: F.mse_loss(lib.zeros(3), lib.ones(3, 1)),
        "F.softmax(3-D x) without dim": implicit_softmax_dim,
        "logsumexp(x) without dim": lambda lib, F: lib.logsumexp(x32(lib)),
        "x.sum(keepdim=True) without dim": lambda lib, F: x32(lib).sum(keepdim=True),
        "x.mean() of int64": lambda lib, F: ints(lib).mean(),
        "x.clamp(min=tensor)": lambda lib, F: x32(lib).clamp(min=lib.zeros(1, 3)),
        "x.reshape(shape=(3,))": lambda lib, F: x32(lib).reshape(shape=(3,)).shape,
        "x.permute(dims=(1, 0))": lambda lib, F: x32(lib).permute(dims=(1, 0)).shape,
        "x.sum(dtype=float64)": lambda lib, F: x32(lib).sum(dtype=lib.float64),
        "x.softmax(-1, dtype=float64)": lambda lib, F: x32(lib).softmax(-1, dtype=lib.float64),
        "F.relu(x, inplace=True)": lambda lib, F: F.relu(x32(lib), inplace=True),
        "int64 tensor // 2, % 2": lambda lib, F: (ints(lib) // 2, ints(lib) % 2),
        "0-d: x.softmax(0), x.squeeze(0), x.sum(0)": lambda lib, F: (
            lib.tensor(3.0).softmax(0), lib.tensor(3.0).squeeze(0), lib.tensor(3.0).sum(0)),
        "x == None": lambda lib, F: lib.ones(2) == None,  # noqa: E711 (what PyTorch code does)
        "str(x.dtype)": lambda lib, F: str(x32(lib).dtype),
        "type(x.shape)": lambda lib, F: type(x32(lib).shape).__name__,
        "type(x.data)": lambda lib, F: type(x32(lib).data).__name__,
    }
    return _side_by_side(probes)


def _set_zero(lib):
    x = lib.tensor([1.0, -2.0, 3.0])
    x[x < 0] = 0
    return x


def _name(lib) -> str:
    return "torch" if lib is torch else "chainrule"


# ---------------------------------------------------------------- report
def hook_checks() -> list:
    """Tensor and module hooks: which fire, in what order, with which gradients."""
    rng = numpy.random.default_rng(0)
    weights = [rng.standard_normal(shape) for shape in ((4, 3), (4,), (2, 4), (2,))]
    inputs = rng.standard_normal((5, 3))

    def run(lib):
        net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
        with lib.no_grad():
            for parameter, values in zip(net.parameters(), weights):
                parameter.copy_(lib.tensor(values))
        calls = []
        for name, module in net.named_modules():
            if name:
                module.register_forward_pre_hook(lambda m, a, n=name: calls.append(f"pre {n}"))
                module.register_forward_hook(lambda m, a, o, n=name: calls.append(f"forward {n}"))
                module.register_full_backward_hook(
                    lambda m, gi, go, n=name: calls.append(
                        f"backward {n}: grad_input {[None if g is None else round(float(g.sum()), 10) for g in gi]}, "
                        f"grad_output {[round(float(g.sum()), 10) for g in go]}"))
        x = lib.tensor(inputs, requires_grad=True)
        hidden = x * 2
        seen = []
        hidden.register_hook(lambda g: seen.append(round(float(g.sum()), 10)))
        hidden.register_hook(lambda g: g * 3)
        out = net(hidden)
        (out * out).sum().backward()
        return {"module hook calls, in order": calls,
                "tensor hook: sum of the gradient it sees": seen,
                "tensor hook's replacement reaches the leaf": round(float(x.grad.sum()), 10)}

    mine, theirs = run(chainrule), run(torch)
    return [(what, _show(mine[what]), _show(theirs[what])) for what in mine]


def main() -> int:
    started = time.perf_counter()
    failures = 0
    print(f"{'op':<48} {'forward err':>12} {'gradient err':>13}  result")
    print("-" * 86)
    for seed, (name, function, spec) in enumerate(CASES):
        try:
            forward_error, gradient_error, note = run_case(name, function, spec, seed)
        except Exception as error:  # a missing method or kwarg, a refused call: a failure
            failures += 1
            where = traceback.extract_tb(error.__traceback__)[-1]
            print(f"{name:<48} {'-':>12} {'-':>13}  FAIL: {type(error).__name__}: "
                  f"{str(error).splitlines()[0][:90]} ({os.path.basename(where.filename)}:"
                  f"{where.lineno})")
            continue
        ok = forward_error <= TOLERANCE and (gradient_error is None or gradient_error <= TOLERANCE)
        failures += not ok
        grad_text = "-" if gradient_error is None else f"{gradient_error:.1e}"
        print(f"{name:<48} {forward_error:>12.1e} {grad_text:>13}  {'OK' if ok else 'FAIL'}"
              + (f"  ({note})" if note else ""))
    for title, rows in (("creation functions: dtype, shape, values", creation_checks()),
                        ("Tensor properties, autograd, in place", property_checks()),
                        ("dtype rules and PyTorch idioms", dtype_checks()),
                        ("hooks: order and arguments", hook_checks())):
        print(f"\n{title}\n" + "-" * 86)
        for what, mine, theirs in rows:
            same = mine == theirs
            failures += not same
            print(f"{what:<40} {'OK' if same else 'FAIL'}  {mine}"
                  + ("" if same else f"   (torch: {theirs})"))
    print(f"\nfloat32 inputs: output dtypes must match, values to {FLOAT32_TOLERANCE:g}\n"
          + "-" * 86)
    mismatches = []
    for seed, (name, function, spec) in enumerate(CASES):
        try:
            forward_error, gradient_error, note = run_case(name, function, spec, seed,
                                                           numpy.float32)
        except Exception as error:
            mismatches.append(f"{name}: {type(error).__name__}: {error}")
            continue
        if forward_error > FLOAT32_TOLERANCE or (gradient_error or 0) > FLOAT32_TOLERANCE:
            mismatches.append(f"{name}: forward {forward_error:.1e}, gradient "
                              f"{gradient_error or 0:.1e} {note}")
    failures += len(mismatches)
    print(f"{len(CASES) - len(mismatches)} of {len(CASES)} cases OK"
          + "".join(f"\n  FAIL {line}" for line in mismatches))
    print("\nwhere the APIs differ (code run on both; not counted as failures)\n" + "-" * 86)
    for what, mine, theirs in difference_probes():
        verdict = "same" if mine == theirs else "DIFFERS"
        print(f"{what:<48} {verdict}")
        if mine != theirs:
            print(f"    chainrule: {mine}\n    torch:     {theirs}")
    seconds = time.perf_counter() - started
    print(f"\n{len(CASES)} op cases; {failures} failure(s); {seconds:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
