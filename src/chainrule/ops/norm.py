"""Vector norms, ``x.norm(p, dim)``, as ``torch.norm`` and ``torch.linalg.vector_norm`` compute
them."""
from __future__ import annotations

import math

from .. import backend
from .elementwise import abs, sqrt, where
from .primitive import Rejects, Sample, composite, constant
from .reduce import BAD_DIM, amax, amin, normalize_dims, sum

NORM_SAMPLES = [Sample(((3, 4),)), Sample(((3, 4),), {"p": 1, "dim": 1}),
                Sample(((3, 4),), {"p": float("inf"), "dim": 0}),
                Sample(((3, 4),), {"p": -float("inf"), "dim": 1, "keepdim": True}),
                Sample(((2, 3, 4),), {"p": 3, "dim": (0, 2), "keepdim": True}),
                Sample(((2, 3, 4),), {"p": "fro", "dim": -1})]
BAD_P = [Rejects(((3, 4),), {"p": "nuc"}, ValueError), Rejects(((3, 4),), {"p": 0}, ValueError)]


@composite(samples=NORM_SAMPLES, rejects=BAD_DIM + BAD_P)
def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """‖a‖ₚ = (Σ |aᵢ|ᵖ)^(1/p) over ``dim`` (every element by default): p = 2 (or "fro") is the
    Euclidean length, p = 1 the sum of magnitudes, p = inf the largest magnitude (−inf the
    smallest). Ties of the largest magnitude share its gradient, as in ``amax``.

    At a = 0 the gradient is 0, as in PyTorch: a subgradient, where the formula's
    a / ‖a‖ would be 0 / 0.
    """
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not provided; use 'fro', a positive number or "
                             "inf (matrix norms such as 'nuc' are not)")
        p = 2
    if dtype is not None:
        a = a.to(dtype)
    if not backend.is_floating(a.dtype):
        raise TypeError(f"norm: the tensor is {a.dtype}; norms are of floating point tensors, "
                        "e.g. x.float().norm()")
    p = float(p)
    if not (p > 0 or p == -math.inf):
        raise ValueError(f"norm: p must be positive or ±inf, not {p:g} (p=0, the count of "
                         "non-zero elements, is (x != 0).sum())")
    axes = normalize_dims(dim, a.ndim, "norm")
    magnitude = abs(a)
    if p == math.inf:
        return amax(magnitude, dim=axes, keepdim=keepdim)
    if p == -math.inf:
        return amin(magnitude, dim=axes, keepdim=keepdim)
    if p == 1:
        return sum(magnitude, dim=axes, keepdim=keepdim)
    if p == 2:
        powered = a * a  # not |a|²: |a|'s slope at 0 is 0, which lost the Hessian there (1/‖a‖)
    else:
        # |a|ᵖ with gradient 0 at a = 0, as PyTorch's; for p < 1 the formula is sign(0)·∞ = nan
        zero = constant(a.data == 0)
        powered = where(zero, 0.0, where(zero, 1.0, magnitude) ** p)
    total = sum(powered, dim=axes, keepdim=keepdim)
    # The root's derivative is infinite at 0, and inf · 0 is nan: take the root of 1 there and
    # answer 0. A where sends no gradient to the side it did not pick, so none reaches the root.
    at_zero = total == 0
    safe_total = where(at_zero, 1.0, total)
    root = sqrt(safe_total) if p == 2 else safe_total ** (1 / p)
    return where(at_zero, 0.0, root)


@composite(samples=[Sample(((3, 4),)), Sample(((3, 4),), {"p": 1.0, "dim": 0}),
                    Sample(((2, 3, 4),), {"dim": -1})], rejects=BAD_DIM)
def normalize(a, p=2.0, dim=1, eps: float = 1e-12):
    """a / max(‖a‖ₚ, ε) along ``dim`` (dimension 1 by default, PyTorch's ``F.normalize``): each
    vector scaled to length 1, and a vector shorter than ε divided by ε rather than by its
    length (0 stays 0, with gradient 1/ε, as in PyTorch)."""
    return a / norm(a, p, dim=dim, keepdim=True).clamp(min=eps)
