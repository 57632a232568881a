"""The MLP of the benchmarks, four ways: chainrule, a hand-written NumPy program, PyTorch, scikit-learn.

784-256-256-10, ReLU or sigmoid hidden units, softmax cross-entropy (mean over the batch), plain
SGD. Each maker takes the same initial weights, so that the four can be checked to compute the
same thing before they are timed (``check_agreement``).

The hand-written NumPy program is the **limit**: what a NumPy-based engine could at best reach.
It is the slides' forward and backward formulas, vectorised over the batch, with every buffer
allocated once and every update done in place.
"""
from __future__ import annotations

import numpy

SIZES = (784, 256, 256, 10)
LEARNING_RATE = 0.1


def make_data(samples: int, seed: int = 0):
    """MNIST-shaped synthetic data: pixels uniform on [0, 1) as float32, labels 0..9 as int64."""
    rng = numpy.random.default_rng(seed)
    images = numpy.empty((samples, SIZES[0]), dtype=numpy.float32)
    rng.random(dtype=numpy.float32, out=images)  # in place: no temporary to inflate peak memory
    labels = rng.integers(0, SIZES[-1], size=samples).astype(numpy.int64)
    return images, labels


def initial_weights(activation: str, seed: int = 0) -> list:
    """[(W, b), ...] with W of shape (out, in), float32: He init for ReLU, Xavier for sigmoid."""
    rng = numpy.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        scale = numpy.sqrt(2 / fan_in) if activation == "relu" else numpy.sqrt(2 / (fan_in + fan_out))
        weight = (rng.standard_normal((fan_out, fan_in)) * scale).astype(numpy.float32)
        bias = numpy.zeros(fan_out, dtype=numpy.float32)
        layers.append((weight, bias))
    return layers


def batches(images, labels, batch_size: int):
    """The same minibatches for everyone: consecutive slices (views, no copies)."""
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size], labels[start:start + batch_size]


class SteppedMLP:
    """One ``step(x, labels)`` per minibatch makes an epoch; it returns the last step's loss."""

    def epoch(self, images, labels, batch_size: int):
        loss = None
        for x, t in batches(images, labels, batch_size):
            loss = self.step(x, t)
        return loss


# ---------------------------------------------------------------- the NumPy limit
class NumpyMLP(SteppedMLP):
    """The slides' MLP by hand. For a batch X of B rows, with layers ℓ = 1..3:

        forward:   Hℓ = Aℓ₋₁ Wℓᵀ + bℓ,   Aℓ = f(Hℓ) (A₀ = X; no f on the last layer)
                   P = softmax(H₃),  L = −(1/B) Σᵢ log Pᵢ,tᵢ
        backward:  Δ₃ = (P − onehot(t)) / B
                   W̄ℓ = Δℓᵀ Aℓ₋₁,  b̄ℓ = Σᵢ Δℓ,ᵢ,  Δℓ₋₁ = (Δℓ Wℓ) ∘ f′(Hℓ₋₁)
        update:    Wℓ ← Wℓ − η W̄ℓ,  bℓ ← bℓ − η b̄ℓ   (in place)

    f′ is read off the activation itself: ReLU′ = [A > 0], σ′ = A(1 − A).

    The update scales each W̄ℓ in place, so the gradients don't survive the step, as an engine's
    don't when the step lets go of them after the update (``optimizer.zero_grad()`` last, as
    here and in fit). A step that keeps them (``p.grad`` after ``optimizer.step()``) must update
    through a scratch buffer instead, W ← W − (η W̄), the same numbers: ``keep_gradients=True``.
    """

    def __init__(self, layers, activation: str = "relu", lr: float = LEARNING_RATE,
                 keep_gradients: bool = False):
        self.weights = [w.copy() for w, _ in layers]
        self.biases = [b.copy() for _, b in layers]
        self.activation = activation
        self.lr = numpy.float32(lr)
        self.weight_grads = [numpy.empty_like(w) for w in self.weights]
        self.scaled_grads = [numpy.empty_like(w) for w in self.weights] if keep_gradients else None
        self._buffers = {}

    def _buffers_for(self, batch: int):
        """Activations and error signals for this batch size, allocated once."""
        if batch not in self._buffers:
            widths = SIZES[1:]
            self._buffers[batch] = (
                [numpy.empty((batch, n), numpy.float32) for n in widths],       # A₁, A₂, H₃
                [numpy.empty((batch, n), numpy.float32) for n in widths[:-1]],  # Δ₁, Δ₂
                numpy.empty((batch, widths[0]), numpy.float32),                 # σ′ scratch
                numpy.arange(batch),
            )
        return self._buffers[batch]

    def _activate(self, h):
        if self.activation == "relu":
            numpy.maximum(h, 0, out=h)
        else:  # σ(h) = 1/(1 + e⁻ʰ), as chainrule and PyTorch compute it (e⁻ʰ = inf: σ = 0)
            numpy.negative(h, out=h)
            with numpy.errstate(over="ignore"):
                numpy.exp(h, out=h)
            h += 1
            numpy.divide(1, h, out=h)

    def _times_derivative(self, delta, a, scratch):
        if self.activation == "relu":
            numpy.multiply(delta, a > 0, out=delta)
        else:
            numpy.subtract(1, a, out=scratch)
            scratch *= a
            delta *= scratch

    def step(self, x, labels) -> float:
        batch = x.shape[0]
        outs, deltas, scratch_full, rows = self._buffers_for(batch)
        weights, biases = self.weights, self.biases
        # forward
        inputs = [x]
        for layer, (w, b) in enumerate(zip(weights, biases)):
            h = numpy.dot(inputs[-1], w.T, out=outs[layer])
            h += b
            if layer < len(weights) - 1:
                self._activate(h)
            inputs.append(h)
        logits = inputs[-1]
        # softmax cross-entropy, in place: logits become P, then Δ₃
        logits -= logits.max(axis=1, keepdims=True)
        picked = logits[rows, labels]
        numpy.exp(logits, out=logits)
        totals = logits.sum(axis=1, keepdims=True)
        loss = float(numpy.log(totals[:, 0]).mean() - picked.mean())
        logits /= totals
        logits[rows, labels] -= 1
        logits *= numpy.float32(1 / batch)
        # backward and update, last layer first; each W is updated once its Δ has used it
        delta = logits
        for layer in range(len(weights) - 1, -1, -1):
            w, grad = weights[layer], self.weight_grads[layer]
            numpy.dot(delta.T, inputs[layer], out=grad)
            bias_grad = delta.sum(axis=0)
            if layer > 0:
                below = numpy.dot(delta, w, out=deltas[layer - 1])
                self._times_derivative(below, inputs[layer], scratch_full[:, :below.shape[1]])
            if self.scaled_grads is None:
                grad *= -self.lr
                w += grad
            else:
                w -= numpy.multiply(grad, self.lr, out=self.scaled_grads[layer])
            bias_grad *= -self.lr
            biases[layer] += bias_grad
            if layer > 0:
                delta = below
        return loss


# ---------------------------------------------------------------- chainrule
class ChainruleMLP(SteppedMLP):
    """chainrule as a user writes it: a Sequential, F.cross_entropy, backward, SGD, and the
    gradients let go of once used (``zero_grad()`` last); ``keep_gradients=True`` zeroes them
    first instead, as PyTorch's tutorials do, so that ``p.grad`` survives the step."""

    def __init__(self, layers, activation: str = "relu", lr: float = LEARNING_RATE,
                 keep_gradients: bool = False):
        import chainrule
        from chainrule import nn, optim

        self.chainrule, self.functional = chainrule, nn.functional
        act = nn.ReLU if activation == "relu" else nn.Sigmoid
        self.model = nn.Sequential(nn.Linear(784, 256), act(), nn.Linear(256, 256), act(),
                                   nn.Linear(256, 10))
        linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        with chainrule.no_grad():
            for module, (w, b) in zip(linears, layers):
                module.weight.copy_(chainrule.tensor(w))
                module.bias.copy_(chainrule.tensor(b))
        self.optimizer = optim.SGD(self.model.parameters(), lr=lr)
        self.keep_gradients = keep_gradients

    def step(self, x, labels):
        loss = self.functional.cross_entropy(self.model(self.chainrule.as_tensor(x)),
                                             self.chainrule.as_tensor(labels))
        if self.keep_gradients:
            self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if not self.keep_gradients:
            self.optimizer.zero_grad()  # once used, as fit's step and nanoGPT let go of them
        return loss


# ---------------------------------------------------------------- PyTorch
class TorchMLP(SteppedMLP):
    """PyTorch eager on the CPU, written the usual way."""

    def __init__(self, layers, activation: str = "relu", lr: float = LEARNING_RATE):
        import torch

        self.torch = torch
        act = torch.nn.ReLU if activation == "relu" else torch.nn.Sigmoid
        self.model = torch.nn.Sequential(torch.nn.Linear(784, 256), act(), torch.nn.Linear(256, 256),
                                         act(), torch.nn.Linear(256, 10))
        linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for module, (w, b) in zip(linears, layers):
                module.weight.copy_(torch.from_numpy(w))
                module.bias.copy_(torch.from_numpy(b))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self, x, labels):
        torch = self.torch
        loss = torch.nn.functional.cross_entropy(self.model(torch.from_numpy(x)),
                                                 torch.from_numpy(labels))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss


# ---------------------------------------------------------------- scikit-learn
class SklearnMLP:
    """``MLPClassifier(solver="sgd")`` with momentum, L2 penalty and shuffling switched off, so
    that it runs the same plain SGD; ``partial_fit`` makes one pass over what it is given."""

    def __init__(self, layers, activation: str = "relu", lr: float = LEARNING_RATE,
                 batch_size: int = 128):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        self.model = MLPClassifier(
            hidden_layer_sizes=SIZES[1:-1], activation="relu" if activation == "relu" else "logistic",
            solver="sgd", alpha=0.0, batch_size=batch_size, learning_rate="constant",
            learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False, shuffle=False,
            max_iter=1, random_state=0)
        # partial_fit once to build its arrays and optimiser, then put our weights in them in place
        # (its optimiser holds references to these very arrays); the first batch is repeated below.
        x0 = numpy.zeros((batch_size, SIZES[0]), numpy.float32)
        self.model.partial_fit(x0, numpy.arange(batch_size) % SIZES[-1],
                               classes=numpy.arange(SIZES[-1]))
        for index, (w, b) in enumerate(layers):
            self.model.coefs_[index][...] = w.T  # scikit-learn stores W as (in, out)
            self.model.intercepts_[index][...] = b

    def step(self, x, labels) -> float:
        self.model.partial_fit(x, labels)
        return self.model.loss_  # the loss of this batch, before its update

    def epoch(self, images, labels, batch_size: int) -> float:
        self.model.partial_fit(images, labels)
        return self.model.loss_


MAKERS = {"chainrule": ChainruleMLP, "numpy limit": NumpyMLP, "pytorch": TorchMLP,
          "scikit-learn": SklearnMLP}


def _loss_value(loss) -> float:
    if hasattr(loss, "item"):
        return float(loss.item())
    return float(loss)


def check_agreement(activation: str, steps: int = 5, batch_size: int = 128) -> dict:
    """Same initial weights, same batches: the loss at each of ``steps`` steps and after them.

    Returns {name: [loss₁, …, loss_steps, loss after]}: each loss is the batch's, computed
    before that step's update, so the last entry is the loss after ``steps`` updates.
    """
    images, labels = make_data(batch_size * (steps + 1), seed=1)
    layers = initial_weights(activation, seed=1)
    losses = {}
    for name, maker in MAKERS.items():
        model = maker(layers, activation)
        trace = [_loss_value(model.step(x, t)) for x, t in batches(images, labels, batch_size)]
        losses[name] = trace
    return losses
