"""Backpropagation as the lecture writes it: the forward pass, then the table of error signals.

``explain(output)`` walks the graph that made ``output``. The forward pass lists every value in
topological order (parents before children). The backward pass then gives, for each node vᵢ,
its error signal (v̄ᵢ = ∂output/∂vᵢ) as the sum over its children j

    v̄ᵢ = Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ

with one term per child, each computed by calling that child's own VJP, exactly as
``backward()`` does. A node used twice (fan-out: the multivariate chain rule) shows two terms.
Nothing is changed: no ``.grad`` is written and the graph's saved values are kept, so
``backward()`` can still run afterwards.

Composite ops appear as the primitives they are made of: ``x.mean()`` is a ``sum`` then a
``div``, ``a @ b`` a ``matmul2d``. A value computed from data alone (no input requires grad) is
a leaf to the engine; the expression language keeps how it was made (explain_forward), and the
forward table lists it as the op it is, with no gradient.
"""
from __future__ import annotations

import unicodedata
from html import escape
from dataclasses import asdict, dataclass, field
from typing import Union

import numpy

from . import backend
from .autograd import fit_to, no_grad, root_signals, topological_order
from .errors import ChainruleError
from .explain_forward import forward_order, is_literal, is_written_number, made_by, names_of
from .tensor import Tensor, ones_like

Value = Union[float, numpy.ndarray]

# How many elements a tensor may have for its values to be printed in full.
SMALL_TENSOR = 6


@dataclass
class ForwardStep:
    """One value of the forward pass.

    ``kind`` is "parameter" (a leaf that requires grad), "input" (a named leaf that does not),
    "constant" (an unnamed leaf, or a number a step writes: s = 2) or "op" (computed by the
    primitive ``op`` from ``parents``).
    ``value`` is a float for a 0-d tensor, otherwise the array. ``requires_grad``: whether the
    backward pass gives it a v̄; an op computed from inputs and numbers alone (s = x*x with x
    data) gets none, and is listed all the same, as the lecture's forward pass lists it.
    """
    name: str
    kind: str
    op: str | None
    parents: list[str]
    value: Value
    shape: tuple
    dtype: str
    requires_grad: bool

    @property
    def summary(self) -> str:
        return summarize(self.value, self.dtype)  # the forward table names the dtype

    @property
    def operation(self) -> str:
        """The op column: the op, or for a leaf its kind."""
        if self.kind != "op":
            return self.kind
        return self.op if self.requires_grad else f"{self.op} (no gradient)"


@dataclass
class Term:
    """One child j's share of v̄ᵢ: v̄ⱼ · ∂vⱼ/∂vᵢ.

    ``local_derivative`` (∂vⱼ/∂vᵢ) is given when both values are single numbers; for tensors it
    is a Jacobian, which the VJP never forms (it only multiplies by it).
    """
    child: str
    child_signal: Value
    local_derivative: float | None
    contribution: Value


@dataclass
class ChainRuleStep:
    """One term of the chain rule as the engine applies it: child vⱼ hands node vᵢ its share
    v̄ⱼ · ∂vⱼ/∂vᵢ, and vᵢ's running sum becomes ``running_sum`` (v̄ᵢ once its last child is done)."""
    node: str
    child: str
    child_signal: Value
    local_derivative: float | None
    contribution: Value
    running_sum: Value
    complete: bool    # this was vᵢ's last child: the running sum is v̄ᵢ

    def __str__(self) -> str:
        i, j = self.node, self.child
        local = "" if self.local_derivative is None else f" · {_number(self.local_derivative)}"
        state = "complete" if self.complete else "so far"
        return (f"v̄({i}) += v̄({j}) · ∂{j}/∂{i} = {summarize(self.child_signal)}{local} = "
                f"{summarize(self.contribution)}   v̄({i}) = {summarize(self.running_sum)} "
                f"({state})")


@dataclass
class BackwardStep:
    """The error signal v̄ᵢ of one node and the terms it sums (none for the output itself)."""
    name: str
    signal: Value
    terms: list[Term] = field(default_factory=list)


@dataclass
class Explanation:
    """The report of ``explain``: print it for both tables, or read ``forward``/``backward``."""
    output: str
    forward: list[ForwardStep]
    backward: list[BackwardStep]
    chain: list[ChainRuleStep] = field(default_factory=list)

    @property
    def values(self) -> dict[str, Value]:
        """Each named value of the forward pass: ``report.values["y"]``."""
        return {step.name: step.value for step in self.forward}

    @property
    def signals(self) -> dict[str, Value]:
        """Each error signal v̄ᵢ = ∂output/∂vᵢ: ``report.signals["w"]`` is the gradient of w."""
        return {step.name: step.signal for step in self.backward}

    def steps(self):
        """Each term of the chain rule in the order the engine adds it (output side first):
        ``for step in chainrule.explain(loss).steps(): print(step)``. A value used twice gets
        two steps, the second completing its sum."""
        yield from self.chain

    def widget(self):
        """A notebook slider that walks the chain rule term by term over the drawn graph
        (ipywidgets; see chainrule.explain_widget)."""
        from .explain_widget import step_widget

        return step_widget(self)

    def matrix_form(self):
        """Each layer's gradients by the slides' vectorised formulas (W̄ = z̄ xᵀ, x̄ = Wᵀ z̄,
        z̄ = h̄ ⊙ σ(z)(1 − σ(z)), z̄ = (softmax − onehot)/N), beside the engine's: see
        chainrule.matrix_form."""
        from .matrix_form import matrix_form

        return matrix_form(self)

    def to_dict(self) -> dict:
        """Plain Python data (arrays as nested lists), ready for ``json.dumps``."""
        return _plain({"output": self.output, "forward": [asdict(s) for s in self.forward],
                       "backward": [asdict(s) for s in self.backward]})

    def forward_table(self) -> str:
        rows = [(step.name, step.operation, ", ".join(step.parents), step.summary)
                for step in self.forward]
        title = "Forward pass, in topological order (parents before children)"
        return title + "\n" + _table(("vᵢ", "op", "parents", "value"), rows)

    def backward_table(self) -> str:
        rows = []
        for step in self.backward:
            signal = summarize(step.signal)
            if not step.terms:
                rows.append((step.name, signal, "", "(output)", "", "", ""))
            for index, term in enumerate(step.terms):
                local = "" if term.local_derivative is None else _number(term.local_derivative)
                rows.append((step.name if index == 0 else "", signal if index == 0 else "",
                             "=" if index == 0 else "+", term.child,
                             summarize(term.child_signal), local,
                             summarize(term.contribution)))
        title = (f"Backward pass: v̄ᵢ = ∂{self.output}/∂vᵢ = Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ, "
                 "one term per child j of vᵢ (output first)")
        header = ("vᵢ", "v̄ᵢ", "", "child vⱼ", "v̄ⱼ", "∂vⱼ/∂vᵢ", "v̄ⱼ · ∂vⱼ/∂vᵢ")
        return title + "\n" + _table(header, rows)

    def __str__(self) -> str:
        return self.forward_table() + "\n\n" + self.backward_table()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython in a terminal
        printer.text(str(self))

    def _repr_html_(self) -> str:
        """Both tables in a notebook, the error signals v̄ᵢ highlighted."""
        forward = [(step.name, step.operation, ", ".join(step.parents), step.summary)
                   for step in self.forward]
        backward = []
        for step in self.backward:
            if not step.terms:
                backward.append((step.name, summarize(step.signal), "(output)", "", "", ""))
            for index, term in enumerate(step.terms):
                local = "" if term.local_derivative is None else _number(term.local_derivative)
                backward.append((step.name if index == 0 else "",
                                 summarize(step.signal) if index == 0 else "",
                                 ("= " if index == 0 else "+ ") + term.child,
                                 summarize(term.child_signal), local,
                                 summarize(term.contribution)))
        return (_html_table("Forward pass, in topological order (parents before children)",
                            ("vᵢ", "op", "parents", "value"), forward, highlight=None)
                + _html_table(f"Backward pass: v̄ᵢ = ∂{self.output}/∂vᵢ = Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ",
                              ("vᵢ", "v̄ᵢ", "child vⱼ", "v̄ⱼ", "∂vⱼ/∂vᵢ", "v̄ⱼ · ∂vⱼ/∂vᵢ"),
                              backward, highlight=1))


# ---------------------------------------------------------------- the walk
def explain(output: Tensor, gradient=None) -> Explanation:
    """The forward pass and the backward pass of ``output``'s graph, in the lecture's notation.

    ``gradient`` is v̄ of the output (ones by default, which needs a single-element output, as
    ``backward()`` does). Call it before ``backward()``, or after ``backward(retain_graph=True)``:
    the terms are computed by the graph's VJPs, which a plain ``backward()`` frees.
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise ChainruleError("explain: this tensor has no graph (it does not require grad); set "
                             "requires_grad=True on the leaves it is computed from")
    order = forward_order(output)
    names = names_of(order, lambda literal: _number(_value(literal)))
    # backward()'s own order, not the forward table's: it decides which term of a fan-out is
    # added first, so the steps are the engine's and each v̄ is .grad to the last bit
    backward_order = topological_order([output])
    signalled = {id(tensor) for tensor in backward_order}
    forward = [_forward_step(tensor, names, id(tensor) in signalled) for tensor in order
               if not is_literal(tensor)]

    (root_signal,) = root_signals([output], [gradient], "explain")
    with no_grad(), numpy.errstate(all="ignore"):  # an inf or nan v̄ shows in the table
        backward, chain = _backward_pass(backward_order, names, root_signal)
    return Explanation(names[id(output)], forward, backward, chain)


def _backward_pass(order: list[Tensor], names: dict, root_signal: Tensor):
    """The engine's walk (``autograd.run_backward``), keeping every term instead of only their sum.

    The terms of a node are listed in the order the walk meets its children: output side first.
    """
    signals = {id(order[-1]): root_signal}
    terms: dict[int, list[Term]] = {}
    remaining = _children_counts(order)
    steps, chain = [], []
    for tensor in reversed(order):
        signal = signals.get(id(tensor))
        if signal is None:  # a constant or an input: no gradient flows into it
            continue
        steps.append(BackwardStep(names[id(tensor)], _value(signal), terms.pop(id(tensor), [])))
        node = tensor.grad_fn
        if node is None:
            continue
        if node.vjps is None:
            raise ChainruleError(
                "explain: the graph's saved values were freed by an earlier backward(); call "
                "explain() first, or backward(retain_graph=True)")
        # A parent in two argument slots (x in x*x) is still one child's one term: Σ runs over
        # children, and ∂(x·x)/∂x is 2x, the sum of the slots' shares, never one slot's x.
        this_child: dict[int, tuple[Term, ChainRuleStep]] = {}
        for parent, vjp in zip(node.parents, node.vjps):
            if not parent.requires_grad:
                continue
            contribution = fit_to(vjp(signal, tensor), parent)
            local = None
            if tensor.data.size == 1 and parent.data.size == 1:
                # between single numbers the Jacobian is one number: the VJP of a unit signal
                local = _value(fit_to(vjp(ones_like(signal), tensor), parent))
            earlier = signals.get(id(parent))
            signals[id(parent)] = contribution if earlier is None else earlier + contribution
            remaining[id(parent)] -= 1
            if id(parent) in this_child:
                term, step = this_child[id(parent)]
                if local is not None:
                    term.local_derivative = step.local_derivative = term.local_derivative + local
                term.contribution = step.contribution = term.contribution + _value(contribution)
                step.running_sum = _value(signals[id(parent)])
                step.complete = remaining[id(parent)] == 0
                continue
            term = Term(names[id(tensor)], _value(signal), local, _value(contribution))
            terms.setdefault(id(parent), []).append(term)
            chain.append(ChainRuleStep(names[id(parent)], names[id(tensor)], _value(signal), local,
                                       _value(contribution), _value(signals[id(parent)]),
                                       remaining[id(parent)] == 0))
            this_child[id(parent)] = term, chain[-1]
    return steps, chain


def _children_counts(order: list[Tensor]) -> dict[int, int]:
    """How many terms each value's v̄ will sum: one per use by a child that passes a signal."""
    counts = {id(tensor): 0 for tensor in order}
    for tensor in order:
        if tensor.grad_fn is not None and tensor.requires_grad:
            for parent in tensor.grad_fn.parents:
                if parent.requires_grad:
                    counts[id(parent)] += 1
    return counts


def _forward_step(tensor: Tensor, names: dict, requires_grad: bool) -> ForwardStep:
    node = made_by(tensor)
    if node is not None:
        kind, op = "op", node.op
        parents = [names[id(parent)] for parent in node.parents]
    else:
        op, parents = None, []
        kind = ("parameter" if tensor.requires_grad else
                "input" if tensor.name and not is_written_number(tensor) else "constant")
    return ForwardStep(names[id(tensor)], kind, op, parents, _value(tensor), tuple(tensor.shape),
                       str(tensor.dtype), requires_grad)


def _value(tensor: Tensor) -> Value:
    array = backend.to_numpy(tensor.data)
    return float(array) if array.ndim == 0 else array.copy()


# ---------------------------------------------------------------- printing
def _number(value: float) -> str:
    return f"{value + 0.0:.6g}"  # −0 (0 times a negative v̄) is 0: a sign there only puzzles


def summarize(value: Value, dtype: str | None = None) -> str:
    """A number as itself; a small tensor as its values and shape; a large one as statistics."""
    if not isinstance(value, numpy.ndarray):
        return _number(value)
    shape = "×".join(str(n) for n in value.shape) or "scalar"
    if dtype:
        shape += f" {dtype}"
    if value.size <= SMALL_TENSOR:
        # values first, the shape after them: "2 [-1.9, -0.23]" would read as twice the vector
        return f"{_nested(value)} (shape {shape})"
    finite = value[numpy.isfinite(value)] if value.dtype.kind == "f" else value
    if finite.size == 0:
        return f"{shape} (no finite values)"
    return (f"{shape} mean {float(finite.mean()):.4g} "
            f"in [{float(finite.min()):.4g}, {float(finite.max()):.4g}]")


def _nested(array: numpy.ndarray) -> str:
    if array.ndim == 0:
        return f"{float(array) + 0.0:.4g}"
    return "[" + ", ".join(_nested(part) for part in array) + "]"


def _width(text: str) -> int:
    """Columns on a terminal: combining marks (the bar of v̄) take none."""
    return sum(1 for character in text if not unicodedata.combining(character))


def _table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(_width(str(row[i])) for row in [header] + rows) for i in range(len(header))]

    def line(cells) -> str:
        padded = [str(cell) + " " * (width - _width(str(cell)))
                  for cell, width in zip(cells, widths)]
        return ("  " + "  ".join(padded)).rstrip()

    rule = tuple("─" * width for width in widths)
    return "\n".join([line(header), line(rule)] + [line(row) for row in rows])


HIGHLIGHT = ' style="background:#fff3c4;font-weight:bold"'  # the v̄ column of the backward table


def _html_table(title: str, header: tuple, rows: list[tuple], highlight: int | None) -> str:
    def cells(row, tag):
        return "".join(f"<{tag}{HIGHLIGHT if i == highlight else ''}>{escape(str(cell))}</{tag}>"
                       for i, cell in enumerate(row))
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return (f"<p><b>{escape(title)}</b></p><table class=\"chainrule-explain\">"
            f"<thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>")


def _plain(data):
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(value) for value in data]
    if isinstance(data, numpy.ndarray):
        return data.tolist()
    return data
