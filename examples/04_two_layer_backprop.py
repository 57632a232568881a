"""Lecture example 4: the two-layer network's backward pass in vectorised form.

Forward (one example, column vectors):
    z = W⁽¹⁾x + b⁽¹⁾,   h = σ(z),   y = W⁽²⁾h + b⁽²⁾,   L = ½‖y − t‖²

The slide's backward pass:
    ȳ = y − t,   W̄⁽²⁾ = ȳ hᵀ,   b̄⁽²⁾ = ȳ,   h̄ = W⁽²⁾ᵀ ȳ,
    z̄ = h̄ ∘ σ′(z),   W̄⁽¹⁾ = z̄ xᵀ,   b̄⁽¹⁾ = z̄

Those seven lines are written out in NumPy below and compared, element by element, with the
gradients chainrule's backward() finds by itself.

Run:  python examples/04_two_layer_backprop.py [--inputs 4 --hidden 5 --outputs 3 --seed 0]
"""
import argparse
import unicodedata

import numpy

import chainrule


def slide_formulas(x, t, W1, b1, W2, b2) -> dict:
    """The slide's backward pass, line by line, in NumPy."""
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
    return {"slide": slide_formulas(x, t, W1, b1, W2, b2),
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
    slide, engine = result["slide"], result["engine"]

    print(f"Two-layer network {args.inputs}-{args.hidden}-{args.outputs}, sigmoid hidden units, "
          f"L = ½‖y − t‖² = {engine['L']:.10f}\n")
    print("  the slide's formula  shape   max |slide − chainrule|  largest entry")
    for name, formula in FORMULAS.items():
        difference = numpy.abs(slide[name] - engine[name]).max()
        shape = "×".join(str(n) for n in slide[name].shape)
        print(f"  {left(name + ' = ' + formula, 19)}  {shape:<6}  "
              f"{difference:>23.2e}  {numpy.abs(slide[name]).max():>13.6f}")
    print(f"\n  W̄⁽¹⁾ by the slide:\n{numpy.array2string(slide['W̄⁽¹⁾'], precision=6)}")
    print(f"  W̄⁽¹⁾ by chainrule:\n{numpy.array2string(engine['W̄⁽¹⁾'], precision=6)}")
    return result


if __name__ == "__main__":
    main()
