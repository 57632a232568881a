"""Lecture example 1: the housing-price task, price against square feet, three ways.

The slide sets the task: from n samples (x⁽ⁱ⁾, y⁽ⁱ⁾), x a house's size in square feet and y its
price, predict the price of a house of x = 800 square feet. It gives no model and no data; this
example supplies both. The data: the 47 Portland houses of Andrew Ng's course (ex1data2.txt).
The model: a line, h(x) = θ₀ + θ₁x̃, on the standardised size x̃ = (x − μ)/σ, so one learning
rate suits both parameters. The loss: ½(y − h(x))² per house (the squared error of the
lecture's chain-rule slides), averaged over the houses:

    J(θ) = (1/n) Σᵢ ½(y⁽ⁱ⁾ − h(x⁽ⁱ⁾))²,   ∂J/∂θ = (1/n) Σᵢ (h(x⁽ⁱ⁾) − y⁽ⁱ⁾) (1, x̃⁽ⁱ⁾)

It is minimised by batch gradient descent (θ ← θ − α ∇J, every house each step), by stochastic
gradient descent (one house per step, with a learning rate ηₜ that decays), and in closed form
(least squares, the normal equations); the gradients come from chainrule's backward().

Run:  python examples/01_housing_prices.py
      (the file is read from the cache, downloaded into it first if absent; --data FOLDER reads
      a copy of ex1data2.txt you have)
"""
import argparse

import numpy

import chainrule
from chainrule.data import load_dataset, load_portland_housing
from chainrule.data.download import DownloadError
from chainrule.models.linear import least_squares


def half_squared_error(theta, x, y) -> chainrule.Tensor:
    """J(θ) = mean of ½(y − h(x))² with h(x) = θ₀ + θ₁x̃."""
    h = theta[0] + theta[1] * x
    return (0.5 * (y - h) ** 2).mean()


def gradient_descent(x, y, alpha: float, steps: int) -> numpy.ndarray:
    """Batch gradient descent from θ = 0: θ ← θ − α ∇J(θ), the gradient over every house."""
    theta = chainrule.zeros(2, dtype=chainrule.float64, requires_grad=True)
    x, y = chainrule.tensor(x), chainrule.tensor(y)
    for _ in range(steps):
        theta.grad = None
        half_squared_error(theta, x, y).backward()
        with chainrule.no_grad():
            theta.copy_(theta - alpha * theta.grad)
    return theta.detach().numpy()


def stochastic_gradient_descent(x, y, alpha: float, epochs: int, decay: float,
                                seed: int) -> numpy.ndarray:
    """One house per step, in a fresh random order each epoch, at ηₜ = α / (1 + t/decay).

    A constant rate leaves θ jittering around the optimum, since each step follows one
    house's gradient; a rate that shrinks (with Σ ηₜ = ∞ and Σ ηₜ² < ∞) lets it settle.
    """
    rng = numpy.random.default_rng(seed)
    theta = chainrule.zeros(2, dtype=chainrule.float64, requires_grad=True)
    step = 0
    for _ in range(epochs):
        for i in rng.permutation(len(x)):
            eta = alpha / (1 + step / decay)
            theta.grad = None
            half_squared_error(theta, chainrule.tensor(x[i:i + 1]),
                               chainrule.tensor(y[i:i + 1])).backward()
            with chainrule.no_grad():
                theta.copy_(theta - eta * theta.grad)
            step += 1
    return theta.detach().numpy()


def run(table, alpha: float = 0.1, steps: int = 300, epochs: int = 200, decay: float = 200.0,
        seed: int = 0, size: float = 800.0) -> dict:
    sizes = table.X[:, 0].astype(numpy.float64)
    prices = table.y.astype(numpy.float64)
    mean, scale = sizes.mean(), sizes.std()
    x = (sizes - mean) / scale
    weights, bias = least_squares(x[:, None], prices)
    thetas = {"closed form": numpy.array([bias, weights[0]]),
              "gradient descent": gradient_descent(x, prices, alpha, steps),
              "SGD": stochastic_gradient_descent(x, prices, alpha, epochs, decay, seed)}
    x_new = (size - mean) / scale
    result = {"size": size, "mean": mean, "scale": scale, "alpha": alpha, "n": len(x),
              "theta": thetas, "loss": {}, "prediction": {}}
    for name, theta in thetas.items():
        result["loss"][name] = float((0.5 * (prices - theta[0] - theta[1] * x) ** 2).mean())
        result["prediction"][name] = float(theta[0] + theta[1] * x_new)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="ex1data2.txt or its folder (default: the cache)")
    parser.add_argument("--alpha", type=float, default=0.1, help="learning rate α")
    parser.add_argument("--steps", type=int, default=300, help="gradient descent steps")
    parser.add_argument("--epochs", type=int, default=200, help="SGD passes over the houses")
    parser.add_argument("--size", type=float, default=800.0, help="square feet to price")
    args = parser.parse_args(argv)
    try:
        table = (load_portland_housing(args.data) if args.data
                 else load_dataset("portland-housing"))
    except DownloadError as error:  # its remedy names load_dataset's root=, not this flag
        parser.error(f"{error.problem}; offline, put {', '.join(error.files)} in a folder and "
                     "give it as --data FOLDER")
    result = run(table, alpha=args.alpha, steps=args.steps, epochs=args.epochs, size=args.size)

    print(f"Price against size: {result['n']} Portland houses, h(x) = θ₀ + θ₁ (x − "
          f"{result['mean']:.0f}) / {result['scale']:.0f}, loss ½(y − h)², α = {args.alpha:g}\n")
    print(f"  {'method':<18}{'θ₀ ($)':>12}{'θ₁ ($)':>12}{'J(θ) ($²)':>16}"
          f"{f'price at {args.size:g} sq ft':>24}")
    for name, theta in result["theta"].items():
        print(f"  {name:<18}{theta[0]:>12.2f}{theta[1]:>12.2f}{result['loss'][name]:>16.7e}"
              f"{'$':>14}{result['prediction'][name]:,.2f}")
    print(f"\n  Gradient descent: {args.steps} steps over all houses. SGD: {args.epochs} epochs of "
          f"one house per step at ηₜ = α / (1 + t/200).")
    print(f"  The smallest house in the data has {table.X[:, 0].min():.0f} sq ft: a price at "
          f"{args.size:g} sq ft extends the line beyond the data.")
    return result


if __name__ == "__main__":
    main()
