"""The lecture's worked examples (examples/*.py), numbered in the lecture's order, run and agree
with the formulas they show."""
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


PORTLAND_LIKE = [(2104, 3, 399900), (1600, 3, 329900), (2400, 3, 369000), (1416, 2, 232000),
                 (3000, 4, 539900), (1985, 4, 299900), (1534, 3, 314900), (1427, 3, 198999)]


def test_01_housing_closed_form_and_gradient_descent_agree_and_price_800_sq_ft(tmp_path, capsys):
    path = tmp_path / "ex1data2.txt"
    path.write_text("".join(f"{size},{rooms},{price}\n" for size, rooms, price in PORTLAND_LIKE))
    result = load("01_housing_prices").main(["--data", str(path), "--epochs", "20"])
    out = capsys.readouterr().out
    closed, descent = result["theta"]["closed form"], result["theta"]["gradient descent"]
    assert numpy.allclose(descent, closed, rtol=1e-9, atol=0)
    sizes = numpy.array([row[0] for row in PORTLAND_LIKE], dtype=float)
    prices = numpy.array([row[2] for row in PORTLAND_LIKE], dtype=float)
    slope, intercept = numpy.polyfit(sizes, prices, 1)   # an independent least-squares line
    expected = intercept + slope * 800
    assert result["prediction"]["closed form"] == pytest.approx(expected, rel=1e-9)
    assert result["prediction"]["SGD"] == pytest.approx(expected, rel=0.05)
    assert f"${expected:,.2f}" in out and "price at 800 sq ft" in out


def test_01_offline_without_data_says_to_give_the_file_with_its_own_flag(tmp_path, monkeypatch,
                                                                         capsys):
    from chainrule.data import download, sources

    def unreachable(remote, folder):
        raise download.DownloadError(f"{remote.urls[0]}: no network", [remote.name])
    monkeypatch.setattr(sources, "fetch", unreachable)
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))
    with pytest.raises(SystemExit) as exit:
        load("01_housing_prices").main([])
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert err.rstrip().endswith("no network; offline, put ex1data2.txt in a folder and give it as "
                                 "--data FOLDER")
    assert "root=" not in err and "Traceback" not in err


def test_02_log_of_the_likelihood_product_is_the_sum_and_the_gradient_is_the_closed_form(capsys):
    result = load("02_logistic_regression").main(["--samples", "80", "--steps", "4"])
    capsys.readouterr()
    assert result["log_product"] == pytest.approx(result["sum_of_logs"], rel=1e-12)
    assert numpy.allclose(result["engine"], result["slide"], rtol=1e-12, atol=1e-12)
    assert all(later > earlier for earlier, later in zip(result["ascent"], result["ascent"][1:]))
    assert result["accuracy"] > 0.85  # two clouds two units apart are mostly separable


def test_03_only_the_softmax_makes_a_distribution_and_softmax_regression_learns(capsys):
    result = load("03_softmax_regression").main(["--steps", "40", "--samples", "150"])
    capsys.readouterr()
    candidates = result["candidates"]
    assert candidates["softmax"]["valid"] == 1.0 and candidates["softmax"]["log_defined"] == 1.0
    assert candidates["θᵢᵀx"]["valid"] < 0.01          # raw scores almost never sum to 1
    assert candidates["θᵢᵀx / Σⱼ θⱼᵀx"]["valid"] < 0.5  # normalised, they still go negative
    assert candidates["θᵢᵀx"]["log_defined"] < 0.6      # −log φ_y needs φ_y > 0
    history = result["training"]["history"]
    assert history[-1] < history[0] / 2 and result["training"]["accuracy"] > 0.7


def test_04_sigmoid_network_bends_around_the_moons_and_its_output_gradient_is_o_1_minus_o(
        tmp_path):
    example = load("04_decision_boundaries")
    result = example.run(samples=200, hidden=8, epochs=100, seed=0)
    gradient = result["output_unit_gradient"]
    assert numpy.allclose(gradient["backward"], gradient["slide"], rtol=1e-6, atol=1e-7)
    accuracy = {name.split()[0]: entry["accuracy"] for name, entry in result["models"].items()}
    assert accuracy["network"] >= 0.9
    assert accuracy["network"] > accuracy["logistic"] + 0.05
    assert example.plot(result, tmp_path / "moons.png").stat().st_size > 10_000


def test_04_the_adam_tanh_variant_also_bends_around_the_moons():
    result = load("04_decision_boundaries").run(samples=200, hidden=8, epochs=20, seed=0,
                                                variant="adam-tanh")
    accuracy = {name.split()[0]: entry["accuracy"] for name, entry in result["models"].items()}
    assert accuracy["network"] >= 0.9 and result["output_unit_gradient"] is None


def test_05_more_hidden_units_fit_the_function_better(tmp_path):
    example = load("05_universal_approximation")
    result = example.run(hidden_sizes=(1, 8), steps=60, samples=100)
    fits = result["fits"]
    assert fits[8]["mse"] < fits[1]["mse"] / 10
    # the network's curve on the plotting grid is the fitted function, close to the target
    error = numpy.abs(fits[8]["curve"] - example.target_function(result["grid"])).mean()
    assert error < 0.15
    assert example.plot(result, tmp_path / "fit.png").stat().st_size > 10_000


def test_05_the_adam_variant_fits_too():
    example = load("05_universal_approximation")
    result = example.run(hidden_sizes=(1, 8), steps=300, samples=100, variant="adam")
    assert result["fits"][8]["mse"] < result["fits"][1]["mse"] / 10
    error = numpy.abs(result["fits"][8]["curve"] - example.target_function(result["grid"])).mean()
    assert error < 0.15


def test_06_univariate_chain_rule_matches_the_slides_formulas(capsys):
    result = load("06_univariate_chain_rule").main(["--w", "0.5", "--x", "2", "--b", "0.1",
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


def test_07_multivariate_chain_rule_sums_both_paths(capsys):
    result = load("07_multivariate_chain_rule").main(["--t", "0.7"])
    out = capsys.readouterr().out
    t = 0.7
    x, y = math.cos(t), t * t
    slide = y * math.exp(x * y) * (-math.sin(t)) + (1 + x * math.exp(x * y)) * 2 * t
    assert result["engine"]["df_dt"] == pytest.approx(slide, rel=1e-12)
    assert result["numeric"] == pytest.approx(slide, rel=1e-7)
    t_row = [step for step in result["report"].backward if step.name == "t"][0]
    assert sorted(term.child for term in t_row.terms) == ["x", "y"]  # fan-out: two terms
    assert f"{slide:.10f}" in out


def test_08_cross_entropy_gradient_is_y_minus_t(capsys):
    result = load("08_softmax_cross_entropy").main(["--classes", "5", "--label", "4"])
    capsys.readouterr()
    assert numpy.allclose(result["z_bar"], result["y"] - numpy.eye(5)[4], rtol=0, atol=1e-14)
    assert numpy.allclose(result["W_bar"], result["outer"], rtol=0, atol=1e-14)
    assert numpy.allclose(result["fused_z_bar"], result["y_minus_t"], rtol=0, atol=1e-14)
    assert result["L"] == pytest.approx(-math.log(result["y"][4]), rel=1e-12)
    assert result["fused_L"] == pytest.approx(result["L"], rel=1e-12)


def test_09_two_layer_backward_pass_by_indices_vectorised_and_by_the_engine_agree(capsys):
    result = load("09_two_layer_backprop").main(["--inputs", "3", "--hidden", "6",
                                                 "--outputs", "2", "--seed", "3"])
    out = capsys.readouterr().out
    elementwise, slide, engine = result["elementwise"], result["slide"], result["engine"]
    assert set(slide) == set(elementwise) == {"ȳ", "W̄⁽²⁾", "b̄⁽²⁾", "h̄", "z̄", "W̄⁽¹⁾", "b̄⁽¹⁾", "L"}
    for name in slide:
        assert numpy.shape(elementwise[name]) == numpy.shape(slide[name]), name
        assert numpy.allclose(elementwise[name], slide[name], rtol=0, atol=1e-12), name
        assert numpy.shape(slide[name]) == numpy.shape(engine[name]), name
        assert numpy.allclose(slide[name], engine[name], rtol=1e-12, atol=1e-14), name
    assert slide["W̄⁽¹⁾"].shape == (6, 3) and "z̄ = h̄ ∘ σ′(z)" in out


def test_10_sgd_with_a_decaying_rate_reaches_the_optimum_a_constant_rate_does_not(tmp_path):
    example = load("10_gd_vs_sgd")
    result = example.run(samples=200, epochs=4)
    curves, optimum = result["curves"], result["optimum"]
    full_seen, full_losses = curves[200]
    assert list(full_seen) == [0, 200, 400, 600, 800]
    assert numpy.all(numpy.diff(full_losses) < 0)  # gradient descent: every step lowers the loss
    for batch_size in (1, 32):
        seen, losses = curves[batch_size]
        assert seen[-1] == 800
        after_one_epoch = losses[numpy.searchsorted(seen, 200)]
        assert after_one_epoch < full_losses[2] / 2  # half the examples, under half the loss
    assert curves[32][1][-1] < 4 * optimum
    constant, decaying = curves[1][1][-1], result["decaying"][1][-1]
    assert constant > 1.5 * optimum            # the constant rate's noise floor
    assert decaying < 1.01 * optimum           # the decaying rate settles at the optimum
    path = example.plot(result, tmp_path / "sgd.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


