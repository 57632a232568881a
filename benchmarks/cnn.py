"""One epoch of the tutorials' MNIST CNN, chainrule beside PyTorch on the CPU.

The network is ``chainrule.models.ConvNet``'s default, and PyTorch's copy of it is built with the
same layer names and loaded with the same initial weights:

    Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2)  Conv2d(32, 64, 3, padding=1) ReLU MaxPool2d(2)
    Flatten  Linear(3136, 128) ReLU  Linear(128, 10)      cross-entropy, plain SGD, batch 64

The data are MNIST-shaped synthetic images (uniform pixels, random labels): the time of an epoch
does not depend on what the pixels show. Before timing, the first step's loss is checked to agree
between the libraries (float32, 1e-4 relative), so both time the same computation.

    python benchmarks/cnn.py --quick     # seconds; the chainrule side alone where torch is absent
    python benchmarks/cnn.py --full      # 60 000 images per epoch, 5 epochs each
"""
from __future__ import annotations

import sys
import time

import numpy

from harness import arguments, compare, print_machine, save_json, table

import chainrule
import chainrule.optim
from chainrule.models import ConvNet
from chainrule.nn import functional as F

LEARNING_RATE = 0.05
BATCH_SIZE = 64


def make_images(samples: int, seed: int = 0):
    rng = numpy.random.default_rng(seed)
    images = rng.random((samples, 1, 28, 28), dtype=numpy.float32)
    labels = rng.integers(0, 10, size=samples).astype(numpy.int64)
    return images, labels


def chainrule_trainer(images, labels):
    chainrule.manual_seed(0)
    model = ConvNet()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step(x, t):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(chainrule.from_numpy(x)), chainrule.from_numpy(t))
        loss.backward()
        optimizer.step()
        return loss.item()

    def epoch():
        for start in range(0, len(images), BATCH_SIZE):
            step(images[start:start + BATCH_SIZE], labels[start:start + BATCH_SIZE])
    return model, step, epoch


def torch_trainer(images, labels, weights: dict):
    import torch
    from torch import nn

    class TorchConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                                            nn.Linear(128, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    model = TorchConvNet()
    model.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step(x, t):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(t))
        loss.backward()
        optimizer.step()
        return loss.item()

    def epoch():
        for start in range(0, len(images), BATCH_SIZE):
            step(images[start:start + BATCH_SIZE], labels[start:start + BATCH_SIZE])
    return step, epoch


def main() -> int:
    args = arguments(__doc__.splitlines()[0])
    samples, repeats = (512, 1) if args.quick else (60_000, 5) if args.full else (10_000, 3)
    images, labels = make_images(samples)
    model, chainrule_step, chainrule_epoch = chainrule_trainer(images, labels)
    weights = {name: tensor.numpy().copy() for name, tensor in model.state_dict().items()}
    candidates = {"chainrule": chainrule_epoch}
    try:
        torch_step, torch_epoch = torch_trainer(images, labels, weights)
    except ImportError:
        print("PyTorch is not installed: timing chainrule alone")
    else:
        first = images[:BATCH_SIZE], labels[:BATCH_SIZE]
        ours, theirs = chainrule_step(*first), torch_step(*first)
        if abs(ours - theirs) > 1e-4 * abs(theirs):
            print(f"the first step's losses differ: chainrule {ours:.6f}, PyTorch {theirs:.6f}")
            return 1
        print(f"first step's loss: chainrule {ours:.6f}, PyTorch {theirs:.6f}")
        candidates["pytorch"] = torch_epoch
    print(f"\n## One epoch of the MNIST CNN ({samples} images, batch {BATCH_SIZE}, "
          f"{args.threads} thread(s))\n")
    print_machine()
    started = time.perf_counter()
    timings = compare(candidates, repeats=repeats, warmup=0 if args.quick else 1)
    print()
    print(table(timings, baseline="pytorch" if "pytorch" in timings else "chainrule", unit="s"))
    print(f"\n({time.perf_counter() - started:.1f} s)")
    save_json(args.json, {"cnn_epoch": timings, "samples": samples})
    return 0


if __name__ == "__main__":
    sys.exit(main())
