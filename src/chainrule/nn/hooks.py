"""A module's forward and backward hooks (PyTorch's ``register_forward_pre_hook``,
``register_forward_hook`` and ``register_full_backward_hook``), and how a call runs them."""
from __future__ import annotations

from .. import autograd
from ..tensor import Tensor


class ModuleHooks:
    """A module's hooks, and how a call runs them in PyTorch's order: forward pre-hooks, the
    forward, forward hooks; in backward, the full backward hooks once the gradients with respect
    to the module's inputs are known."""

    def __init__(self):
        self.forward_pre, self.forward, self.backward = [], [], []

    def add(self, kind: str, hook) -> autograd.RemovableHandle:
        hooks = getattr(self, kind)
        hooks.append(hook)
        return autograd.RemovableHandle(hooks, hook)

    def call(self, module: "Module", args: tuple, kwargs: dict):
        for hook in list(self.forward_pre):
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        border = BackwardBorder(module, list(self.backward), args) if self.backward else None
        if border is not None:
            args = border.inputs
        output = module.forward(*args, **kwargs)
        for hook in list(self.forward):
            result = hook(module, args, output)
            if result is not None:
                output = result
        return output if border is None else border.watch_outputs(output)


class BackwardBorder:
    """One call of a module with full backward hooks. Its tensor inputs and outputs pass through
    ``observed`` (the identity, whose VJP sees the error signal), so that backward shows the
    gradients leaving the outputs (grad_output) and, later, those reaching the inputs
    (grad_input); the hooks run when the last of the inputs' gradients is known."""

    def __init__(self, module: "Module", hooks: list, args: tuple):
        from ..ops import observed  # nn sits above the ops; imported when a hook is first used

        self.module, self.hooks, self.observed = module, hooks, observed
        tensors = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.waiting = {i for i in tensors if args[i].requires_grad}
        self.grad_input = [None] * len(tensors)
        self.positions = {i: k for k, i in enumerate(tensors)}
        self.grad_output = None
        self.inputs = tuple(observed(a, on_gradient=self._input_signal(i)) if i in self.waiting
                            else a for i, a in enumerate(args))

    def watch_outputs(self, output):
        outputs = output if isinstance(output, tuple) else (output,)
        watched = [isinstance(o, Tensor) and o.requires_grad for o in outputs]
        self.grad_output = [None] * len(outputs)
        self.pending_outputs = sum(watched)
        result = tuple(self.observed(o, on_gradient=self._output_signal(j)) if watched[j] else o
                       for j, o in enumerate(outputs))
        return result if isinstance(output, tuple) else result[0]

    def _output_signal(self, j: int):
        def seen(g):
            # a copy: the signal may be another tensor's too (add hands one to both inputs), and
            # the hooks run later, when a change in place would reach that one's gradient
            self.grad_output[j] = g.clone()
            self.pending_outputs -= 1
            if self.pending_outputs == 0 and not self.waiting:
                self._run(None)  # no input needs a gradient: the hooks run now, as in PyTorch
        return seen

    def _input_signal(self, i: int):
        def seen(g):
            self.grad_input[self.positions[i]] = g
            self.waiting.discard(i)
            if self.waiting:
                return None
            return self._run(self.positions[i])
        return seen

    def _run(self, last: int | None):
        grad_input, grad_output = tuple(self.grad_input), tuple(self.grad_output)
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is None:
                continue
            result = tuple(result)
            if len(result) != len(grad_input):
                raise RuntimeError(f"a backward hook of {type(self.module).__name__} returned "
                                   f"{len(result)} gradients for {len(grad_input)} inputs")
            changed = [k for k in range(len(result)) if result[k] is not grad_input[k]]
            if changed and changed != [last]:
                raise RuntimeError(
                    f"a backward hook of {type(self.module).__name__} replaced the gradient of "
                    f"input {changed[0]}, which backward has already passed on; chainrule lets a "
                    "hook replace the gradient of the input whose gradient came last only (the "
                    "only one, for a module with one tensor input)")
            grad_input = result
        return None if last is None else grad_input[last]
