"""The notebooks in examples/notebooks run from top to bottom (nbclient), so that none can rot;
their own cells assert what they show (the gradients they compare, the accuracy they reach)."""
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "examples" / "notebooks").glob("*.ipynb"))


def test_the_lectures_path_has_its_notebooks():
    names = [path.stem for path in NOTEBOOKS]
    assert names == ["01_logistic_regression", "02_softmax_cross_entropy", "03_chain_rule",
                     "04_computation_graph", "05_mlp_vectorised_backprop", "06_sgd"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_runs_and_shows_its_results(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    rich = [output for output in outputs if output.get("output_type") == "execute_result"]
    if path.stem in ("01_logistic_regression", "02_softmax_cross_entropy", "03_chain_rule",
                     "05_mlp_vectorised_backprop"):
        assert any("text/html" in output["data"] for output in rich)   # the tables as HTML
    if path.stem == "04_computation_graph":
        assert any("image/svg+xml" in output["data"] for output in rich)  # the graph drawn inline
