"""Grade your own derivative: the engine's checks, offered to an op a student writes.

An op is written the way chainrule's primitives are: a forward on arrays and a vector-Jacobian
product (VJP) in Tensor ops, one gradient per input::

    def forward(x, w):                 # arrays in, array out: z = x Wᵀ
        return x @ w.T

    def vjp(g, out, x, w):             # Tensors: z̄ (the error signal), z, then the inputs
        return g @ w, g.T @ x          # x̄ = z̄ W,  W̄ = z̄ᵀ x

    print(chainrule.testing.check_vjp(forward, vjp, samples=[((4, 3), (2, 3))]))

Each sample is a tuple of input shapes (random float64 inputs are drawn for them) or of arrays.
For every sample the check asks, in order: does the forward run and the VJP return one gradient
per input, of that input's shape? Does each gradient agree with central finite differences
(first order)? Does the gradient of the VJP agree with finite differences too (second order:
the VJP must be written in Tensor ops, so that backward can itself be differentiated)? A
report says which input's v̄ is wrong, by how much, where, and at which sample.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy

from . import autograd, backend
from .autograd import Node
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import Tensor, as_tensor


@dataclass
class Problem:
    """One thing wrong with a student's op."""
    check: str          # "forward", "shape", "first order", "second order", "refuses"
    sample: int
    message: str

    def __str__(self) -> str:
        return f"sample {self.sample}, {self.check}: {self.message}"


@dataclass
class VJPReport:
    """The result of ``check_vjp``: true when every check passed; prints as a short report."""
    name: str
    samples: int
    problems: list = field(default_factory=list)
    second_order: bool = True  # whether the second-order check ran

    def __bool__(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if not self.problems:
            checked = ("shapes, first order and second order agree" if self.second_order else
                       "shapes and first order agree")
            return (f"{self.name}: correct on {self.samples} sample(s): {checked} with finite "
                    "differences" + ("" if self.second_order else " (second order not checked)"))
        lines = [f"{self.name}: {len(self.problems)} problem(s) in {self.samples} sample(s)"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def _input_names(forward: Callable, count: int) -> list[str]:
    code = getattr(forward, "__code__", None)
    names = list(code.co_varnames[:code.co_argcount]) if code is not None else []
    return names[:count] if len(names) >= count else [f"input{i}" for i in range(count)]


def _as_op(forward: Callable, vjp: Callable, name: str) -> Callable:
    """The student's pair as an op of the engine: one graph node whose VJPs are theirs."""
    def op(*inputs: Tensor) -> Tensor:
        output = backend.xp.asarray(forward(*(t.data for t in inputs)))
        if not any(t.requires_grad for t in inputs) or not autograd.is_grad_enabled():
            return as_tensor(output)

        last = {}  # the walk asks each input's VJP in turn with one signal: call vjp once

        def gradient_of(position: int):
            def one_vjp(error_signal: Tensor, out: Tensor) -> Tensor:
                if last.get("signal") is not error_signal:
                    grads = vjp(error_signal, out, *inputs)
                    last["signal"] = error_signal
                    last["grads"] = grads if isinstance(grads, (tuple, list)) else (grads,)
                return last["grads"][position]
            return one_vjp

        vjps = tuple(gradient_of(i) for i in range(len(inputs)))
        return Tensor._from_op(output, Node(name, inputs, vjps))
    return op


def _draw_inputs(sample, seed: int, low: float, high: float) -> list[Tensor]:
    rng = numpy.random.default_rng(seed)
    inputs = []
    for item in sample:
        values = rng.uniform(low, high, size=item) if isinstance(item, tuple) else item
        inputs.append(Tensor(numpy.asarray(values, dtype=numpy.float64), requires_grad=True))
    return inputs


def _shape_problems(vjp, inputs, output, names) -> list[str]:
    """Each gradient must have its input's shape: a broadcast input's gradient is summed over
    the axes the forward broadcast it along."""
    signal = as_tensor(backend.xp.ones(output.shape, dtype=output.dtype))
    with autograd.no_grad():
        grads = vjp(signal, as_tensor(output.data), *inputs)
    grads = grads if isinstance(grads, (tuple, list)) else (grads,)
    if len(grads) != len(inputs):
        return [f"the VJP returned {len(grads)} gradient(s) for {len(inputs)} input(s) "
                f"({', '.join(names)}): return one per input, in order"]
    problems = []
    for grad, tensor, input_name in zip(grads, inputs, names):
        shape = tuple(getattr(grad, "shape", numpy.shape(grad)))
        if shape != tuple(tensor.shape):
            problems.append(
                f"{input_name}̄ has shape {shape} but {input_name} has shape "
                f"{tuple(tensor.shape)}: sum the error signal over the axes the forward "
                "broadcast it along (or transpose, if the axes are swapped)")
    return problems


def _rename(message: str, names: list[str], order: str) -> str:
    """gradcheck speaks of 'input k' and 'analytic'; the report speaks of x̄ and of yours, as a
    student reads it: "x̄ = Σⱼ v̄ⱼ ∂vⱼ/∂x disagrees at x[0, 2]: yours 0.65, finite differences …"."""
    labels = names + ["g"]
    found = re.match(r"gradcheck: gradient of input (\d+) disagrees at index \(([^)]*)\): "
                     r"analytic (\S+), numeric (\S+) (.*)", message)
    if found is None:
        return message.replace("gradcheck: ", "")
    k, index, yours, numeric, tolerance = found.groups()
    label = labels[int(k)]
    where = f"{label}[{index.rstrip(',')}]" if index else label
    if order == "first":
        what = f"{label}̄ = Σⱼ v̄ⱼ ∂vⱼ/∂{label}"
    else:
        what = f"the derivative of the VJP with respect to {label}"
    return f"{what} disagrees at {where}: yours {yours}, finite differences {numeric} {tolerance}"


def check_vjp(forward: Callable, vjp: Callable, samples: Sequence, *, name: str | None = None,
              refuses: Sequence = (), second_order: bool = True, low: float = -2.0,
              high: float = 2.0, atol: float = 1e-5, rtol: float = 1e-3) -> VJPReport:
    """Check a student's op against finite differences, first and second order, in float64.

    ``refuses`` lists ``(shapes, ErrorType)`` pairs: inputs the forward must reject with that
    error (a wrong shape, say), as the engine's own ops do.
    """
    if name is None:
        name = getattr(forward, "__name__", "op")
        name = "op" if name == "<lambda>" else name
    report = VJPReport(name, len(samples), second_order=second_order)
    op = _as_op(forward, vjp, name)
    for index, sample in enumerate(samples):
        sample = tuple(sample) if isinstance(sample, (tuple, list)) else (sample,)
        inputs = _draw_inputs(sample, seed=index, low=low, high=high)
        names = _input_names(forward, len(inputs))
        try:
            output = op(*inputs)
        except Exception as error:  # the student's forward: any failure is a finding
            report.problems.append(Problem("forward", index, f"{type(error).__name__}: {error}"))
            continue
        try:
            shape_problems = _shape_problems(vjp, inputs, output, names)
        except Exception as error:
            shape_problems = [f"the VJP failed: {type(error).__name__}: {error}"]
        if shape_problems:
            report.problems += [Problem("shape", index, text) for text in shape_problems]
            continue
        try:
            gradcheck(op, inputs, atol=atol, rtol=rtol, seed=index)
        except GradcheckError as error:
            report.problems.append(Problem("first order", index, _rename(str(error), names, "first")))
            continue
        if second_order:
            try:
                gradgradcheck(op, inputs, atol=atol, rtol=rtol, seed=index)
            except GradcheckError as error:
                text = _rename(str(error), names, "second")
                report.problems.append(Problem(
                    "second order", index,
                    f"{text}. The first derivatives are right, but differentiating the VJP gives "
                    "the wrong answer: write it in Tensor ops on g, out and the inputs (not on "
                    ".data or NumPy arrays), so that backward can be differentiated"))
            except Exception as error:
                report.problems.append(Problem("second order", index,
                                               f"{type(error).__name__}: {error}"))
    for index, (shapes, error_type) in enumerate(refuses):
        inputs = _draw_inputs(tuple(shapes), seed=index, low=low, high=high)
        try:
            op(*inputs)
        except error_type:
            continue
        except Exception as error:
            report.problems.append(Problem("refuses", index, f"expected {error_type.__name__}, "
                                           f"got {type(error).__name__}: {error}"))
            continue
        report.problems.append(Problem("refuses", index, f"inputs of shapes {shapes} were "
                                       f"accepted; the op should raise {error_type.__name__}"))
    return report
