"""The lecture's worked examples (examples/*.py) run and print the slides' numbers."""
import importlib.util
import math
from pathlib import Path

import numpy
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(stem: str):
    """Import examples/<stem>.py (file names start with a digit, so not by `import`)."""
    spec = importlib.util.spec_from_file_location(f"example_{stem}", EXAMPLES / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_01_univariate_chain_rule_matches_the_slides_formulas(capsys):
    result = load("01_univariate_chain_rule").main(["--w", "0.5", "--x", "2", "--b", "0.1",
                                                    "--t", "1"])
    out = capsys.readouterr().out
    z = 0.5 * 2 + 0.1
    y = 1 / (1 + math.exp(-z))
    z_bar = (y - 1) * y * (1 - y)
    expected = {"z": z, "y": y, "L": 0.5 * (y - 1) ** 2, "y_bar": y - 1, "z_bar": z_bar,
                "w_bar": z_bar * 2, "b_bar": z_bar}
    for key, value in expected.items():
        assert result["engine"][key] == pytest.approx(value, rel=1e-12), key
    assert f"{z_bar * 2:14.8f}" in out and "w̄ = z̄ x" in out
    assert "Backward pass" in out  # explain's table follows


def test_02_multivariate_chain_rule_sums_both_paths(capsys):
    result = load("02_multivariate_chain_rule").main(["--t", "0.7"])
    out = capsys.readouterr().out
    t = 0.7
    x, y = math.cos(t), t * t
    slide = y * math.exp(x * y) * (-math.sin(t)) + (1 + x * math.exp(x * y)) * 2 * t
    assert result["engine"]["df_dt"] == pytest.approx(slide, rel=1e-12)
    assert result["numeric"] == pytest.approx(slide, rel=1e-7)
    t_row = [step for step in result["report"].backward if step.name == "t"][0]
    assert sorted(term.child for term in t_row.terms) == ["x", "y"]  # fan-out: two terms
    assert f"{slide:.10f}" in out


def test_03_cross_entropy_gradient_is_y_minus_t(capsys):
    result = load("03_softmax_cross_entropy").main(["--classes", "5", "--label", "4"])
    capsys.readouterr()
    assert numpy.allclose(result["z_bar"], result["y"] - numpy.eye(5)[4], rtol=0, atol=1e-14)
    assert numpy.allclose(result["W_bar"], result["outer"], rtol=0, atol=1e-14)
    assert numpy.allclose(result["fused_z_bar"], result["y_minus_t"], rtol=0, atol=1e-14)
    assert result["L"] == pytest.approx(-math.log(result["y"][4]), rel=1e-12)
    assert result["fused_L"] == pytest.approx(result["L"], rel=1e-12)


def test_04_two_layer_backward_pass_matches_the_slide_element_by_element(capsys):
    result = load("04_two_layer_backprop").main(["--inputs", "3", "--hidden", "6",
                                                 "--outputs", "2", "--seed", "3"])
    out = capsys.readouterr().out
    slide, engine = result["slide"], result["engine"]
    assert set(slide) == {"ȳ", "W̄⁽²⁾", "b̄⁽²⁾", "h̄", "z̄", "W̄⁽¹⁾", "b̄⁽¹⁾", "L"}
    for name in slide:
        assert numpy.shape(slide[name]) == numpy.shape(engine[name]), name
        assert numpy.allclose(slide[name], engine[name], rtol=1e-12, atol=1e-14), name
    assert slide["W̄⁽¹⁾"].shape == (6, 3) and "z̄ = h̄ ∘ σ′(z)" in out


def test_05_logistic_regression_gradient_is_the_slides_sum_and_ascent_climbs(capsys):
    result = load("05_logistic_regression_gradient").main(["--samples", "80", "--steps", "4"])
    capsys.readouterr()
    assert numpy.allclose(result["engine"], result["slide"], rtol=1e-12, atol=1e-12)
    assert all(later > earlier for earlier, later in zip(result["ascent"], result["ascent"][1:]))
    assert result["accuracy"] > 0.85  # two clouds two units apart are mostly separable


def test_06_full_batch_descends_smoothly_and_sgd_gets_further_per_example(tmp_path, capsys):
    example = load("06_gd_vs_sgd")
    result = example.run(samples=200, epochs=2)
    curves = result["curves"]
    full_seen, full_losses = curves[200]
    assert list(full_seen) == [0, 200, 400]
    assert numpy.all(numpy.diff(full_losses) < 0)  # gradient descent: every step lowers the loss
    for batch_size in (1, 32):
        seen, losses = curves[batch_size]
        assert seen[-1] == 400
        after_one_epoch = losses[numpy.searchsorted(seen, 200)]
        assert after_one_epoch < full_losses[-1] / 2  # half the examples, under half the loss
    assert curves[32][1][-1] < 4 * result["optimum"]
    path = example.plot(result, tmp_path / "sgd.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_07_more_hidden_units_fit_the_function_better(tmp_path):
    example = load("07_universal_approximation")
    result = example.run(hidden_sizes=(1, 8), steps=300, samples=100)
    fits = result["fits"]
    assert fits[8]["mse"] < fits[1]["mse"] / 10
    # the network's curve on the plotting grid is the fitted function, close to the target
    error = numpy.abs(fits[8]["curve"] - example.target_function(result["grid"])).mean()
    assert error < 0.15
    assert example.plot(result, tmp_path / "fit.png").stat().st_size > 10_000


def test_08_the_mlp_bends_around_the_moons_and_beats_logistic_regression(tmp_path):
    example = load("08_decision_boundaries")
    result = example.run(samples=200, hidden=8, steps=200, seed=0)
    accuracy = {name.split()[0]: entry["accuracy"] for name, entry in result["models"].items()}
    assert accuracy["MLP"] >= 0.9
    assert accuracy["MLP"] > accuracy["logistic"] + 0.05
    assert example.plot(result, tmp_path / "moons.png").stat().st_size > 10_000
