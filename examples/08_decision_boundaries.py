"""Lecture example 8: a linear decision boundary against a neural network's, on two moons.

Logistic regression predicts class 1 where σ(wᵀx + b) > ½, that is where wᵀx + b > 0: its
decision boundary is a straight line, whatever the data. A network with hidden layers computes
features of x first, so its boundary can bend around the moons. Both are trained the same way,
by Adam on the binary cross-entropy, and scored on held-out points.

Run:  python examples/08_decision_boundaries.py [--out examples/out/08_decision_boundaries.png]
"""
import argparse
from pathlib import Path

import numpy
from sklearn.datasets import make_moons

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim

HERE = Path(__file__).resolve().parent


def train(model, X, y, steps: int, lr: float):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    inputs, targets = chainrule.tensor(X), chainrule.tensor(y[:, None])
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def probability(model, X) -> numpy.ndarray:
    with chainrule.no_grad():
        return model(chainrule.tensor(X)).sigmoid().numpy()[:, 0]


def run(samples: int = 600, noise: float = 0.2, hidden: int = 16, steps: int = 800,
        seed: int = 0) -> dict:
    X, y = make_moons(n_samples=samples, noise=noise, random_state=seed)
    X, y = X.astype(numpy.float32), y.astype(numpy.float32)
    order = numpy.random.default_rng(seed).permutation(samples)
    train_rows, test_rows = order[: samples * 7 // 10], order[samples * 7 // 10:]

    chainrule.manual_seed(seed)
    logistic = train(nn.Linear(2, 1), X[train_rows], y[train_rows], steps, lr=0.05)
    network = train(nn.MLP([2, hidden, hidden, 1], activation="tanh"), X[train_rows],
                    y[train_rows], steps, lr=0.01)
    result = {"X": X, "y": y, "train": train_rows, "test": test_rows, "models": {}}
    for name, model in (("logistic regression", logistic),
                        (f"MLP 2-{hidden}-{hidden}-1 (tanh)", network)):
        accuracy = float(((probability(model, X[test_rows]) > 0.5) == (y[test_rows] == 1)).mean())
        result["models"][name] = {"model": model, "accuracy": accuracy}
    return result


def plot(result: dict, path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = result["X"], result["y"]
    low, high = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    grid_x, grid_y = numpy.meshgrid(numpy.linspace(low[0], high[0], 300),
                                    numpy.linspace(low[1], high[1], 300))
    points = numpy.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(numpy.float32)
    figure, all_axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True, sharey=True)
    for axes, (name, entry) in zip(all_axes, result["models"].items()):
        surface = probability(entry["model"], points).reshape(grid_x.shape)
        filled = axes.contourf(grid_x, grid_y, surface, levels=numpy.linspace(0, 1, 11),
                               cmap="RdBu_r", alpha=0.6)
        axes.contour(grid_x, grid_y, surface, levels=[0.5], colors="black", linewidths=2)
        for rows, marker, label in ((result["train"], "o", "training"),
                                    (result["test"], "^", "test")):
            axes.scatter(X[rows, 0], X[rows, 1], c=y[rows], cmap="RdBu_r", vmin=0, vmax=1,
                         marker=marker, edgecolors="black", linewidths=0.5, s=28)
            # a grey stand-in, so the legend shows the marker rather than one class's colour
            axes.scatter([], [], c="lightgrey", marker=marker, edgecolors="black",
                         linewidths=0.5, s=28, label=f"{label} points")
        axes.set_title(f"{name}: test accuracy {entry['accuracy']:.1%}")
        axes.set_xlabel("x₁")
    all_axes[0].set_ylabel("x₂")
    all_axes[0].legend(loc="lower left")
    figure.colorbar(filled, ax=all_axes, label="P(class 1 | x); black line: P = ½")
    figure.suptitle("Two moons: a linear decision boundary vs a neural network's")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "out" / "08_decision_boundaries.png"))
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.samples, hidden=args.hidden, steps=args.steps, seed=args.seed)
    print(f"Two moons, {args.samples} points (70% training, 30% test)\n")
    for name, entry in result["models"].items():
        print(f"  {name:<28} test accuracy {entry['accuracy']:.1%}")
    print(f"\nPlot: {plot(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
