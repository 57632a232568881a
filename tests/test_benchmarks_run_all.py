"""benchmarks/run_all.py, the smoke test of every benchmark: a benchmark that crashes fails it."""
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def run_all(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import run_all
    return run_all


def test_run_all_exits_with_an_error_naming_the_benchmarks_that_failed(run_all, tmp_path,
                                                                         monkeypatch, capsys):
    (tmp_path / "bench_fine.py").write_text("print('fine')\n")
    (tmp_path / "bench_broken.py").write_text("import module_that_is_not_installed\n")
    monkeypatch.setattr(run_all, "HERE", str(tmp_path))
    monkeypatch.setattr(run_all, "BENCHMARKS", ["bench_fine.py", "bench_broken.py"])
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--quick", "--threads", "1"])
    with pytest.raises(SystemExit) as exit:
        run_all.main()
    assert exit.value.code == "run_all: 1 of 2 benchmarks failed: bench_broken.py (their errors " \
                              "are above)"
    captured = capsys.readouterr()
    assert "fine" in captured.out and "module_that_is_not_installed" in captured.err


def test_run_all_succeeds_when_every_benchmark_does(run_all, tmp_path, monkeypatch, capsys):
    (tmp_path / "bench_fine.py").write_text("print('fine')\n")
    monkeypatch.setattr(run_all, "HERE", str(tmp_path))
    monkeypatch.setattr(run_all, "BENCHMARKS", ["bench_fine.py"])
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--quick", "--threads", "1"])
    run_all.main()
    assert "all benchmarks:" in capsys.readouterr().out
