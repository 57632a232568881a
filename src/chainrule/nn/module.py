"""``Module`` and ``Parameter``: a model is a tree of modules whose leaves hold parameters.

A module finds its parameters, buffers and sub-modules by looking at its own attributes, in the
order they were assigned, so that ``self.fc = Linear(4, 2)`` is all it takes to register a layer.
Names are PyTorch's dotted paths (``"encoder.0.weight"``), so a ``state_dict`` reads the same here
as there.
"""
from __future__ import annotations

from typing import Callable, Iterator, NamedTuple

from .. import autograd, backend, devices
from ..errors import CheckpointError
from ..optim.optimizer import zero_gradients
from ..tensor import Tensor, as_tensor
from .hooks import ModuleHooks


class Parameter(Tensor):
    """A tensor that is a weight of a module: it requires grad, and modules find it.

    From a Tensor it shares that tensor's memory, as ``torch.nn.Parameter`` does; from a list or
    an array it holds a copy (Python floats give the default dtype, float32).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = backend.xp.zeros((0,), dtype=backend.get_default_dtype())
        elif isinstance(data, Tensor):
            array = data.data
        else:
            array = Tensor(data).data  # a copy, in the default dtype for Python floats
        self._init_leaf(array, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def name_parameters(parent, name: str, value) -> None:
    """Name a parameter registered as ``parent.name`` by its dotted path, and move the names of a
    registered module's parameters under that path, so that ``chainrule.explain(loss)`` labels
    them as the root module's ``named_parameters`` does (``"layers.0.weight"``). Each module
    remembers its path (``_path``), so a module appended later to a nested container is named
    in full. A name the user gave is kept, and so is the first path of a module registered twice
    (shared, or in a slice ``model[:2]``), as ``named_parameters`` lists it under its first name."""
    path = _join(getattr(parent, "_path", ""), name)
    if isinstance(value, Parameter):
        if value.name is None:
            value.name = path
    elif isinstance(value, Module) and not getattr(value, "_path", ""):
        for inner_path, parameter in value.named_parameters():
            if parameter.name == inner_path:
                parameter.name = _join(path, inner_path)
        for inner_path, module in value.named_modules():
            object.__setattr__(module, "_path", _join(path, inner_path))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else prefix or name


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match, as PyTorch returns it."""
    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"  # PyTorch's words
        return (f"IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")


class Module:
    """Base of every layer and model.

    Subclasses call ``super().__init__()`` first, assign their parameters (``Parameter``) and
    sub-modules as attributes, and define ``forward``; calling the module calls ``forward``.
    A plain list or dict of modules is refused at assignment: wrap it in ``ModuleList`` or
    ``ModuleDict`` so that its parameters are found.
    """

    def __init__(self):
        # name -> persistent (saved in state_dict); the tensors themselves are attributes.
        object.__setattr__(self, "_buffer_names", {})
        self.training = True

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, (Module, Parameter)) and "_buffer_names" not in self.__dict__:
            raise AttributeError(f"cannot assign {type(value).__name__} {name!r} before "
                                 f"Module.__init__() is called: call super().__init__() first "
                                 f"in {type(self).__name__}.__init__")
        if isinstance(self.__dict__.get(name), Parameter) and isinstance(value, Tensor) \
                and not isinstance(value, Parameter):
            # `self.weight = self.weight * 2` would silently stop training the weight.
            raise TypeError(f"{type(self).__name__}.{name} is a Parameter; assign a Parameter "
                            "(or None), or change its values in place under no_grad()")
        if isinstance(value, (list, tuple, dict)):
            items = value.values() if isinstance(value, dict) else value
            if any(isinstance(item, Module) for item in items):
                container = "ModuleDict" if isinstance(value, dict) else "ModuleList"
                raise TypeError(f"{type(self).__name__}.{name}: a plain {type(value).__name__} of "
                                f"modules hides their parameters; use nn.{container}(...)")
        if not name.startswith("_"):
            name_parameters(self, name, value)
        object.__setattr__(self, name, value)

    _hooks = None  # a ModuleHooks once a hook is registered: calls without hooks stay bare

    def __call__(self, *args, **kwargs):
        if self._hooks is None:
            return self.forward(*args, **kwargs)
        return self._hooks.call(self, args, kwargs)

    # ------------------------------------------------------------ hooks (PyTorch's names)
    def register_forward_pre_hook(self, hook) -> autograd.RemovableHandle:
        """``hook(module, args)`` before each forward; a value it returns replaces ``args``."""
        return self._hook_lists().add("forward_pre", hook)

    def register_forward_hook(self, hook) -> autograd.RemovableHandle:
        """``hook(module, args, output)`` after each forward; a value it returns replaces the
        output."""
        return self._hook_lists().add("forward", hook)

    def register_full_backward_hook(self, hook) -> autograd.RemovableHandle:
        """``hook(module, grad_input, grad_output)`` once backward has computed the gradients
        with respect to the module's tensor inputs (None for an input that needs none) from
        those with respect to its outputs; a tuple it returns replaces ``grad_input``."""
        return self._hook_lists().add("backward", hook)

    def _hook_lists(self) -> ModuleHooks:
        if self._hooks is None:
            object.__setattr__(self, "_hooks", ModuleHooks())
        return self._hooks

    # ------------------------------------------------------------ registration
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state but is not trained (running statistics,
        masks). ``persistent=False`` keeps it out of ``state_dict``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, "
                            f"not {type(tensor).__name__}")
        self._buffer_names[name] = persistent
        setattr(self, name, tensor)

    def register_parameter(self, name: str, parameter: Parameter | None) -> None:
        if parameter is not None and not isinstance(parameter, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"not {type(parameter).__name__}")
        setattr(self, name, parameter)

    def add_module(self, name: str, module: "Module | None") -> None:
        setattr(self, name, module)

    # ------------------------------------------------------------ walking the tree
    def _child_slots(self) -> Iterator[tuple[str, "Module"]]:
        """Every (name, sub-module) registered here, a module under two names twice."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct sub-modules, in the order they were assigned; one registered under two
        names once, under its first, as in PyTorch."""
        seen = set()
        for name, module in self._child_slots():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every module below it, depth first; a module registered under two
        names (shared) once, under its first, unless ``remove_duplicate=False``, as in PyTorch."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            below = [(f"{name}.{child_name}" if name else child_name, child)
                     for child_name, child in module._child_slots()]
            stack.extend(reversed(below))

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield name, value

    def _own_buffers(self, persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        for name, persistent in self._buffer_names.items():
            value = getattr(self, name, None)
            if value is not None and (persistent or not persistent_only):
                yield name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs: each module's own first, then its children's.
        A parameter shared by two modules (tied weights) is listed once, under its first name."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        seen = set()
        for module_name, module in modules:
            for name, parameter in module._own_parameters():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield (f"{module_name}.{name}" if module_name else name), parameter

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, buffer in module._own_buffers():
                yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, function: Callable[["Module"], None]) -> "Module":
        """Call ``function`` on every sub-module and then on this one (custom initialisation):
        each child's tree first, in order, as PyTorch's ``apply`` does."""
        for module in self.children():
            module.apply(function)
        function(self)
        return self

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active) or, with ``mode=False``, evaluation mode. Each child's
        own ``train`` is called, as in PyTorch, so that a module overriding it (a frozen batch
        norm that stays in evaluation) keeps its rule inside a larger model."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: mode must be True or False, "
                             f"not {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``None`` by default, else zeros written in place into the same
        tensors, as in PyTorch (and as ``Optimizer.zero_grad``)."""
        zero_gradients(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Cast floating-point parameters and buffers to a dtype (in place: the same Parameter
        objects, so an optimizer built earlier still holds them). PyTorch's forms are accepted:
        ``to(dtype)``, ``to("cpu")``, ``to(device, dtype)``, ``to(tensor)``; a device other than
        the backend's is refused with the way to switch (``chainrule.backend.use``)."""
        dtype = devices.to_arguments(args, kwargs, f"{type(self).__name__}.to")
        if dtype is None:
            return self
        if not backend.is_floating(dtype):
            raise TypeError(f"{type(self).__name__}.to: only floating point dtypes are allowed, "
                            f"not {dtype}")
        tensors = list(self.parameters()) + list(self.buffers())
        for tensor in tensors:
            if backend.is_floating(tensor.dtype) and tensor.dtype != dtype:
                tensor.data = tensor.data.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad = as_tensor(tensor.grad.data.astype(dtype))
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self) -> "Module":
        return self.to("cuda")

    def float(self) -> "Module":
        return self.to(backend.float32)

    def double(self) -> "Module":
        return self.to(backend.float64)

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, detached (sharing memory).
        Tied weights, and the tensors of a module registered under two names, appear under
        each of their names, as in PyTorch."""
        state = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            owned = list(module._own_parameters()) + list(module._own_buffers(persistent_only=True))
            for name, tensor in owned:
                key = f"{module_name}.{name}" if module_name else name
                state[key] = tensor.detach()
        return state

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy tensors (or arrays) into this module's parameters and buffers, by name.

        Everything is checked before anything is copied, so a failed load leaves the module as
        it was. A shape mismatch is always an error (``CheckpointError`` naming the tensor and
        both shapes); missing and unexpected names are errors when ``strict``, and are returned.
        """
        own = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            owned = list(module._own_parameters()) + list(module._own_buffers(persistent_only=True))
            for name, tensor in owned:
                own[f"{module_name}.{name}" if module_name else name] = tensor
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            shape = tuple(value.shape) if hasattr(value, "shape") else backend.xp.shape(value)
            if shape != tuple(target.shape):
                problems.append(f"size mismatch for {key}: the state has shape {shape} but the "
                                f"model's {key} has shape {tuple(target.shape)}")
        if strict:
            if missing:
                problems.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                problems.append(f"unexpected keys: {', '.join(unexpected)}")
        if problems:
            raise CheckpointError(f"load_state_dict into {type(self).__name__}: "
                                  + "; ".join(problems))
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                array = value.data if isinstance(value, Tensor) else value
                target.data[...] = backend.xp.asarray(array)
                autograd.increment_version(target)  # as PyTorch's copy_ into the parameter
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of ``repr`` (e.g. ``in_features=4``)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._child_slots():
            child_lines = repr(child).split("\n")
            lines.append(f"  ({name}): " + "\n  ".join(child_lines))
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        extra = self.extra_repr()
        head = f"{type(self).__name__}(" + (f"\n  {extra}" if extra else "")
        return head + "\n" + "\n".join(lines) + "\n)"
