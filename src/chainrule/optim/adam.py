"""Adam and AdamW: per-coordinate step sizes from running moments of the gradient."""
from __future__ import annotations

import math

from .. import backend
from .optimizer import Optimizer, l2_gradient


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) as PyTorch implements it. At step t, for each parameter p:

        g ← g + λ p                                  (weight_decay λ, an L2 penalty: Adam only)
        m ← β₁ m + (1 − β₁) g                        (first moment)
        v ← β₂ v + (1 − β₂) g²                       (second moment)
        p ← p − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    The bias corrections 1 − βᵗ undo the zero start of m and v; ε sits outside the square root
    and is added after √v is bias-corrected, as in PyTorch.
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: eps and weight_decay must be ≥ 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def _update_group(self, group: dict) -> None:
        xp = backend.xp
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad.data
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"step": 0, "exp_avg": xp.zeros_like(p.data),
                                         "exp_avg_sq": xp.zeros_like(p.data)}
            state["step"] += 1
            step = state["step"]
            if weight_decay != 0 and self.decoupled_weight_decay:
                p.data *= 1 - lr * weight_decay
            elif weight_decay != 0:
                grad = l2_gradient(p, weight_decay)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            # One scratch array serves every temporary of the update.
            scratch = xp.multiply(grad, 1 - beta1, out=xp.empty_like(p.data))
            exp_avg *= beta1
            exp_avg += scratch
            xp.multiply(grad, grad, out=scratch)
            scratch *= 1 - beta2
            exp_avg_sq *= beta2
            exp_avg_sq += scratch
            step_size = lr / (1 - beta1 ** step)
            denominator = xp.sqrt(exp_avg_sq, out=scratch)
            denominator /= math.sqrt(1 - beta2 ** step)
            denominator += eps
            update = xp.divide(exp_avg, denominator, out=scratch)
            update *= step_size
            p.data -= update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as PyTorch implements it:

        p ← p (1 − lr · λ)        before the Adam step, which then sees the plain gradient g.

    Unlike Adam's L2 penalty, the decay does not pass through the per-coordinate scaling, so
    every weight shrinks at the same rate. Default λ = 0.01, as in PyTorch.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
