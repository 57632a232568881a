"""Generation with the KV cache against without: 500 new tokens, the same seed, the same text.

    python benchmarks/bench_generation.py --quick     # 100 tokens, smoke test
    python benchmarks/bench_generation.py --full      # 500 tokens, 5 rounds

The model has the baby preset's width and depth (4 layers, 4 heads, 128 wide) with a context of
1,024 positions, so that 500 new tokens fit in it: past the context, every position shifts with
each new token and each step re-runs the whole context, cache or not (models/gpt.py says why).
Untrained weights: the speed of a step does not depend on what the weights are.
"""
from __future__ import annotations

import numpy

import harness

import chainrule
from chainrule.models.gpt import GPT, GPTConfig


def main() -> None:
    args = harness.arguments(__doc__.split("\n")[0])
    new_tokens, repeats = (100, 2) if args.quick else (500, 5)
    chainrule.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, block_size=1024, n_layer=4, n_head=4, n_embd=128)).eval()
    prompt = chainrule.randint(0, 65, (1, 8))
    texts = {}

    def generate(use_cache: bool):
        def run():
            tokens = model.generate(prompt, new_tokens, top_k=20, use_cache=use_cache,
                                    generator=numpy.random.default_rng(1))
            texts[use_cache] = tokens.numpy()
        return run

    timings = harness.compare({"with KV cache": generate(True), "without": generate(False)},
                              repeats=repeats, warmup=0)
    print(f"## Generation: {new_tokens} tokens, KV cache vs re-running the context\n")
    harness.print_machine()
    print()
    print(harness.table(timings, baseline="with KV cache", unit="s"))
    speedup = timings["without"].median / timings["with KV cache"].median
    identical = bool(numpy.array_equal(texts[True], texts[False]))
    print(f"\nspeed-up {speedup:.1f}× (target ≥ 5×); identical tokens for the seed: {identical}")
    harness.save_json(args.json, {"timings": timings, "speedup": speedup, "identical": identical,
                                  "machine": harness.machine_info()})


if __name__ == "__main__":
    main()
