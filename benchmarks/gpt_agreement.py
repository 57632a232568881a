"""Does chainrule's GPT train exactly as PyTorch's? And how long does a step take in each?

1. Agreement, in float64: the PyTorch model (benchmarks/torch_gpt.py) starts from chainrule's
   initial weights, both see the same 50 batches, both take 50 AdamW steps (warm-up and cosine
   schedule, gradient clipping at 1.0, weight decay on matrices). The training loss of each step
   must match to 1e-6 relative. A wrong gradient anywhere in the model would change the
   weights, and from the next step on, the loss: this checks every gradient of the model.
2. Time per step, in float32 (the training dtype), both in one process, alternating, after a
   warm-up: the ratio chainrule / PyTorch, in wall-clock and in CPU time (on a shared machine
   CPU time is the steadier of the two).

    python benchmarks/gpt_agreement.py [--steps 50] [--repeats 20] [--threads 1]

3. With ``--control-run input.txt [--seed S] [--exact-gelu]``: PyTorch trains the ``baby``
   preset from chainrule's initial weights on the very batches ``chainrule lm train`` draws,
   and prints its final validation loss, to set beside chainrule's metrics.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_transformer import BATCH, BENCH, batches, build_pair, chainrule_step, torch_step  # noqa: E402
from harness import limit_threads, machine_info, print_machine  # noqa: E402

TOLERANCE = 1e-6
WARMUP_STEPS, DECAY_STEPS, MIN_LR = 10, 50, 1e-4


def agreement(steps: int, **variant) -> dict:
    """Losses of both over ``steps`` float64 AdamW steps with the same schedule and batches;
    ``variant`` changes the architecture (``bias=True``, ``tie_weights=False``)."""
    import torch

    import chainrule
    from chainrule.optim.lr_scheduler import WarmupCosineLR

    model, optimizer, reference, reference_optimizer = build_pair(dict(BENCH, **variant), "float64")
    schedule = WarmupCosineLR(optimizer, WARMUP_STEPS, DECAY_STEPS, MIN_LR)
    reference_schedule = torch.optim.lr_scheduler.LambdaLR(
        reference_optimizer, lambda step: schedule.lr_at(step)[0] / schedule.base_lrs[0])
    ours, theirs = [], []
    for x, y in batches(steps, BATCH, BENCH["block_size"], BENCH["vocab_size"], seed=2):
        ours.append(chainrule_step(model, optimizer, chainrule.tensor(x), chainrule.tensor(y)))
        theirs.append(torch_step(reference, reference_optimizer, torch.as_tensor(x),
                                 torch.as_tensor(y)))
        schedule.step()
        reference_schedule.step()
    errors = [abs(a - b) / abs(b) for a, b in zip(ours, theirs)]
    weights = {name: tensor.numpy() for name, tensor in model.state_dict().items()}
    reference_weights = dict(reference.named_parameters())
    weight_error = max(float(abs(weights[name] - p.detach().numpy()).max())
                       for name, p in reference_weights.items())
    return {"steps": steps, "chainrule_losses": ours, "pytorch_losses": theirs,
            "max_relative_error": max(errors), "max_weight_difference": weight_error}


def timing(repeats: int, warmup: int) -> dict:
    """Milliseconds per float32 step of each library, wall-clock and CPU, alternating."""
    import torch

    import chainrule

    model, optimizer, reference, reference_optimizer = build_pair(BENCH, "float32")
    data = batches(repeats + warmup, BATCH, BENCH["block_size"], BENCH["vocab_size"])
    runs = {"chainrule": lambda x, y: chainrule_step(model, optimizer, chainrule.tensor(x),
                                                     chainrule.tensor(y)),
            "pytorch": lambda x, y: torch_step(reference, reference_optimizer, torch.as_tensor(x),
                                               torch.as_tensor(y))}
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for index, (x, y) in enumerate(data):
        for name, run in runs.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            run(x, y)
            if index >= warmup:
                wall[name].append(1000 * (time.perf_counter() - started))
                cpu[name].append(1000 * (time.process_time() - started_cpu))
    result = {}
    for clock, values in (("wall", wall), ("cpu", cpu)):
        medians = {name: statistics.median(v) for name, v in values.items()}
        result[clock] = {"chainrule_ms": medians["chainrule"], "pytorch_ms": medians["pytorch"],
                         "ratio": medians["chainrule"] / medians["pytorch"]}
    return result


def control_run(text_path: str, seed: int, exact_gelu: bool = False,
                max_iters: int | None = None) -> dict:
    """PyTorch trains the ``baby`` preset exactly as ``chainrule lm train`` does: chainrule's
    initial weights, the same random batches (drawn from chainrule's generator after the
    model's initialisation, as lm.train draws them), the same schedule and clipping, float32.
    Its final validation loss (every block of the last 10%) is directly comparable with
    chainrule's metrics.json. ``exact_gelu`` swaps in the erf GELU, to measure that choice."""
    from dataclasses import replace

    import numpy
    import torch

    from chainrule import backend, lm
    from chainrule.data import load_text
    from chainrule.models.gpt import GPT
    from chainrule.optim.lr_scheduler import warmup_cosine
    from torch_gpt import TorchGPT

    model_config, recipe = lm.configs("baby", seed=seed, max_iters=max_iters)
    text = load_text(text_path)
    tokenizer = lm.TOKENIZERS["char"].from_text(text)
    model_config = replace(model_config, vocab_size=tokenizer.vocab_size)
    train, val = lm.split_tokens(text, tokenizer, model_config.block_size, text_path)
    backend.manual_seed(recipe.seed)
    initial = GPT(model_config)  # draws from the generator exactly as lm.train's model does
    reference = TorchGPT(model_config)
    if exact_gelu:
        for block in reference.h:
            block.mlp.gelu = torch.nn.GELU()
    reference.load_chainrule_state({name: t.numpy() for name, t in initial.state_dict().items()})
    optimizer = reference.optimizer(recipe.learning_rate, recipe.weight_decay,
                                    (recipe.beta1, recipe.beta2))
    rng = backend.generator()
    for step in range(recipe.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine(step, recipe.learning_rate, recipe.warmup_iters,
                                        recipe.lr_decay_iters, recipe.min_lr)
        x, y = lm.get_batch(train, recipe.batch_size, model_config.block_size, rng)
        torch_step(reference, optimizer, torch.as_tensor(x.numpy()), torch.as_tensor(y.numpy()))
    reference.eval()
    block = model_config.block_size
    count = (len(val) - 1) // block
    offsets = (numpy.arange(count) * block)[:, None] + numpy.arange(block)
    total = 0.0
    with torch.no_grad():
        for first in range(0, count, 48):
            rows = offsets[first:first + 48]
            total += reference(torch.as_tensor(val[rows]),
                               torch.as_tensor(val[rows + 1])).item() * len(rows)
    return {"seed": seed, "exact_gelu": exact_gelu, "pytorch_val_loss": total / count}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--bias", action="store_true", help="check the variant with biases")
    parser.add_argument("--untied", action="store_true", help="check the variant without tying")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--control-run", metavar="TEXT",
                        help="instead: train PyTorch's copy on TEXT as 'chainrule lm train "
                             "--preset baby' does (same weights and batches) and print its "
                             "validation loss")
    parser.add_argument("--seed", type=int, default=1337, help="for --control-run")
    parser.add_argument("--exact-gelu", action="store_true", help="for --control-run")
    args = parser.parse_args()
    limit_threads(args.threads)
    if args.control_run:
        print(json.dumps(control_run(args.control_run, args.seed, args.exact_gelu)))
        return

    variant = dict(bias=args.bias, tie_weights=not args.untied)
    result = agreement(args.steps, **variant)
    result["variant"] = variant
    print(f"float64, {args.steps} AdamW steps ({variant}): max relative difference of the training loss "
          f"{result['max_relative_error']:.2e} (tolerance {TOLERANCE:.0e}); largest weight "
          f"difference after the last step {result['max_weight_difference']:.2e}")
    print(f"  first losses: chainrule {result['chainrule_losses'][0]:.12f}, "
          f"pytorch {result['pytorch_losses'][0]:.12f}; last: chainrule "
          f"{result['chainrule_losses'][-1]:.12f}, pytorch {result['pytorch_losses'][-1]:.12f}")
    if not args.skip_timing:
        result["timing"] = timing(args.repeats, args.warmup)
        for clock, numbers in result["timing"].items():
            print(f"float32 step, batch {BATCH}, {args.threads} thread(s), median {clock} time: "
                  f"chainrule {numbers['chainrule_ms']:.1f} ms, pytorch {numbers['pytorch_ms']:.1f} ms, "
                  f"ratio {numbers['ratio']:.2f}×")
    result["machine"] = machine_info()
    print_machine(result["machine"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    if result["max_relative_error"] > TOLERANCE:
        sys.exit(f"FAILED: losses differ by {result['max_relative_error']:.2e} > {TOLERANCE:.0e}")


if __name__ == "__main__":
    main()
