"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, l2_gradient


class SGD(Optimizer):
    """p ← p − lr · d, where d is the gradient g, or its momentum, exactly as PyTorch defines them:

        g ← g + λ p                      (weight_decay λ: an L2 penalty ½λ‖p‖² in the loss)
        v ← g                            (first step)
        v ← μ v + (1 − τ) g              (later steps; momentum μ, dampening τ)
        d ← v,  or  d ← g + μ v with nesterov=True
        p ← p − lr · d

    Conventions differ: Sutskever et al. (2013) and many lecture notes write the velocity with
    the learning rate inside, v ← μ v − lr · g, p ← p + v. With a constant learning rate the two
    produce the same iterates (their v is −lr times ours); when the learning rate changes during
    training they differ, because here a new lr applies at once to the whole accumulated velocity.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate {lr}")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum {momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update_group(self, group: dict) -> None:
        # Hyper-parameters as Python floats: a NumPy float64 scalar would promote float32 arrays.
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        nesterov = group["nesterov"]
        xp = backend.xp
        for p in group["params"]:
            if p.grad is None:
                continue
            direction = l2_gradient(p, weight_decay)
            if momentum != 0:
                state = self.state.setdefault(p, {})
                velocity = state.get("momentum_buffer")
                if velocity is None:
                    velocity = state["momentum_buffer"] = xp.array(direction)  # a copy
                else:
                    velocity *= momentum
                    velocity += direction if dampening == 0 else (1 - dampening) * direction
                direction = direction + momentum * velocity if nesterov else velocity
            p.data -= lr * direction
