"""The engine's doors, watched for the length of one recording (``recording.py`` is the log).

While a step is recorded, the engine itself is not changed; ``watching`` swaps, for the length of
the call, the few places where a step meets the world outside its arrays:

- ``backend.xp`` is a namespace whose creation functions (zeros, arange, asarray…) report too;
- ``backend``'s random generator reports each draw, so a replay draws anew from the same one;
- ``Tensor.data``, ``.grad`` and ``.requires_grad`` are read through properties that hand out a
  parameter's array as a ``Traced`` view (its writes are seen) and note what was read, so that
  a replay can check the same tensors still hold the same arrays, gradients and flags;
- ``Module.train()`` and ``eval()`` in the step are instructions: a replay sets the mode too;
- ``Optimizer.step`` is one instruction holding the step's own array operations, which the
  replay runs while the optimiser's settings (learning rates, step counts, buffers) are those
  recorded, and otherwise runs the step itself, live: a new learning rate or Adam's bias
  correction is never frozen. A schedule's ``step()`` is run live.
"""
from __future__ import annotations

import numpy

from . import autograd, backend, traced, versions
from .errors import CompileError
from .recording import Instruction, Recording, module_structure, optimizer_settings
from .tensor import Tensor
from .traced import Generator, Namespace, Traced, plain

_WATCHED = ("data", "grad", "requires_grad")


def _is_held(member, tensor) -> bool:
    """A tensor from before the step: its array is a plain one, not one of the recording."""
    try:
        return not isinstance(member.__get__(tensor, Tensor), Traced)
    except AttributeError:  # being made right now
        return False


def _gradient_set_in_step(recording: Recording, grad_member, tensor):
    """The tensor whose ``.grad`` the step set to ``tensor``, if it still is; else None."""
    owner = recording.gradients_set.get(id(tensor))
    return owner if owner is not None and grad_member.__get__(owner, Tensor) is tensor else None


def _same_memory(value, current) -> bool:
    """Whether ``x.data = value`` hands ``x`` its own memory back (``x.data -= 1``)."""
    return isinstance(value, Traced) and numpy.may_share_memory(plain(value), plain(current)) \
        and value.shape == current.shape


def _watched_attribute(recording: Recording, name: str, member, data_member):
    def get(tensor):
        value = member.__get__(tensor, Tensor)
        if recording.paused:
            return plain(value) if name == "data" else value
        if not _is_held(data_member, tensor):
            return value
        key = (id(tensor), name)
        if key not in recording.written:
            recording.reads.setdefault(key, (tensor, name, value))
        return recording.held_array(tensor, value) if name == "data" else value

    def set(tensor, value):
        if not recording.paused and name == "data" and any(
                stand_in is tensor for stand_in in recording.stand_ins):
            if _same_memory(value, member.__get__(tensor, Tensor)):
                return  # `x.data -= ...` hands the same memory back: written in place
            raise CompileError("chainrule.compile: the step gives an argument of shape "
                               f"{tuple(tensor.shape)} a new array (x.data = ...); a replay "
                               "would not hand it back. Write into it in place (x.data[...] = "
                               "...), or return the new tensor")
        if not recording.paused and _is_held(data_member, tensor):
            if name == "data":
                current = member.__get__(tensor, Tensor)
                if _same_memory(value, current):
                    return  # `p.data -= ...` hands the same memory back: p keeps its own array
                raise CompileError("chainrule.compile: the step gives a tensor of shape "
                                   f"{tuple(current.shape)} a new array (x.data = ...); write "
                                   "into it in place instead (x.data[...] = ...)")
            if name == "requires_grad":
                raise CompileError("chainrule.compile: the step changes requires_grad of a "
                                   "tensor it did not make; do that outside the step")
            recording.written.add((id(tensor), name))
            source = None if value is None else recording.ref(value.data)
            recording.add(Instruction("set_grad", tensor, (source,), {} if value is None else
                                      {"version": autograd.version_of(value)}))
            if value is not None:
                recording.gradients_set[id(value)] = tensor
        member.__set__(tensor, value)
    return property(get, set)


def _guard_structure(recording: Recording, module) -> None:
    """A module called in the step: its attributes and items are guarded from the state they
    have when it is called, and the containers it holds as ``_hold_containers`` says."""
    if id(module) in recording.modules:
        return
    recording.modules[id(module)] = (module, module_structure(module))
    _hold_containers(recording, module)


def _hold_containers(recording: Recording, module) -> None:
    """The items of the containers ``module`` holds (a ModuleList or ModuleDict is iterated or
    indexed, never called), and of the containers in those, at any depth, are guarded: each as
    it is when the recording ends (``watching.__exit__``)."""
    from .nn.module import Module

    held = [module]
    while held:  # a walk, not a recursion: containers may nest deeply
        holder = held.pop()
        items = getattr(holder, "_items", ())
        for value in (*vars(holder).values(), *(items.values() if type(items) is dict else items)):
            if isinstance(value, Module) and hasattr(value, "_items") and \
                    id(value) not in recording.containers:
                recording.containers[id(value)] = value
                held.append(value)


def _with_subclasses(kind: type) -> list:
    found = [kind]
    for subclass in kind.__subclasses__():
        found += _with_subclasses(subclass)
    return found


def _tensor_bool(tensor) -> bool:
    """``if tensor:`` while recording: the array's truth, which the replay checks again."""
    if tensor.data.size != 1:
        raise RuntimeError(f"the truth value of a tensor with {tensor.data.size} elements is "
                           "ambiguous; use .any() or .all()")
    return bool(tensor.data.reshape(()))


class watching:
    """The context of one recording: the engine's doors watched, and put back afterwards."""

    def __init__(self):
        # The recording sees modules, optimisers and schedules; the engine does not: so here.
        from .nn.module import Module
        from .optim.lr_scheduler import LRScheduler
        from .optim.optimizer import Optimizer

        self.recording = Recording()
        recording = self.recording
        original_call = Module.__call__
        original_backward, original_increment = autograd.run_backward, autograd.increment_version

        original_setattr = Module.__setattr__

        def set_attribute(module, name, value):
            # train() and eval() in the step: a replay writes the mode too, and the module is
            # guarded from its state before the step's first write (the state between calls)
            if name == "training" and not recording.paused and name in vars(module):
                _guard_structure(recording, module)
                recording.add(Instruction("attribute", setattr, (module, name, value)))
            original_setattr(module, name, value)

        def call(module, *args, **kwargs):
            hooks = module._hooks
            if hooks is not None and (hooks.forward_pre or hooks.forward or hooks.backward):
                raise CompileError(f"chainrule.compile: {type(module).__name__} has hooks "
                                   "(register_forward_hook...); a replay would not run them. "
                                   "Remove them, or don't compile this step")
            _guard_structure(recording, module)
            return original_call(module, *args, **kwargs)

        def optimizer_step(original):
            def step(optimizer, closure=None):
                if recording.paused or recording.stepping:  # super().step() of a subclass
                    return original(optimizer, closure)
                if closure is not None:
                    raise CompileError("chainrule.compile: optimizer.step(closure) can't be "
                                       "recorded; call the closure in the step, then step()")
                if not any(existing is optimizer for existing in self.optimizers):
                    raise CompileError(
                        f"chainrule.compile: the step makes its {type(optimizer).__name__} "
                        "itself; a replay would step the one made when it was recorded, with "
                        "its state. Make the optimiser outside the step")
                recording.phase, recording.stepping = "update", True
                settings, start = optimizer_settings(optimizer), len(recording.instructions)
                swapped = recording.hold_state(optimizer)
                try:
                    return original(optimizer)
                finally:
                    recording.stepping = False
                    leaked = recording.release_state(optimizer, swapped)
                    update = recording.instructions[start:]
                    del recording.instructions[start:]
                    if leaked or optimizer_settings(optimizer) != settings:
                        update, settings = None, None  # e.g. Adam's step count: run it live
                    recording.add(Instruction("optimizer", original, (optimizer,),
                                              {"update": update}, expected=settings))
            return step

        def live(original):
            def step(scheduler, *args, **kwargs):
                if recording.paused:
                    return original(scheduler, *args, **kwargs)
                if args or kwargs:  # ReduceLROnPlateau.step(loss): a value of this call
                    raise CompileError(
                        f"chainrule.compile: {type(scheduler).__name__}.step() was given a "
                        "value inside the step; a replay would not step it with the new one. "
                        "Step the schedule outside the compiled step")
                recording.add(Instruction("live", original, (scheduler,)))
                recording.paused = True
                try:
                    return original(scheduler)
                finally:
                    recording.paused = False
            return step

        def zero_grad(original):
            def clear(optimizer, *args, **kwargs):
                # a replay clears the gradients of the parameters the groups held when it was
                # recorded: it replays only while the groups hold the same ones, in that order
                if not recording.paused and id(optimizer) not in recording.cleared:
                    # (the groups themselves, which the recording watches in stand-ins)
                    groups = [group for owner, _, group, _ in self.groups
                              if owner is optimizer] or optimizer.param_groups
                    recording.cleared[id(optimizer)] = (optimizer, tuple(
                        p for group in groups for p in group["params"]))
                return original(optimizer, *args, **kwargs)
            return clear

        def run_backward(*args, **kwargs):
            recording.phase = "backward"
            try:
                return original_backward(*args, **kwargs)
            finally:
                recording.phase = "update"

        def increment_version(tensor, previous=None):
            if not recording.paused:
                if _is_held(data_member, tensor):
                    owner = recording.gradient_owner(tensor)
                    recording.add(Instruction("version", original_increment, (tensor,))
                                  if owner is None else  # (zero_grad(set_to_none=False))
                                  Instruction("version", original_increment, (owner,),
                                              {"grad": True}))
                elif (made_for := _gradient_set_in_step(recording, grad_member, tensor)) \
                        is not None:
                    # a gradient this step's backward made: counted on the .grad the replay
                    # sets, as eager mode counts it on the new one
                    recording.add(Instruction("version", original_increment, (made_for,),
                                              {"grad": True, "made": True}))
                else:
                    recording.count_input_write(data_member.__get__(tensor, Tensor))
            return original_increment(tensor, previous)

        def tensor_hook(tensor, error_signal):
            raise CompileError("chainrule.compile: a hook of Tensor.register_hook ran in the "
                               "step; a replay would not run it. Remove it, or don't compile")

        members = {name: Tensor.__dict__[name] for name in _WATCHED}
        data_member, grad_member = members["data"], members["grad"]
        self.patches = [(Module, "__call__", call), (Module, "__setattr__", set_attribute),
                        (autograd, "run_backward", run_backward),
                        (autograd, "increment_version", increment_version),
                        (autograd, "_run_tensor_hooks", tensor_hook),
                        (Tensor, "__bool__", _tensor_bool),
                        (backend, "xp", Namespace(recording)),
                        (backend, "_generator", Generator(recording, backend._generator))]
        self.generator = self.patches[-1][2]
        self.patches += [(Tensor, name, _watched_attribute(recording, name, member, data_member))
                         for name, member in members.items()]
        wrappers = ((Optimizer, "step", optimizer_step), (Optimizer, "zero_grad", zero_grad),
                    (LRScheduler, "step", live))
        for base, name, watched in wrappers:
            self.patches += [(kind, name, watched(kind.__dict__[name]))
                             for kind in _with_subclasses(base) if name in kind.__dict__]

    def __enter__(self) -> Recording:
        from .nn.module import Module
        from .optim.optimizer import every_optimizer

        if traced._active is not None:
            raise CompileError("chainrule.compile: a compiled step was called while another "
                               "step is being recorded; compile the outer step only")
        self.saved = [(owner, name, owner.__dict__[name] if isinstance(owner, type)
                       else getattr(owner, name)) for owner, name, _ in self.patches]
        for owner, name, value in self.patches:
            setattr(owner, name, value)
        self.groups, self.optimizers = [], list(every_optimizer())
        for optimizer in self.optimizers:
            for n, group in enumerate(optimizer.param_groups):
                watched = optimizer.param_groups[n] = _WatchedGroup(group)
                watched.recording = self.recording
                self.groups.append((optimizer, n, group, watched))
        for _, _, value, _ in self.recording.names:  # a module the step reads by name (a
            if isinstance(value, Module):  # ModuleList it indexes), called or not: guarded too
                self.recording.containers.setdefault(id(value), value)
                _hold_containers(self.recording, value)
        traced._active = self.recording
        return self.recording

    def __exit__(self, *exc) -> None:
        traced._active = None
        recording = self.recording
        reseeded = backend._generator is not self.generator  # chainrule.manual_seed in the step
        for container in recording.containers.values():  # those the step did not call
            if id(container) not in recording.modules:
                recording.modules[id(container)] = (container, module_structure(container))
        for owner, name, value in self.saved:
            setattr(owner, name, value)
        # a held array that is a view was its stand-in's base: the writes counted on it go to
        # its storage, where eager mode counts them
        for slot in recording.held.values():
            versions.move_count_to_storage(recording.buffers[slot].array)
        for optimizer, n, group, watched in self.groups:  # with what live steps wrote
            group.update(watched)
            if n < len(optimizer.param_groups) and optimizer.param_groups[n] is watched:
                optimizer.param_groups[n] = group
        # the patches refer to this object: let go of them, and the recording is freed with
        # the call (not by the cycle collector, later), with the tensors and gradients it read
        self.patches = self.saved = self.groups = ()
        if reseeded:  # (its draws after the seed, unseen, may have failed the recording first)
            raise CompileError("chainrule.compile: the step seeds the random generator itself "
                               "(chainrule.manual_seed); a replay would not seed it again. Seed "
                               "it outside the step, before the call")


class _WatchedGroup(dict):
    """An optimiser's parameter group while a step is recorded. A setting the step's own Python
    writes (``group["lr"] = lr``) would not be written by a replay, which runs none of it: the
    recording refuses it. A schedule's step (run live) and the optimiser's own step may write."""

    recording: Recording

    def _check(self, key) -> None:
        if not (self.recording.paused or self.recording.stepping):
            raise CompileError(
                f"chainrule.compile: the step sets {key!r} of an optimiser's parameter group "
                "itself; a replay runs none of the step's Python and would not. Set it outside "
                "the compiled step (or step a learning-rate schedule)")

    def __setitem__(self, key, value) -> None:
        self._check(key)
        super().__setitem__(key, value)

    def __delitem__(self, key) -> None:
        self._check(key)
        super().__delitem__(key)

    def update(self, *args, **kwargs) -> None:
        self._check(next(iter(dict(*args, **kwargs)), "a setting"))
        super().update(*args, **kwargs)

    def setdefault(self, key, default=None):
        if key not in self:
            self._check(key)
        return super().setdefault(key, default)

    def __ior__(self, other):  # ``group |= {"lr": lr}``
        self.update(other)
        return self

    def pop(self, key, *default):
        if key in self:
            self._check(key)
        return super().pop(key, *default)

    def popitem(self):
        if self:
            self._check(next(reversed(self)))
        return super().popitem()

    def clear(self) -> None:
        if self:
            self._check(next(iter(self)))
        super().clear()
