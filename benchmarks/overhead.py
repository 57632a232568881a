"""Where the gap to the NumPy limit comes from: array work, or the engine's interpreter work?

    python benchmarks/overhead.py [--batch 128] [--threads 2] [--rounds 30]

Four candidates, alternating in one process, seconds per SGD step of the 784-256-256-10 ReLU MLP:

- **chainrule**, as a user writes it (benchmarks/mlp.py);
- **numpy limit**, the hand-written program;
- **chainrule's arrays**: a NumPy program that does exactly the array work chainrule does (fresh
  arrays for every result, the label checks, SGD through a temporary) and nothing else: no
  Tensor objects, no graph, no walk. Its ratio to the limit is the cost of chainrule's choices
  of array operations; chainrule's ratio to it is the cost of the engine's Python;
- **limit + fixed Python**: the limit, with a fixed piece of Python (one step of a tiny 8-8-8-4
  chainrule MLP, timed on its own as **fixed Python alone**) run after each of its steps. The
  difference (limit + fixed Python) − limit, against the fixed Python's own time, shows how much
  dearer the same interpreter work becomes between large matrix products.
"""
from __future__ import annotations

import argparse

import harness
import mlp


class ChainruleArrays(mlp.SteppedMLP):
    """chainrule's array operations for one step, in plain NumPy (ReLU, mean cross-entropy, SGD)."""

    def __init__(self, layers, lr: float = mlp.LEARNING_RATE):
        self.weights = [w.copy() for w, _ in layers]
        self.biases = [b.copy() for _, b in layers]
        self.lr = lr

    def step(self, x, labels):
        import numpy
        classes = self.weights[-1].shape[0]
        if labels.min() < 0 or labels.max() >= classes or (labels == -100).any():
            raise IndexError("label out of range")
        inputs, pre_activations = [x], []
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = numpy.dot(inputs[-1], w.T)
            h += b
            if layer < len(self.weights) - 1:
                pre_activations.append(h)
                h = numpy.maximum(h, 0)
            inputs.append(h)
        logits, rows, batch = inputs.pop(), numpy.arange(len(x)), len(x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = numpy.exp(shifted)
        totals = exps.sum(axis=1, keepdims=True)
        loss = numpy.asarray((numpy.log(totals[:, 0]) - shifted[rows, labels]).sum() / batch)
        delta = exps / totals
        delta[rows, labels] -= 1
        delta *= numpy.ones(loss.shape, loss.dtype) / batch
        grads = []
        for layer in range(len(self.weights) - 1, -1, -1):
            grads.append((numpy.dot(delta.T, inputs[layer]), delta.sum(axis=0)))
            if layer > 0:
                delta = numpy.dot(delta, self.weights[layer]) * (pre_activations[layer - 1] > 0)
        for (w, b), (w_grad, b_grad) in zip(zip(self.weights, self.biases), reversed(grads)):
            w -= self.lr * w_grad
            b -= self.lr * b_grad
        return loss

def tiny_chainrule_step():
    """One SGD step of an 8-8-8-4 chainrule MLP on one sample: interpreter work, almost no arrays."""
    import numpy

    import chainrule
    from chainrule import nn, optim
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x = chainrule.tensor(numpy.random.default_rng(0).random((1, 8), dtype=numpy.float32))
    label = chainrule.tensor([1])

    def step():
        loss = nn.functional.cross_entropy(model(x), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=0, help="steps per timed call (default: "
                        "about a tenth of a second's worth)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=harness.BLAS_THREADS)
    args = parser.parse_args()
    harness.limit_threads(args.threads, torch=False)
    steps = args.steps or max(20, 3000 // args.batch)
    images, labels = mlp.make_data(args.batch * steps)
    layers = mlp.initial_weights("relu")
    ours, limit, arrays = (mlp.ChainruleMLP(layers), mlp.NumpyMLP(layers), ChainruleArrays(layers))
    beside, tiny = mlp.NumpyMLP(layers), tiny_chainrule_step()
    # the same computation first: the loss of the third step (after two updates) of each
    few = slice(0, 3 * args.batch)
    same = [float(m.epoch(images[few], labels[few], args.batch))
            for m in (ChainruleArrays(layers), mlp.NumpyMLP(layers))]
    if abs(same[0] - same[1]) > 1e-5 * abs(same[1]):
        raise SystemExit(f"chainrule's arrays and the limit disagree: losses {same}")

    def limit_and_fixed_python():
        for x, t in mlp.batches(images, labels, args.batch):
            beside.step(x, t)
            tiny()

    def fixed_python_alone():
        for _ in range(steps):
            tiny()
    candidates = {"chainrule": lambda: ours.epoch(images, labels, args.batch),
                  "numpy limit": lambda: limit.epoch(images, labels, args.batch),
                  "chainrule's arrays": lambda: arrays.epoch(images, labels, args.batch),
                  "limit + fixed Python": limit_and_fixed_python,
                  "fixed Python alone": fixed_python_alone}
    timings = harness.compare(candidates, repeats=args.rounds, warmup=1, per_call=steps)
    print(harness.table(timings, baseline="numpy limit", unit="us",
                        title=f"batch {args.batch}, {args.threads} BLAS thread(s): microseconds "
                              f"per step ({steps} steps per call, {args.rounds} rounds)"))
    median = {name: timing.median for name, timing in timings.items()}
    engine = median["chainrule"] - median["chainrule's arrays"]
    added = median["limit + fixed Python"] - median["numpy limit"]
    alone = median["fixed Python alone"]
    print(f"\nchainrule − chainrule's arrays: {engine * 1e6:.0f} µs per step (the engine's "
          "interpreter work, as it costs here)")
    print(f"fixed Python: {alone * 1e6:.0f} µs alone, {added * 1e6:.0f} µs between the limit's "
          f"steps ({added / alone:.1f}×)")

if __name__ == "__main__":
    main()
