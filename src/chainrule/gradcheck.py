"""Check analytic gradients against central finite differences, in float64."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy

from . import autograd, backend
from .tensor import Tensor, as_tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference one."""


def _probe(output: Tensor, seed: int) -> Tensor:
    """A fixed random direction v: checking vᵀJ for a random v checks J itself, almost surely."""
    rng = numpy.random.default_rng(seed)
    return as_tensor(backend.xp.asarray(rng.standard_normal(output.shape).astype(output.dtype)))


def _checked_inputs(inputs) -> list[Tensor]:
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, item in enumerate(inputs):
        if isinstance(item, Tensor) and item.requires_grad and item.dtype != backend.float64:
            raise TypeError(f"gradcheck: input {i} is {item.dtype}; finite differences need "
                            "float64 inputs (x.double())")
    return inputs


def _excess(got: float, numeric: float, atol: float, rtol: float) -> float:
    """How far the analytic ``got`` lies outside the tolerance around ``numeric`` (≤ 0: inside).
    A nan or an infinity on one side only is infinitely far: computed as a difference, it would
    be nan, which compares false with everything and so could never be the worst element."""
    if got == numeric or (math.isnan(got) and math.isnan(numeric)):
        return -atol
    if not (math.isfinite(got) and math.isfinite(numeric)):
        return math.inf
    return abs(got - numeric) - (atol + rtol * abs(numeric))


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare vᵀ(∂fn/∂x) from backward with central differences (f(x+ε) − f(x−ε)) / 2ε for
    every element of every input that requires grad. On failure, name the worst element."""
    inputs = _checked_inputs(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    output = fn(*inputs)
    probe = _probe(output, seed)
    analytic = autograd.grad(output, wrt, probe, allow_unused=True) if output.requires_grad \
        else [None] * len(wrt)

    def projected() -> float:
        # with gradients enabled: fn may itself differentiate (gradgradcheck)
        return float((fn(*inputs).data * probe.data).sum())

    worst = None
    for k, tensor in enumerate(wrt):
        found = numpy.zeros(tensor.shape) if analytic[k] is None \
            else backend.to_numpy(analytic[k].data).astype(numpy.float64)
        if not tensor.data.flags.c_contiguous:
            tensor.data = backend.xp.ascontiguousarray(tensor.data)
        flat = tensor.data.reshape(-1)  # a view: writing it nudges the input itself
        for i in range(flat.size):
            original = flat[i].item()
            flat[i] = original + eps
            above = projected()
            flat[i] = original - eps
            below = projected()
            flat[i] = original
            numeric = (above - below) / (2 * eps)
            index = numpy.unravel_index(i, tensor.shape)
            got = float(found[index])
            excess = _excess(got, numeric, atol, rtol)
            if worst is None or excess > worst[0]:
                worst = (excess, k, index, got, numeric)
    if worst is not None and worst[0] > 0:
        _, k, index, got, numeric = worst
        message = (f"gradcheck: gradient of input {k} disagrees at index {tuple(map(int, index))}: "
                   f"analytic {got:.10g}, numeric {numeric:.10g} (atol={atol}, rtol={rtol})")
        if raise_exception:
            raise GradcheckError(message)
        return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck the map (x, v) ↦ Σₖ wₖ · vᵀ∂fn/∂xₖ, built with
    create_graph=True. This covers Hessian-vector products and the VJPs' linearity in v."""
    inputs = _checked_inputs(inputs)
    wrt_positions = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    output = fn(*inputs)
    probe = _probe(output, seed).requires_grad_(True)
    rng = numpy.random.default_rng(seed + 1)
    weights = [backend.xp.asarray(rng.standard_normal(inputs[i].shape)) for i in wrt_positions]

    def first_order(*args):
        *values, v = args
        out = fn(*values)
        if not out.requires_grad:
            return (v * 0).sum()
        grads = autograd.grad(out, [values[i] for i in wrt_positions], v, create_graph=True,
                              allow_unused=True)
        total = (v * 0).sum()
        for grad, weight in zip(grads, weights):
            if grad is not None:
                total = total + (grad * as_tensor(weight)).sum()
        return total

    return gradcheck(first_order, list(inputs) + [probe], eps, atol, rtol, raise_exception, seed)
