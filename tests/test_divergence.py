"""Divergence: every trainer stops a run whose loss, gradient or weights blow up, with one line
that suggests a smaller learning rate, and nothing broken is saved as the model."""
import math

import numpy
import pytest

import chainrule
from chainrule import checkpoint, lm, nn, optim, rl, training
from chainrule.cli import main
from chainrule.divergence import GROWTH, DivergenceGuard, check_parameters, gradient_norm
from chainrule.errors import DivergenceError
from chainrule.nn import functional as F


def make_text() -> str:
    return "the cat sees the king. a dog loves a rose. my lord bites thee.\n" * 40


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_loss_that_is_not_finite_is_divergence(value):
    with pytest.raises(DivergenceError, match=f"the loss became {value} in epoch 2; try a "
                                              "smaller learning rate"):
        DivergenceGuard(first_loss=1.0).check(value, "in epoch 2")


def test_a_gradient_norm_that_is_not_finite_is_divergence():
    with pytest.raises(DivergenceError, match="the gradient norm became nan at step 3"):
        DivergenceGuard(first_loss=1.0).check(0.5, "at step 3", gradient_norm=math.nan)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_first_loss_that_is_not_finite_blames_the_data_not_the_learning_rate(value):
    # measured before any update: no learning rate can have caused it
    with pytest.raises(DivergenceError, match=f"training cannot start: the loss is {value} in "
                                              "the first step, before any update, so a smaller "
                                              "learning rate will not help; look for NaN, "
                                              "infinite or huge values in the data"):
        DivergenceGuard().check(value, "in the first step")
    with pytest.raises(DivergenceError, match="the gradient norm is nan in the first step, "
                                              "before any update"):
        DivergenceGuard().check(0.5, "in the first step", gradient_norm=math.nan)


def test_cli_train_on_a_huge_unscaled_feature_points_at_the_data(tmp_path, capsys):
    # a feature of 1e30 and more, unscaled: the untrained model's squares overflow float32
    rows = "".join(f"{1e30 * (row + 1)},{row % 3},{row / 7:.4f}\n" for row in range(40))
    (tmp_path / "huge.csv").write_text("a,b,y\n" + rows)
    err = one_line_error(capsys, ["train", "--csv", str(tmp_path / "huge.csv"), "--target", "y",
                                  "--model", "mlp", "--hidden", "4", "--scale", "none",
                                  "--epochs", "2", "--quiet", "--out", str(tmp_path / "run")])
    assert "the loss is inf in the first step, before any update" in err
    assert "look for NaN, infinite or huge values in the data" in err
    assert not (tmp_path / "run").exists()


def test_the_loss_may_grow_up_to_a_thousand_times_its_first_value():
    guard = DivergenceGuard()
    guard.check(2.0, "in the first step")  # the reference
    guard.check(GROWTH * 2.0, "in epoch 1")
    with pytest.raises(DivergenceError, match="grew from 2 to 2001 in epoch 2"):
        guard.check(GROWTH * 2.0 + 1, "in epoch 2")


def test_a_first_loss_below_one_allows_growth_up_to_a_thousand():
    guard = DivergenceGuard(first_loss=1e-6)
    guard.check(999.0, "in epoch 1")
    with pytest.raises(DivergenceError):
        guard.check(1001.0, "in epoch 2")


def test_without_a_growth_rule_only_non_finite_values_diverge():
    guard = DivergenceGuard(first_loss=1e-3, growth=None)
    guard.check(1e30, "in update 2")
    with pytest.raises(DivergenceError):
        guard.check(math.nan, "in update 3")


def test_a_parameter_that_is_not_finite_is_named():
    model = nn.Linear(2, 2)
    model.bias.data[1] = numpy.inf
    with pytest.raises(DivergenceError, match="parameter bias holds NaN or infinite values"):
        check_parameters(model, "after epoch 1")


def test_fit_stops_when_only_a_running_statistic_is_not_finite():
    # One extreme training row overflows BatchNorm's running variance; the loss, the weights
    # and (normalised by that inf) the validation loss stay finite, and fit used to succeed.
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(numpy.float32)
    y = (X[:, 0] > 0).astype(numpy.int64)
    X[5, 1] = 1e21
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    with numpy.errstate(all="ignore"), pytest.raises(
            DivergenceError, match="the buffer 1.running_var holds NaN or infinite values after "
                                   "epoch 1; look for extreme values in the data"):
        training.fit(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y),
                     (X[:16], y[:16]), epochs=2, batch_size=16, progress=False)


def test_the_gradient_norm_is_over_every_element_of_every_gradient():
    model = nn.Linear(2, 1)
    model.weight.grad = chainrule.tensor([[3.0, 0.0]])
    model.bias.grad = chainrule.tensor([4.0])
    assert gradient_norm(model.parameters()) == 5.0


def test_a_model_holding_nan_is_never_saved(tmp_path):
    model = nn.Linear(2, 2)
    model.weight.data[0, 0] = numpy.nan
    with pytest.raises(DivergenceError, match="refusing to save tensor 'weight'"):
        checkpoint.save_weights(tmp_path / "model.safetensors", model)
    with pytest.raises(DivergenceError, match="refusing to save tensor 'model.weight'"):
        checkpoint.save_checkpoint(tmp_path, model)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- each trainer
def test_fit_stops_a_loss_that_explodes_without_becoming_infinite():
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(numpy.float32)
    y = X @ numpy.ones((3, 1), dtype=numpy.float32)
    chainrule.manual_seed(0)
    model = nn.Linear(3, 1)
    with numpy.errstate(all="ignore"), pytest.raises(DivergenceError, match="grew from"):
        training.fit(model, F.mse_loss, optim.Adam(model.parameters(), lr=1e6), (X, y),
                     epochs=5, batch_size=8, progress=False)


@pytest.mark.parametrize("dtype, huge", [(numpy.float32, 1e30), (numpy.float64, 1e300)])
def test_fit_stops_when_only_the_validation_loss_is_not_finite(dtype, huge):
    # Training is healthy, but one validation row overflows the squared error: no epoch can be
    # judged the best, and fit used to keep epoch 1's weights as "the best", silently.
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(dtype)
    y = X @ numpy.ones((3, 1), dtype=dtype)
    X_val, y_val = X[:16].copy(), y[:16]
    X_val[3, 0] = huge
    chainrule.manual_seed(0)
    model = nn.Linear(3, 1, dtype=dtype)
    with numpy.errstate(all="ignore"), pytest.raises(
            DivergenceError, match=r"the validation loss \(val_loss\) became inf in epoch 1 "
                                   r"while the training loss is [\d.]+, so no epoch can be "
                                   r"judged the best; look for extreme values in the validation"):
        training.fit(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.05), (X, y),
                     (X_val, y_val), epochs=3, batch_size=8, progress=False)


@pytest.mark.parametrize("estimator", ["LinearRegression", "MLPClassifier"])
def test_an_estimator_whose_fit_diverged_is_not_fitted(estimator):
    # its module held the diverged weights, and predict answered with them (1e25 for a
    # regression whose targets are near 1), after fit had raised or on a refit of a good model
    from sklearn.exceptions import NotFittedError

    from chainrule import models

    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ numpy.array([1.0, 2.0, 3.0])
    targets = y if estimator == "LinearRegression" else (y > 0).astype(int)
    model = getattr(models, estimator)(epochs=3, lr=1e8)
    with pytest.raises(DivergenceError, match="try a smaller learning rate"):
        model.fit(X, targets)
    with pytest.raises(NotFittedError):
        model.predict(X)
    with pytest.warns(Warning):  # three epochs do not converge
        model.set_params(lr=0.01).fit(X, targets)
    assert numpy.isfinite(model.predict(X)).all()
    with pytest.raises(DivergenceError):
        model.set_params(lr=1e8).fit(X, targets)
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_reinforce_stops_at_the_first_update_that_breaks_the_policy():
    config = rl.ReinforceConfig(lr=1e39, hidden=8)  # finite; its first step overflows float32
    with pytest.raises(DivergenceError, match="in update 1; try a smaller learning rate"):
        rl.train(config, episodes=3)


def test_lm_train_stops_before_saving_a_broken_model(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(make_text(), encoding="utf-8")
    settings = dict(n_layer=1, n_head=2, n_embd=16, block_size=8, batch_size=8, eval_interval=5,
                    eval_iters=2, final_eval_iters=2, learning_rate=1e6, min_lr=1e5)
    with pytest.raises(DivergenceError, match="try a smaller learning rate"):
        lm.train(text, tmp_path / "run", max_iters=50, progress=False, **settings)
    assert not (tmp_path / "run").exists()  # a fresh run that diverged leaves nothing


# ---------------------------------------------------------------- the commands of the issue
def one_line_error(capsys, arguments) -> str:
    code = main(arguments)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_cli_train_with_a_huge_adam_learning_rate_fails_and_writes_no_run(tmp_path, capsys):
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    rows = "".join(f"{a:.4f},{b:.4f},{c:.4f},{a + 2 * b - c:.4f}\n" for a, b, c in X)
    (tmp_path / "reg.csv").write_text("a,b,c,y\n" + rows)
    err = one_line_error(capsys, ["train", "--csv", str(tmp_path / "reg.csv"), "--target", "y",
                                  "--lr", "1e6", "--optimizer", "adam", "--quiet",
                                  "--out", str(tmp_path / "run")])
    assert "training diverged" in err and "smaller learning rate" in err
    assert not (tmp_path / "run").exists()


def test_cli_lm_train_with_a_huge_learning_rate_fails(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(make_text(), encoding="utf-8")
    err = one_line_error(capsys, ["lm", "train", "--text", str(tmp_path / "t.txt"), "--out",
                                  str(tmp_path / "run"), "--lr", "1e6", "--n-layer", "1",
                                  "--n-head", "2", "--n-embd", "16", "--block-size", "8",
                                  "--max-iters", "20", "--eval-interval", "5", "--quiet"])
    assert "training diverged" in err
    assert not (tmp_path / "run").exists()


def test_cli_rl_train_with_an_infinite_learning_rate_fails(tmp_path, capsys):
    # refused while the arguments are read, before any episode (the library's own divergence
    # check, for a rate that is finite but far too large, is tested above)
    with pytest.raises(SystemExit) as exit:
        main(["rl", "train", "--lr", "inf", "--hidden", "8", "--episodes", "3", "--out",
              str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1
    assert "--lr" in err and "finite" in err
    assert not (tmp_path / "run").exists()


def test_cli_rl_train_with_a_huge_finite_learning_rate_fails_with_no_warning(tmp_path, capsys):
    # the policy's weights overflow in the next episode's rollout before the update's guard
    # stops the run: NumPy's overflow warnings came out above the error line
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["rl", "train", "--lr", "1e30", "--hidden", "8", "--episodes", "5",
                     "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == ("chainrule rl: error: training diverged: the loss became nan "
                                    "in update 2; try a smaller learning rate")
    assert [str(warning.message) for warning in caught] == []
    assert not (tmp_path / "run").exists()
