"""``chainrule explain "EXPRESSION" --at NAME=VALUE ...``: watch backpropagation on a formula.

The expression language is chainrule.expression; this module parses the command line, calls it
and chainrule.explain, and prints.
"""
from __future__ import annotations

import argparse
import sys
import json
import math
import re

from ..errors import ChainruleError
from ..expression import FUNCTIONS, evaluate, parse, variables_of

EXAMPLES = """examples:
  chainrule explain "z = w*x + b; y = sigmoid(z); L = 0.5*(y - t)**2" \\
      --at w=0.5 x=2 b=0.1 t=1 --data x t         (x and t are data: no gradient)
  chainrule explain "x = cos(t); y = t**2; f = y + exp(x*y)" --at t=1
                                                  (t and y each have two children: two terms)
  chainrule explain "y + exp(x * y)" --at x=0.5 y=2 --draw graph.svg
  chainrule explain "x * x + sin(x)" --at x=3     (x has two children: two terms, and
                                                  ∂(x·x)/∂x = 2x is one of them)
  chainrule explain "-x**2" --at x=3              (an expression may start with -)
"""


def parse_values(items) -> dict[str, float]:
    """``["w=0.5", "x=2,b=0.1"]`` -> {"w": 0.5, "x": 2.0, "b": 0.1}."""
    values = {}
    for item in items or []:
        for assignment in filter(None, item.split(",")):
            name, equals, number = assignment.partition("=")
            name = name.strip()
            if not equals or not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise ChainruleError(f"--at {assignment}: expected NAME=VALUE, e.g. w=0.5")
            try:
                values[name] = float(number)
            except ValueError:
                raise ChainruleError(f"--at {assignment}: {number.strip()!r} is not a number") \
                    from None
    return values


def _without_nan(data):
    """JSON has no NaN or Infinity (Python writes them anyway, and jq or a browser refuses the
    file): log(-1) and its kin are written as the strings "nan", "inf" and "-inf"."""
    if isinstance(data, dict):
        return {key: _without_nan(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_without_nan(value) for value in data]
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    return data


def _first_undefined(report) -> str | None:
    """The first value that is nan or infinite though its arguments are numbers: log(-1) is
    nan, yet the table still gives ∂log/∂x = 1/x = -1, a number a student would trust."""
    from ..explain import summarize

    values = report.values  # single numbers: the expression language has no tensors
    for step in report.forward:
        if step.kind != "op" or math.isfinite(step.value):
            continue
        arguments = [summarize(values[parent]) if parent in values else parent  # a literal
                     for parent in step.parents]
        if all(math.isfinite(float(argument)) for argument in arguments):
            return f"{step.name} = {step.op}({', '.join(arguments)}) is {summarize(step.value)}"
    return None


# ---------------------------------------------------------------- the command
def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain", help="show backpropagation on a formula, in the lecture's notation",
        description="Evaluate EXPRESSION with chainrule and print the forward pass in topological "
                    "order and the backward pass as the lecture's table: each error signal "
                    "v̄ᵢ = Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ with one term per child j. The language: numbers, "
                    "variables, + - * / ** (or ^), unary minus, parentheses, and the functions "
                    + ", ".join(sorted(FUNCTIONS)) + ". Named steps separated by ';' "
                    "(z = w*x + b; y = sigmoid(z)) are one node each, under their names; the "
                    "last step is the output.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.dash_words_are_values = True
    parser.add_argument("expression", help='the formula, quoted, e.g. "w * x + b"')
    parser.add_argument("--at", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                        help="the value of each variable, e.g. --at w=0.5 x=2 (a value for a "
                             "variable the expression does not use is ignored)")
    parser.add_argument("--data", nargs="+", action="extend", default=[], metavar="NAME",
                        help="the variables that are data, such as an input x or a label t: "
                             "they get no gradient, nor does a step computed from them alone, "
                             "which the forward table lists as '(no gradient)' (default: none, "
                             "so every variable does)")
    parser.add_argument("--wrt", nargs="+", action="extend", metavar="NAME",
                        help="instead of --data, the variables that require grad; the others "
                             "are inputs, shown without a gradient")
    parser.add_argument("--draw", metavar="PATH",
                        help="also draw the graph to PATH: .dot, .svg (by Graphviz's dot program "
                             "where installed, else by chainrule), .png or .pdf (these need dot)")
    parser.add_argument("--draw-with", choices=["auto", "graphviz", "chainrule"], default="auto",
                        help="who draws the SVG: auto (Graphviz where installed, else chainrule), "
                             "graphviz, or chainrule (default: auto)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON instead of the tables (a value that "
                             "is not a number, or infinite, as the string \"nan\", \"inf\" "
                             "or \"-inf\")")
    parser.add_argument("--step", action="store_true",
                        help="after the forward table, show the backward pass one chain-rule term "
                             "at a time, pausing for Enter after each (on a terminal)")
    parser.set_defaults(handler=run)


def step_through(report) -> None:
    """The forward table, then each term v̄ⱼ · ∂vⱼ/∂vᵢ as the engine adds it; on a terminal, wait
    for Enter after each (q then Enter shows the rest at once)."""
    print(report.forward_table())
    print(f"\nBackward pass, one term at a time: v̄ᵢ = ∂{report.output}/∂vᵢ = Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ, "
          f"starting from v̄({report.output}) = 1")
    pausing = sys.stdin.isatty() and sys.stdout.isatty()
    steps = list(report.steps())
    for number, step in enumerate(steps, 1):
        print(f"  {number:>3}. {step}", flush=True)
        if pausing and number < len(steps):
            try:
                answer = input("       (Enter: next term, q: the rest) ")
            except EOFError:  # Ctrl-D: as q, the rest at once (not a traceback)
                answer = "q"
                print()
            if answer.strip().lower() == "q":
                pausing = False
    print()


def run(args) -> int:
    from ..draw import draw
    from ..explain import explain, summarize

    values = parse_values(args.at)
    output = evaluate(args.expression, values, args.wrt, args.data)
    report = explain(output)
    if args.json:
        print(json.dumps(_without_nan(report.to_dict()), indent=2, allow_nan=False))
    else:
        steps = parse(args.expression)
        variables = variables_of(steps)
        given = ", ".join(f"{name}={values[name]:g}" for name in variables)
        data = [name for name in variables if name not in report.signals]
        if data:
            given += f"   (data, no gradient: {', '.join(data)})"
        parts = [part.strip() for part in args.expression.split(";") if part.strip()]
        # the output's name goes before its own step, not the first, and not before itself
        if steps[-1].name is None and parts[-1] != report.output:
            parts[-1] = f"{report.output} = {parts[-1]}"
        print(f"{'; '.join(parts)}   at {given}\n")
        if args.step:
            step_through(report)
        else:
            print(report)
        signals = report.signals
        gradients = ", ".join(f"∂{report.output}/∂{name} = {summarize(signals[name])}"
                              for name in variables if name in signals)
        print(f"\nGradients: {gradients}")
        undefined = _first_undefined(report)
        if undefined:
            print(f"note: {undefined}: what is computed from it, and every gradient through it, "
                  f"is not a derivative of {report.output} at this point")
    if args.draw:
        draw(report, args.draw, renderer=args.draw_with)
        if not args.json:
            print(f"Drew the graph to {args.draw}")
    return 0
