"""Lecture example 3: k classes, and the slide's question "why not φᵢ = θᵢᵀx?"

For y ∈ {1, …, k} the slides model p(y = i | x; θ) = φᵢ, a categorical distribution: every φᵢ
must be ≥ 0 and they must sum to 1. They ask whether the linear scores θᵢᵀx could serve as φᵢ,
then answer with the softmax, φᵢ = exp(θᵢᵀx) / Σⱼ exp(θⱼᵀx). This example answers the question
by running both: on random θ and x it counts how often the raw scores, and the scores divided
by their sum, are a valid distribution, and whether −log φ_y (the negative log-likelihood) is
even defined. Then it trains softmax regression by gradient descent on the slide's summed
negative log-likelihood ℓ(θ) = Σᵢ −log φ_{y⁽ⁱ⁾}(x⁽ⁱ⁾).

The slides number the classes 1…k; the code numbers them 0…k−1 (Python's indices).

Run:  python examples/03_softmax_regression.py [--classes 3 --samples 300 --seed 0]
"""
import argparse

import numpy

import chainrule


def is_distribution(phi: numpy.ndarray) -> numpy.ndarray:
    """Per row: every entry ≥ 0 and the row sums to 1 (to rounding)."""
    return (phi >= 0).all(axis=1) & numpy.isclose(phi.sum(axis=1), 1.0)


def compare_candidates(classes: int, features: int, trials: int, seed: int) -> dict:
    """How often each candidate for φ is a valid distribution, on random θ and x."""
    rng = numpy.random.default_rng(seed)
    theta = rng.normal(size=(trials, classes, features))
    x = rng.normal(size=(trials, features))
    scores = numpy.einsum("tkd,td->tk", theta, x)             # tᵢ = θᵢᵀx
    labels = rng.integers(0, classes, size=trials)
    candidates = {"θᵢᵀx": scores,
                  "θᵢᵀx / Σⱼ θⱼᵀx": scores / scores.sum(axis=1, keepdims=True),
                  "softmax": numpy.exp(scores) / numpy.exp(scores).sum(axis=1, keepdims=True)}
    result = {}
    for name, phi in candidates.items():
        chosen = phi[numpy.arange(trials), labels]
        result[name] = {"valid": float(is_distribution(phi).mean()),
                        "log_defined": float((chosen > 0).mean())}
    return result


def make_data(classes: int, samples: int, seed: int):
    """Gaussian clouds around k centres in 2-D; a first column of ones carries θᵢ₀."""
    rng = numpy.random.default_rng(seed)
    centres = 3 * rng.normal(size=(classes, 2))
    labels = rng.integers(0, classes, size=samples)
    points = centres[labels] + rng.normal(size=(samples, 2))
    return numpy.column_stack([numpy.ones(samples), points]), labels


def train_softmax_regression(X, labels, classes: int, steps: int, alpha: float) -> dict:
    theta = chainrule.zeros(classes, X.shape[1], dtype=chainrule.float64, requires_grad=True)
    inputs, one_hot = chainrule.tensor(X), chainrule.tensor(numpy.eye(classes)[labels])
    history = []
    for _ in range(steps):
        phi = (inputs @ theta.T).softmax(dim=1)              # row i: φ(x⁽ⁱ⁾)
        nll = -(one_hot * phi.log()).sum()                   # ℓ(θ) = Σᵢ −log φ_{y⁽ⁱ⁾}
        theta.grad = None
        nll.backward()
        history.append(nll.item())
        with chainrule.no_grad():
            theta.copy_(theta - alpha * theta.grad)
    predictions = (X @ theta.detach().numpy().T).argmax(axis=1)
    return {"history": history, "accuracy": float((predictions == labels).mean())}


def run(classes: int = 3, samples: int = 300, steps: int = 100, alpha: float = 0.005,
        seed: int = 0) -> dict:
    X, labels = make_data(classes, samples, seed)
    return {"candidates": compare_candidates(classes, 3, 10_000, seed),
            "training": train_softmax_regression(X, labels, classes, steps, alpha)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.classes, args.samples, args.steps, seed=args.seed)

    print(f"Candidates for φ on 10,000 random θ ({args.classes} classes × 3 features) and x:\n")
    print(f"  {'φᵢ =':<18}{'a distribution':>16}{'−log φ_y defined':>20}")
    for name, entry in result["candidates"].items():
        print(f"  {name:<18}{entry['valid']:>16.1%}{entry['log_defined']:>20.1%}")
    training = result["training"]
    print(f"\nSoftmax regression, {args.samples} points in {args.classes} classes, gradient "
          f"descent on ℓ(θ) = Σᵢ −log φ_y⁽ⁱ⁾:")
    print(f"  ℓ(θ): {training['history'][0]:.2f} → {training['history'][-1]:.2f} after "
          f"{args.steps} steps; training accuracy {training['accuracy']:.1%}")
    return result


if __name__ == "__main__":
    main()
