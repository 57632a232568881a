"""Lecture example 5: one hidden layer of sigmoid units approximates a continuous function.

    y(x) = Σₕ wₕ σ(w₀ʰ + w₁ʰ x) + w₀

The slides cite the result (Cybenko 1989; Hornik et al. 1989): one hidden layer can approximate
any bounded continuous function to any accuracy. Each hidden unit contributes one smooth step
σ(w₀ʰ + w₁ʰx), and enough weighted steps follow any continuous curve on an interval. The output
here is a linear unit, since the target is not a probability. The networks are trained the
lecture's way, by minibatch SGD on ½(y − t)² (the mean over each batch of 10); ``--variant adam``
trains the same networks by full-batch Adam instead, which gets further in fewer steps. The plot
shows the fit as the hidden layer grows. A theorem about what a network can represent says
nothing about how fast SGD finds it: with a fixed budget of steps a larger layer need not
finish ahead.

Run:  python examples/05_universal_approximation.py [--out PATH] [--hidden 1 3 10]
      (the plot goes to examples/out/05_universal_approximation.png by default)
"""
import argparse
from pathlib import Path

import numpy

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset

HERE = Path(__file__).resolve().parent


def target_function(x):
    """A continuous function with bends of both signs: sin 2x + 0.3x²."""
    return numpy.sin(2 * x) + 0.3 * x ** 2


def half_squared_error(y, t):
    return 0.5 * ((y - t) ** 2).mean()


def fit(hidden: int, x, t, steps: int, seed: int, variant: str = "sgd"):
    """Train a 1-hidden-1 sigmoid network; return it and its final training MSE.

    sgd: ``steps`` epochs of minibatch SGD (batch 10, learning rate 0.3); adam: ``steps``
    full-batch steps of Adam (learning rate 0.02).
    """
    chainrule.manual_seed(seed)
    model = nn.MLP([1, hidden, 1], activation="sigmoid")
    inputs, targets = chainrule.tensor(x[:, None]), chainrule.tensor(t[:, None])
    if variant == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=0.3)
        loader = DataLoader(TensorDataset(x[:, None], t[:, None]), batch_size=10, shuffle=True,
                            generator=numpy.random.default_rng(seed))
        batches = [batch for _ in range(steps) for batch in loader]
    else:
        optimizer = optim.Adam(model.parameters(), lr=0.02)
        batches = [(inputs, targets)] * steps
    for batch, batch_targets in batches:
        loss = half_squared_error(model(batch), batch_targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with chainrule.no_grad():
        return model, F.mse_loss(model(inputs), targets).item()


def run(hidden_sizes=(1, 3, 10), steps: int = 300, samples: int = 200, seed: int = 0,
        variant: str = "sgd") -> dict:
    x = numpy.linspace(-2.5, 2.5, samples, dtype=numpy.float32)
    t = target_function(x).astype(numpy.float32)
    grid = numpy.linspace(-2.5, 2.5, 400, dtype=numpy.float32)
    fits = {}
    for hidden in hidden_sizes:
        model, mse = fit(hidden, x, t, steps, seed, variant)
        with chainrule.no_grad():
            curve = model(chainrule.tensor(grid[:, None])).numpy()[:, 0]
        fits[hidden] = {"mse": mse, "curve": curve}
    return {"x": x, "t": t, "grid": grid, "fits": fits, "steps": steps, "variant": variant}


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
    training = (f"{result['steps']} epochs of SGD" if result["variant"] == "sgd"
                else f"{result['steps']} steps of Adam")
    figure.suptitle(f"One hidden layer approximating a continuous function ({training})")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "out" / "05_universal_approximation.png"))
    parser.add_argument("--hidden", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--variant", choices=("sgd", "adam"), default="sgd",
                        help="minibatch SGD, the lecture's way (default), or full-batch Adam")
    parser.add_argument("--steps", type=int, default=None,
                        help="SGD epochs (default 300) or Adam steps (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps = args.steps or (300 if args.variant == "sgd" else 3000)
    result = run(tuple(args.hidden), steps=steps, seed=args.seed, variant=args.variant)
    print("Fitting sin 2x + 0.3x² on [-2.5, 2.5] with one hidden layer of sigmoid units\n")
    print("  hidden units   training MSE")
    for hidden, fit in result["fits"].items():
        print(f"  {hidden:>12}   {fit['mse']:.5f}")
    print(f"\nPlot: {plot(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
