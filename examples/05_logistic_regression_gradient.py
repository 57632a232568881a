"""Lecture example 5: logistic regression's log-likelihood and its gradient.

    h_θ(x) = σ(θᵀx),   ℓ(θ) = Σᵢ yᵢ log h_θ(xᵢ) + (1 − yᵢ) log(1 − h_θ(xᵢ))

The slide derives ∇ℓ(θ) = Σᵢ (yᵢ − h_θ(xᵢ)) xᵢ. Here ℓ is written exactly as above in chainrule,
its gradient found by backward(), and compared with the slide's formula in NumPy; then a few
steps of gradient ascent, θ ← θ + α∇ℓ(θ), show the likelihood rising.

Run:  python examples/05_logistic_regression_gradient.py [--samples 200 --seed 0 --steps 5]
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


def slide_gradient(theta, X, y):
    h = 1 / (1 + numpy.exp(-X @ theta))
    return ((y - h)[:, None] * X).sum(axis=0)  # Σᵢ (yᵢ − h_θ(xᵢ)) xᵢ


def run(samples: int = 200, seed: int = 0, steps: int = 5, lr: float = 0.01) -> dict:
    X, y = make_data(samples, seed)
    theta = chainrule.tensor(numpy.array([0.1, -0.2, 0.3]), requires_grad=True)
    ell = log_likelihood(theta, X, y)
    ell.backward()
    result = {"theta": theta.detach().numpy().copy(), "ell": ell.item(),
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
    print(f"  ℓ(θ) = Σ y log h + (1 − y) log(1 − h) = {result['ell']:.10f}\n")
    print("   j   ∂ℓ/∂θⱼ by backward()   Σᵢ (yᵢ − h_θ(xᵢ)) xᵢⱼ   difference")
    for j, (engine, slide) in enumerate(zip(result["engine"], result["slide"])):
        print(f"  {j:2d}  {engine:21.12f}  {slide:22.12f}  {abs(engine - slide):11.2e}")
    print("\n  gradient ascent θ ← θ + 0.01 ∇ℓ(θ):  ℓ = "
          + " → ".join(f"{value:.4f}" for value in result["ascent"]))
    print(f"  training accuracy after {args.steps} steps: {result['accuracy']:.1%}")
    return result


if __name__ == "__main__":
    main()
