"""A recorded step as a program, and its replay: the same operations on buffers made once.

``Program`` takes a recording's instructions, less what ``simplify.py`` shows a replay can leave
out (a value computed twice, a ``.grad = None`` overwritten unseen), and prepares each one as a
call with its arguments bound: an array operation writes its result with ``out=`` into a buffer
allocated here, once (and shared with results whose lifetimes don't overlap: buffer_plan.py);
a view of a buffer that never moves is taken here, once; an array made from Python values is
made here, once, unless the step writes into it. What is left for each call is a list of
calls, written out as one Python function from the call's arguments to its results
(codegen.py); only the instructions that read an input of the step, or a result made anew on
each call (a gather by fancy index), read it from ``values`` each time. The call that tests an
optimiser's settings on entry runs each parameter's update as soon as its gradient is final
(schedule.py).
"""
from __future__ import annotations

import functools
import operator

import numpy

from . import autograd, backend, listing
from .buffer_plan import BufferPlan, empty, outliving, seen_live
from .codegen import (A_GRADIENT, InputWrite, Update, binding_now, bound_call, call_resolved,
                      entry_tests, guard, refs, resolve, same_binding, same_settings,
                      whole_call)
from .errors import CompileError
from .held_gradients import HandedOut, read_after_written
from .listing import flat
from .recording import structure_change
from .schedule import apart_tests, placed, updates_early
from .simplify import Write, computed_once, counted_together, overwritten_nones, renamed
from .tensor import Tensor, as_tensor
from .versions import version_setter

OUT_FUNCTIONS = (numpy.dot, numpy.clip, numpy.cumsum)  # array functions that take out=


class _BranchChanged(Exception):
    def __init__(self, index: int):
        self.index = index


def _branch(slot: int, expected: bool, index: int, values) -> None:
    if bool(values[slot]) is not expected:
        raise _BranchChanged(index)


def _after_branch(first_effect: int, function, changed: _BranchChanged, args, state):
    """A branch went the other way: the call runs eagerly if nothing has changed yet (before
    instruction ``first_effect``)."""
    if changed.index > first_effect:
        raise CompileError(
            "chainrule.compile: a check on a tensor's value (an `if` in the step, or an "
            "op's own check, such as a loss finding a label to ignore or out of range) went "
            "the other way than when the step was recorded, after the step had changed "
            "parameters, buffers or gradients (a batch norm's running statistics count); "
            "the replay can't continue. Move the check before any such change, or don't "
            "compile this step") from None
    if state is not None:
        backend.set_rng_state(state)
    return function(*args)  # this call eagerly: it does what eager mode does


def _grad_setter(tensor, gradient, version: int):
    """``tensor.grad = gradient``, the count of writes to the gradient's storage set back to
    ``version``: that of the new array eager mode makes on each call (0, unless the step wrote
    that array through a tensor before it became the gradient)."""
    set_count = version_setter(gradient, version)

    def set_grad():
        tensor.grad = gradient
        set_count()
    return set_grad


def _count_write_to_grad(tensor) -> None:
    autograd.increment_version(tensor.grad)


def _draw(name, arguments, keywords, values, out=None):
    draw = getattr(backend.generator(), name)
    if out is None:
        return numpy.asarray(draw(*resolve(arguments, values), **resolve(keywords, values)))
    draw(*resolve(arguments, values), out=out, **resolve(keywords, values))


def _under(errors: dict, call):
    with numpy.errstate(**errors):
        return call()


def _takes_out(function) -> bool:
    return isinstance(function, numpy.ufunc) or function in OUT_FUNCTIONS or (
        isinstance(getattr(function, "__self__", None), numpy.ufunc))


class Program:
    """A recorded step: the instructions, the buffers, and the steps of a replay."""

    def __init__(self, recording, inputs: list, outputs, signature: tuple, function):
        self.buffers = recording.buffers
        self.instructions, alias = computed_once(  # (a step run live may write a .grad)
            recording.instructions, recording.root,
            lambda slot: self.buffers[recording.root(slot)].origin,
            outliving(recording.instructions, outputs, recording.root) | set(seen_live(
                recording.instructions, recording.root)))
        for buffer in self.buffers:  # a view of a result computed twice is a view of the first
            buffer.root = alias.get(buffer.root, buffer.root)
        self.inputs, self.outputs = inputs, renamed(outputs, alias)
        self.position_of = {slot: position for position, slot, _ in inputs}
        # A gradient from before the step that the step reads (accumulated into, or zeroed in
        # place and read) is an input: its array is looked up on each call, not guarded.
        read_live = [(tensor, gradient) for tensor, name, gradient in recording.reads.values()
                     if name == "grad" and gradient is not None
                     and id(gradient.data) in recording.held]
        self.gradients = [(tensor, recording.held[id(gradient.data)], gradient.data.shape,
                           gradient.data.dtype) for tensor, gradient in read_live]
        for _, slot, _, _ in self.gradients:
            # (not kept: a gradient another program of the step handed out, which a reference
            # here would count as held by the caller)
            self.buffers[slot].origin, self.buffers[slot].array = "grad", None
        live = {id(tensor) for tensor, _, _, _ in self.gradients}
        old_gradients = {id(gradient) for _, gradient in read_live}  # (and not kept either)
        # A gradient from before the step that it looked at without reading its array (else
        # it is read live) is a new tensor on each call: guarded by being there, not by identity.
        self.guards = [(obj, name, A_GRADIENT if name == "grad" and value is not None else value)
                       for obj, name, value in recording.reads.values()
                       if not (name == "grad" and id(obj) in live) and id(obj) not in old_gradients]
        self.modules = list(recording.modules.values())
        self.cleared = list(recording.cleared.values())
        self.names = recording.names
        self.unchanged = guard(self.guards, self.modules, self.cleared, self.names)
        values = self.values = [buffer.array for buffer in self.buffers]
        written = {root for instruction in flat(self.instructions) for root in instruction.writes}
        dynamic = {slot for _, slot, _ in self.inputs} | {slot for _, slot, _, _ in self.gradients}
        # Setting a .grad the step had not read before (zero_grad first) is one an eager run of
        # the call would redo the same: it does not stop a fall-back to eager mode.
        self.grads_read = {id(obj) for obj, name, _ in recording.reads.values() if name == "grad"}
        self.first_effect, self.snapshot_rng = len(self.instructions), False
        self.handed_out = HandedOut()  # the tensors a replay leaves in .grad
        self.constant = set()  # buffers the same on every call: made from Python values, or of them
        self.plan = BufferPlan(self.buffers, self.values, self.instructions, self.outputs)
        unseen = overwritten_nones(self.instructions)
        settled, live_before = {}, False  # updates whose settings can be checked on entry
        entries = []  # the steps, each with the buffers it reads and writes (schedule.py)
        for index, instruction in enumerate(self.instructions):
            # an update that may move up (schedule.py) makes its temporaries apart
            self.plan.apart = {} if instruction.kind == "optimizer" and not live_before else None
            step = None if index in unseen else self._step(index, instruction, values, dynamic,
                                                            written)
            live_before = live_before or instruction.kind == "live"
            if step is not None:
                entries.append(placed(step, instruction, self.plan.memory))
                if type(step[0]) is Update and not live_before:
                    settled[id(step[0])] = (instruction.arguments[0], instruction.expected)
        self.plan.apart = None
        self.steps = counted_together([(entry.call, entry.store) for entry in entries])
        # ``replay(args)``: the call as one written function, from its arguments to its results
        written_call = functools.partial(
            whole_call, values=values, inputs=self.inputs,
            gradients=[(tensor, slot) for tensor, slot, _, _ in self.gradients],
            outputs=self.outputs, branch_changed=_BranchChanged,
            # (a function, not a method: the program is freed when let go of, not by the
            # cycle collector, later, with every buffer)
            after_branch=functools.partial(_after_branch, self.first_effect, function),
            snapshot=backend.get_rng_state if self.snapshot_rng else None)
        self.replay = written_call(self.steps)
        # ``call(args)`` tests first whether the call replays this program (MISSED if not):
        # the updates whose settings it tested then run unchecked, as nothing the replay runs
        # before them (no schedule stepped live) changes them, each parameter's as soon as its
        # gradient is final (schedule.py)
        scheduled, passed, moved = updates_early(entries, set(settled))
        self.scheduled = counted_together(scheduled)
        arguments = [(position, tensor) for position, slot, tensor in self.inputs if slot in passed]
        weights = [self.buffers[root].array for root in moved
                   if self.buffers[root].origin == "held"]  # (and momenta...)
        gradients = [(tensor, shape, dtype) for tensor, _, shape, dtype in self.gradients]
        self.call = written_call(self.scheduled, tests=lambda constants: entry_tests(
            signature, gradients, self.guards, self.modules, list(settled.values()),
            self.cleared, self.names, constants) + self.handed_out.tests(constants)
            + apart_tests(arguments, weights, constants))

    def _step(self, index, instruction, values, dynamic, written):
        """``_array_step``, under the floating-point error handling the operation was recorded
        under where the step set its own (``numpy.errstate(over="ignore")`` around an exp that
        may overflow on purpose): as eager mode, no warning, and no error where NumPy is set to
        raise them."""
        step = self._array_step(index, instruction, values, dynamic, written)
        if step is None or instruction.errors is None or instruction.kind not in ("op", "view"):
            return step
        call, store = step
        return functools.partial(_under, instruction.errors, call), store

    def _array_step(self, index, instruction, values, dynamic, written):
        """(call, buffer to store its result in or None), or None: done at build time.
        ``first_effect``: the first instruction that changes something outside the program
        that an eager run of the same call would not simply redo."""
        kind, function, result = instruction.kind, instruction.function, instruction.result
        arguments, keywords = instruction.arguments, instruction.keywords
        self.plan.release_before(self.plan.position[id(instruction)])
        if kind in ("version", "input_version", "optimizer", "live") and not \
                instruction.keywords.get("made") or any(
                self.buffers[root].origin != "made" for root in instruction.writes) or (
                kind == "set_grad" and id(function) in self.grads_read):
            self.first_effect = min(self.first_effect, index)
        if kind == "create":
            if result not in written:
                values[result] = instruction.expected
                self.constant.add(result)
                return None
            # a buffer like any result's, shared with those whose lifetimes don't overlap: an
            # empty one is uninitialised in eager mode too, a filled one is filled on each call
            self.plan.allocate(result)
            if function in (numpy.empty, numpy.empty_like):
                return None
            return functools.partial(numpy.copyto, values[result], instruction.expected), None
        if kind == "draw":
            buffer = self.buffers[result]
            if function in ("random", "standard_normal") and buffer.dtype == numpy.float64:
                values[result] = empty(buffer)
                return functools.partial(_draw, function, arguments, keywords, values,
                                         values[result]), None
            dynamic.add(result)
            return functools.partial(_draw, function, arguments, keywords, values), result
        if kind == "branch":
            if self.first_effect > index and any(
                    earlier.kind == "draw" for earlier in self.instructions[:index]):
                self.snapshot_rng = True  # a call run eagerly instead draws the same numbers
            return functools.partial(_branch, arguments[0].index, instruction.expected, index,
                                     values), None
        if kind == "set_grad":
            source = arguments[0]
            if source is None:
                return functools.partial(setattr, function, "grad", None), None
            if source.index in dynamic:
                return (lambda: setattr(function, "grad", as_tensor(values[source.index]))), None
            gradient = as_tensor(values[source.index])
            returned = {self.plan.root(slot) for slot in refs(self.outputs)}
            self.handed_out.add(function, gradient, any(
                read_after_written(self.instructions, self.plan.root, returned, slot,
                                   source.index)
                for tensor, slot, _, _ in self.gradients if tensor is function))
            # the same buffer on every call, where eager mode makes a new array: its count
            # starts where that array's does (the step's writes to it, or the caller's between
            # calls, counted on the last one)
            return _grad_setter(function, gradient, instruction.keywords["version"]), None
        if kind == "optimizer":
            return self._update(index, instruction, values, dynamic, written), None
        if kind == "version":
            if instruction.keywords.get("grad"):  # to the gradient read on each call
                return functools.partial(_count_write_to_grad, arguments[0]), None
            return Write(arguments[0]), None
        if kind == "input_version":
            return InputWrite(self.position_of[arguments[0].index]), None
        if kind in ("live", "attribute"):
            return functools.partial(function, *arguments), None
        moving = any(slot in dynamic for slot in refs((arguments, keywords)))
        if kind == "view" and not moving:
            values[result] = function(*resolve(arguments, values), **resolve(keywords, values))
            if self._constant(arguments, keywords):
                self.constant.add(result)
            return None
        if kind == "op" and result is not None and \
                self.plan.root(result) not in written | self.plan.kept and \
                self._constant(arguments, keywords):
            # of constants only (a causal mask made from its shape): the same result on every
            # call, computed here, once
            values[result] = call_resolved(function, arguments, keywords, values)
            self.constant.add(result)
            return None
        # (a ufunc with several results, divmod's, has None for ``result``: ``results``)
        if kind == "view" or result is None and not instruction.results or \
                not _takes_out(function):
            # a result (a gather by fancy index) is a new array on each call
            scalar = result is not None and self.buffers[result].shape == ()
            if result is not None:
                dynamic.add(result)
            if not moving and not scalar:  # bound once
                return functools.partial(function, *resolve(arguments, values),
                                         **resolve(keywords, values)), result
            return bound_call(function, arguments, keywords, values, dynamic, scalar=scalar), result
        # into a buffer of its own (each of its own, for a ufunc with several results)
        out = tuple(map(self.plan.allocate, instruction.results)) if instruction.results else \
            self.plan.allocate(result, self.plan.read_in_place(instruction))
        if moving:
            return bound_call(function, arguments, keywords, values, dynamic, out), None
        return functools.partial(function, *resolve(arguments, values), out=out,
                                 **resolve(keywords, values)), None

    def _constant(self, arguments, keywords) -> bool:
        """Whether every buffer among the arguments is a constant (and there is one)."""
        read = list(refs((arguments, keywords)))
        return bool(read) and all(slot in self.constant for slot in read)

    def _update(self, index, instruction, values, dynamic, written):
        """An optimiser's step: its recorded operations while its settings are those recorded,
        else (a new learning rate, Adam's step count) the step itself, live."""
        live = functools.partial(instruction.function, *instruction.arguments)
        update = instruction.keywords["update"]
        if update is None:
            return live
        steps, began = [], False
        for inner in update:
            # a check after the update has begun to write (a weight, a momentum) can't fall
            # back to an eager run of the call: it counts as after instruction ``index``
            step = self._step(index + 1 if began else index, inner, values, dynamic, written)
            began = began or inner.kind == "version" or any(
                self.buffers[root].origin != "made" for root in inner.writes)
            if step is not None and step[1] is not None:
                return live  # an operation whose arguments move: not worth a special case
            if step is not None:
                steps.append(placed(step, inner, self.plan.memory,
                                    self.plan.taken_over.get(inner.result)))
        calls = [call for call, _ in counted_together([(step.call, None) for step in steps])]
        return Update(same_settings(instruction.arguments[0], instruction.expected), calls, live,
                      steps)

    # ------------------------------------------------------------ running
    def changed(self):
        """None if everything the recording read is as it was; else a description of what isn't."""
        held = self.handed_out.held()
        if held is not None:
            return (f"the grad that a replay left in a {type(held).__name__} of shape "
                    f"{tuple(held.shape)}, held since or read by the step after it writes the "
                    "new one (a replay would overwrite it)")
        for tensor, _, shape, dtype in self.gradients:
            gradient = tensor.grad
            if gradient is None or gradient.data.shape != shape or gradient.data.dtype != dtype:
                return f"grad of a {type(tensor).__name__} of shape {tuple(tensor.shape)}"
        try:
            if self.unchanged():
                return None
        except (AttributeError, KeyError, IndexError, ValueError):
            pass
        for holder, name, value, what in self.names:
            if not same_binding(binding_now(holder, name), value):
                return what
        for obj, name, value in self.guards:
            now = getattr(obj, name)
            if (now is None) if value is A_GRADIENT else (now is not value):
                what = type(obj).__name__
                shape = f" of shape {tuple(obj.shape)}" if isinstance(obj, Tensor) else ""
                return f"{name} of a {what}{shape}"
        if autograd.has_hooks(obj for obj, _, _ in self.guards if isinstance(obj, Tensor)):
            return "a hook registered (Tensor.register_hook) on a tensor the step reads"
        for module, structure in self.modules:
            hooks = getattr(module, "_hooks", None)
            if hooks is not None and (hooks.forward_pre or hooks.forward or hooks.backward):
                return f"a hook registered on a {type(module).__name__} (register_forward_hook...)"
            change = structure_change(structure)
            if change is not None:
                return f"{change} of a {type(module).__name__}"
        for optimizer, params in self.cleared:
            now = [p for group in optimizer.param_groups for p in group["params"]]
            if len(now) != len(params) or not all(map(operator.is_, now, params)):
                return f"the parameters in the groups of a {type(optimizer).__name__}"
        return "something the recording read"  # not reached: the guard said so

    # ------------------------------------------------------------ reading
    def __str__(self) -> str:
        """The program as the lecture's tables (listing.py)."""
        return listing.text(self)

    __repr__ = __str__
