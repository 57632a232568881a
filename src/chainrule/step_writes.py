"""What a step's own Python assigns outside itself, which a replay would not assign.

A replay runs the step's array operations, none of its Python. A step that rebinds a global or
a variable of an enclosing function, or assigns an attribute of its own object (a method's
``self.calls += 1``, ``self.last_loss = loss``) or of its object's class
(``type(self).calls += 1``, a class method's ``cls.calls += 1``), would do so on the recording
call alone and never again: the counter stops, the loss kept is the recorded one, silently.
The recording looks at those places before and after its call (the globals of the step's
module, the variables its functions close over, the step's object's attributes and slots, its
class's attributes, and each attribute the step's code assigns on an object a global or an
enclosing variable names: a class's ``Trainer.calls += 1``, a module's ``config.steps = n``)
and refuses a step that changed one, as TinyJit's rules ask, after putting each back as it was,
so that the same call run eagerly instead assigns it once, not twice. What it can't see: a
change made in place (an item appended to a list), an attribute assigned on an object reached
otherwise (``self.stats.calls``, a helper's argument, through a property), or by the code of
another module.
"""
from __future__ import annotations

import dis
import inspect
from types import CellType, CodeType, MemberDescriptorType

from .codegen import MISSED, binding_now, same_binding
from .tensor import Tensor


def places(scanned) -> list:
    """(holder, name or None for all of a dict's or a class's, what to call it) for each place
    the step's code could assign: ``scanned`` is (function, its object or None) for each
    function of the step's own code (``compile._names_read``)."""
    found, seen = [], set()
    for function, owner in scanned:
        namespace = function.__globals__
        if id(namespace) not in seen:
            seen.add(id(namespace))
            found.append((namespace, None, "the global"))
        for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
            if id(cell) not in seen:
                seen.add(id(cell))
                found.append((cell, name, f"the variable {name!r} of a function enclosing"))
        if owner is not None and id(owner) not in seen:
            seen.add(id(owner))
            attributes = getattr(owner, "__dict__", None)
            if type(attributes) is dict:
                found.append((attributes, None, f"{type(owner).__name__}'s attribute"))
            for name in _slots(type(owner)):
                found.append((owner, name, f"{type(owner).__name__}'s attribute {name!r}"))
        kind = owner if isinstance(owner, type) else type(owner)  # a class method's, or self's
        if owner is not None and id(kind) not in seen:
            seen.add(id(kind))
            found.append((kind, None, f"the class {kind.__name__}'s attribute"))
    # then each attribute the code assigns on an object a name holds, unless one of the above
    # compares all of that object's attributes already
    for function, _ in scanned:
        for value, attribute, named in _attributes_assigned(function):
            holder = _attribute_place(value, attribute)
            if holder is not None and seen.isdisjoint((id(value), id(holder))) and \
                    (id(holder), attribute) not in seen:
                seen.add((id(holder), attribute))
                found.append((holder, attribute, _describe(value, attribute, named)))
    return found


def _attributes_assigned(function) -> list:
    """(object, attribute, how the code names the object) of each attribute that the code of
    ``function`` (and code nested in it) assigns, augments or deletes on an object that a
    global or a variable of an enclosing function holds: ``Trainer.calls += 1`` pushes
    ``Trainer`` then copies it to read ``calls`` (COPY 1, or DUP_TOP before Python 3.11);
    ``Trainer.calls = n`` and ``del Trainer.calls`` push it just before the write."""
    cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ()))
    found, codes = [], [function.__code__]
    while codes:
        code = codes.pop()
        codes += [constant for constant in code.co_consts if isinstance(constant, CodeType)]
        instructions = list(dis.get_instructions(code))
        for loaded, following, after in zip(instructions, instructions[1:],
                                            instructions[2:] + [None]):
            if following.opname in ("STORE_ATTR", "DELETE_ATTR"):
                attribute = following.argval
            elif following.opname in ("COPY", "DUP_TOP") and following.arg in (1, None) and \
                    after is not None and after.opname == "LOAD_ATTR":
                attribute = after.argval
            else:
                continue
            name = loaded.argval
            if loaded.opname == "LOAD_GLOBAL" and name in function.__globals__:
                found.append((function.__globals__[name], attribute, f"the global {name!r}"))
            elif loaded.opname == "LOAD_DEREF" and name in cells:
                try:
                    found.append((cells[name].cell_contents, attribute,
                                  f"the variable {name!r} of a function enclosing"))
                except ValueError:  # a variable not given a value yet
                    pass
    return found


def _attribute_place(value, attribute: str):
    """Where ``value.<attribute>`` is kept, as ``Writes`` reads it: a module's or an object's
    ``__dict__``, a class or an object with the slot itself; None where a replay writes it
    too or it is not kept plainly: a tensor's (the recording watches its ``data``, ``grad``
    and ``requires_grad``), a module's mode (``training``), a property's, Python's own."""
    if isinstance(value, Tensor) or attribute == "training" or attribute.startswith("__"):
        return None
    if isinstance(value, type):
        return value
    found = inspect.getattr_static(type(value), attribute, None)
    if isinstance(found, MemberDescriptorType):
        return value
    if hasattr(type(found), "__set__") or hasattr(type(found), "__delete__"):
        return None
    attributes = getattr(value, "__dict__", None)
    return attributes if type(attributes) is dict else None


def _describe(value, attribute: str, named: str) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__}'s attribute {attribute!r}"
    return f"the attribute {attribute!r} of {named}"


def _namespace(holder) -> dict:
    """The names a holder of ``places`` binds, where it binds them all (name None): a dict's
    own, a class's attributes."""
    return vars(holder) if isinstance(holder, type) else holder


class Writes:
    """The bindings of ``places`` now; ``changed()`` lists those the call has changed since,
    ``undo()`` puts them back."""

    def __init__(self, watched: list):
        self.before = [(holder, name, what, dict(_namespace(holder)) if name is None
                        else _binding(holder, name)) for holder, name, what in watched]

    def changed(self) -> list:
        """(holder, name, what, value before) of each binding changed; a module's mode
        (``training``, which ``train()`` and ``eval()`` inside the step set, and a replay sets
        again) is not counted, nor Python's own names (``__warningregistry__``, which a warning
        the step gives for the first time adds to its module's globals)."""
        found = []
        for holder, name, what, before in self.before:
            if name is not None:
                if not same_binding(_binding(holder, name), before):
                    found.append((holder, name, what, before))
                continue
            mode = None if what == "the global" else "training"  # an object's, not a global
            namespace = _namespace(holder)
            for key in set(namespace) | set(before):
                old, new = before.get(key, MISSED), namespace.get(key, MISSED)
                if key != mode and not key.startswith("__") and not same_binding(new, old):
                    found.append((holder, key, f"{what} {key!r}", old))
        return found

    def undo(self, changed: list) -> None:
        for holder, name, _, old in changed:
            if type(holder) is dict:
                if old is MISSED:
                    holder.pop(name, None)
                else:
                    holder[name] = old
            elif type(holder) is CellType:
                if old is MISSED:  # a variable not given a value yet: empty again
                    del holder.cell_contents
                else:
                    holder.cell_contents = old
            elif old is MISSED:
                delattr(holder, name)
            else:
                setattr(holder, name, old)


def _binding(holder, name: str):
    """What ``holder`` binds to ``name``: a class's own attribute, not one it inherits (put
    back by deleting the class's own, it inherits again)."""
    return vars(holder).get(name, MISSED) if isinstance(holder, type) else \
        binding_now(holder, name)


def _slots(kind) -> list:
    return [name for klass in kind.__mro__ for name in getattr(klass, "__slots__", ())
            if name not in ("__dict__", "__weakref__")]
