"""Vanishing gradients: why deep networks of sigmoid units learn slowly, seen layer by layer.

The lecture's units are sigmoids. Backprop multiplies, layer after layer, by σ′(z) = σ(z)(1 − σ(z)),
which is at most ¼: ten layers down, the error signal that reaches the first layer is a tiny
fraction of the one leaving the last. A ReLU's derivative is 1 wherever the unit is active, so
its signal keeps its size. This script trains the same 10-layer network (64 inputs, 9 hidden
layers of 32 units, 10 classes) on scikit-learn's digits with each activation and prints, epoch
by epoch, the norm of each layer's weight gradient (``chainrule.nn.utils.gradient_stats``).

    python examples/vanishing_gradients.py --epochs 5 --plot gradients.png
"""
from __future__ import annotations

import argparse

import chainrule
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim
from chainrule.data import load_dataset, Standardizer
from chainrule.nn.utils import gradient_stats

DEPTH, WIDTH = 10, 32


def network(activation: str) -> nn.Module:
    """Each layer initialised for its unit (Glorot for sigmoid, He for ReLU), as nn.MLP does:
    the comparison is between the units, not between a good and a bad initialisation."""
    return nn.MLP([64] + [WIDTH] * (DEPTH - 1) + [10], activation=activation)


def train(activation: str, epochs: int, rows: int | None = None, seed: int = 0, lr: float = 0.1,
          batch: int = 32):
    """Minibatch SGD; returns, per epoch, the mean over its steps of each layer's ‖W̄‖."""
    chainrule.manual_seed(seed)
    table = load_dataset("digits")
    X = Standardizer().fit(table.X).transform(table.X).astype("float32")[:rows]
    y = table.y[:rows]
    model = network(activation)
    optimizer = chainrule.optim.SGD(model.parameters(), lr=lr)
    weights = [name for name, _ in model.named_parameters() if name.endswith("weight")]
    history = []
    for _ in range(epochs):
        order = chainrule.randperm(len(X)).numpy()
        sums = dict.fromkeys(weights, 0.0)
        steps = 0
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            loss = F.cross_entropy(model(chainrule.tensor(X[rows])), chainrule.tensor(y[rows]))
            optimizer.zero_grad()
            loss.backward()
            stats = gradient_stats(model)
            for name in weights:
                sums[name] += stats[name]["norm"]
            steps += 1
            optimizer.step()
        history.append([sums[name] / steps for name in weights])
    return history


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rows", type=int, help="train on the first ROWS digits only (quicker)")
    parser.add_argument("--plot", metavar="PNG", help="also plot ‖W̄‖ per layer and epoch")
    args = parser.parse_args(argv)
    results = {activation: train(activation, args.epochs, args.rows) for activation in ("sigmoid", "relu")}
    for activation, history in results.items():
        print(f"\n{activation}: mean ‖W̄‖ per layer (layer 1 = nearest the input)")
        print("epoch " + " ".join(f"{f'L{k + 1}':>9}" for k in range(DEPTH)))
        for epoch, norms in enumerate(history, 1):
            print(f"{epoch:>5} " + " ".join(f"{norm:9.2e}" for norm in norms))
        first, last = history[0][0], history[0][-1]
        print(f"layer 1 gets {first / last:.1e} of the last layer's gradient (epoch 1)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for axis, (activation, history) in zip(axes, results.items()):
            for epoch, norms in enumerate(history, 1):
                axis.semilogy(range(1, DEPTH + 1), norms, marker="o", label=f"epoch {epoch}")
            axis.set_title(f"{DEPTH} layers, {activation}")
            axis.set_xlabel("layer (1 = input side)")
        axes[0].set_ylabel("mean ‖W̄‖ over an epoch's steps")
        axes[0].legend()
        figure.tight_layout()
        figure.savefig(args.plot, dpi=100)
        print(f"\nplot → {args.plot}")
    return results


if __name__ == "__main__":
    main()
