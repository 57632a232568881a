"""RMSprop: each coordinate's step divided by a running root-mean-square of its gradients."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, l2_gradient


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e, 2012) as PyTorch implements it. For each parameter p:

        g ← g + λ p                                  (weight_decay λ)
        v ← α v + (1 − α) g²                         (running mean of the squares, from v = 0)
        ḡ ← α ḡ + (1 − α) g;  v̂ ← v − ḡ²             (centered=True: an estimate of the variance)
        d ← g / (√v̂ + ε)                             (v̂ = v unless centered)
        b ← μ b + d;  d ← b                          (momentum μ > 0, from b = 0)
        p ← p − lr · d

    ε is added after the square root, as in PyTorch. Unlike Adam there is no bias correction, so
    the first steps are large: √v starts at √(1 − α) |g|, a tenth of |g| for α = 0.99.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        for setting, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay),
                               ("momentum", momentum), ("alpha", alpha)):
            if value < 0:
                raise ValueError(f"RMSprop: invalid {setting} {value} (it must be ≥ 0)")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update_group(self, group: dict) -> None:
        xp = backend.xp
        # Python floats: a NumPy float64 scalar would promote float32 arrays.
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = l2_gradient(p, weight_decay)
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"step": 0, "square_avg": xp.zeros_like(p.data)}
            state["step"] += 1
            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            if group["centered"]:
                grad_avg = state.setdefault("grad_avg", xp.zeros_like(p.data))
                grad_avg *= alpha
                grad_avg += (1 - alpha) * grad
                denominator = xp.sqrt(square_avg - grad_avg * grad_avg)
            else:
                denominator = xp.sqrt(square_avg)
            denominator += eps
            if momentum > 0:
                buffer = state.setdefault("momentum_buffer", xp.zeros_like(p.data))
                buffer *= momentum
                buffer += grad / denominator
                p.data -= lr * buffer
            else:
                p.data -= lr * (grad / denominator)
