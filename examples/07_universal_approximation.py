"""Lecture example 7: one hidden layer of sigmoid units approximates a continuous function.

    y(x) = Σₖ vₖ σ(wₖ x + bₖ) + c

Each hidden unit contributes one smooth step σ(wₖx + bₖ); with enough of them their weighted
sum follows any continuous function on an interval as closely as we like (the universal
approximation theorem). The networks below are trained by full-batch Adam on the mean squared
error; the plot shows how the fit sharpens as the hidden layer grows.

Run:  python examples/07_universal_approximation.py [--out PATH] [--hidden 1 3 10 50]
      (the plot goes to examples/out/07_universal_approximation.png by default)
"""
import argparse
from pathlib import Path

import numpy

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim

HERE = Path(__file__).resolve().parent


def target_function(x):
    """A continuous function with bends of both signs: sin 2x + 0.3x²."""
    return numpy.sin(2 * x) + 0.3 * x ** 2


def fit(hidden: int, x, t, steps: int, lr: float, seed: int):
    """Train a 1-hidden-1 sigmoid network; return it and its final training MSE."""
    chainrule.manual_seed(seed)
    model = nn.MLP([1, hidden, 1], activation="sigmoid")
    optimizer = optim.Adam(model.parameters(), lr=lr)
    inputs, targets = chainrule.tensor(x[:, None]), chainrule.tensor(t[:, None])
    for _ in range(steps):
        loss = F.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with chainrule.no_grad():
        return model, F.mse_loss(model(inputs), targets).item()


def run(hidden_sizes=(1, 3, 10, 50), steps: int = 3000, samples: int = 200, lr: float = 0.02,
        seed: int = 0) -> dict:
    x = numpy.linspace(-2.5, 2.5, samples, dtype=numpy.float32)
    t = target_function(x).astype(numpy.float32)
    grid = numpy.linspace(-2.5, 2.5, 400, dtype=numpy.float32)
    fits = {}
    for hidden in hidden_sizes:
        model, mse = fit(hidden, x, t, steps, lr, seed)
        with chainrule.no_grad():
            curve = model(chainrule.tensor(grid[:, None])).numpy()[:, 0]
        fits[hidden] = {"mse": mse, "curve": curve}
    return {"x": x, "t": t, "grid": grid, "fits": fits, "steps": steps}


def plot(result: dict, path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(result["fits"])
    columns = min(len(sizes), 2)
    rows = -(-len(sizes) // columns)
    figure, grid_axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.4 * rows),
                                     sharex=True, sharey=True, squeeze=False)
    for axes, hidden in zip(grid_axes.flat, sizes):
        fit = result["fits"][hidden]
        axes.plot(result["grid"], target_function(result["grid"]), color="black", linewidth=2,
                  label="target sin 2x + 0.3x²")
        axes.plot(result["grid"], fit["curve"], color="tab:red", linewidth=1.8,
                  label="network")
        axes.set_title(f"{hidden} hidden sigmoid unit{'s' * (hidden > 1)}: "
                       f"training MSE {fit['mse']:.4f}")
        axes.grid(True, alpha=0.3)
    for axes in grid_axes[-1]:
        axes.set_xlabel("x")
    for axes in grid_axes[:, 0]:
        axes.set_ylabel("y")
    grid_axes.flat[0].legend(loc="upper center")
    figure.suptitle(f"One hidden layer approximating a continuous function "
                    f"({result['steps']} steps of Adam)")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "out" / "07_universal_approximation.png"))
    parser.add_argument("--hidden", type=int, nargs="+", default=[1, 3, 10, 50])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(tuple(args.hidden), steps=args.steps, seed=args.seed)
    print("Fitting sin 2x + 0.3x² on [-2.5, 2.5] with one hidden layer of sigmoid units\n")
    print("  hidden units   training MSE")
    for hidden, fit in result["fits"].items():
        print(f"  {hidden:>12}   {fit['mse']:.5f}")
    print(f"\nPlot: {plot(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
