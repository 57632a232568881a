"""Benchmark 8: chainrule.compile against eager chainrule and the hand-written NumPy limit.

The 784-256-256-10 MLP with plain SGD (benchmarks/mlp.py): one epoch at batch 128, ReLU and
sigmoid, and the time per step at batch 16 and batch 1 (ReLU); then one training step of the
GPT of bench_transformer.py (forward, backward, clipping, AdamW), compiled against eager
(bench_transformer.py times the compiled step beside eager chainrule and PyTorch). The MLP's
rows time a compiled step and a limit that keep their gradients too (``keep_gradients``: the
update through a scratch buffer, as a step whose ``p.grad`` survives it must do it).
Before anything is timed, the compiled and the eager model train side by side from the same
weights and must end with bitwise the same losses and weights.

    python benchmarks/bench_compile.py --quick
    python benchmarks/bench_compile.py --full
"""
from __future__ import annotations

import functools

import numpy

import harness
import mlp

SETTINGS = [("epoch", 128, "relu", 469), ("epoch", 128, "sigmoid", 469),
            ("step", 16, "relu", 100), ("step", 1, "relu", 250)]  # (what, batch, activation, steps)


class CompiledMLP(mlp.ChainruleMLP):
    """The same model and step as ChainruleMLP, the step wrapped in chainrule.compile."""

    def __init__(self, layers, activation: str = "relu", lr: float = mlp.LEARNING_RATE,
                 keep_gradients: bool = False):
        super().__init__(layers, activation, lr, keep_gradients)
        self.compiled = self.chainrule.compile(super().step)

    def step(self, x, labels):
        return self.compiled(x, labels)  # the arrays, as to the eager step: it makes the tensors


def check_bitwise(activation: str, batch_size: int, steps: int = 6) -> None:
    """Compiled and eager from the same weights: every loss and every weight bit for bit."""
    images, labels = mlp.make_data(batch_size * steps, seed=2)
    layers = mlp.initial_weights(activation, seed=2)
    for keep in (False, True):
        eager = mlp.ChainruleMLP(layers, activation, keep_gradients=keep)
        compiled = CompiledMLP(layers, activation, keep_gradients=keep)
        for x, t in mlp.batches(images, labels, batch_size):
            a, b = eager.step(x, t).item(), compiled.step(x, t).item()
            if a != b:
                raise SystemExit(f"compiled and eager losses differ ({activation}, batch "
                                 f"{batch_size}): {b!r} against {a!r}")
        for p, q in zip(eager.model.parameters(), compiled.model.parameters()):
            if not numpy.array_equal(p.data, q.data):
                raise SystemExit(f"compiled and eager weights differ ({activation}, batch "
                                 f"{batch_size})")


def gpt_steps(quick: bool) -> dict:
    """Eager and compiled GPT training steps from the same weights, on the same batches."""
    import chainrule
    from bench_transformer import BATCH, BENCH, BETAS, CLIP, LR, WEIGHT_DECAY
    from chainrule import nn, optim
    from chainrule.models.gpt import GPT, GPTConfig

    rng = numpy.random.default_rng(0)
    count = 3 if quick else 10
    shape = (BATCH, BENCH["block_size"] + 1)
    tokens = [chainrule.tensor(rng.integers(0, BENCH["vocab_size"], shape)) for _ in range(count)]
    runs, models = {}, []
    for name in ("compiled", "eager"):
        chainrule.manual_seed(0)
        model = GPT(GPTConfig(**BENCH))
        optimizer = optim.AdamW(model.optimizer_groups(WEIGHT_DECAY), lr=LR, betas=BETAS)

        def step(x, y, model=model, optimizer=optimizer):
            _, loss = model(x, y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
            optimizer.zero_grad()  # after the update, as lm train does
            return loss
        run = chainrule.compile(step) if name == "compiled" else step
        batches = [(t[:, :-1], t[:, 1:]) for t in tokens]
        runs[name] = lambda run=run, batches=batches: [run(x, y) for x, y in batches]
        models.append(model)
    losses = [[loss.item() for loss in run()] for run in runs.values()]  # eager call, recording
    losses = [[loss.item() for loss in run()] for run in runs.values()]  # replays
    if losses[0] != losses[1] or not all(numpy.array_equal(p.data, q.data) for p, q in
                                         zip(models[0].parameters(), models[1].parameters())):
        raise SystemExit("compiled and eager GPT steps differ")
    return runs, count


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    repeats = 7 if args.quick else 15
    print("## 8. chainrule.compile: compiled step vs eager vs the NumPy limit\n")
    results = {}
    for what, batch_size, activation, steps in SETTINGS:
        steps = max(10, steps // 10) if args.quick else steps
        check_bitwise(activation, batch_size)
        images, labels = mlp.make_data(batch_size * steps)
        layers = mlp.initial_weights(activation)
        keeping = functools.partial(CompiledMLP, keep_gradients=True)
        makers = {"compiled": CompiledMLP, "compiled keeping gradients": keeping,
                  "eager": mlp.ChainruleMLP, "numpy limit": mlp.NumpyMLP,
                  "limit keeping gradients": functools.partial(mlp.NumpyMLP, keep_gradients=True)}
        candidates = {}
        for name, maker in makers.items():
            model = maker(layers, activation)
            candidates[name] = lambda model=model: model.epoch(images, labels, batch_size)
        per_call = 1 if what == "epoch" else steps
        timings = harness.compare(candidates, repeats=repeats, warmup=1, per_call=per_call)
        unit = "s" if what == "epoch" else "us"
        title = (f"{activation}, batch {batch_size}: " +
                 (f"seconds per epoch of {steps * batch_size:,} samples" if what == "epoch"
                  else f"microseconds per step ({steps} steps per call)") +
                 f", {repeats} alternating repeats; compiled and eager bitwise equal")
        print(harness.table(timings, baseline="numpy limit", unit=unit, title=title), "\n")
        results[f"{what} {activation} {batch_size}"] = timings
    runs, count = gpt_steps(args.quick)
    timings = harness.compare(runs, repeats=repeats, warmup=1, per_call=count)
    print(harness.table(timings, baseline="eager", unit="ms",
                        title=f"GPT training step (n_layer 4, n_embd 128, block 64, batch 32, "
                              f"clipping, AdamW): milliseconds per step ({count} steps per call), "
                              f"{repeats} alternating repeats; compiled and eager bitwise equal"),
          "\n")
    results["gpt step"] = timings
    harness.print_machine()
    harness.save_json(args.json, {"timings": results})


if __name__ == "__main__":
    main()
