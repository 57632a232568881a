"""Lecture example 2: logistic regression, from the likelihood's product to its gradient.

The slides: h_θ(x) = σ(θᵀx) is read as P(y = 1 | x; θ), so P(y = 0 | x; θ) = 1 − h_θ(x). Both
cases are one expression, h^y (1 − h)^(1−y), which picks h when y = 1 and 1 − h when y = 0
(the slide's "if-then" written as a power). Over n independent samples the likelihood is the
product, and its log the sum:

    L(θ) = Πᵢ h_θ(x⁽ⁱ⁾)^y⁽ⁱ⁾ (1 − h_θ(x⁽ⁱ⁾))^(1−y⁽ⁱ⁾)
    ℓ(θ) = log L(θ) = Σᵢ y⁽ⁱ⁾ log h_θ(x⁽ⁱ⁾) + (1 − y⁽ⁱ⁾) log(1 − h_θ(x⁽ⁱ⁾))

The slides stop at ℓ(θ) and maximum likelihood. This example adds the rest: it checks that
the log of the product is the sum (on a few samples: the product of thousands of probabilities
underflows to 0 in floating point, one practical reason for the log), lets backward() find
∇ℓ, compares it with the closed form Σᵢ (y⁽ⁱ⁾ − h_θ(x⁽ⁱ⁾)) x⁽ⁱ⁾ (a standard result the slides
do not state), and climbs ℓ by a few steps of gradient ascent, θ ← θ + α∇ℓ(θ).

Run:  python examples/02_logistic_regression.py [--samples 200 --seed 0 --steps 5]
"""
import argparse

import numpy

import chainrule


def make_data(samples: int, seed: int):
    """Two Gaussian clouds in 2-D; a first column of ones carries the intercept θ₀."""
    rng = numpy.random.default_rng(seed)
    labels = rng.integers(0, 2, size=samples).astype(float)
    points = rng.normal(size=(samples, 2)) + numpy.where(labels[:, None] == 1, 1.0, -1.0)
    return numpy.column_stack([numpy.ones(samples), points]), labels


def log_likelihood(theta: chainrule.Tensor, X, y) -> chainrule.Tensor:
    h = (chainrule.tensor(X) @ theta).sigmoid()
    y = chainrule.tensor(y)
    return (y * h.log() + (1 - y) * (1 - h).log()).sum()


def likelihood_product(theta: chainrule.Tensor, X, y) -> chainrule.Tensor:
    """L(θ) = Πᵢ h^y (1 − h)^(1−y): each factor is P(y⁽ⁱ⁾ | x⁽ⁱ⁾; θ)."""
    h = (chainrule.tensor(X) @ theta).sigmoid()
    y = chainrule.tensor(y)
    factors = h ** y * (1 - h) ** (1 - y)
    product = factors[0]
    for factor in factors[1:]:
        product = product * factor
    return product


def slide_gradient(theta, X, y):
    h = 1 / (1 + numpy.exp(-X @ theta))
    return ((y - h)[:, None] * X).sum(axis=0)  # Σᵢ (yᵢ − h_θ(xᵢ)) xᵢ


def run(samples: int = 200, seed: int = 0, steps: int = 5, lr: float = 0.01) -> dict:
    X, y = make_data(samples, seed)
    theta = chainrule.tensor(numpy.array([0.1, -0.2, 0.3]), requires_grad=True)
    ell = log_likelihood(theta, X, y)
    ell.backward()
    few = slice(0, 8)
    product = likelihood_product(theta.detach(), X[few], y[few]).item()
    result = {"theta": theta.detach().numpy().copy(), "ell": ell.item(),
              "log_product": float(numpy.log(product)),
              "sum_of_logs": log_likelihood(theta.detach(), X[few], y[few]).item(),
              "engine": theta.grad.numpy().copy(),
              "slide": slide_gradient(theta.detach().numpy(), X, y), "ascent": []}
    for _ in range(steps):
        theta.grad = None
        ell = log_likelihood(theta, X, y)
        ell.backward()
        result["ascent"].append(ell.item())
        with chainrule.no_grad():
            theta.copy_(theta + lr * theta.grad)  # ascent: the likelihood is maximised
    result["accuracy"] = float((((X @ theta.detach().numpy()) > 0) == (y == 1)).mean())
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.samples, args.seed, args.steps)

    print(f"Logistic regression on {args.samples} points, θ = {result['theta'].tolist()}\n")
    print(f"  on the first 8 samples: log Π h^y (1 − h)^(1−y) = {result['log_product']:.12f}")
    print(f"                          Σ y log h + (1 − y) log(1 − h) = "
          f"{result['sum_of_logs']:.12f}\n")
    print(f"  ℓ(θ) on all {args.samples} = {result['ell']:.10f}\n")
    print("   j   ∂ℓ/∂θⱼ by backward()   Σᵢ (yᵢ − h_θ(xᵢ)) xᵢⱼ   difference")
    for j, (engine, slide) in enumerate(zip(result["engine"], result["slide"])):
        print(f"  {j:2d}  {engine:21.12f}  {slide:22.12f}  {abs(engine - slide):11.2e}")
    print("\n  gradient ascent θ ← θ + 0.01 ∇ℓ(θ):  ℓ = "
          + " → ".join(f"{value:.4f}" for value in result["ascent"]))
    print(f"  training accuracy after {args.steps} steps: {result['accuracy']:.1%}")
    return result


if __name__ == "__main__":
    main()
