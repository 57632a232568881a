"""How ``chainrule.compile`` watches one eager call of a step: every array operation, logged.

While a step is recorded, each array the step computes is a ``Traced`` array (traced.py): a
NumPy array, computed exactly as in eager mode, that reports every operation made with it. The
engine itself is not changed; for the length of the recording,

- ``backend.xp`` is a namespace whose creation functions (zeros, arange, asarray…) report too;
- ``backend``'s random generator reports each draw, so a replay draws anew from the same one;
- ``Tensor.data``, ``.grad`` and ``.requires_grad`` are read through properties that hand out a
  parameter's array as a ``Traced`` view (its writes are seen) and note what was read, so that
  a replay can check the same tensors still hold the same arrays, gradients and flags;
- ``Optimizer.step`` is one instruction holding the step's own array operations, which the
  replay runs while the optimiser's settings (learning rates, step counts, buffers) are those
  recorded, and otherwise runs the step itself, live: a new learning rate or Adam's bias
  correction is never frozen. A schedule's ``step()`` is run live.

The result is a list of ``Instruction``: ``function(*arguments)`` with ``Ref(n)`` standing for
the n-th buffer. ``replay.py`` turns it into a program that runs it again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from . import autograd, backend, traced
from .errors import CompileError
from .tensor import Tensor
from .traced import Generator, Namespace, Traced, plain


@dataclass(frozen=True)
class Ref:
    """The n-th buffer of a program, in an instruction's arguments."""
    index: int

    def __repr__(self) -> str:
        return f"v{self.index}"


@dataclass
class Instruction:
    """``function(*arguments, **keywords)``, its result in buffer ``result`` (None: no result).

    ``kind``: "op" (an array operation), "view" (its result shares memory with an argument),
    "create" (an array made from Python values: ``initial`` holds it), "draw" (random numbers
    from backend's generator), "branch" (``bool()`` of an array: the replay checks it comes out
    as ``expected``), "set_grad", "version", "optimizer" (its own operations, or run live),
    "live" (a learning-rate schedule's step, run live)."""
    kind: str
    function: object
    arguments: tuple = ()
    keywords: dict = field(default_factory=dict)
    result: int | None = None
    phase: str = "forward"
    expected: object = None
    writes: tuple = ()  # buffers written in place
    results: tuple = ()  # the buffers of a ufunc with several outputs (divmod)


@dataclass
class Buffer:
    """What the recording knows of buffer n: its shape and dtype, and where it comes from."""
    shape: tuple
    dtype: object
    origin: str  # "input", "held" (a tensor's array, by identity), "made" (computed in the step)
    array: object = None  # for "held": the array itself
    root: int | None = None  # a view's buffer of origin
    # the axes from the largest stride to the smallest, when not C order: NumPy lays a result
    # out like its operands (a transposed input gives a transposed result), and a reduction
    # over it then adds in that memory order; the replay's buffer must be laid out the same
    layout: tuple | None = None


# ---------------------------------------------------------------- the recording
SHAPE_ONLY = (numpy.zeros_like, numpy.ones_like, numpy.full_like, numpy.empty_like)


class Recording:
    """The log of one eager call: buffers, instructions, and what was read of tensors."""

    def __init__(self):
        self.buffers: list[Buffer] = []
        self.instructions: list[Instruction] = []
        self.held: dict[int, int] = {}       # id(array read through a tensor) -> buffer
        self.reads: dict[tuple, tuple] = {}  # (id(tensor), attribute) -> (tensor, name, value)
        self.written: set[tuple] = set()  # (id(tensor), attribute) the step assigned first
        self.modules: dict[int, object] = {}
        self.phase = "forward"
        self.paused = False  # in a step run live: nothing is recorded
        self.stepping = False  # in an optimiser's step

    # ------------------------------------------------------------ buffers
    def new_buffer(self, array, origin: str, root=None, held=None) -> Traced:
        layout = None
        if array.ndim > 1 and not array.flags.c_contiguous:
            layout = tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))
        self.buffers.append(Buffer(array.shape, array.dtype, origin, held, root, layout))
        traced = numpy.ndarray.view(array, Traced)
        traced.slot = len(self.buffers) - 1
        return traced

    def ref(self, value):
        """An instruction's argument: a Ref for an array of the recording, else the value."""
        if isinstance(value, Traced):
            if value.slot is None:
                raise CompileError("chainrule.compile: the step uses an array made by an ndarray "
                                   f"method it can't record (shape {value.shape}); use the "
                                   "tensor's own methods")
            return Ref(value.slot)
        if isinstance(value, numpy.ndarray):
            raise CompileError(
                f"chainrule.compile: the step uses an array of shape {value.shape} and dtype "
                f"{value.dtype} from outside chainrule's arrays (chainrule.tensor() of Python "
                "data or of a NumPy array, NumPy called directly, or random numbers from a "
                "generator passed by hand); a replay would reuse its recorded values. Pass it "
                "to the step as an argument, or make the tensor once, outside the step")
        if isinstance(value, (tuple, list)):
            return type(value)(self.ref(item) for item in value)
        if isinstance(value, dict):
            return {key: self.ref(item) for key, item in value.items()}
        return value

    def root(self, slot: int) -> int:
        root = self.buffers[slot].root
        return slot if root is None else root

    def branch(self, array: Traced, value: bool) -> None:
        self.add(Instruction("branch", bool, (self.ref(array),), expected=value))

    def add(self, instruction: Instruction) -> None:
        instruction.phase = self.phase
        self.instructions.append(instruction)

    # ------------------------------------------------------------ operations
    def log(self, function, args, kwargs, result, writes=None):
        arguments, keywords = self.ref(tuple(args)), self.ref(dict(kwargs))
        written = []
        if isinstance(writes, Traced):
            written.append(self.root(self.ref(writes).index))
        out = kwargs.get("out")
        outs = out if isinstance(out, tuple) else (out,) if out is not None else ()
        for target in outs:
            if isinstance(target, Traced):
                written.append(self.root(target.slot))
        if isinstance(result, numpy.generic):  # a full reduction: keep it an array of the program
            result = numpy.asarray(result)
        if outs and isinstance(outs[0], Traced):  # in place: the result is the out= array
            self.add(Instruction("op", function, arguments, keywords, None, writes=tuple(written)))
            return outs[0]
        if isinstance(function, numpy.ufunc) and isinstance(result, tuple):  # divmod, frexp
            traced = tuple(self.new_buffer(item, "made") for item in result)
            self.add(Instruction("op", function, arguments, keywords, None, writes=tuple(written),
                                 results=tuple(item.slot for item in traced)))
            return traced
        if not isinstance(result, numpy.ndarray):
            self.add(Instruction("op", function, arguments, keywords, None,
                                 writes=tuple(written)))
            return result
        if function in SHAPE_ONLY:
            return self.created(function, args, kwargs, result)
        sources = [a for a in _arrays(args) if numpy.may_share_memory(result, plain(a))]
        if sources:
            traced = self.new_buffer(result, "made", root=self.root(sources[0].slot))
            kind = "view"
        else:
            traced = self.new_buffer(result, "made")
            kind = "op"
        self.add(Instruction(kind, function, arguments, keywords, traced.slot,
                             writes=tuple(written)))
        return traced

    def created(self, function, args, kwargs, result):
        """An array made from Python values (or only a shape): the replay remakes it."""
        array = numpy.asarray(result)
        traced = self.new_buffer(array, "made")
        self.add(Instruction("create", function, self.ref(tuple(args)), self.ref(dict(kwargs)),
                             traced.slot, expected=array.copy()))
        return traced

    def draw(self, name: str, args, kwargs, result) -> Traced:
        """Random numbers from backend's generator: the replay draws anew, from the same one."""
        traced = self.new_buffer(numpy.asarray(result), "made")
        self.add(Instruction("draw", name, self.ref(args), self.ref(kwargs), traced.slot))
        return traced

    def hold_state(self, optimizer) -> list:
        """An optimiser's buffers (momentum, Adam's moments) as held arrays for its step."""
        swapped = []
        for state in optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, numpy.ndarray) and not isinstance(value, Traced):
                    state[key] = self.held_array(None, value)
                    swapped.append((state, key, value))
        return swapped

    def release_state(self, optimizer, swapped: list) -> bool:
        """Put the buffers back; True if the step left an array of the recording in its state."""
        for state, key, value in swapped:
            current = state.get(key)
            if isinstance(current, Traced) and current.slot == self.held[id(value)]:
                state[key] = value
        leaked = False
        for state in optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, Traced):
                    state[key], leaked = numpy.array(plain(value)), True
        return leaked

    def held_array(self, tensor, array) -> Traced:
        """A tensor's array from before the step: the program uses the very same array."""
        slot = self.held.get(id(array))
        if slot is None:
            traced = self.new_buffer(array, "held", held=array)
            self.held[id(array)] = traced.slot
            return traced
        traced = numpy.ndarray.view(array, Traced)
        traced.slot = slot
        return traced


def _arrays(value):
    if isinstance(value, Traced):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _arrays(item)


def module_structure(module) -> tuple:
    """What a module is made of: its attributes (parameters, sub-modules, ``training``...) and
    a container's items. A replay compares their ids (the values are kept, so that no id can be
    reused by a new object while the program lives)."""
    attributes, items = vars(module), getattr(module, "_items", ())
    return tuple((collection, tuple(map(id, values)), tuple(values)) for collection, values in
                 ((attributes, attributes.values()), (items, items)))


def same_structure(structure) -> bool:
    for collection, ids, _ in structure:
        values = collection.values() if type(collection) is dict else collection
        if tuple(map(id, values)) != ids:
            return False
    return True


def optimizer_settings(optimizer) -> tuple:
    """Every Python value an optimiser's step reads (hyper-parameters, step counts, which buffers
    it holds): a recorded update is replayed only while these are the same."""
    groups = tuple(tuple((key, value) for key, value in group.items() if key != "params")
                   + (tuple(map(id, group["params"])),) for group in optimizer.param_groups)
    state = tuple((id(p), tuple((key, id(value) if isinstance(value, numpy.ndarray) else value)
                                for key, value in buffers.items()))
                  for p, buffers in optimizer.state.items())
    return groups, state


# ---------------------------------------------------------------- the engine, watched
_WATCHED = ("data", "grad", "requires_grad")


def _is_held(member, tensor) -> bool:
    """A tensor from before the step: its array is a plain one, not one of the recording."""
    try:
        return not isinstance(member.__get__(tensor, Tensor), Traced)
    except AttributeError:  # being made right now
        return False


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
        if not recording.paused and _is_held(data_member, tensor):
            if name == "data":
                current = member.__get__(tensor, Tensor)
                if isinstance(value, Traced) and numpy.may_share_memory(plain(value), current) \
                        and value.shape == current.shape:
                    return  # `p.data -= ...` hands the same memory back: p keeps its own array
                raise CompileError("chainrule.compile: the step gives a tensor of shape "
                                   f"{tuple(current.shape)} a new array (x.data = ...); write "
                                   "into it in place instead (x.data[...] = ...)")
            if name == "requires_grad":
                raise CompileError("chainrule.compile: the step changes requires_grad of a "
                                   "tensor it did not make; do that outside the step")
            recording.written.add((id(tensor), name))
            source = None if value is None else recording.ref(value.data)
            recording.add(Instruction("set_grad", tensor, (source,)))
        member.__set__(tensor, value)
    return property(get, set)


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

        def call(module, *args, **kwargs):
            hooks = module._hooks
            if hooks is not None and (hooks.forward_pre or hooks.forward or hooks.backward):
                raise CompileError(f"chainrule.compile: {type(module).__name__} has hooks "
                                   "(register_forward_hook...); a replay would not run them. "
                                   "Remove them, or don't compile this step")
            if id(module) not in recording.modules:
                recording.modules[id(module)] = (module, module_structure(module))
            return original_call(module, *args, **kwargs)

        def optimizer_step(original):
            def step(optimizer, closure=None):
                if recording.paused or recording.stepping:  # super().step() of a subclass
                    return original(optimizer, closure)
                if closure is not None:
                    raise CompileError("chainrule.compile: optimizer.step(closure) can't be "
                                       "recorded; call the closure in the step, then step()")
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
                if recording.paused or args or kwargs:
                    return original(scheduler, *args, **kwargs)
                recording.add(Instruction("live", original, (scheduler,)))
                recording.paused = True
                try:
                    return original(scheduler)
                finally:
                    recording.paused = False
            return step

        def run_backward(*args, **kwargs):
            recording.phase = "backward"
            try:
                return original_backward(*args, **kwargs)
            finally:
                recording.phase = "update"

        def increment_version(tensor, previous=None):
            if not recording.paused and _is_held(data_member, tensor):
                recording.add(Instruction("version", original_increment, (tensor,)))
            return original_increment(tensor, previous)

        def tensor_hook(tensor, error_signal):
            raise CompileError("chainrule.compile: a hook of Tensor.register_hook ran in the "
                               "step; a replay would not run it. Remove it, or don't compile")

        members = {name: Tensor.__dict__[name] for name in _WATCHED}
        data_member = members["data"]
        self.patches = [(Module, "__call__", call),
                        (autograd, "run_backward", run_backward),
                        (autograd, "increment_version", increment_version),
                        (autograd, "_run_tensor_hooks", tensor_hook),
                        (Tensor, "__bool__", _tensor_bool),
                        (backend, "xp", Namespace(recording)),
                        (backend, "_generator", Generator(recording, backend._generator))]
        self.patches += [(Tensor, name, _watched_attribute(recording, name, member, data_member))
                         for name, member in members.items()]
        self.patches += [(kind, "step", optimizer_step(kind.__dict__["step"]))
                         for kind in _with_subclasses(Optimizer) if "step" in kind.__dict__]
        self.patches += [(kind, "step", live(kind.__dict__["step"]))
                         for kind in _with_subclasses(LRScheduler) if "step" in kind.__dict__]

    def __enter__(self) -> Recording:
        if traced._active is not None:
            raise CompileError("chainrule.compile: a compiled step was called while another "
                               "step is being recorded; compile the outer step only")
        self.saved = [(owner, name, owner.__dict__[name] if isinstance(owner, type)
                       else getattr(owner, name)) for owner, name, _ in self.patches]
        for owner, name, value in self.patches:
            setattr(owner, name, value)
        traced._active = self.recording
        return self.recording

    def __exit__(self, *exc) -> None:
        traced._active = None
        for owner, name, value in self.saved:
            setattr(owner, name, value)
