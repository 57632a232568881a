"""The computation graph as a picture: Graphviz DOT text, and SVG or PNG drawn from it.

One box per op with its value and its error signal (gradient); parameters (leaves that require
grad) are drawn apart from inputs and constants; each edge carries the term it sends back,
v̄ⱼ · ∂vⱼ/∂vᵢ, when the values are single numbers.

Graphviz's ``dot`` lays the graph out best and renders every format; where it is not installed,
chainrule draws the SVG itself (``draw_svg``), so the course's commands work on a fresh machine.
PNG and PDF need ``dot``: we do not rasterise text ourselves.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass

from .errors import ChainruleError
from .explain import Explanation, explain, summarize
from .tensor import Tensor

MISSING_DOT = ("Graphviz's `dot` program was not found: it renders .png and .pdf; install graphviz "
               "(apt-get install graphviz / brew install graphviz), or draw to .svg (chainrule "
               "draws it without Graphviz) or .dot")
FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}
RENDERERS = ("auto", "graphviz", "chainrule")  # auto: Graphviz where installed, else chainrule

# Colours: values in black, gradients in red (as the lecture's backward arrows).
GRADIENT_COLOUR = "#b03a2e"
STYLES = {
    "parameter": 'shape=box, style="rounded,filled,bold", fillcolor="#fdebd0", peripheries=2',
    "input": 'shape=box, style="rounded,filled", fillcolor="#eaecee"',
    "constant": 'shape=box, style="rounded,dashed", color="#7f8c8d"',
    "op": 'shape=box, style="rounded,filled", fillcolor="#d6eaf8"',
    "data op": 'shape=box, style="rounded,filled", fillcolor="#eaecee"',
}
LEGEND = ("values in black, gradients v̄ = ∂{output}/∂v in red; double orange boxes are parameters "
          "(leaves that require grad), grey boxes inputs and what is computed from them alone "
          "(no gradient), blue boxes ops")


class Drawing:
    """A drawn graph: ``source`` is the DOT text, ``svg()`` the picture; ``save(path)`` writes
    .dot, .svg, .png or .pdf.

    ``renderer`` is "auto" (Graphviz where ``dot`` is installed, else chainrule's own SVG),
    "graphviz" or "chainrule" (SVG only).
    """

    def __init__(self, report: Explanation, renderer: str = "auto"):
        if renderer not in RENDERERS:
            raise ValueError(f"draw: unknown renderer {renderer!r}; use one of "
                             f"{', '.join(RENDERERS)}")
        self.renderer = renderer
        self.picture = picture(report)
        self.legend = LEGEND.format(output=report.output)
        self.source = _dot(*self.picture, self.legend)
        self.boxes = len(report.forward)

    def uses_graphviz(self) -> bool:
        return self.renderer == "graphviz" or (self.renderer == "auto"
                                                and shutil.which("dot") is not None)

    def pipe(self, format: str) -> bytes:
        """The graph rendered by Graphviz's ``dot`` in ``format`` ("svg", "png", "pdf")."""
        program = shutil.which("dot")
        if program is None:
            raise ChainruleError(MISSING_DOT)
        result = subprocess.run([program, f"-T{format}"], input=self.source.encode(),
                                capture_output=True, check=False)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip().splitlines()
            raise ChainruleError(f"Graphviz's dot failed: {message[0] if message else 'no output'}")
        return result.stdout

    def svg(self) -> str:
        """The SVG text, from Graphviz or from chainrule as ``renderer`` says."""
        if self.uses_graphviz():
            return self.pipe("svg").decode()
        return self._our_svg()

    def _our_svg(self) -> str:
        from .draw_svg import to_svg

        return to_svg(*self.picture, self.legend, GRADIENT_COLOUR)

    def save(self, path) -> str:
        """Write the drawing; the suffix picks the format (.png and .pdf need Graphviz)."""
        path = os.fspath(path)
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in FORMATS:
            raise ChainruleError(f"can't draw to {path!r}: use a file ending in "
                                 f"{', '.join(FORMATS)}")
        format = FORMATS[suffix]
        if format == "dot":
            content = self.source.encode()
        elif format == "svg":
            content = self.svg().encode()
        elif self.renderer == "chainrule":
            raise ChainruleError(f"can't draw {path!r}: chainrule draws SVG only; use a file "
                                 "ending in .svg, or Graphviz for .png and .pdf")
        else:
            content = self.pipe(format)
        from .checkpoint import atomic_write

        atomic_write(path, content)
        return path

    def _repr_svg_(self) -> str:
        """Jupyter shows the SVG (Graphviz's where installed, else chainrule's); should Graphviz
        fail, it says why and shows chainrule's."""
        try:
            return self.svg()
        except ChainruleError as failure:
            warnings.warn(str(failure), stacklevel=2)
            return self._our_svg()

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Drawing of {self.boxes} boxes; .source is the DOT text, .save(path) writes it>"


def draw(target, path=None, renderer: str = "auto") -> Drawing:
    """Draw the graph of ``target`` (a Tensor, or the report of ``explain``).

    With ``path`` the drawing is also written there: .dot, .svg (by Graphviz where installed,
    else by chainrule; ``renderer="chainrule"`` or ``"graphviz"`` chooses), .png or .pdf (Graphviz).
    """
    report = explain(target) if isinstance(target, Tensor) else target
    if not isinstance(report, Explanation):
        raise TypeError(f"draw: expected a Tensor or an Explanation, got {type(target).__name__}")
    drawing = Drawing(report, renderer)
    if path is not None:
        drawing.save(path)
    return drawing


@dataclass
class Box:
    """One node as drawn: a value of the forward pass, or a number written in place (a literal)."""
    id: str
    name: str
    kind: str  # "parameter", "input", "constant", "op" or "literal"
    op: str | None = None  # shown under the name when the name does not already say it
    value: str = ""
    signal: str | None = None  # v̄, for the nodes that have one
    requires_grad: bool = True  # False for an op on inputs and numbers alone

    @property
    def look(self) -> str:
        """The style: an op on inputs and numbers alone gets no gradient, and is grey as they."""
        return "data op" if self.kind == "op" and not self.requires_grad else self.kind

    @property
    def tag(self) -> str | None:
        """Said after the name: a leaf's kind, or that an op gets no gradient."""
        return {"op": None, "data op": "no gradient"}.get(self.look, self.kind)


@dataclass
class Arrow:
    """An edge from a parent to the child computed from it, with the term the child sends back."""
    source: str
    target: str
    term: str | None = None  # v̄ⱼ · ∂vⱼ/∂vᵢ, when it is a single number


def picture(report: Explanation) -> tuple[list[Box], list[Arrow]]:
    """What both renderers draw: boxes in forward order, arrows from parents to children."""
    ids = {step.name: f"v{index}" for index, step in enumerate(report.forward)}
    signals = report.signals
    terms = {(term.child, step.name): term for step in report.backward for term in step.terms}
    boxes = []
    for step in report.forward:
        named_after_op = step.kind == "op" and re.fullmatch(re.escape(step.op) + r"\d+", step.name)
        boxes.append(Box(ids[step.name], step.name, step.kind,
                         step.op if step.kind == "op" and not named_after_op else None,
                         summarize(step.value, step.dtype),
                         summarize(signals[step.name]) if step.name in signals else None,
                         step.requires_grad))
    arrows, literals = [], 0
    for step in report.forward:
        for parent in step.parents:
            if parent in ids:
                if any(arrow.source == ids[parent] and arrow.target == ids[step.name]
                       for arrow in arrows):
                    continue  # x * x: one child, one arrow and one term, as in the table
                source = ids[parent]
            else:  # a number written in place, e.g. the 2 of x ** 2
                literals += 1
                source = f"c{literals}"
                boxes.append(Box(source, parent, "literal"))
            term = terms.get((step.name, parent))
            number = term is not None and not hasattr(term.contribution, "shape")
            arrows.append(Arrow(source, ids[step.name],
                                summarize(term.contribution) if number else None))
    return boxes, arrows


def to_dot(report: Explanation) -> str:
    """The DOT text: nodes in forward order, edges from parents to children, left to right."""
    return _dot(*picture(report), LEGEND.format(output=report.output))


def _dot(boxes: list[Box], arrows: list[Arrow], legend: str) -> str:
    lines = ["digraph chainrule {",
             '  rankdir=LR; nodesep=0.3; ranksep=0.45; fontname="Helvetica"; fontsize=11;',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10, color="#566573"];',
             f'  label=<{_escape(legend)}>; labelloc=b;']
    for box in boxes:
        if box.kind == "literal":
            lines.append(f'  {box.id} [shape=plaintext, fontcolor="#7f8c8d", '
                         f'label=<{_escape(box.name)}>];')
            continue
        rows = [f"<b>{_escape(box.name)}</b>" + (f" <i>{box.tag}</i>" if box.tag else "")]
        if box.op:
            rows.append(f"<i>{_escape(box.op)}</i>")
        rows.append(_escape(box.value))
        if box.signal is not None:
            rows.append(f'<font color="{GRADIENT_COLOUR}">v̄ = {_escape(box.signal)}</font>')
        lines.append(f'  {box.id} [{STYLES[box.look]}, label=<{"<br/>".join(rows)}>];')
    for arrow in arrows:
        label = ""
        if arrow.term is not None:
            label = f' [label=<<font color="{GRADIENT_COLOUR}">{_escape(arrow.term)}</font>>]'
        lines.append(f"  {arrow.source} -> {arrow.target}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
