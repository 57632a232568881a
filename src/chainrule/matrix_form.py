"""Backprop on a real minibatch, as the slides write it in matrix form.

``chainrule.explain(loss).matrix_form()`` takes the explanation of a step through an MLP and, for
each layer's op, writes the vectorised VJP the lecture derives — for z = Wx + b,
W̄ = z̄ xᵀ, x̄ = Wᵀ z̄, b̄ = z̄ (summed over the minibatch's rows); for h = σ(z),
z̄ = h̄ ⊙ σ(z)(1 − σ(z)); for the mean cross-entropy of a softmax, z̄ = (softmax(z) − onehot(t))/N —
computes it from the forward values and the error signals, and sets it beside the gradient the
engine's VJP gave, with the largest difference. The slides use column vectors; a minibatch holds
one example per row, so z̄ xᵀ summed over the examples is ``z̄ᵀ x`` on the arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy

from .explain import Explanation, summarize


@dataclass
class MatrixStep:
    """One gradient by the slide's formula, and the engine's."""
    name: str            # the value whose gradient this is (x̄, W̄, …)
    op: str              # the child op the gradient came through
    formula: str
    shape: tuple
    by_formula: numpy.ndarray
    by_engine: numpy.ndarray

    @property
    def difference(self) -> float:
        return float(numpy.max(numpy.abs(self.by_formula - self.by_engine), initial=0.0))


class MatrixForm(list):
    """The steps of ``matrix_form``; prints as a table."""

    def __str__(self) -> str:
        rows = [(step.name + "̄", step.formula, "×".join(map(str, step.shape)) or "scalar",
                 summarize(step.by_formula), f"{step.difference:.1e}") for step in self]
        header = ("gradient", "the slide's formula", "shape", "value", "|formula − engine|")
        widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
        lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                 for row in [header] + rows]
        return "Backward pass in matrix form (one example per row of the minibatch)\n" + \
            "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        cells = "".join(f"<tr><td>{escape(s.name)}̄</td><td>{escape(s.formula)}</td>"
                        f"<td>{'×'.join(map(str, s.shape))}</td>"
                        f"<td>{escape(summarize(s.by_formula))}</td><td>{s.difference:.1e}</td></tr>"
                        for s in self)
        return ("<p><b>Backward pass in matrix form</b></p><table><thead><tr><th>gradient</th>"
                "<th>the slide's formula</th><th>shape</th><th>value</th>"
                f"<th>|formula − engine|</th></tr></thead><tbody>{cells}</tbody></table>")


def matrix_form(report: Explanation) -> MatrixForm:
    values, signals = report.values, report.signals
    engine = {(step.name, term.child): term.contribution
              for step in report.backward for term in step.terms}
    steps = MatrixForm()
    for step in reversed(report.forward):  # the backward pass's order: output side first
        rule = _RULES.get(step.op)
        if rule is None or step.name not in signals:
            continue
        for parent, formula, gradient in rule(step, values, _array(signals[step.name])):
            if (parent, step.name) in engine:
                steps.append(MatrixStep(parent, step.op, formula, numpy.shape(gradient),
                                        numpy.asarray(gradient),
                                        _array(engine[(parent, step.name)])))
    return steps


def _array(value) -> numpy.ndarray:
    return numpy.asarray(value, dtype=numpy.float64)


def _rows(array: numpy.ndarray) -> numpy.ndarray:
    """A minibatch of any rank as (examples, features)."""
    return array.reshape(-1, array.shape[-1]) if array.ndim > 1 else array.reshape(1, -1)


def _linear(step, values, z_bar):
    x, weight = step.parents[0], step.parents[1]
    X, W = _array(values[x]), _array(values[weight])
    Z_bar = _rows(z_bar)
    z = step.name
    yield x, f"{x}̄ = {weight}ᵀ {z}̄", (Z_bar @ W).reshape(X.shape)
    yield weight, f"{weight}̄ = Σₙ {z}̄ₙ {x}ₙᵀ", Z_bar.T @ _rows(X)
    if len(step.parents) > 2:
        yield step.parents[2], f"{step.parents[2]}̄ = Σₙ {z}̄ₙ", Z_bar.sum(axis=0)


def _sigmoid(step, values, h_bar):
    h = _array(values[step.name])
    yield step.parents[0], f"{step.parents[0]}̄ = {step.name}̄ ⊙ σ(z)(1 − σ(z))", h_bar * h * (1 - h)


def _tanh(step, values, h_bar):
    h = _array(values[step.name])
    yield step.parents[0], f"{step.parents[0]}̄ = {step.name}̄ ⊙ (1 − tanh²(z))", h_bar * (1 - h * h)


def _relu(step, values, h_bar):
    z = _array(values[step.parents[0]])
    yield step.parents[0], f"{step.parents[0]}̄ = {step.name}̄ ⊙ [z > 0]", h_bar * (z > 0)


def _softmax_minus_onehot(step, values):
    logits = _array(values[step.parents[0]])
    labels = numpy.asarray(values[step.parents[1]]).astype(int)
    shifted = numpy.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
    onehot = numpy.eye(logits.shape[-1])[labels]
    return probabilities - onehot


def _cross_entropy_mean(step, values, loss_bar):
    difference = _softmax_minus_onehot(step, values)
    count = difference.shape[0]
    z = step.parents[0]
    yield z, f"{z}̄ = (softmax({z}) − onehot({step.parents[1]}))/N · {step.name}̄", \
        difference / count * float(loss_bar)


def _cross_entropy_per_sample(step, values, loss_bar):
    z = step.parents[0]
    yield z, f"{z}̄ = (softmax({z}) − onehot({step.parents[1]})) ⊙ {step.name}̄", \
        _softmax_minus_onehot(step, values) * loss_bar[..., None]


_RULES = {"linear": _linear, "sigmoid": _sigmoid, "tanh": _tanh, "relu": _relu,
          "cross_entropy_mean": _cross_entropy_mean,
          "cross_entropy_per_sample": _cross_entropy_per_sample}
