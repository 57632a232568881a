"""The computation graph as a picture: Graphviz DOT text, rendered to SVG or PNG by ``dot``.

One box per op with its value and its error signal (gradient); parameters (leaves that require
grad) are drawn apart from inputs and constants; each edge carries the term it sends back,
v̄ⱼ · ∂vⱼ/∂vᵢ, when the values are single numbers.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import warnings

from .errors import ChainruleError
from .explain import Explanation, explain, summarize
from .tensor import Tensor

MISSING_DOT = ("Graphviz's `dot` program was not found; install graphviz "
               "(apt-get install graphviz / brew install graphviz) or write .dot")
FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}

# Colours: values in black, gradients in red (as the lecture's backward arrows).
GRADIENT_COLOUR = "#b03a2e"
STYLES = {
    "parameter": 'shape=box, style="rounded,filled,bold", fillcolor="#fdebd0", peripheries=2',
    "input": 'shape=box, style="rounded,filled", fillcolor="#eaecee"',
    "constant": 'shape=box, style="rounded,dashed", color="#7f8c8d"',
    "op": 'shape=box, style="rounded,filled", fillcolor="#d6eaf8"',
}
LEGEND = ("values in black, gradients v̄ = ∂{output}/∂v in red; double orange boxes are parameters "
          "(leaves that require grad), grey boxes inputs, blue boxes ops")


class Drawing:
    """A drawn graph: ``source`` is the DOT text; ``save(path)`` writes .dot, .svg or .png."""

    def __init__(self, source: str, boxes: int):
        self.source = source
        self.boxes = boxes

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

    def save(self, path) -> str:
        """Write the drawing; the suffix picks the format (.dot and .gv need no Graphviz)."""
        path = os.fspath(path)
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in FORMATS:
            raise ChainruleError(f"can't draw to {path!r}: use a file ending in "
                                 f"{', '.join(FORMATS)}")
        if FORMATS[suffix] == "dot":
            content = self.source.encode()
        else:
            content = self.pipe(FORMATS[suffix])
        from .checkpoint import atomic_write

        atomic_write(path, content)
        return path

    def _repr_svg_(self):
        """Jupyter shows the SVG; without Graphviz it says why and falls back to the text."""
        try:
            return self.pipe("svg").decode()
        except ChainruleError as missing:
            warnings.warn(str(missing), stacklevel=2)
            return None

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Drawing of {self.boxes} boxes; .source is the DOT text, .save(path) writes it>"


def draw(target, path=None) -> Drawing:
    """Draw the graph of ``target`` (a Tensor, or the report of ``explain``).

    With ``path`` the drawing is also written there (.dot always; .svg/.png need Graphviz).
    """
    report = explain(target) if isinstance(target, Tensor) else target
    if not isinstance(report, Explanation):
        raise TypeError(f"draw: expected a Tensor or an Explanation, got {type(target).__name__}")
    drawing = Drawing(to_dot(report), len(report.forward))
    if path is not None:
        drawing.save(path)
    return drawing


def to_dot(report: Explanation) -> str:
    """The DOT text: nodes in forward order, edges from parents to children, left to right."""
    ids = {step.name: f"v{index}" for index, step in enumerate(report.forward)}
    signals = report.signals
    terms: dict[tuple, list] = {}  # (child, parent) -> its terms; x * x has two
    for step in report.backward:
        for term in step.terms:
            terms.setdefault((term.child, step.name), []).append(term)
    lines = ["digraph chainrule {",
             '  rankdir=LR; nodesep=0.3; ranksep=0.45; fontname="Helvetica"; fontsize=11;',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10, color="#566573"];',
             f'  label=<{_escape(LEGEND.format(output=report.output))}>; labelloc=b;']
    for step in report.forward:
        rows = [f"<b>{_escape(step.name)}</b>"
                + ("" if step.kind == "op" else f" <i>{step.kind}</i>")]
        if step.kind == "op" and not re.fullmatch(re.escape(step.op) + r"\d+", step.name):
            rows.append(f"<i>{_escape(step.op)}</i>")
        rows.append(_escape(summarize(step.value, step.dtype)))
        if step.name in signals:
            signal = summarize(signals[step.name])
            rows.append(f'<font color="{GRADIENT_COLOUR}">v̄ = {_escape(signal)}</font>')
        lines.append(f'  {ids[step.name]} [{STYLES[step.kind]}, label=<{"<br/>".join(rows)}>];')
    literals = 0
    for step in report.forward:
        for parent in step.parents:
            if parent not in ids:  # a number written in place, e.g. the 2 of x ** 2
                literals += 1
                source = f"c{literals}"
                lines.append(f'  {source} [shape=plaintext, fontcolor="#7f8c8d", '
                             f'label=<{_escape(parent)}>];')
            else:
                source = ids[parent]
            shares = terms.get((step.name, parent))
            term = shares.pop(0) if shares else None
            label = ""
            if term is not None and not hasattr(term.contribution, "shape"):
                label = (f' [label=<<font color="{GRADIENT_COLOUR}">'
                         f'{_escape(summarize(term.contribution))}</font>>]')
            lines.append(f"  {source} -> {ids[step.name]}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
