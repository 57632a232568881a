"""Lecture example 7: the multivariate chain rule, where one value feeds two others.

    f(x, y) = y + e^{xy},   x(t) = cos t,   y(t) = t²

    df/dt = ∂f/∂x · dx/dt + ∂f/∂y · dy/dt = y e^{xy} · (−sin t) + (1 + x e^{xy}) · 2t

In the computation graph t has two children (x and y) and y has two (the sum and the product
xy), so their error signals are sums of two terms: v̄ᵢ = Σⱼ v̄ⱼ ∂vⱼ/∂vᵢ. The table printed below
shows both terms of each.

Run:  python examples/07_multivariate_chain_rule.py [--t 1.0]
Also: chainrule explain "x = cos(t); y = t**2; f = y + exp(x*y)" --at t=1
      (each name is one node, so y, used twice, is one node with two children)
"""
import argparse
import math

import chainrule


def by_hand(t: float) -> dict:
    x, y = math.cos(t), t * t
    e_xy = math.exp(x * y)
    return {"x": x, "y": y, "f": y + e_xy,
            "df_dt": y * e_xy * (-math.sin(t)) + (1 + x * e_xy) * 2 * t}


def by_backprop(t: float):
    t = chainrule.tensor(t, dtype=chainrule.float64, requires_grad=True)
    t.name = "t"
    x = t.cos()
    y = t ** 2
    xy = x * y
    f = y + xy.exp()
    x.name, y.name, xy.name, f.name = "x", "y", "xy", "f"
    report = chainrule.explain(f)
    f.backward()
    return {"x": x.item(), "y": y.item(), "f": f.item(), "df_dt": t.grad.item()}, report


def central_difference(t: float, step: float = 1e-6) -> float:
    """(f(t + h) − f(t − h)) / 2h: a check that needs no chain rule at all."""
    return (by_hand(t + step)["f"] - by_hand(t - step)["f"]) / (2 * step)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t", type=float, default=1.0)
    args = parser.parse_args(argv)
    hand = by_hand(args.t)
    engine, report = by_backprop(args.t)
    numeric = central_difference(args.t)

    print(f"The multivariate chain rule at t = {args.t:g}:  f = y + e^(xy),  x = cos t,  y = t²\n")
    print(f"  x = cos t = {hand['x']:.8f}    y = t² = {hand['y']:.8f}    f = {hand['f']:.8f}\n")
    print("  df/dt = y e^(xy) (−sin t) + (1 + x e^(xy)) 2t")
    print(f"        = {hand['df_dt']:.10f}   the slide's formula, by hand")
    print(f"        = {engine['df_dt']:.10f}   chainrule's backward()")
    print(f"        ≈ {numeric:.10f}   central finite difference\n")
    print(report)
    return {"hand": hand, "engine": engine, "numeric": numeric, "report": report}


if __name__ == "__main__":
    main()
