"""How ``chainrule.compile`` watches one eager call of a step: every array operation, logged.

While a step is recorded, each array the step computes is a ``Traced`` array (traced.py): a
NumPy array, computed exactly as in eager mode, that reports every operation made with it
(``watch.py`` says which doors of the engine are watched meanwhile). ``Recording`` is the log.

The result is a list of ``Instruction``: ``function(*arguments)`` with ``Ref(n)`` standing for
the n-th buffer. ``replay.py`` turns it into a program that runs it again.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy

from .errors import CompileError
from .traced import Traced, plain


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
    "create" (an array made from Python values: ``expected`` holds it), "draw" (random numbers
    from backend's generator), "branch" (``bool()`` of an array: the replay checks it comes out
    as ``expected``), "set_grad", "version", "input_version" (a write to an argument's storage),
    "optimizer" (its own operations in ``keywords["update"]``, or run live; ``expected``: its
    settings, None when run live), "live" (a learning-rate schedule's step, run live),
    "attribute" (a module's mode set by ``train()`` or ``eval()``)."""
    kind: str
    function: object
    arguments: tuple = ()
    keywords: dict = field(default_factory=dict)
    result: int | None = None
    phase: str = "forward"
    expected: object = None
    writes: tuple = ()  # buffers written in place
    results: tuple = ()  # the buffers of a ufunc with several outputs (divmod)
    # NumPy's floating-point error handling where the step set its own (``numpy.errstate``
    # around an operation that may overflow on purpose), which a replay sets again; else None
    errors: dict | None = None


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
        self.gradients_set: dict = {}  # id(a gradient the step set) -> the tensor it was set on
        self.stand_ins: list = []  # the tensors the step is given for its tensor arguments
        self.cleared: dict[int, tuple] = {}  # id(optimizer) -> (optimizer, the parameters its
        # zero_grad cleared, in the order of its groups)
        self.modules: dict[int, object] = {}
        self.names: list = []  # (globals, cell or attributes, name, value, what) the step reads
        # guarded as they are when the recording ends: the ModuleLists and ModuleDicts that
        # called modules hold, and the modules the step reads by name
        self.containers: dict[int, object] = {}
        self.phase = "forward"
        self.errors = numpy.geterr()  # as the step was called: the replay's, too
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

    def gradient_owner(self, tensor):
        """The tensor whose ``.grad``, read in the step and not set since, ``tensor`` is: a
        gradient from before the step, which a replay reads anew on each call; else None."""
        for owner, name, value in self.reads.values():
            if name == "grad" and value is tensor and (id(owner), name) not in self.written:
                return owner
        return None

    def count_input_write(self, array) -> None:
        """An in-place write counted (``increment_version``) on a tensor whose array is one of
        the step's inputs, or a view of one: an instruction, so that a replay counts it on the
        caller's tensor where eager mode counted it."""
        if isinstance(array, Traced) and array.slot is not None:
            root = self.root(array.slot)
            if self.buffers[root].origin == "input":
                self.add(Instruction("input_version", None, (Ref(root),)))

    def root(self, slot: int) -> int:
        root = self.buffers[slot].root
        return slot if root is None else root

    def branch(self, array: Traced, value: bool) -> None:
        self.add(Instruction("branch", bool, (self.ref(array),), expected=value))

    def add(self, instruction: Instruction) -> None:
        instruction.phase = self.phase
        errors = numpy.geterr()
        if errors != self.errors:
            instruction.errors = errors
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
            if isinstance(result, tuple):  # divmod's two: each the out= array, or NumPy's own
                return tuple(made if target is None else target  # (unrecorded: refused if used)
                             for target, made in zip(outs, result))
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
    a container's items, as (collection, keys (None for a list), values). A replay compares
    them by identity (the values are kept, so that none is replaced by a new object at the
    same address while the program lives)."""
    attributes, items = vars(module), getattr(module, "_items", ())
    return tuple((collection, tuple(collection) if type(collection) is dict else None,
                  tuple(collection.values() if type(collection) is dict else collection))
                 for collection in (attributes, items))


def structure_change(structure) -> str | None:
    """None if a module's attributes and items are the objects recorded, in their order; else
    which changed (``the attribute 'last_output'``: replaced, added or removed)."""
    for n, (collection, keys, values) in enumerate(structure):
        now = tuple(collection.values()) if type(collection) is dict else tuple(collection)
        if len(now) == len(values) and all(map(operator.is_, now, values)) and (
                keys is None or tuple(collection) == keys):
            continue
        if n or keys is None:
            return "an item"
        missing = object()
        names = [key for key, value in zip(keys, values) if collection.get(key, missing)
                 is not value] + [key for key in collection if key not in keys]
        return f"the attribute {names[0]!r}" if names else "the order of the attributes"
    return None


def optimizer_settings(optimizer) -> tuple:
    """Every Python value an optimiser's step reads (hyper-parameters, step counts, which buffers
    it holds): a recorded update is replayed only while these are the same."""
    groups = tuple(tuple((key, value) for key, value in group.items() if key != "params")
                   + (tuple(map(id, group["params"])),) for group in optimizer.param_groups)
    state = tuple((id(p), tuple((key, identity_or_value(value)) for key, value in buffers.items()))
                  for p, buffers in optimizer.state.items())
    return groups, state


def identity_or_value(value):
    """An optimiser's buffer (an array) by identity, any other value of its state by value."""
    return id(value) if isinstance(value, numpy.ndarray) else value
