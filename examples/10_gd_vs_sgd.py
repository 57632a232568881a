"""Lecture example 10: gradient descent against minibatch stochastic gradient descent.

The slides replace the gradient of the training loss, an average over all N examples, by the
average over a random minibatch of n, "as small as one", and step θ ← θ − ηₜ ∇ℓ. Here one
least-squares problem, with the squared error ½(y − t)² of the lecture's chain-rule slides
(averaged over the batch B: J_B(θ)), is trained with one learning rate α and three batch sizes:
1 (SGD), 32 (minibatch SGD) and the full training set (gradient descent), plus batch 1 with a
decaying rate ηₜ = α / (1 + t/τ), τ = N/10 steps. Gradient descent computes the exact gradient
but takes one step per pass over the data; SGD takes N noisy steps in that time. The plot
shows the full training loss against the number of examples whose gradient has been computed,
the fair measure of work.

Why a constant rate stalls: at the optimum the gradient of the whole training loss is zero, but
one example's gradient is not (its residual is not zero), so batch-1 SGD keeps taking steps of
about α times that gradient and θ wanders around the optimum. The loss levels off above the
optimum by an amount that grows with α and shrinks with the batch size: the noise floor. A rate
that decays with Σ ηₜ = ∞ (the steps can still travel any distance) and Σ ηₜ² < ∞ (the noise
they add stays finite), as α / (1 + t/τ) does, lets SGD settle at the optimum itself.

Run:  python examples/10_gd_vs_sgd.py [--out examples/out/10_gd_vs_sgd.png] [--samples 1000]
"""
import argparse
from pathlib import Path

import numpy

import chainrule
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


def half_squared_error(y, t):
    """J(θ) = mean over the rows of ½(y − t)²."""
    return 0.5 * ((y - t) ** 2).mean()


def train(X, t, batch_size: int, epochs: int, lr: float, seed: int, decay: bool = False,
          points: int = 60):
    """Minibatch SGD from θ = 0: (examples seen, full training loss), at about ``points`` times.

    decay: the rate after t steps is ηₜ = lr / (1 + t/τ), with τ = N/10 for N examples.
    """
    model = nn.Linear(X.shape[1], 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    schedule = (optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + 10 * step / len(X)))
                if decay else None)
    loader = DataLoader(TensorDataset(X, t), batch_size=batch_size, shuffle=True,
                        generator=numpy.random.default_rng(seed))
    inputs, targets = chainrule.tensor(X), chainrule.tensor(t)

    def full_loss() -> float:
        with chainrule.no_grad():
            return half_squared_error(model(inputs), targets).item()

    every = max(batch_size, len(X) * epochs // points)
    seen, losses, next_record = [0], [full_loss()], every
    examples = 0
    for _ in range(epochs):
        for batch, batch_targets in loader:
            loss = half_squared_error(model(batch), batch_targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            examples += len(batch)
            if examples >= next_record:
                seen.append(examples)
                losses.append(full_loss())
                next_record += every
    if seen[-1] != examples:  # always end on the final loss
        seen.append(examples)
        losses.append(full_loss())
    return numpy.array(seen), numpy.array(losses)


def run(samples: int = 1000, features: int = 10, epochs: int = 8, lr: float = 0.1,
        seed: int = 0, batch_sizes=(1, 32, None)) -> dict:
    X, t = make_problem(samples, features, seed)
    design = numpy.column_stack([X, numpy.ones(samples)])
    solution = numpy.linalg.lstsq(design, t, rcond=None)[0]
    optimum = float((0.5 * (design @ solution - t) ** 2).mean())
    curves = {}
    for batch_size in batch_sizes:
        size = samples if batch_size is None else batch_size
        curves[size] = train(X, t, size, epochs, lr, seed)
    decaying = train(X, t, 1, epochs, lr, seed, decay=True)
    return {"curves": curves, "decaying": decaying, "optimum": optimum, "samples": samples,
            "lr": lr}


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
    seen, losses = result["decaying"]
    axes.plot(seen, losses, linewidth=1.5, linestyle="-.",
              label=f"batch 1, ηₜ = {result['lr']:g} / (1 + t/{result['samples'] // 10})")
    axes.axhline(result["optimum"], color="black", linestyle="--", linewidth=1,
                 label="least-squares optimum")
    axes.set_yscale("log")
    axes.set_xlabel("examples seen (gradients computed)")
    axes.set_ylabel("training loss, mean ½(y − t)²")
    axes.set_title(f"Gradient descent vs minibatch SGD, learning rate α = {result['lr']:g}")
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
    parser.add_argument("--out", default=str(HERE / "out" / "10_gd_vs_sgd.png"))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate α")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.samples, epochs=args.epochs, lr=args.lr, seed=args.seed)
    print(f"Least squares, loss ½(y − t)², {args.samples} examples, learning rate α = "
          f"{args.lr:g}; optimum {result['optimum']:.5f}\n")
    print(f"  {'batch size':<26}{'updates':>8}{'loss after 1 epoch':>20}"
          f"{f'after {args.epochs} epochs':>18}{'above the optimum':>19}")
    rows = [(f"{size}", size, curve) for size, curve in result["curves"].items()]
    rows.append((f"1, ηₜ = α / (1 + t/{args.samples // 10})", 1, result["decaying"]))
    for label, size, (seen, losses) in rows:
        after_one = losses[numpy.searchsorted(seen, args.samples)]
        print(f"  {label:<26}{args.epochs * -(-args.samples // size):>8}{after_one:>20.5f}"
              f"{losses[-1]:>18.5f}{losses[-1] - result['optimum']:>19.5f}")
    print(f"\nPlot: {plot(result, args.out)}")
    return result


if __name__ == "__main__":
    main()
