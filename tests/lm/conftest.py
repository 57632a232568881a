"""A small text and a tiny GPT configuration, so that a whole run takes about a second."""
import random

import pytest

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


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One tiny run shared by the generation tests: (run directory, its metrics)."""
    from chainrule import lm

    folder = tmp_path_factory.mktemp("lm")
    text = folder / "corpus.txt"
    text.write_text(make_text(), encoding="utf-8")
    metrics = lm.train(text, folder / "run", max_iters=100, progress=False, **TINY)
    return folder / "run", metrics


@pytest.fixture
def tiny():
    """The tiny settings as a fixture, for test modules that cannot import this file by name."""
    return dict(TINY)
