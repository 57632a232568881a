"""The small Python functions a program is made of, written out for it once.

A replay should do nothing per call but its array operations. So ``replay.py`` writes, when it
builds a program, the code of one function that makes those calls line after line, each function
and argument bound as a constant (``whole_call``), and of the checks before a replay, as one
expression each (``guard``, ``same_settings``, ``entry``); an operation on arrays that change
from call to call reads them where they sit (``bound_call``). The code is written with
``eval``/``exec`` from the recording's own values, never from text a user gave.
"""
from __future__ import annotations

import functools
import operator
import struct
from types import CellType
from typing import NamedTuple

import numpy

from . import autograd, backend
from .recording import Ref, identity_or_value, optimizer_settings
from .tensor import Tensor, as_tensor


class InputWrite(NamedTuple):
    """A write to the storage of argument ``position`` to count, as eager mode counted it."""
    position: int


class Update(NamedTuple):
    """An optimiser's recorded update: ``calls`` while ``same_settings()``, else ``live()``."""
    same_settings: object
    calls: list
    live: object
    placed: list = ()  # the calls before the writes were counted together (schedule.Placed)


def resolve(value, values):
    """``value`` with each ``Ref(n)`` in it replaced by ``values[n]``."""
    return map_refs(value, lambda ref: values[ref.index])


def map_refs(value, function):
    """``value`` (an argument: a Ref, a tuple, list or dict of them, anything else) with each
    Ref in it replaced by ``function(ref)``."""
    kind = type(value)
    if kind is Ref:
        return function(value)
    if kind is tuple or kind is list:
        return kind(map_refs(item, function) for item in value)
    if kind is dict:
        return {key: map_refs(item, function) for key, item in value.items()}
    return value


def refs(value):
    if type(value) is Ref:
        yield value.index
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from refs(item)


def call_resolved(function, arguments, keywords, values, out=None):
    """An instruction whose arguments change from call to call: resolved at each call."""
    keywords = resolve(keywords, values)
    if out is not None:
        keywords["out"] = out
    result = function(*resolve(arguments, values), **keywords)
    # a full reduction gives a NumPy scalar; the recording made it a 0-d array, and so do we
    return numpy.asarray(result) if isinstance(result, numpy.generic) else result


def bound_call(function, arguments, keywords, values, dynamic, out=None, scalar=False):
    """An instruction whose arguments change from call to call, as one small function written
    for it: ``lambda: dot(values[1], c0, out=c1)``. Arguments that don't change are bound once,
    the others read from ``values`` where they sit: no walk through the arguments per call."""
    constants = {"function": function, "values": values, "asarray": numpy.asarray}

    def text(value):
        if type(value) is Ref and value.index in dynamic:
            return f"values[{value.index}]"
        if type(value) in (tuple, list) and any(slot in dynamic for slot in refs(value)):
            items = "".join(text(item) + ", " for item in value)
            return f"({items})" if type(value) is tuple else f"[{items}]"
        if any(slot in dynamic for slot in refs(value)):
            raise LookupError  # a dict holding a moving array: not worth a special case
        name = f"c{len(constants)}"
        constants[name] = resolve(value, values)
        return name

    try:
        listed = [text(item) for item in arguments]
        listed += [f"{key}={text(item)}" for key, item in keywords.items()]
    except LookupError:
        return functools.partial(call_resolved, function, arguments, keywords, values, out)
    if out is not None:
        listed.append(f"out={text(out)}")
    call = f"function({', '.join(listed)})"
    # a full reduction gives a NumPy scalar; the recording made it a 0-d array, and so do we
    return eval(f"lambda: {f'asarray({call})' if scalar else call}", constants)


def whole_call(steps, values, inputs, gradients, outputs, branch_changed, after_branch,
               snapshot=None, tests=None):
    """A replay as the one function ``call(args)`` that the whole call is, written out: each
    input put where the program reads it (``inputs``: (position, slot, whether a tensor)), each
    gradient read live (``gradients``: (tensor, slot); let go of after the call, as another
    program of the step may have handed it out), the steps line after line, each function
    and argument bound once (``f3(a3_0, a3_1, out=k3_out)``: no loop over the steps, no partial
    objects), then a fresh tensor of each buffer returned. An optimiser's recorded update among
    the steps becomes ``if not same_settings(): run the step live, else: its operations``. A
    branch that goes the other way (``branch_changed``) is handed to ``after_branch(changed,
    args, state)``, ``state`` the random state taken first by ``snapshot`` (None: none).
    ``tests(constants)``: tests written out (``entry_tests``' and more), with which the call
    first tests whether it replays this program, and returns ``MISSED`` if not (one function
    called, not two: after a step has streamed its arrays through the caches, each function
    entered costs microseconds). An ``InputWrite`` among the steps counts a write to an
    argument's storage where eager mode counted it (a graph that saved it then refuses to run
    backward, rather than read the new values)."""
    constants = {"values": values, "as_tensor": as_tensor, "changed_branch": branch_changed,
                 "after_branch": after_branch, "snapshot": snapshot, "missed": MISSED}
    lines = ["def call(args):"]
    if tests is not None:
        lines += ["    try:",
                  f"        if not ({' and '.join(tests(constants))}):",
                  "            return missed",
                  "    except (AttributeError, KeyError, IndexError):",
                  "        return missed"]
    lines += ["    state = snapshot()" if snapshot else "    state = None", "    try:"]
    lines += [f"        values[{slot}] = args[{position}]" + (".data" if tensor else "")
              for position, slot, tensor in inputs]
    lines += [f"        values[{slot}] = {named(constants, tensor)}.grad.data"
              for tensor, slot in gradients]
    lines += _written(steps, constants, "        ")
    lines += [f"        return {_result(outputs, constants)}",
              "    except changed_branch as changed:",
              "        return after_branch(changed, args, state)"]
    if gradients:
        lines += ["    finally:"] + [f"        values[{slot}] = None" for _, slot in gradients]
    exec("\n".join(lines), constants)
    return constants["call"]


def _result(output, constants: dict) -> str:
    """What the call returns, written out: a fresh tensor of each buffer the step returned."""
    if type(output) in (tuple, list):
        items = "".join(_result(item, constants) + ", " for item in output)
        return f"({items})" if type(output) is tuple else f"[{items}]"
    if type(output) is Ref:
        return f"as_tensor(values[{output.index}].copy())"
    return named(constants, output)


def _written(steps, constants: dict, indent: str) -> list:
    lines = []

    def write(call, store, indent):
        n = len(constants)
        prefix = indent + (f"values[{store}] = " if store is not None else "")
        if type(call) is InputWrite:  # an array argument's storage, counted through a tensor
            constants["count_write"] = autograd.increment_version
            lines.append(f"{indent}count_write(as_tensor(args[{call.position}]))")
        elif type(call) is Update:
            constants[f"e{n}"], constants[f"l{n}"] = call.same_settings, call.live
            lines.extend([f"{indent}if not e{n}():", f"{indent}    l{n}()",
                          f"{indent}else:", f"{indent}    pass"])
            for inner in call.calls:
                write(inner, None, indent + "    ")
        elif type(call) is functools.partial:
            constants[f"f{n}"] = call.func
            listed = []
            for m, argument in enumerate(call.args):
                constants[f"a{n}_{m}"] = argument
                listed.append(f"a{n}_{m}")
            for key, argument in call.keywords.items():
                constants[f"k{n}_{key}"] = argument
                listed.append(f"{key}=k{n}_{key}")
            lines.append(f"{prefix}f{n}({', '.join(listed)})")
        else:
            constants[f"s{n}"] = call
            lines.append(f"{prefix}s{n}()")

    for call, store in steps:
        write(call, store, indent)
    return lines


def named(constants: dict, value) -> str:
    """The name under which ``value`` is bound in the written code."""
    name = f"k{len(constants)}"
    constants[name] = value
    return name


def guard(guards, modules, cleared, names):
    """One function that says whether everything the recording read is as it was: each tensor's
    array, gradient and flag the very object read (``k0.data is k1 and ...``), each module's
    attributes and items the same objects in the same order (``len(k4) == 7 and all(map(is_,
    k4.values(), k5))``), no hook of ``register_hook`` on those tensors, and each global and
    enclosing function's variable the step's code reads (``names``: (the globals, the cell or
    a method's object's attributes, the name, the value, what to call it)) the same object, or
    a number of the same value. The program keeps the objects, so none is replaced by a new one
    at the same address meanwhile."""
    constants = {}
    tests = _guard_tests(guards, modules, constants, cleared, names)
    return eval(f"lambda: {' and '.join(tests) or 'True'}", constants)


def binding_now(holder, name: str):
    """What a name the step reads holds now (``MISSED`` if nothing): ``holder`` the globals
    or an object's attributes (a dict), a cell, or the object itself (a slot, a class's value)."""
    try:
        if type(holder) is dict:
            return holder.get(name, MISSED)
        return holder.cell_contents if type(holder) is CellType else getattr(holder, name, MISSED)
    except ValueError:  # a cell emptied by ``del``
        return MISSED


def same_binding(now, recorded) -> bool:
    """Whether a name still holds what it held when recorded: the same object, or a number
    or string of the same type and value (a float of the same bits: ``x = 0.5 ** 0`` makes a
    new float each time; a NumPy scalar by its bytes)."""
    if now is recorded:
        return True
    if type(now) is not type(recorded):
        return False
    if isinstance(recorded, numpy.generic):
        return now.tobytes() == recorded.tobytes()
    if type(recorded) not in (int, float, bool, str):
        return False
    return FLOAT_BITS(now) == FLOAT_BITS(recorded) if type(now) is float else now == recorded


def _guard_tests(guards, modules, constants: dict, cleared, names) -> list:
    constants["same_binding"] = same_binding
    tests = []
    for holder, name, value, _ in names:
        held = named(constants, holder)
        now = (f"{held}[{name!r}]" if type(holder) is dict else
               f"{held}.cell_contents" if type(holder) is CellType else f"{held}.{name}")
        recorded = named(constants, value)
        tests.append(f"({now} is {recorded} or same_binding({now}, {recorded}))")
    for obj, name, value in guards:  # name: data, grad or requires_grad
        tests.append(f"{named(constants, obj)}.{name} is not None" if value is A_GRADIENT else
                     f"{named(constants, obj)}.{name} is {named(constants, value)}")
    tensors = tuple({id(obj): obj for obj, _, _ in guards if isinstance(obj, Tensor)}.values())
    if tensors:  # a hook registered on one of them since: a replay would not run it
        tests.append(f"not {named(constants, autograd.has_hooks)}"
                     f"({named(constants, tensors)})")
    for module, _ in modules:  # hooks added in place to a module's (emptied) hooks since
        hooks = getattr(module, "_hooks", None)
        if hooks is not None:
            held = named(constants, hooks)
            tests.append(f"not ({held}.forward_pre or {held}.forward or {held}.backward)")
    constants["is_"] = operator.is_
    for collection, keys, values in (item for _, structure in modules for item in structure):
        if type(collection) is tuple:
            continue  # a module's items when it holds none: () itself, which can't change
        # the keys and the values in their order, by identity, one pass over each (a lookup
        # per key hashed each key again, after a step had pushed them out of the caches)
        held = named(constants, collection)
        items = f"{held}.values()" if keys is not None else held
        test = (f"len({held}) == {len(values)} and "
                f"all(map(is_, {items}, {named(constants, values)}))")
        if keys is not None:  # attributes renamed, their values kept in order
            test += f" and all(map(is_, {held}, {named(constants, keys)}))"
        tests.append(test)
    for optimizer, params in cleared:  # ``cleared``: (optimizer, the parameters its zero_grad
        # cleared), all of its groups' in order: a list replaced or added to, a group added
        tests.append(f"len(ps := [p for g in {named(constants, optimizer)}.param_groups "
                     f"for p in g['params']]) == {len(params)} and "
                     f"all(map(is_, ps, {named(constants, params)}))")
    return tests


MISSED = object()  # what a call returns that does not replay its program
# a guard's value for a gradient the step looked at but whose numbers it never read (`if p.grad
# is not None: p.grad = None`): any gradient will do, so long as there is one
A_GRADIENT = object()
# a float argument's key: its bits (−0.0 is not 0.0, and NaNs differ by sign and payload)
FLOAT_BITS = struct.Struct("<d").pack


def entry_tests(signature, gradients, guards, modules, settings, cleared, names,
                constants: dict) -> list:
    """The tests that say whether a call with ``args`` replays this very program: the call's
    signature (as ``compile._signature`` builds it), the state the guards check and the
    optimisers' settings, written out as one expression, so that a step called again and again
    with batches of one shape pays for no key, no lookup and no loop. ``signature``: (grad
    mode, backend, default dtype, one entry per argument); ``gradients``: (tensor, shape,
    dtype) of each gradient read live, which must still be there with that shape and dtype;
    ``guards``, ``modules``, ``cleared`` and ``names`` as ``guard`` takes them; ``settings``:
    (optimiser, settings) of each update the replay then runs unchecked, as ``same_settings``
    takes them."""
    grad_mode, backend_name, default_dtype, *arguments = signature
    constants.update(autograd=autograd, backend=backend, identity_or_value=identity_or_value,
                     float_bits=FLOAT_BITS)
    tests = [f"len(args) == {len(arguments)}", f"autograd._grad_enabled is {grad_mode}",
             f"backend.name == {backend_name!r}",
             f"backend.get_default_dtype() == {named(constants, default_dtype)}"]
    for n, argument in enumerate(arguments):
        if type(argument[0]) is type:  # a Python value: its type and the value (a float's bits)
            value = f"float_bits(args[{n}])" if issubclass(argument[0], float) else f"args[{n}]"
            tests += [f"type(args[{n}]) is {named(constants, argument[0])}",
                      f"{value} == {named(constants, argument[1])}"]
            continue
        if argument[0] == "array":
            array = f"args[{n}]"
            tests.append(f"isinstance({array}, {named(constants, numpy.ndarray)})")
            argument = argument[1:]
        else:
            array = f"args[{n}].data"
            tests.append(f"args[{n}].requires_grad is False")
        shape, dtype, strides = argument
        tests += [f"{array}.shape == {shape!r}", f"{array}.dtype == {named(constants, dtype)}",
                  f"{array}.strides == {strides!r}"]
    for tensor, shape, dtype in gradients:
        gradient = f"{named(constants, tensor)}.grad"
        tests += [f"{gradient} is not None", f"{gradient}.data.shape == {shape!r}",
                  f"{gradient}.data.dtype == {named(constants, dtype)}"]
    tests += _guard_tests(guards, modules, constants, cleared, names)
    for optimizer, expected in settings:
        written = _settings_tests(optimizer, expected, constants)
        tests += written if written is not None else [
            f"{named(constants, same_settings(optimizer, expected))}()"]
    return tests


def same_settings(optimizer, settings):
    """A function that says whether ``optimizer_settings(optimizer) == settings``, written out
    as one expression (``len(O.param_groups[0]) == 6 and O.param_groups[0][k1] == k2 ...``)
    rather than building the tuples on each call. A key or group gone counts as a change."""
    constants = {"identity_or_value": identity_or_value}
    tests = _settings_tests(optimizer, settings, constants)
    if tests is None:
        return lambda: optimizer_settings(optimizer) == settings
    exec("def same():\n    try:\n        return bool(" + " and ".join(tests) + ")\n"
         "    except (KeyError, IndexError):\n        return False", constants)
    return constants["same"]


def _settings_tests(optimizer, settings, constants: dict) -> list | None:
    """The tests of ``same_settings``; None where a buffer's parameter is no longer the
    optimiser's (the settings can then only be compared as a whole)."""
    groups, state = settings
    params = {id(p): p for group in optimizer.param_groups for p in group["params"]}
    if any(key not in params for key, _ in state):
        return None
    optimizer_name = named(constants, optimizer)
    tests = [f"len({optimizer_name}.param_groups) == {len(groups)}",
             f"len({optimizer_name}.state) == {len(state)}"]
    constants["is_"] = operator.is_
    for n, (*items, ids) in enumerate(groups):
        group = f"g{len(constants)}"  # the group, named once in the test by :=
        tests.append(f"len({group} := {optimizer_name}.param_groups[{n}]) == {len(items) + 1}")
        # of the same type too: a numpy.float64 learning rate equal to the float recorded
        # would make a float64 product of a float32 gradient (NumPy 2's promotion)
        by_value = " and ".join(
            f"type({group}[{named(constants, key)}]) is {named(constants, type(value))} and "
            f"{group}[{named(constants, key)}] == {named(constants, value)}"
            for key, value in items) or "True"
        current = optimizer.param_groups[n] if n < len(optimizer.param_groups) else {}
        if [key for key in current if key != "params"] == [key for key, _ in items] and all(
                current[key] is value for key, value in items):
            # the very objects recorded, tested in one pass over the group's keys and one over
            # its values (touching fewer objects, which a step has pushed out of the caches); a
            # value replaced by an equal one is tested by value
            tests.append(f"(all(map(is_, {group}, {named(constants, tuple(current))})) and "
                         f"all(map(is_, {group}.values(), "
                         f"{named(constants, tuple(current.values()))})) or ({by_value}))")
        else:
            tests.append(f"({by_value})")
        if all(key in params for key in ids):
            held = named(constants, tuple(params[key] for key in ids))
            tests.append(f"len({group}['params']) == {len(ids)} and "
                         f"all(map(is_, {group}['params'], {held}))")
        else:
            tests.append(f"tuple(map(id, {group}['params'])) == {named(constants, ids)}")
    for key, buffers in state:
        entry = f"{optimizer_name}.state[{named(constants, params[key])}]"
        tests.append(f"len({entry}) == {len(buffers)}")
        # an array by identity, any other value by equality, as optimizer_settings has them
        tests += [f"identity_or_value({entry}[{named(constants, name)}]) == "
                  f"{named(constants, value)}" for name, value in buffers]
    return tests
