"""Backpropagation: graph nodes, the backward walk, ``grad`` and ``no_grad``.

The walk is the lecture's formula. Put the graph in topological order (parents before
children); then, from the output down, each node's error signal is the sum over its children j

    v̄ᵢ = Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ

where each term v̄ⱼ · ∂vⱼ/∂vᵢ is the child's vector-Jacobian product (VJP) for that parent.
"""
from __future__ import annotations

import functools
import weakref
from typing import Sequence

from . import backend


class Node:
    """How a tensor was made: the op, its input tensors, and one VJP per input. A tensor's
    ``grad_fn`` (None for a leaf); ``op``, ``parents`` and ``vjps`` are there to be read.

    A VJP is called as ``vjp(error_signal, output)``; the output is passed in at backward time
    rather than stored, so the graph holds no reference cycle and is freed as soon as the loss is.
    ``saved`` holds ``(tensor, version)`` for each tensor the VJPs read, ``None`` standing for the
    output: the walk refuses to run the VJPs if one of them was written in place since.
    """

    __slots__ = ("op", "parents", "vjps", "saved")

    def __init__(self, op: str, parents: tuple, vjps: tuple, saved=()):
        self.op = op
        self.parents = parents
        self.vjps = vjps
        self.saved = saved

    def release(self) -> None:
        """Drop the VJPs and the arrays they saved; the structure stays for inspection."""
        self.vjps = None
        self.saved = ()

    def __repr__(self) -> str:
        return f"<{self.op} node>"


# ---------------------------------------------------------------- grad mode
_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


def set_grad_enabled(mode: bool) -> "_RestoreGradMode":
    """Turn gradient recording on or off. As in PyTorch it also works as a context manager,
    ``with set_grad_enabled(training):``, which puts the previous mode back at the end."""
    return _RestoreGradMode(_switch_grad_mode(mode))


def _switch_grad_mode(mode: bool) -> bool:
    """Set the mode and return the previous one: the engine's own switches (each backward, each
    optimiser step), which need no context manager made for them."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    return previous


class _RestoreGradMode:
    __slots__ = ("previous",)

    def __init__(self, previous: bool):
        self.previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        _switch_grad_mode(self.previous)


class _GradMode:
    mode = True

    def __enter__(self):
        self.previous = _switch_grad_mode(self.mode)

    def __exit__(self, *exc):
        _switch_grad_mode(self.previous)

    def __call__(self, function):
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            with self.__class__():
                return function(*args, **kwargs)
        return wrapped


class no_grad(_GradMode):
    """Context manager and decorator: ops inside build no graph (evaluation, optimiser steps)."""
    mode = False


class enable_grad(_GradMode):
    mode = True


# The version counters (versions.py), here too: the engine's callers count writes as
# ``autograd.increment_version``, PyTorch's ``torch.autograd.graph.increment_version``.
from .versions import _versions, check_saved, increment_version, version_of  # noqa: E402,F401


# ---------------------------------------------------------------- tensor hooks
# Hooks of Tensor.register_hook, by tensor id, with a weak reference that drops them when the
# tensor goes (a dict on ids rather than a WeakKeyDictionary: that one compares keys with ==,
# which on tensors is elementwise).
_tensor_hooks: dict[int, tuple] = {}


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook away again."""

    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def add_tensor_hook(tensor: "Tensor", hook) -> RemovableHandle:
    key = id(tensor)
    if key not in _tensor_hooks:
        watch = weakref.ref(tensor, lambda _reference, key=key: _tensor_hooks.pop(key, None))
        _tensor_hooks[key] = (watch, [])
    hooks = _tensor_hooks[key][1]
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def has_hooks(tensors) -> bool:
    """Whether a hook of ``register_hook`` waits on any of ``tensors`` (a compiled step's guard:
    a replay runs no hook, so one registered since the recording must stop it)."""
    return bool(_tensor_hooks) and any(_tensor_hooks.get(id(tensor), (None, ()))[1]
                                       for tensor in tensors)


def _run_tensor_hooks(tensor: "Tensor", error_signal: "Tensor") -> "Tensor":
    """Each hook sees the tensor's whole error signal v̄ (every child's term summed) and may
    return a replacement, which the next hook and the rest of the walk then use.

    The hooks get a copy: the signal's array may be another tensor's signal too (add hands the
    same one to both inputs, and a leaf keeps it as its .grad), and a hook that changes its
    argument in place must change this tensor's gradient only."""
    error_signal = error_signal.clone()
    for hook in list(_tensor_hooks[id(tensor)][1]):
        replaced = hook(error_signal)
        if replaced is not None:
            if not isinstance(replaced, Tensor) or replaced.shape != error_signal.shape:
                shape = getattr(replaced, "shape", type(replaced).__name__)
                raise RuntimeError(f"a hook of a tensor of shape {tuple(tensor.shape)} returned "
                                   f"{shape}; return None or a Tensor of the gradient's shape "
                                   f"{tuple(error_signal.shape)}")
            error_signal = replaced
    return error_signal


# ---------------------------------------------------------------- the walk
def topological_order(roots: Sequence["Tensor"], *, constants: bool = False,
                      made_by=None) -> list["Tensor"]:
    """Every tensor that needs a gradient and leads to ``roots``, parents before children: the
    order backward walks in reverse. Reach the graph through ``tensor.grad_fn`` (a ``Node``).

    ``constants=True`` lists every tensor the roots are computed from, those that need no
    gradient too (inputs, constants), and visits each op's parents in the order the op takes
    them, so that ``w * x + b`` lists w, x, w·x, b, then the sum: the forward pass as the
    lecture writes it (``explain``). Without it the parents are visited in the order backward
    has always used: that order decides in which order a fan-out's terms are summed, and so a
    gradient's last bits. ``made_by(leaf)`` (with ``constants``) may give a leaf a node to walk
    through: the op that made a value from data alone, which the graph does not record (explain).

    Iterative depth-first search: a language model's graph is far deeper than Python's
    recursion limit.
    """
    order, visited = [], set()
    stack = [(root, False) for root in roots if constants or root.requires_grad]
    while stack:
        tensor, parents_done = stack.pop()
        if parents_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        node = tensor._node
        if node is None and (made_by is None or (node := made_by(tensor)) is None):
            order.append(tensor)  # a leaf: nothing below it, so it is placed at once
            continue
        stack.append((tensor, True))
        if constants:
            for parent in reversed(node.parents):
                if id(parent) not in visited:
                    stack.append((parent, False))
            continue
        for parent in node.parents:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


_RELEASED = ("Trying to backward through the graph a second time (or to read a gradient after "
             "its saved values were freed). Pass retain_graph=True to the first backward() or "
             "autograd.grad() call if you need to go through the graph again.")


def fit_to(contribution: "Tensor", parent: "Tensor") -> "Tensor":
    """A VJP's term made to fit the input it is for: broadcasting undone (the broadcast axes
    summed away) and type promotion undone. The one place a gradient is made to fit its input."""
    if contribution.shape != parent.shape:
        contribution = contribution.sum_to(parent.shape)
    if contribution.dtype != parent.dtype:
        contribution = contribution.to(parent.dtype)
    return contribution


def run_backward(roots, root_signals, retain_graph: bool, create_graph: bool,
                 capture: dict | None = None) -> dict:
    """Propagate error signals from ``roots`` to every tensor below them.

    With ``capture`` (a dict of id -> tensor) the signals reaching those tensors are returned
    and leaves' ``.grad`` is left alone (``autograd.grad``); otherwise leaf gradients accumulate.
    """
    order = topological_order(roots)
    signals: dict[int, Tensor] = {}
    for root, signal in zip(roots, root_signals):
        if root.requires_grad:
            key = id(root)
            signals[key] = signal if key not in signals else signals[key] + signal
    captured: dict[int, Tensor] = {}
    # Arrays already handed to a leaf's .grad: a second leaf receiving the same array gets a copy,
    # so that an in-place change to one gradient never shows up in another.
    given_out = {id(signal.data) for signal in root_signals}

    previous_mode = _switch_grad_mode(create_graph)
    try:
        for tensor in reversed(order):
            key = id(tensor)
            error_signal = signals.pop(key, None)
            if error_signal is None:
                continue
            if _tensor_hooks and key in _tensor_hooks:
                error_signal = _run_tensor_hooks(tensor, error_signal)
            if capture is not None and key in capture:
                captured[key] = error_signal
            node = tensor._node
            if node is None or tensor._retains_grad:
                if capture is None:
                    _accumulate(tensor, error_signal, create_graph, given_out)
                if node is None:
                    continue
            if node.vjps is None:
                raise RuntimeError(_RELEASED)
            if node.saved:
                check_saved(node, tensor)
            for parent, vjp in zip(node.parents, node.vjps):
                if not parent.requires_grad:
                    continue
                contribution = vjp(error_signal, tensor)
                given, wanted = contribution.data, parent.data
                if given.shape != wanted.shape or given.dtype != wanted.dtype:
                    contribution = fit_to(contribution, parent)
                key = id(parent)
                earlier = signals.get(key)
                signals[key] = contribution if earlier is None else earlier + contribution
            if not retain_graph:
                node.release()
    finally:
        _switch_grad_mode(previous_mode)
    return captured


def _accumulate(tensor: "Tensor", signal: "Tensor", create_graph: bool, given_out: set) -> None:
    if create_graph:
        tensor.grad = signal if tensor.grad is None else tensor.grad + signal
        return
    if tensor.grad is not None:
        tensor.grad = Tensor._wrap(tensor.grad.data + signal.data)
        return
    array = signal.data
    owner = array if array.base is None else array.base
    if id(owner) in given_out:
        array = array.copy()
    else:
        array = backend.writable(array)
        given_out.add(id(owner))
    tensor.grad = Tensor._wrap(array)


def root_signals(outputs, grad_outputs, caller: str) -> list["Tensor"]:
    """The error signals a backward pass starts from, one per output: ones for a single-element
    output given None, else the given gradient as a Tensor of the output's dtype, its shape
    checked against the output's. ``caller`` names the function in the errors."""
    signals = []
    for output, signal in zip(outputs, grad_outputs):
        if signal is None:
            if output.data.size != 1:
                raise RuntimeError(
                    f"{caller}: the output has shape {tuple(output.shape)}; a gradient can be "
                    "created implicitly only for a scalar output. Reduce it first (e.g. .sum() "
                    "or .mean()), or pass the gradient of the loss with respect to it.")
            signal = Tensor._wrap(backend.xp.ones(output.data.shape, output.data.dtype))
        elif not isinstance(signal, Tensor):
            signal = Tensor._wrap(backend.xp.asarray(signal, dtype=output.dtype))
        if signal.shape != output.shape:
            raise RuntimeError(f"{caller}: gradient of shape {signal.shape} does not match the "
                               f"output's shape {output.shape}")
        signals.append(signal)
    return signals


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (PyTorch's ``autograd.backward``)."""
    outputs = _as_list(tensors)
    for output in outputs:
        if not output.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph; set "
                               "requires_grad=True on the inputs you want gradients for")
    grads = [None] * len(outputs) if grad_tensors is None else _as_list(grad_tensors)
    signals = root_signals(outputs, grads, "backward")
    retain = create_graph if retain_graph is None else retain_graph
    run_backward(outputs, signals, retain, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    With ``create_graph=True`` the result is itself differentiable: gradients of gradients,
    Hessian-vector products.
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for item in inputs:
        if not item.requires_grad:
            raise RuntimeError("grad: one of the inputs does not require grad")
    grads = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    signals = root_signals(outputs, grads, "grad")
    retain = create_graph if retain_graph is None else retain_graph
    captured = run_backward(outputs, signals, retain, create_graph,
                            capture={id(item): item for item in inputs})
    results = []
    for index, item in enumerate(inputs):
        found = captured.get(id(item))
        if found is None and not allow_unused:
            raise RuntimeError(f"grad: input {index} was not used to compute the outputs; pass "
                               "allow_unused=True to get None for it")
        if found is not None and not create_graph:
            found = found.detach()
        results.append(found)
    return tuple(results)


# Last, because tensor.py imports Node from here (and the package imports this module first).
# A module-level name, not an import inside each function: those cost ~2 µs per call, on every
# backward, for every leaf.
from .tensor import Tensor  # noqa: E402
from .function import Function, FunctionCtx  # noqa: E402,F401  (chainrule.autograd.Function)
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401  (PyTorch's autograd.gradcheck)
