"""Lecture example 6: the univariate chain rule, by hand and by backpropagation.

    z = wx + b,   y = σ(z),   L = ½(y − t)²

The slides write the derivatives with the error-signal notation v̄ = dL/dv, from the top down:

    ȳ = y − t,   z̄ = ȳ σ′(z),   w̄ = z̄ x,   b̄ = z̄

(with L̄ = 1 for the loss itself, as their backpropagation slide starts). The slides give these
formulas, not numbers; the values below are at a point this example chooses.

Run:  python examples/06_univariate_chain_rule.py [--w 0.5 --x 2 --b 0.1 --t 1]
The same computation on the command line, step by step as the slide writes it:
      chainrule explain "z = w*x + b; y = sigmoid(z); L = 0.5*(y - t)**2" \
          --at w=0.5 x=2 b=0.1 t=1 --data x t
"""
import argparse
import math
import unicodedata

import chainrule


def by_hand(w: float, x: float, b: float, t: float) -> dict:
    """The slide's formulas, in plain Python floats."""
    z = w * x + b
    y = 1 / (1 + math.exp(-z))
    loss = 0.5 * (y - t) ** 2
    y_bar = y - t
    z_bar = y_bar * y * (1 - y)  # σ′(z) = σ(z)(1 − σ(z))
    return {"z": z, "y": y, "L": loss, "L_bar": 1.0, "y_bar": y_bar, "z_bar": z_bar,
            "w_bar": z_bar * x, "b_bar": z_bar}


def by_backprop(w: float, x: float, b: float, t: float):
    """The same computation in chainrule: w and b are parameters, x and t inputs."""
    def leaf(value, name, requires_grad=False):
        tensor = chainrule.tensor(value, dtype=chainrule.float64, requires_grad=requires_grad)
        tensor.name = name
        return tensor

    w, x, b, t = leaf(w, "w", True), leaf(x, "x"), leaf(b, "b", True), leaf(t, "t")
    z = w * x + b
    y = z.sigmoid()
    loss = 0.5 * (y - t) ** 2
    z.name, y.name, loss.name = "z", "y", "L"
    report = chainrule.explain(loss)  # the tables; it leaves the graph for backward()
    for tensor in (z, y):
        tensor.retain_grad()
    loss.backward()
    engine = {"z": z.item(), "y": y.item(), "L": loss.item(), "L_bar": 1.0,
              "y_bar": y.grad.item(), "z_bar": z.grad.item(), "w_bar": w.grad.item(),
              "b_bar": b.grad.item()}
    return engine, report


def left(text: str, width: int) -> str:
    """Pad to ``width`` terminal columns: the bar of z̄ is a combining mark and takes none."""
    return text + " " * (width - sum(not unicodedata.combining(c) for c in text))


FORMULAS = [("z", "z = wx + b"), ("y", "y = σ(z)"), ("L", "L = ½(y − t)²"),
            ("L_bar", "L̄ = 1"), ("y_bar", "ȳ = y − t"), ("z_bar", "z̄ = ȳ σ′(z)"),
            ("w_bar", "w̄ = z̄ x"), ("b_bar", "b̄ = z̄")]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("w", 0.5), ("x", 2.0), ("b", 0.1), ("t", 1.0)):
        parser.add_argument(f"--{name}", type=float, default=default)
    args = parser.parse_args(argv)
    hand = by_hand(args.w, args.x, args.b, args.t)
    engine, report = by_backprop(args.w, args.x, args.b, args.t)

    print(f"The univariate chain rule at w={args.w:g}, x={args.x:g}, b={args.b:g}, t={args.t:g}\n")
    print(f"  {'the slide':<16}{'by hand':>14}{'chainrule':>14}")
    for key, formula in FORMULAS:
        print(f"  {left(formula, 16)}{hand[key]:>14.8f}{engine[key]:>14.8f}")
    print()
    print(report)
    return {"hand": hand, "engine": engine, "report": report}


if __name__ == "__main__":
    main()
