"""A recorded program as the lecture's forward and backward tables: one line per operation."""
from __future__ import annotations

import numpy

from .recording import Ref


def flat(instructions):
    """The instructions, an optimiser's recorded update in its place."""
    for instruction in instructions:
        yield instruction
        if instruction.kind == "optimizer" and instruction.keywords["update"]:
            yield from instruction.keywords["update"]


def text(program) -> str:
    """The program as the lecture's tables: the forward, then the backward, then the update;
    one line per operation, each buffer vN with its shape and dtype."""
    count = len(list(flat(program.instructions)))
    lines = [f"{count} instructions on {len(program.buffers)} buffers "
             f"({sum(1 for b in program.buffers if b.origin == 'input')} inputs, "
             f"{sum(1 for b in program.buffers if b.origin == 'held')} held by tensors)"]
    phase = None
    for instruction in program.instructions:
        if instruction.phase != phase:
            phase = instruction.phase
            lines.append(f"{phase}:")
        lines.append("  " + _describe(instruction, program.buffers))
        if instruction.kind == "optimizer" and instruction.keywords["update"]:
            lines += ["    " + _describe(inner, program.buffers)
                      for inner in instruction.keywords["update"]]
    return "\n".join(lines)


def _name(function) -> str:
    owner = getattr(function, "__self__", None)
    if isinstance(owner, numpy.ufunc):
        return f"{owner.__name__}.{function.__name__}"
    return getattr(function, "__name__", type(function).__name__)


def _text(value, buffers) -> str:
    if type(value) is Ref:
        buffer = buffers[value.index]
        return f"v{value.index}" if buffer.origin == "made" else f"v{value.index}:{buffer.origin}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_text(item, buffers) for item in value) + ")"
    if isinstance(value, slice):
        return ":" if value == slice(None) else repr(value)
    if isinstance(value, numpy.dtype):
        return str(value)
    return repr(value)


def _describe(instruction, buffers) -> str:
    """One line: ``v9 = maximum(v8, 0)    (128, 256) float32``."""
    kind, function = instruction.kind, instruction.function
    if kind == "optimizer":
        name = type(instruction.arguments[0]).__name__
        if instruction.keywords["update"] is None:
            return f"{name}.step()  (run live: its settings or step count change between calls)"
        return f"{name}.step(), while its settings are as recorded (else run live):"
    if kind == "live":
        return f"{type(instruction.arguments[0]).__name__}.step()  (run live)"
    if kind == "attribute":
        module, name, value = instruction.arguments
        return f"{type(module).__name__}.{name} = {value!r}"
    if kind == "set_grad":
        source = instruction.arguments[0]
        return f"{type(function).__name__}{tuple(function.shape)}.grad = " + (
            "None" if source is None else _text(source, buffers))
    if kind == "version":
        what = "the .grad of a tensor" if instruction.keywords.get("grad") else "a tensor"
        return f"count a write to {what} of shape {tuple(instruction.arguments[0].shape)}"
    if kind == "input_version":
        return f"count a write to {_text(instruction.arguments[0], buffers)}"
    keywords = {k: v for k, v in instruction.keywords.items()
                if not (k == "where" and v is True) and v is not None}
    out = keywords.pop("out", None)
    arguments = [_text(a, buffers) for a in instruction.arguments]
    arguments += [f"{k}={_text(v, buffers)}" for k, v in keywords.items()]
    name = "draw " + function if kind == "draw" else _name(function)
    call = f"{name}({', '.join(arguments)})"
    if kind == "branch":
        return f"check {call} is {instruction.expected}  (a branch on a value)"
    if instruction.results:
        return ", ".join(f"v{slot}" for slot in instruction.results) + f" = {call}"
    if instruction.result is None:
        target = f"  -> {_text(out[0], buffers)} in place" if out else ""
        return call + target
    buffer = buffers[instruction.result]
    return f"v{instruction.result} = {call}".ljust(48) + f"  {buffer.shape} {buffer.dtype}"
