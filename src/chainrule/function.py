"""``chainrule.autograd.Function``: your own op, with PyTorch's contract.

The lecture's sigmoid, written as a Function::

    class Sigmoid(chainrule.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            y = 1 / (1 + (-z).exp())           # runs without recording a graph
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, y_bar):
            (y,) = ctx.saved_tensors
            return y_bar * y * (1 - y)          # z̄ = ȳ · σ(z)(1 − σ(z))

    y = Sigmoid.apply(z)

``apply`` runs ``forward`` with gradients off and makes its output one node of the graph, whose
vector-Jacobian product is ``backward``: it receives the output's error signal and returns one
gradient per input of ``forward`` (None for an input that takes none). Written in Tensor ops,
``backward`` can itself be differentiated (``create_graph=True``).
"""
from __future__ import annotations

from . import autograd
from .autograd import Node
from .tensor import Tensor, as_tensor


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors (checked against in-place changes,
    as the engine's own ops are), ``needs_input_grad``, and any attribute you set on it."""

    def __init__(self, function: str, inputs: tuple):
        self._function = function
        self._saved: tuple = ()
        self._versions: tuple = ()
        self._non_differentiable: set = set()
        self._output_positions: tuple = ()  # where the saved tensors hold forward's output
        self._output = None                 # that output, handed in by the walk during backward
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs)

    def save_for_backward(self, *tensors) -> None:
        for tensor in tensors:
            if tensor is not None and not isinstance(tensor, Tensor):
                raise TypeError(f"{self._function}.forward: save_for_backward takes tensors (or "
                                f"None); keep {type(tensor).__name__} values as ctx attributes")
        self._saved = tensors
        self._versions = tuple(None if t is None else autograd.version_of(t) for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        saved = tuple(self._output if i in self._output_positions else tensor
                      for i, tensor in enumerate(self._saved))
        for tensor, version in zip(saved, self._versions):
            if tensor is not None and autograd.version_of(tensor) != version:
                raise RuntimeError(
                    f"{self._function}: a tensor saved for backward was modified by an in-place "
                    f"operation after it was saved (version {autograd.version_of(tensor)}, "
                    f"expected {version}), so the gradient would be wrong; change a copy instead")
        return saved

    def _keep_output_out_of_reach(self, output: Tensor) -> None:
        """A saved output is not kept: the walk hands the graph's output tensor to backward
        instead. So a backward written on it is differentiated through this very node (as in
        PyTorch), and the node holds no reference to its own output (no cycle)."""
        self._output_positions = tuple(i for i, t in enumerate(self._saved) if t is output)
        self._saved = tuple(None if i in self._output_positions else t
                            for i, t in enumerate(self._saved))

    def mark_non_differentiable(self, *outputs) -> None:
        """Outputs that take no gradient (indices, masks): they come out not requiring grad."""
        self._non_differentiable.update(id(output) for output in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for PyTorch's programs; a single-output Function's signal is never None."""


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``YourFunction.apply(*args)``. One output tensor per Function (a tuple is refused)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: call {type(self).__name__}.apply(...), not "
                           f"{type(self).__name__}(...)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass defines forward(ctx, *args) as a "
                                  "@staticmethod")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass defines backward(ctx, *grads) as a "
                                  "@staticmethod")

    @classmethod
    def apply(cls, *args, **kwargs):
        name = cls.__name__
        if cls.forward is Function.forward or cls.backward is Function.backward:
            missing = "forward" if cls.forward is Function.forward else "backward"
            raise TypeError(f"{name} defines no {missing}(ctx, ...); write it as a @staticmethod")
        ctx = FunctionCtx(name, args)
        with autograd.no_grad():
            output = cls.forward(ctx, *args, **kwargs)
        if isinstance(output, (tuple, list)):
            raise TypeError(f"{name}.forward returned {len(output)} values; a chainrule Function "
                            "returns one tensor (write one Function per output)")
        if not isinstance(output, Tensor):
            raise TypeError(f"{name}.forward must return a Tensor, not {type(output).__name__}")
        inputs = tuple(a for a in args if isinstance(a, Tensor))
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if (not autograd.is_grad_enabled() or not any(ctx.needs_input_grad)
                or id(output) in ctx._non_differentiable):
            return as_tensor(output.data)

        ctx._keep_output_out_of_reach(output)
        last = {}  # the walk calls each input's VJP in turn with one signal: backward runs once

        def gradients(error_signal: Tensor, out: Tensor) -> tuple:
            if last.get("signal") is error_signal:
                return last["grads"]
            ctx._output = out
            try:
                grads = cls.backward(ctx, error_signal)
            finally:
                ctx._output = None
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"{name}.backward returned {len(grads)} gradient(s), but "
                                   f"forward took {len(args)} input(s): return one per input, "
                                   "None for those that take no gradient")
            last["signal"], last["grads"] = error_signal, grads
            return grads

        def vjp_for(k: int):
            position = positions[k]

            def vjp(error_signal: Tensor, out: Tensor) -> Tensor:
                grad = gradients(error_signal, out)[position]
                if grad is None:
                    parent = inputs[k]
                    return as_tensor(parent.data * 0)
                if not isinstance(grad, Tensor):
                    raise TypeError(f"{name}.backward returned {type(grad).__name__} for input "
                                    f"{position}; return a Tensor or None")
                if grad.shape != inputs[k].shape:
                    raise RuntimeError(f"{name}.backward returned a gradient of shape "
                                       f"{tuple(grad.shape)} for input {position} of shape "
                                       f"{tuple(inputs[k].shape)}")
                return grad
            return vjp

        node = Node(name, inputs, tuple(vjp_for(k) for k in range(len(inputs))))
        return Tensor._from_op(output.data, node)
