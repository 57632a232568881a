"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step``, saving.

As in PyTorch, an optimizer holds ``param_groups`` — each a dict with its ``"params"`` and its own
hyper-parameters (``"lr"``…) — and ``state``, a dict from parameter to that parameter's buffers.
Steps write ``p.data`` in place: the parameter objects a model holds stay the same. Each such
write is counted in the parameter's version (``autograd.increment_version``), as PyTorch's
in-place updates are, so that a graph saved before the step refuses to backward afterwards.
"""
from __future__ import annotations

import weakref
from typing import Callable, Iterable

import numpy

from .. import autograd, backend
from ..errors import CheckpointError
from ..tensor import Tensor, as_tensor


_alive: "weakref.WeakSet[Optimizer]" = weakref.WeakSet()


def every_optimizer() -> list:
    """Every optimiser alive: ``chainrule.compile`` watches their settings while it records."""
    return list(_alive)


class Optimizer:
    """Base of the optimizers. Subclasses set ``defaults`` and define ``_update_group(group)``."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict):
        _alive.add(self)
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict[Tensor, dict] = {}
        if isinstance(params, (set, frozenset)):
            params = [{"params": params}]  # refused by add_param_group, as a group's set is
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors or of "
                            "dicts (e.g. model.parameters() or [weight]), not one tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass "
                             "model.parameters()")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add parameters with their own hyper-parameters (the defaults fill in the rest)."""
        group = dict(group)
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            # A set's order changes between runs, and state_dict numbers parameters by order.
            raise TypeError(f"{type(self).__name__}: parameters must come in an ordered "
                            "collection (a list, model.parameters()), not a set, whose order "
                            "changes between runs")
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            # A leaf that does not require grad (a frozen layer of model.parameters()) is
            # accepted, as PyTorch does: it never has a gradient, so steps leave it alone.
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can only optimize leaf tensors "
                                 "(parameters), not the result of an operation")
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in group["params"]):
            raise ValueError(f"{type(self).__name__}: a parameter appears in two groups")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (see ``zero_gradients``)."""
        zero_gradients((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Tensor] | None = None):
        """One update of every parameter that has a gradient. ``closure``, if given, recomputes
        and returns the loss (with its backward) before the update."""
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        with autograd.no_grad():
            for group in self.param_groups:
                self._update_group(group)
                # Count each write to p.data here, once for every optimiser (a subclass cannot
                # forget it): a graph saved before the step then refuses to backward.
                for p in group["params"]:
                    if p.grad is not None:
                        autograd.increment_version(p)
        return loss

    # ------------------------------------------------------------ saving
    def state_dict(self) -> dict:
        """A snapshot that JSON and safetensors can hold: ``{"state": {index: {name: NumPy
        array or number}}, "param_groups": [{hyper-parameters, "params": [index, ...]}]}``,
        parameters numbered in the order of the groups, as PyTorch does. Arrays are copies."""
        indices, groups, index = {}, [], 0
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = list(range(index, index + len(group["params"])))
            for p in group["params"]:
                indices[id(p)] = index
                index += 1
            groups.append(saved)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[indices[id(p)]] = {
                        name: numpy.array(backend.to_numpy(value)) if _is_array(value) else value
                        for name, value in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state and hyper-parameters saved by ``state_dict`` (keys may be strings, as
        after a JSON round trip). The groups must have the same sizes and the buffers the shapes
        of the parameters; otherwise a ``CheckpointError`` says which differ."""
        saved_groups = state_dict["param_groups"]
        name = type(self).__name__
        if len(saved_groups) != len(self.param_groups):
            raise CheckpointError(f"{name}.load_state_dict: the state has {len(saved_groups)} "
                                  f"parameter groups, the optimizer {len(self.param_groups)}")
        by_index = {}
        for number, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise CheckpointError(f"{name}.load_state_dict: group {number} has "
                                      f"{len(saved['params'])} parameters in the state but "
                                      f"{len(group['params'])} in the optimizer")
            by_index.update(zip(saved["params"], group["params"]))
        new_state = {}
        for key, buffers in state_dict["state"].items():
            p = by_index[int(key)]
            restored = {}
            for buffer_name, value in buffers.items():
                if _is_array(value):
                    if tuple(value.shape) != tuple(p.shape):
                        raise CheckpointError(
                            f"{name}.load_state_dict: {buffer_name} of parameter {key} has shape "
                            f"{tuple(value.shape)} in the state but the parameter has shape "
                            f"{tuple(p.shape)}")
                    value = backend.xp.array(value, dtype=p.dtype)
                restored[buffer_name] = value
            new_state[p] = restored
        for saved, group in zip(saved_groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    # JSON turns tuples such as Adam's betas into lists.
                    group[key] = tuple(value) if isinstance(value, list) else value
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def zero_gradients(parameters: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Forget each parameter's gradient: ``None`` (PyTorch's default), or with
    ``set_to_none=False`` zeros written into it in place, the same tensor kept, as PyTorch
    does (a gradient with a graph of its own, from ``create_graph``, is replaced instead).
    ``Optimizer.zero_grad`` and ``Module.zero_grad`` both."""
    for p in parameters:
        if set_to_none or p.grad is None:
            p.grad = None
        elif p.grad.requires_grad:
            p.grad = as_tensor(backend.xp.zeros_like(p.data))
        else:
            with autograd.no_grad():
                p.grad.zero_()


def l2_gradient(parameter: Tensor, weight_decay: float):
    """The gradient of the loss plus the L2 penalty (λ/2)‖p‖²: g + λp (g itself when λ = 0).
    A new array, never g changed in place: one gradient array may be shared by several
    parameters, and ``.grad`` must still hold the loss's gradient after ``step()``."""
    if weight_decay == 0:
        return parameter.grad.data
    decayed = parameter.data * weight_decay
    decayed += parameter.grad.data
    return decayed


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, Tensor)
