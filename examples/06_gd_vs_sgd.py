"""Lecture example 6: gradient descent against minibatch stochastic gradient descent.

One least-squares problem, one learning rate, three batch sizes: 1 (SGD), 32 (minibatch SGD)
and the full training set (gradient descent). Each update is θ ← θ − α ∇J_B(θ), with J_B the
mean loss over the batch B; gradient descent computes the exact gradient but takes one step per
pass over the data, SGD takes n noisy steps in that time. The plot shows the full training loss
against the number of examples whose gradient has been computed, the fair measure of work.

Run:  python examples/06_gd_vs_sgd.py [--out examples/out/06_gd_vs_sgd.png] [--samples 1000]
"""
import argparse
from pathlib import Path

import numpy

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset

HERE = Path(__file__).resolve().parent


def make_problem(samples: int, features: int, seed: int):
    """t = Xθ* + noise, with standard normal features."""
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(samples, features)).astype(numpy.float32)
    theta = rng.normal(size=features).astype(numpy.float32)
    t = (X @ theta + 0.5 * rng.normal(size=samples)).astype(numpy.float32)
    return X, t[:, None]


def train(X, t, batch_size: int, epochs: int, lr: float, seed: int, points: int = 60):
    """Minibatch SGD from θ = 0: (examples seen, full training loss), at about ``points`` times."""
    model = nn.Linear(X.shape[1], 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X, t), batch_size=batch_size, shuffle=True,
                        generator=numpy.random.default_rng(seed))
    inputs, targets = chainrule.tensor(X), chainrule.tensor(t)

    def full_loss() -> float:
        with chainrule.no_grad():
            return F.mse_loss(model(inputs), targets).item()

    every = max(batch_size, len(X) * epochs // points)
    seen, losses, next_record = [0], [full_loss()], every
    examples = 0
    for _ in range(epochs):
        for batch, batch_targets in loader:
            loss = F.mse_loss(model(batch), batch_targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            examples += len(batch)
            if examples >= next_record:
                seen.append(examples)
                losses.append(full_loss())
                next_record += every
    if seen[-1] != examples:  # always end on the final loss
        seen.append(examples)
        losses.append(full_loss())
    return numpy.array(seen), numpy.array(losses)


def run(samples: int = 1000, features: int = 10, epochs: int = 8, lr: float = 0.05,
        seed: int = 0, batch_sizes=(1, 32, None)) -> dict:
    X, t = make_problem(samples, features, seed)
    design = numpy.column_stack([X, numpy.ones(samples)])
    solution = numpy.linalg.lstsq(design, t, rcond=None)[0]
    optimum = float(((design @ solution - t) ** 2).mean())
    curves = {}
    for batch_size in batch_sizes:
        size = samples if batch_size is None else batch_size
        curves[size] = train(X, t, size, epochs, lr, seed)
    return {"curves": curves, "optimum": optimum, "samples": samples, "lr": lr}


def plot(result: dict, path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    for size, (seen, losses) in result["curves"].items():
        if size == 1:
            label = "batch 1 (stochastic gradient descent)"
        elif size == result["samples"]:
            label = f"full batch of {size} (gradient descent)"
        else:
            label = f"batch {size} (minibatch SGD)"
        axes.plot(seen, losses, marker="o" if size == result["samples"] else None,
                  markersize=4, linewidth=1.5, label=label)
    axes.axhline(result["optimum"], color="black", linestyle="--", linewidth=1,
                 label="least-squares optimum")
    axes.set_yscale("log")
    axes.set_xlabel("examples seen (gradients computed)")
    axes.set_ylabel("training loss, mean (y − t)²")
    axes.set_title(f"Gradient descent vs minibatch SGD, learning rate {result['lr']:g}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "out" / "06_gd_vs_sgd.png"))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.samples, epochs=args.epochs, lr=args.lr, seed=args.seed)
    print(f"Least squares, {args.samples} examples, learning rate {args.lr:g}; optimum "
          f"{result['optimum']:.4f}\n")
    print("  batch size   updates   loss after 1 epoch   after all " f"{args.epochs} epochs")
    for size, (seen, losses) in result["curves"].items():
        after_one = losses[numpy.searchsorted(seen, args.samples)]
        print(f"  {size:>10}  {args.epochs * -(-args.samples // size):>8}  {after_one:>19.4f}"
              f"  {losses[-1]:>18.4f}")
    print(f"\nPlot: {plot(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
