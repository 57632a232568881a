"""The values of explain's forward table: every tensor an output is computed from, in
topological order, each with a name; and the values computed from data alone, which the
engine does not record.

The engine records an op only when one of its inputs requires grad (as PyTorch does): ``x * x``
with x an input is a leaf, its making forgotten. The lecture's forward pass still lists it, as a
step like any other, so ``record_from_data`` computes such an op with its inputs lent a gradient
for that one call, keeps the node it made (its op and parents, the VJPs let go) beside the
result, and hands back the result cut from that graph: a leaf without a gradient, as before.
``made_by`` gives that node back; explain walks through it, and the backward pass never sees it.
``record_number`` keeps, the same way, that a named leaf is a number the program writes (s = 2):
a constant of the forward table, not an input.
"""
from __future__ import annotations

import weakref

from .autograd import Node, topological_order
from .tensor import Tensor

# Short stems for the values that fused ops compute: a name is repeated in the parents and child
# columns, and "binary_cross_entropy_with_logits_per_element1" would make every row too wide.
# The forward table's op column still gives the op's full name.
SHORT_STEMS = {"binary_cross_entropy_with_logits_per_element": "bce", "cross_entropy_mean": "ce",
               "cross_entropy_per_sample": "ce", "causal_self_attention": "attention",
               "embedding_dense_backward": "embedding_grad"}
LONGEST_STEM = 14

# How each value computed from data alone was made, by the value's id: the node that made it, or
# None for a number a program's step writes (s = 2). A weak reference drops the entry when the
# value goes (ids, not a WeakKeyDictionary: tensors compare elementwise).
_made_from_data: dict[int, tuple[weakref.ref, Node | None]] = {}


def record_from_data(function, *operands: Tensor) -> Tensor:
    """``function(*operands)``; when no operand requires grad, its node is kept for ``made_by``.

    The result is what the engine gives: with no operand that requires grad, a leaf without a
    gradient, whose values are computed by the same ops (a lent gradient changes no forward).
    """
    if any(operand.requires_grad or not operand.is_floating_point() for operand in operands):
        return function(*operands)
    for operand in operands:  # leaves all: a value computed by a recorded op requires grad
        operand.requires_grad_(True)
    try:
        made = function(*operands)
    finally:
        for operand in operands:
            operand.requires_grad_(False)
    if made.grad_fn is None:  # under no_grad, or an operand handed back as it is
        return made
    for tensor in topological_order([made]):
        tensor.grad_fn.release()  # no gradient flows here: only the op and parents are read
    value = made.detach()
    _keep(value, made.grad_fn)
    return value


def record_number(value: Tensor) -> Tensor:
    """``value``, kept as a number the program writes under a name (s = 2): a constant of the
    forward table, where any other named leaf without a gradient is an input, a value given."""
    _keep(value, None)
    return value


def is_written_number(tensor: Tensor) -> bool:
    """Whether ``record_number`` kept ``tensor``."""
    entry = _made_from_data.get(id(tensor))
    return entry is not None and entry[0]() is tensor and entry[1] is None


def _keep(value: Tensor, node: Node | None) -> None:
    key = id(value)
    _made_from_data[key] = (weakref.ref(value, lambda _, key=key: _made_from_data.pop(key, None)),
                            node)


def made_by(tensor: Tensor) -> Node | None:
    """The node that computed ``tensor``: its ``grad_fn``, or for a value computed from data alone
    by ``record_from_data``, the node kept for it. None for a leaf."""
    if tensor.grad_fn is not None:
        return tensor.grad_fn
    entry = _made_from_data.get(id(tensor))
    return entry[1] if entry is not None and entry[0]() is tensor else None


def forward_order(output: Tensor) -> list[Tensor]:
    """Every tensor ``output`` is computed from, parents before children, each op's parents in
    the order the op takes them: those computed from data alone too."""
    return topological_order([output], constants=True, made_by=made_by)


def is_literal(tensor: Tensor) -> bool:
    """An unnamed single number outside the graph (the 0.5 in 0.5 * x): written in place."""
    return (tensor.name is None and not tensor.requires_grad and tensor.ndim == 0
            and made_by(tensor) is None)


def names_of(order: list[Tensor], number) -> dict[int, str]:
    """The user's ``tensor.name`` where set, otherwise the op and a number (mul1, mul2, ...); a
    literal is written as ``number(tensor)``."""
    taken = {tensor.name for tensor in order if tensor.name}
    names, counts = {}, {}
    for tensor in order:
        if is_literal(tensor):
            names[id(tensor)] = number(tensor)
            continue
        name = tensor.name
        if name and name in names.values():
            name = _fresh(name + "_", counts, taken)  # two tensors with one name
        if not name:
            node = made_by(tensor)
            if node is not None:
                stem = SHORT_STEMS.get(node.op, node.op[:LONGEST_STEM])
            else:
                stem = "leaf" if tensor.requires_grad else "const"
            name = _fresh(stem, counts, taken)
        names[id(tensor)] = name
    return names


def _fresh(stem: str, counts: dict, taken: set) -> str:
    while True:
        counts[stem] = counts.get(stem, 0) + 1
        name = f"{stem}{counts[stem]}"
        if name not in taken:
            taken.add(name)
            return name
