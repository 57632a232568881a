"""Lecture example 9: a two-layer network's backward pass, element by element and vectorised.

The slides give it twice. Element-wise, with indices:
    zᵢ = Σⱼ wᵢⱼ⁽¹⁾xⱼ + bᵢ⁽¹⁾,   hᵢ = σ(zᵢ),   yₖ = Σᵢ wₖᵢ⁽²⁾hᵢ + bₖ⁽²⁾,   L = ½ Σₖ (yₖ − tₖ)²
    ȳₖ = yₖ − tₖ,   w̄ₖᵢ⁽²⁾ = ȳₖhᵢ,   b̄ₖ⁽²⁾ = ȳₖ,   h̄ᵢ = Σₖ ȳₖwₖᵢ⁽²⁾,
    z̄ᵢ = h̄ᵢσ′(zᵢ),   w̄ᵢⱼ⁽¹⁾ = z̄ᵢxⱼ,   b̄ᵢ⁽¹⁾ = z̄ᵢ
and vectorised (one example, column vectors):
    z = W⁽¹⁾x + b⁽¹⁾,   h = σ(z),   y = W⁽²⁾h + b⁽²⁾,   L = ½‖t − y‖²
    ȳ = y − t,   W̄⁽²⁾ = ȳ hᵀ,   b̄⁽²⁾ = ȳ,   h̄ = W⁽²⁾ᵀ ȳ,
    z̄ = h̄ ∘ σ′(z),   W̄⁽¹⁾ = z̄ xᵀ,   b̄⁽¹⁾ = z̄

Both are written out below, the first as Python loops over the indices, the second in NumPy,
and compared with each other and with the gradients chainrule's backward() finds by itself.
W⁽¹⁾ has one row per hidden unit and one column per input (outputs × inputs), as nn.Linear
stores its weight: see docs/notation.md.

Run:  python examples/09_two_layer_backprop.py [--inputs 4 --hidden 5 --outputs 3 --seed 0]
"""
import argparse
import math
import unicodedata

import numpy

import chainrule


def elementwise_formulas(x, t, W1, b1, W2, b2) -> dict:
    """The slide's index form, one loop per formula, in plain Python floats."""
    def sigmoid(value):
        return 1 / (1 + math.exp(-value))

    hidden, inputs, outputs = len(b1), len(x), len(b2)
    z = [sum(W1[i][j] * x[j] for j in range(inputs)) + b1[i] for i in range(hidden)]
    h = [sigmoid(z[i]) for i in range(hidden)]
    y = [sum(W2[k][i] * h[i] for i in range(hidden)) + b2[k] for k in range(outputs)]
    y_bar = [y[k] - t[k] for k in range(outputs)]
    W2_bar = [[y_bar[k] * h[i] for i in range(hidden)] for k in range(outputs)]
    b2_bar = list(y_bar)
    h_bar = [sum(y_bar[k] * W2[k][i] for k in range(outputs)) for i in range(hidden)]
    z_bar = [h_bar[i] * h[i] * (1 - h[i]) for i in range(hidden)]     # σ′(zᵢ) = hᵢ(1 − hᵢ)
    W1_bar = [[z_bar[i] * x[j] for j in range(inputs)] for i in range(hidden)]
    b1_bar = list(z_bar)
    loss = 0.5 * sum((y[k] - t[k]) ** 2 for k in range(outputs))
    return {name: numpy.array(value) for name, value in (
        ("ȳ", y_bar), ("W̄⁽²⁾", W2_bar), ("b̄⁽²⁾", b2_bar), ("h̄", h_bar), ("z̄", z_bar),
        ("W̄⁽¹⁾", W1_bar), ("b̄⁽¹⁾", b1_bar), ("L", loss))}


def slide_formulas(x, t, W1, b1, W2, b2) -> dict:
    """The slide's vectorised backward pass, line by line, in NumPy."""
    z = W1 @ x + b1
    h = 1 / (1 + numpy.exp(-z))
    y = W2 @ h + b2
    y_bar = y - t
    W2_bar = numpy.outer(y_bar, h)       # ȳ hᵀ
    b2_bar = y_bar
    h_bar = W2.T @ y_bar
    z_bar = h_bar * h * (1 - h)          # h̄ ∘ σ′(z)
    W1_bar = numpy.outer(z_bar, x)       # z̄ xᵀ
    b1_bar = z_bar
    return {"ȳ": y_bar, "W̄⁽²⁾": W2_bar, "b̄⁽²⁾": b2_bar, "h̄": h_bar, "z̄": z_bar,
            "W̄⁽¹⁾": W1_bar, "b̄⁽¹⁾": b1_bar, "L": 0.5 * float(((y - t) ** 2).sum())}


def by_backprop(x, t, W1, b1, W2, b2) -> dict:
    W1, b1, W2, b2 = (chainrule.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2))
    z = W1 @ chainrule.tensor(x) + b1
    h = z.sigmoid()
    y = W2 @ h + b2
    loss = 0.5 * ((y - chainrule.tensor(t)) ** 2).sum()
    for tensor in (y, h, z):
        tensor.retain_grad()
    loss.backward()
    return {"ȳ": y.grad.numpy(), "W̄⁽²⁾": W2.grad.numpy(), "b̄⁽²⁾": b2.grad.numpy(),
            "h̄": h.grad.numpy(), "z̄": z.grad.numpy(), "W̄⁽¹⁾": W1.grad.numpy(),
            "b̄⁽¹⁾": b1.grad.numpy(), "L": loss.item()}


def run(inputs: int = 4, hidden: int = 5, outputs: int = 3, seed: int = 0) -> dict:
    rng = numpy.random.default_rng(seed)
    x, t = rng.normal(size=inputs), rng.normal(size=outputs)
    W1, b1 = rng.normal(size=(hidden, inputs)), rng.normal(size=hidden)
    W2, b2 = rng.normal(size=(outputs, hidden)), rng.normal(size=outputs)
    return {"elementwise": elementwise_formulas(x, t, W1, b1, W2, b2),
            "slide": slide_formulas(x, t, W1, b1, W2, b2),
            "engine": by_backprop(x, t, W1, b1, W2, b2)}


FORMULAS = {"ȳ": "y − t", "W̄⁽²⁾": "ȳ hᵀ", "b̄⁽²⁾": "ȳ", "h̄": "W⁽²⁾ᵀ ȳ",
            "z̄": "h̄ ∘ σ′(z)", "W̄⁽¹⁾": "z̄ xᵀ", "b̄⁽¹⁾": "z̄"}


def left(text: str, width: int) -> str:
    """Pad to ``width`` terminal columns: the bar of z̄ is a combining mark and takes none."""
    return text + " " * (width - sum(not unicodedata.combining(c) for c in text))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=5)
    parser.add_argument("--outputs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.inputs, args.hidden, args.outputs, args.seed)
    slide, engine, elementwise = result["slide"], result["engine"], result["elementwise"]

    print(f"Two-layer network {args.inputs}-{args.hidden}-{args.outputs}, sigmoid hidden units, "
          f"L = ½‖y − t‖² = {engine['L']:.10f}\n")
    print("  vectorised formula   shape   max |indices − vectorised|  max |vectorised − chainrule|")
    for name, formula in FORMULAS.items():
        by_index = numpy.abs(elementwise[name] - slide[name]).max()
        difference = numpy.abs(slide[name] - engine[name]).max()
        shape = "×".join(str(n) for n in slide[name].shape)
        print(f"  {left(name + ' = ' + formula, 19)}  {shape:<6}  {by_index:>26.2e}  "
              f"{difference:>28.2e}")
    print(f"\n  W̄⁽¹⁾ by the slide:\n{numpy.array2string(slide['W̄⁽¹⁾'], precision=6)}")
    print(f"  W̄⁽¹⁾ by chainrule:\n{numpy.array2string(engine['W̄⁽¹⁾'], precision=6)}")
    return result


if __name__ == "__main__":
    main()
