"""One training step of the GPT, chainrule (eager and compiled) against PyTorch on the CPU.

The step is the whole of it: forward, cross-entropy, backward, gradient clipping and an AdamW
update, for n_layer 4, n_head 4, n_embd 128, block 64, batch 32 (vocabulary 65), in float32;
``--batch 12`` makes it the ``baby`` preset's step (the same model, its batch).
The three models start from the same weights (chainrule's, copied into PyTorch) and see the same
batches; the steps run alternately in one process after a warm-up (see harness.py). The
compiled step is ``chainrule.compile`` of the eager one, recorded before the timing starts.

    python benchmarks/bench_transformer.py [--quick | --full] [--threads N] [--batch B]
                                           [--json PATH]
    python benchmarks/bench_transformer.py --full --threads 2 --alone pytorch
"""
from __future__ import annotations

import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BLAS_THREADS, Timing, compare, limit_threads, machine_info,  # noqa: E402
                     print_machine, save_json, table)

BENCH = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
             bias=False, tie_weights=True)
BATCH = 32  # issue 5's transformer row; the baby preset trains at 12
LR, BETAS, WEIGHT_DECAY, CLIP = 1e-3, (0.9, 0.99), 0.1, 1.0


def build_pair(config_values: dict, dtype: str, seed: int = 0):
    """A chainrule GPT and a PyTorch GPT with identical weights, each with its AdamW."""
    import torch

    import chainrule
    import chainrule.optim
    from chainrule.models.gpt import GPT, GPTConfig
    from torch_gpt import TorchGPT

    config = GPTConfig(**config_values)
    chainrule.manual_seed(seed)
    model = GPT(config).to(dtype)
    optimizer = chainrule.optim.AdamW(model.optimizer_groups(WEIGHT_DECAY), lr=LR, betas=BETAS)
    reference = TorchGPT(config).to(getattr(torch, dtype))
    reference.load_chainrule_state({name: tensor.numpy() for name, tensor in model.state_dict().items()})
    reference_optimizer = reference.optimizer(LR, WEIGHT_DECAY, BETAS)
    return model, optimizer, reference, reference_optimizer


def chainrule_step(model, optimizer, x, y) -> float:
    import chainrule

    _, loss = model(x, y)
    loss.backward()
    chainrule.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    optimizer.zero_grad()  # after the update, as lm train and nanoGPT's train.py do
    return loss.item()


def compiled_step(model, optimizer):
    """The eager step as ``chainrule.compile`` records and replays it (returning the loss)."""
    import chainrule

    @chainrule.compile
    def step(x, y):
        _, loss = model(x, y)
        loss.backward()
        chainrule.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        optimizer.zero_grad()
        return loss
    return lambda model_, optimizer_, x, y: step(x, y).item()


def torch_step(model, optimizer, x, y) -> float:
    import torch

    loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def batches(count: int, batch: int, length: int, vocab: int, seed: int = 1):
    """``count`` (inputs, targets) pairs of token ids cut from one random 'text'."""
    rng = numpy.random.default_rng(seed)
    text = rng.integers(0, vocab, size=20_000)
    pairs = []
    for _ in range(count):
        starts = rng.integers(0, len(text) - length - 1, size=batch)
        x = numpy.stack([text[s:s + length] for s in starts])
        y = numpy.stack([text[s + 1:s + length + 1] for s in starts])
        pairs.append((x, y))
    return pairs


def time_steps(threads: int, repeats: int, warmup: int, batch: int = BATCH, alone=None):
    """Seconds per float32 training step of each library, alternating; ``alone``: of that
    one only, the others built but never run."""
    import torch

    import chainrule

    limit_threads(threads)
    model, optimizer, reference, reference_optimizer = build_pair(BENCH, "float32")
    compiled_model, compiled_optimizer, _, _ = build_pair(BENCH, "float32")
    data = batches(repeats + warmup, batch, BENCH["block_size"], BENCH["vocab_size"])
    ours = [(chainrule.tensor(x), chainrule.tensor(y)) for x, y in data]
    theirs = [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in data]
    compiled = compiled_step(compiled_model, compiled_optimizer)
    for x, y in ours[:2]:  # the first call runs eagerly, the second records
        compiled(None, None, x, y)
    position = {"chainrule": 0, "chainrule compiled": 0, "pytorch": 0}
    # CPU seconds of each call too: on a shared machine, time spent waiting for a core
    # inflates wall-clock times at random, while the CPU time of a one-thread step does not.
    cpu = {name: [] for name in position}

    def timed(name, step, model_, optimizer_, pairs):
        def run():
            x, y = pairs[position[name] % len(pairs)]
            position[name] += 1
            started = time.process_time()
            step(model_, optimizer_, x, y)
            cpu[name].append(time.process_time() - started)
        return run

    steps = {"chainrule": timed("chainrule", chainrule_step, model, optimizer, ours),
             "chainrule compiled": timed("chainrule compiled", compiled, None, None, ours),
             "pytorch": timed("pytorch", torch_step, reference, reference_optimizer, theirs)}
    timings = compare({name: step for name, step in steps.items() if alone in (None, name)},
                      repeats=repeats, warmup=warmup)
    cpu_timings = {name: Timing(f"{name} (CPU time)", values[warmup:])
                   for name, values in cpu.items() if alone in (None, name)}
    return timings, cpu_timings


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a few steps: a smoke test")
    mode.add_argument("--full", action="store_true", help="the repeats RESULTS.md is made from")
    parser.add_argument("--threads", type=int, default=BLAS_THREADS)
    parser.add_argument("--batch", type=int, default=BATCH, help="sequences per step (baby: 12)")
    parser.add_argument("--alone", choices=["chainrule", "chainrule compiled", "pytorch"],
                        help="time this library's step alone (a line, no table): separate "
                             "processes compare without the libraries' idle threads spinning "
                             "on each other's cores, which they do at 2 threads in one process")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    repeats, warmup = (3, 1) if args.quick else (40, 5) if args.full else (15, 3)
    timings, cpu_timings = time_steps(args.threads, repeats, warmup, args.batch, args.alone)
    if args.alone:
        timing = timings[args.alone]
        print(f"{args.alone} alone, batch {args.batch}, {args.threads} thread(s): median "
              f"{timing.median * 1e3:.1f} ms, min {timing.min * 1e3:.1f} ms per step")
        return
    title = (f"GPT training step (n_layer 4, n_head 4, n_embd 128, block 64, batch {args.batch}, "
             f"AdamW, clipping), float32, {args.threads} thread(s)")
    print(table(timings, baseline="pytorch", unit="ms", title=title + ", wall-clock"))
    print()
    print(table(cpu_timings, baseline="pytorch", unit="ms", title=title + ", CPU time of the process"))
    print()
    print_machine(machine_info())
    save_json(args.json, {"timings": timings, "cpu_timings": cpu_timings,
                          "machine": machine_info()})


if __name__ == "__main__":
    main()
