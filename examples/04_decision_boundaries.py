"""Lecture example 4: a network of sigmoid units draws a non-linear decision surface.

The slides build networks from sigmoid units, o(x) = σ(w₀ + Σᵢ wᵢxᵢ); one unit alone is
logistic regression. With one hidden layer and one output unit,

    o(x) = σ(w₀ + Σₕ wₕ oₕ),   oₕ = σ(w₀ʰ + Σᵢ wᵢʰ xᵢ)

and the slides' gradient of one unit with respect to its own weights is
∂o/∂wᵢ = o(1 − o)xᵢ (for the output unit its inputs xᵢ are the hidden outputs oₕ). This example
checks that formula against backward() at one point, then trains both models the lecture's way,
by minibatch stochastic gradient descent, on the logistic loss −log P(y | x) (the mean over
each batch), and scores them on held-out points. Logistic regression predicts class 1 where
w₀ + Σᵢ wᵢxᵢ > 0, a straight line whatever the data; the network's boundary bends around the
two moons. The variant ``--variant adam-tanh`` trains a two-hidden-layer tanh network by Adam,
the usual choice today, for comparison.

Run:  python examples/04_decision_boundaries.py [--out examples/out/04_decision_boundaries.png]
"""
import argparse
from pathlib import Path

import numpy
from sklearn.datasets import make_moons

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset

HERE = Path(__file__).resolve().parent


def train(model, X, y, epochs: int, optimizer, batch_size: int = 16, seed: int = 0):
    """Minibatch training on the logistic loss: the model's output is the logit of o(x)."""
    loader = DataLoader(TensorDataset(X, y[:, None]), batch_size=batch_size, shuffle=True,
                        generator=numpy.random.default_rng(seed))
    for _ in range(epochs):
        for inputs, targets in loader:
            loss = F.binary_cross_entropy_with_logits(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def output_unit_gradient(network, point) -> dict:
    """∂o/∂wₕ for the output unit at one point: by backward() and by o(1 − o)·oₕ."""
    hidden_layer, sigmoid, output_layer = network
    x = chainrule.tensor(point[None, :])
    hidden = sigmoid(hidden_layer(x))                         # oₕ
    o = output_layer(hidden).sigmoid()
    output_layer.weight.grad = None
    o.sum().backward()
    o_value, o_h = o.item(), hidden.detach().numpy()[0]
    return {"backward": output_layer.weight.grad.numpy()[0].copy(),
            "slide": o_value * (1 - o_value) * o_h}


def probability(model, X) -> numpy.ndarray:
    with chainrule.no_grad():
        return model(chainrule.tensor(X)).sigmoid().numpy()[:, 0]


def run(samples: int = 600, noise: float = 0.2, hidden: int = 16, epochs: int = 100,
        seed: int = 0, variant: str = "sgd-sigmoid") -> dict:
    X, y = make_moons(n_samples=samples, noise=noise, random_state=seed)
    X, y = X.astype(numpy.float32), y.astype(numpy.float32)
    order = numpy.random.default_rng(seed).permutation(samples)
    train_rows, test_rows = order[: samples * 7 // 10], order[samples * 7 // 10:]
    X_train, y_train = X[train_rows], y[train_rows]

    chainrule.manual_seed(seed)
    logistic = nn.Linear(2, 1)
    train(logistic, X_train, y_train, epochs, optim.SGD(logistic.parameters(), lr=0.5))
    if variant == "sgd-sigmoid":
        network = nn.MLP([2, hidden, 1], activation="sigmoid")
        gradient = output_unit_gradient(network, X_train[0])
        train(network, X_train, y_train, epochs, optim.SGD(network.parameters(), lr=2.0))
        name = f"network 2-{hidden}-1 of sigmoid units (SGD)"
    else:
        network = nn.MLP([2, hidden, hidden, 1], activation="tanh")
        gradient = None
        train(network, X_train, y_train, epochs, optim.Adam(network.parameters(), lr=0.01))
        name = f"network 2-{hidden}-{hidden}-1 of tanh units (Adam)"
    result = {"X": X, "y": y, "train": train_rows, "test": test_rows, "models": {},
              "output_unit_gradient": gradient}
    for name, model in (("logistic regression (SGD)", logistic), (name, network)):
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
    parser.add_argument("--out", default=str(HERE / "out" / "04_decision_boundaries.png"))
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=("sgd-sigmoid", "adam-tanh"), default="sgd-sigmoid",
                        help="the lecture's way (default), or a tanh network trained by Adam")
    args = parser.parse_args(argv)
    result = run(args.samples, hidden=args.hidden, epochs=args.epochs, seed=args.seed,
                 variant=args.variant)
    gradient = result["output_unit_gradient"]
    if gradient is not None:
        difference = numpy.abs(gradient["backward"] - gradient["slide"]).max()
        print("The output unit's gradient at the first training point, before training:")
        for label, key in (("∂o/∂wₕ by backward():", "backward"), ("o(1 − o)·oₕ:", "slide")):
            print(f"  {label:<23}{numpy.array2string(gradient[key][:4], precision=8)} …")
        print(f"  largest difference over all {len(gradient['slide'])} weights: "
              f"{difference:.1e}\n")
    print(f"Two moons, {args.samples} points (70% training, 30% test), {args.epochs} epochs of "
          f"batch 16\n")
    for name, entry in result["models"].items():
        print(f"  {name:<44} test accuracy {entry['accuracy']:.1%}")
    print(f"\nPlot: {plot(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
