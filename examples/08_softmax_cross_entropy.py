"""Lecture example 8: the chain rules' "another example", softmax and cross-entropy.

    z_ℓ = Σⱼ w_ℓⱼ xⱼ + b_ℓ,   y_k = e^{z_k} / Σ_ℓ e^{z_ℓ},   L = −Σ_k t_k log y_k

with t one-hot. The slide poses this computation and leaves its derivatives to work out. This
example adds the answer: ∂L/∂z_k = y_k − t_k, so W̄ = (y − t) xᵀ and b̄ = y − t. The loss is
built from the slide's pieces (softmax, log, product, sum), so backpropagation goes through each
of them, and it is compared with the fused ``F.cross_entropy``. Classes are numbered from 0 here,
from 1 on the slides.

Run:  python examples/08_softmax_cross_entropy.py [--classes 4 --features 3 --label 2 --seed 0]
"""
import argparse

import numpy

import chainrule
import chainrule.nn.functional as F


def run(classes: int = 4, features: int = 3, label: int = 2, seed: int = 0) -> dict:
    rng = numpy.random.default_rng(seed)
    x = chainrule.tensor(rng.normal(size=features))
    weight = chainrule.tensor(rng.normal(size=(classes, features)), requires_grad=True)
    bias = chainrule.tensor(rng.normal(size=classes), requires_grad=True)
    target = numpy.eye(classes)[label]

    z = weight @ x + bias
    z.retain_grad()
    y = z.softmax(dim=0)
    loss = -(chainrule.tensor(target) * y.log()).sum()
    loss.backward()

    probabilities = y.detach().numpy()
    fused_logits = chainrule.tensor(z.detach().numpy()[None, :], requires_grad=True)
    fused = F.cross_entropy(fused_logits, chainrule.tensor([label]))
    fused.backward()
    return {"z": z.detach().numpy(), "y": probabilities, "t": target, "L": loss.item(),
            "z_bar": z.grad.numpy(), "y_minus_t": probabilities - target,
            "W_bar": weight.grad.numpy(), "outer": numpy.outer(probabilities - target, x.numpy()),
            "b_bar": bias.grad.numpy(), "fused_L": fused.item(),
            "fused_z_bar": fused_logits.grad.numpy()[0]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--features", type=int, default=3)
    parser.add_argument("--label", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.classes, args.features, args.label, args.seed)

    print(f"Softmax and cross-entropy: {args.classes} classes, {args.features} features, "
          f"true class {args.label}\n")
    print("   k        z_k        y_k   t_k   z̄_k (backprop)      y_k − t_k")
    for k in range(args.classes):
        print(f"  {k:2d} {result['z'][k]:10.5f} {result['y'][k]:10.5f} {result['t'][k]:5.0f} "
              f"{result['z_bar'][k]:16.10f} {result['y_minus_t'][k]:14.10f}")
    print(f"\n  L = −Σ t_k log y_k = {result['L']:.10f}   (fused F.cross_entropy: "
          f"{result['fused_L']:.10f})")
    checks = [("max |z̄ − (y − t)|      ", "z_bar", "y_minus_t"),
              ("max |W̄ − (y − t)xᵀ|    ", "W_bar", "outer"),
              ("max |b̄ − (y − t)|      ", "b_bar", "y_minus_t"),
              ("max |fused z̄ − (y − t)|", "fused_z_bar", "y_minus_t")]
    for label, computed, expected in checks:
        print(f"  {label} = {abs(result[computed] - result[expected]).max():.2e}")
    return result


if __name__ == "__main__":
    main()
