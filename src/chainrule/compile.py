"""Record once, replay fast: ``chainrule.compile(step)``.

Eager mode does, every step, the same Python work around the same array operations: Tensor
objects, graph nodes, VJP closures, the walk. ``compile`` watches one eager call of a step
(forward, ``loss.backward()``, ``optimizer.step()``) and writes down its array operations as a
straight-line program on numbered buffers (``recording.py`` says how). Later calls with the same
signature replay that program on the new inputs: no Tensor, no graph, no walk; every buffer
allocated once and written with ``out=``. The replay performs the same floating-point operations
in the same order as eager mode (an optimiser's update, run as soon as each gradient is final,
passes only operations that share no buffer with it: ``schedule.py``), so the losses and
weights are bitwise the same.

    @chainrule.compile
    def train_step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

The rules (TinyJit's, mostly):
- The first call with a signature runs eagerly (it may make the optimiser's buffers), the second
  records, later ones replay. The signature: each tensor argument's shape, dtype and strides, the
  values of Python arguments, grad mode, the default dtype and the array library.
- Before a replay, the program checks that what the recording read is still there: each tensor
  from outside the step holds the same array (a parameter replaced, or given a new array by
  ``p.data = ...``, records again) and the same ``requires_grad``, ``.grad`` is None where it was,
  no hook has been registered on it since; each module called is in the same train/eval mode
  (as when the step starts: ``train()`` and ``eval()`` inside it are replayed) and has no
  hook; each global and enclosing function's variable that the step's own code reads holds
  the same object, or a number of the same value (a notebook's cell run again binds ``model``
  to a new model, which eager mode would train), and so does each ``self.<name>`` a method
  (or a callable object's ``__call__``) reads. The step's own code: with the function a
  decorator wraps (``__wrapped__``), the functions of its module that it calls by name, and
  a method's calls of the same object's methods, properties, static and class methods
  (``self.loss(x, y)``, ``super().step(x, y)``). A difference records again; the programs of
  the states seen last are kept (four per signature), so switching back replays. A gradient
  from before the step that the step reads (accumulated into, or zeroed in place) is read live.
- ``optimizer.step()`` replays as its own array operations, in place, while the optimiser's
  settings (learning rates, step counts, which buffers it holds) are those recorded; otherwise
  (a scheduler's new rate, Adam's step count) the replay runs the step itself, live. A
  schedule's ``scheduler.step()`` inside the step is run live too; the step's own Python
  writing a setting (``group["lr"] = lr``) is refused: a replay would not write it.
- ``if`` on a tensor's value is checked by the replay: the branch must go as recorded, or the
  call runs eagerly instead (before the step has changed anything) or raises ``CompileError``.
  ``.item()``, ``float()`` and ``int()`` of a value computed in the step are refused.
- Random numbers come from ``backend``'s generator, freshly on each replay, as in eager mode;
  seeding it in the step (``manual_seed``, ``set_rng_state``) is refused: seed before the call.
- A global, a variable of an enclosing function or an attribute of the step's object or its
  class (``type(self).calls``, a class method's ``cls.calls``) that the step's own code assigns
  (a counter, the last loss kept) is refused at recording, by name, and put back as it was
  before that call (``step_writes.py``): a replay would not assign it.
- Not seen, so not allowed: other Python side effects in the step (appending to a list,
  printing) happen only when it records; a Python value read from outside the step by a
  function of another module it calls, or by another object's method, or changed in place (an
  item of a list), keeps the value it had when recorded: pass it as an argument; random numbers
  from a generator passed by hand; a change to a module's structure that replaces no tensor the
  step reads. Hooks are refused.
- A recording watches the engine process-wide for the length of one call: don't record in
  two threads at once.
- Returned tensors are fresh copies, without a graph. After a replay each gradient the step
  leaves in ``.grad`` (none where it calls ``zero_grad()`` after the update) is a buffer of the
  program. One still held outside when the step is called again (kept in a
  list, or its array) is left as eager mode leaves it: the call records again into new buffers
  (or replays another program whose buffers are free). Keep a copy to replay every call.
"""
from __future__ import annotations

import dis
import functools
import inspect
from collections import Counter, OrderedDict
from types import CodeType, FunctionType, MemberDescriptorType

import numpy

from . import autograd, backend, step_writes, versions
from .codegen import FLOAT_BITS, MISSED, binding_now
from .errors import CompileError
from .listing import flat
from .watch import watching
from .replay import Program
from .traced import Traced, plain
from .tensor import Tensor, as_tensor

__all__ = ["compile", "Compiled", "CompileError"]

MAX_RECORDINGS = 4  # recordings of one signature in a row before giving up; variants kept of one


def compile(function=None, *, max_programs: int = 8):
    """``function``, recorded on its second call with each signature and replayed after."""
    if function is None:
        return functools.partial(compile, max_programs=max_programs)
    return Compiled(function, max_programs)


class Compiled:
    """A compiled step: call it as the function; ``program`` is the last one recorded.

    ``programs`` maps each signature to its recordings, newest first: one per state the guards
    tell apart (train and eval mode, a frozen layer...), so that switching back and forth
    replays rather than records."""

    def __init__(self, function, max_programs: int = 8):
        functools.update_wrapper(self, function)
        self.function, self.max_programs = function, max_programs
        self.programs: OrderedDict = OrderedDict()
        # the signatures called once (eagerly), the newest max_programs: a step given a new
        # Python value on every call (the iteration's number) keeps no key of each call
        self.eager_calls: dict = {}
        self.recordings_in_a_row: dict = {}
        self.program = None
        self.recordings = 0
        self.replaying = None  # the program the last call replayed: the next is tried on it first
        # called before a call records, or raises CompileError rather than record, before the
        # step has run: ``TrainingStep`` keeps the state there, to undo a recording that fails
        self.before_recording = None

    def __call__(self, *args):
        replaying = self.replaying
        if replaying is not None:
            result = replaying.call(args)
            if result is not MISSED:
                return result
        self.replaying = None
        try:
            key = _signature(args)
        except CompileError:  # nothing has run: as a recording that fails
            if self.before_recording is not None:
                self.before_recording()
            raise
        programs = self.programs.get(key)
        if programs is None and key not in self.eager_calls:
            self.eager_calls[key] = None  # the first call: eager, to make state the step keeps
            if len(self.eager_calls) > self.max_programs:
                del self.eager_calls[next(iter(self.eager_calls))]
            return self.function(*args)
        if programs is not None:
            for program in programs:
                if program.changed() is None:
                    self.programs.move_to_end(key)
                    self.recordings_in_a_row[key] = 0
                    self.replaying = program
                    return program.replay(args)
        if self.before_recording is not None:
            self.before_recording()
        if programs is not None:
            in_a_row = self.recordings_in_a_row.get(key, 0) + 1
            if in_a_row >= MAX_RECORDINGS:
                raise CompileError(f"chainrule.compile: {self.__name__} recorded "
                                   f"{MAX_RECORDINGS} times in a row for the same inputs, because "
                                   f"{programs[0].changed()} changes on every call; keep it the "
                                   "same between calls, or don't compile this step")
            self.recordings_in_a_row[key] = in_a_row
        return self._record(key, args)

    def _record(self, key, args):
        watcher = watching()
        recording, inputs = watcher.recording, []  # (position, buffer, whether a tensor)
        recording.names, scanned = _names_read(self.function)
        writes = step_writes.Writes(step_writes.places(scanned))
        # each argument's count of writes before: the recording's stand-in of an array shares
        # the array's count, a tensor's stand-in has its own, so the count is topped up after
        before = [versions.version_of(as_tensor(value)) if isinstance(value, Tensor) or (
                  isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf") else None
                  for value in args]
        try:
            with watcher:
                traced_args = []
                for position, value in enumerate(args):
                    if isinstance(value, Tensor):
                        traced = recording.new_buffer(value.data, "input")
                        traced_args.append(as_tensor(traced))
                        recording.stand_ins.append(traced_args[-1])
                    elif isinstance(value, numpy.ndarray):
                        traced = recording.new_buffer(value, "input")
                        traced_args.append(traced)
                    else:
                        traced_args.append(value)
                        continue
                    inputs.append((position, traced.slot, isinstance(value, Tensor)))
                result = self.function(*traced_args)
                outputs = _outputs(result, recording)
        except BaseException:
            # put back as below: a caller may run this call again eagerly (fit's training step)
            writes.undo(writes.changed())
            raise
        finally:
            # the in-place writes to arguments counted on the recording's stand-ins, counted on
            # the caller's tensors (and arrays' storage) too, as the eager call would have
            # (per storage: arguments that share one, a tensor passed twice, add their writes)
            written = Counter(instruction.arguments[0].index
                              for instruction in flat(recording.instructions)
                              if instruction.kind == "input_version")
            storages = {}  # storage -> [a tensor of it, its count before, the writes to it]
            for position, slot, _ in inputs:
                if before[position] is not None:  # (an array of no numbers: none writes it)
                    argument = as_tensor(args[position])
                    storage = storages.setdefault(versions.storage_key(argument.data),
                                                  [argument, before[position], 0])
                    storage[2] += written[slot]
            for argument, start, count in storages.values():
                for _ in range(start + count - versions.version_of(argument)):
                    autograd.increment_version(argument)
            # gradients the step left holding the recording's arrays get plain ones, with the
            # count of writes they had
            for instruction in recording.instructions:
                gradient = instruction.function.grad if instruction.kind == "set_grad" else None
                if gradient is not None and isinstance(gradient.data, Traced):
                    count = versions.version_of(gradient)
                    gradient.data = plain(gradient.data)
                    versions.set_version(gradient, count)
        changed = writes.changed()
        if changed:
            writes.undo(changed)
            raise CompileError(
                f"chainrule.compile: {self.__name__} assigns "
                f"{', '.join(what for _, _, what, _ in changed)}, which a replay would not "
                "(it runs the step's array operations, none of its Python): return the value "
                "from the step and keep it outside, or don't compile this step")
        self.program = Program(recording, inputs, outputs, key, self.function)
        self.program.handed_out.count_own()  # (now that nothing of the build holds them)
        self.recordings += 1
        variants = self.programs.setdefault(key, [])
        variants.insert(0, self.program)
        del variants[MAX_RECORDINGS:]
        self.programs.move_to_end(key)
        if len(self.programs) > self.max_programs:
            self.programs.popitem(last=False)
        return _plain_result(result)


def _signature(args) -> tuple:
    key = [autograd._grad_enabled, backend.name, backend.get_default_dtype()]
    for position, value in enumerate(args):
        if isinstance(value, Tensor):
            if value.requires_grad:
                raise CompileError(f"chainrule.compile: argument {position} requires grad; pass "
                                   "data, and keep the parameters in the model")
            array = value.data  # the strides too: an operation's order of work follows them
            key.append((array.shape, array.dtype, array.strides))
        elif isinstance(value, numpy.ndarray):
            key.append(("array", value.shape, value.dtype, value.strides))
        elif value is None or isinstance(value, (bool, int, float, str)):
            # a float by its bits: -0.0 == 0.0 and nan != nan, but each is a program of its own
            key.append((type(value), FLOAT_BITS(value) if isinstance(value, float) else value))
        else:
            raise CompileError(f"chainrule.compile: argument {position} is a "
                               f"{type(value).__name__}; pass tensors, arrays and Python numbers")
    return tuple(key)


def _names_read(function) -> list:
    """The names the step's own code reads from outside it, as (the holder: the globals, a cell,
    or a method's object's attributes or the object itself; the name, the value now, what to
    call it): a replay checks that each still holds the same object. A notebook's cell run
    again binds ``model`` to a new model (a trainer's ``self.model = ...`` likewise), which
    eager mode would train. Read: each global and enclosing function's variable of the step's
    code (its comprehensions' and inner functions' too), of the functions it wraps
    (``functools.wraps``' ``__wrapped__``, a ``functools.partial``'s function) and of the
    functions of the same module that these read by name, a helper ``loss_fn`` of the notebook
    too; and a method's ``self.<name>``: an attribute of the object, a slot, or a value of its
    class (which ``self.name = ...`` would hide), in the method's code and in the code of the
    methods, properties, static and class methods of the same object that it calls or reads
    (``super()``'s too)."""
    while isinstance(function, functools.partial):  # the function it calls
        function = function.func
    if not hasattr(function, "__code__"):  # a callable object: its __call__ method
        function = getattr(function, "__call__", None)
    code = getattr(function, "__code__", None)
    if code is None:  # a built-in: not watched
        return [], []
    step, owner = getattr(function, "__name__", "the step"), getattr(function, "__self__", None)
    wrapped, read = [function], {}
    while hasattr(wrapped[-1], "__wrapped__") and hasattr(wrapped[-1].__wrapped__, "__code__"):
        wrapped.append(wrapped[-1].__wrapped__)
    modules = {id(each.__globals__) for each in wrapped}
    # (function, the object whose self.<name> it reads, or None)
    functions, seen = [(each, owner if each.__code__.co_argcount else None)  # (not *args)
                       for each in wrapped], set()
    scanned = []  # (function, its object or None): the step's own code
    while functions:
        current, its_owner = functions.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        scanned.append((current, its_owner))
        who = step if current in wrapped else f"{current.__name__} (which {step} calls)"
        found, methods = _read_by(current, who, its_owner)
        read.update((key, found[key]) for key in found if key not in read)
        functions += [(value, None) for _, _, value, _ in found.values()
                      if isinstance(value, FunctionType) and id(value.__globals__) in modules]
        functions += methods
    return list(read.values()), scanned


def _read_by(function, who: str, owner) -> tuple[dict, list]:
    """What ``_names_read`` reads of one function's code, and the methods of ``owner`` (a
    method's object) that the code calls or whose property it reads, with ``self`` the same
    object (``self.loss(x, y)`` reading ``self.model``; ``super().step(x, y)``; a static or
    class method), as (function, its object or None): their code is the step's too."""
    namespace, read, codes, methods = function.__globals__, {}, [function.__code__], []
    while codes:
        current, previous, of_super = codes.pop(), None, False
        codes += [constant for constant in current.co_consts if isinstance(constant, CodeType)]
        for instruction in dis.get_instructions(current):
            name = instruction.argval
            if instruction.opname == "LOAD_GLOBAL" and name in namespace:
                read[id(namespace), name] = (namespace, name, namespace[name],
                                             f"the global {name!r} that {who} reads")
            elif instruction.opname == "LOAD_GLOBAL" and name == "super":
                of_super = owner is not None  # the next attribute loaded is super()'s
            elif owner is not None and instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and \
                    _loads_self(previous, current, function.__code__):
                holder = _attribute_holder(owner, name)
                if holder is not None:
                    read[id(owner), name] = (holder, name, binding_now(holder, name),
                                             f"{function.__code__.co_varnames[0]}.{name} "
                                             f"that {who} reads")
                else:
                    methods += _code_of(inspect.getattr_static(owner, name, None), owner)
            elif of_super and instruction.opname in ("LOAD_ATTR", "LOAD_METHOD",
                                                     "LOAD_SUPER_ATTR"):
                of_super = False
                methods += _definitions(owner, name)
            previous = instruction
    for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
        try:
            read[id(cell), name] = (cell, name, cell.cell_contents,
                                    f"the variable {name!r} of a function enclosing {who}")
        except ValueError:  # a variable not given a value yet
            pass
    return read, methods


def _definitions(owner, name: str) -> list:
    """The code ``super().<name>`` may run with ``owner``: each definition of ``name`` along
    its class's method resolution order, as ``_code_of`` gives it."""
    kinds = (owner if isinstance(owner, type) else type(owner)).__mro__
    return [code for kind in kinds if name in kind.__dict__
            for code in _code_of(kind.__dict__[name], owner)]


def _code_of(found, owner) -> list:
    """The function ``found`` (what ``owner`` or its class holds under a name) runs, as
    (function, the object its first argument is, or None): a method or a property's getter
    with ``owner``, a class method with its class, a static method with none; else nothing
    (a built-in, a value)."""
    if isinstance(found, property):
        found = found.fget
    kind = owner if isinstance(owner, type) else type(owner)
    if isinstance(found, (staticmethod, classmethod)):
        function, owner = found.__func__, kind if isinstance(found, classmethod) else None
    else:  # (a function read from a class itself is called without an object)
        function, owner = found, None if owner is kind else owner
    if not isinstance(function, FunctionType) or (owner is not None and
                                                  not function.__code__.co_argcount):
        return []
    return [(function, owner)]


def _attribute_holder(owner, name: str):
    """Where ``owner.<name>`` is read from, to be read again before a replay: the object's
    ``__dict__`` when it holds the name, else the object itself when the name is a slot or a
    value of the class (a number, a model: what ``self.name = ...`` would hide), else None (a
    method or property: a new object each time, or computed)."""
    attributes = getattr(owner, "__dict__", None)
    if type(attributes) is dict and name in attributes:
        return attributes
    found = inspect.getattr_static(owner, name, MISSED)
    if found is MISSED:
        return None
    if isinstance(found, MemberDescriptorType) or not hasattr(type(found), "__get__"):
        return owner
    return None


def _loads_self(instruction, current: CodeType, method: CodeType) -> bool:
    """Whether ``instruction`` of ``current`` (the method's code or code nested in it) pushes the
    method's first argument: LOAD_FAST (LOAD_FAST_LOAD_FAST pushes two, the second last), or
    LOAD_DEREF where a generator expression, lambda or inner function captures it (which makes
    it a cell in the method's own code too)."""
    own = method.co_varnames[0]
    if instruction.opname == "LOAD_DEREF":
        return instruction.argval == own and (current is method or own in current.co_freevars)
    if current is not method or not instruction.opname.startswith("LOAD_FAST"):
        return False
    pushed = instruction.argval
    return (pushed[-1] if isinstance(pushed, tuple) else pushed) == own


def _outputs(result, recording):
    """What the step returned, a tensor of the recording as the Ref of its buffer (a tensor
    from outside it, or None, as itself), in a list where it returned a list (as eager mode
    does), else in a tuple where it returned several."""
    if type(result) in (tuple, list):
        items = [_outputs(item, recording) for item in result]
        return items if type(result) is list else tuple(items)
    if isinstance(result, Tensor):
        return recording.ref(result.data) if isinstance(result.data, Traced) else result
    if result is None:
        return None
    if isinstance(result, (tuple, list)):  # a NamedTuple: a replay writes out plain ones
        raise CompileError(f"chainrule.compile: the step returned a {type(result).__name__}; a "
                           "replay returns a plain tuple or list. Return one of those")
    raise CompileError(f"chainrule.compile: the step returned a {type(result).__name__}; a "
                       "replay would return the recorded one. Return tensors (or a tuple of them)")


def _plain_result(result):
    if isinstance(result, (tuple, list)):
        return type(result)(_plain_result(item) for item in result)
    if isinstance(result, Tensor) and isinstance(result.data, Traced):
        return as_tensor(plain(result.data))
    return result
