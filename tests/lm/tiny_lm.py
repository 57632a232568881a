"""The tiny GPT settings and the small text of the language-model tests (a module of its own
name: test modules that imported them from ``conftest`` got tests/rl's when both folders ran)."""
import random

TINY = dict(n_layer=1, n_head=2, n_embd=32, block_size=8, batch_size=16, eval_interval=25,
            learning_rate=1e-2, min_lr=1e-3,
            eval_iters=2, final_eval_iters=4, seed=0)


def make_text(lines: int = 300, seed: int = 0) -> str:
    """Sentences from a dozen words: structure a model can learn in a hundred steps."""
    rng = random.Random(seed)
    subjects, verbs, objects = ["the cat", "a dog", "my lord"], ["sees", "loves", "bites"], \
        ["the king.", "a rose.", "thee."]
    return "\n".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
                     for _ in range(lines)) + "\n"
