"""A small text and a tiny GPT configuration, so that a whole run takes about a second."""
import pytest

from tiny_lm import TINY, make_text


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
