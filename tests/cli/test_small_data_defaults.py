"""chainrule train's defaults on small tables: enough steps to fit, and a warning when cut short."""
import json
import warnings

import numpy
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression as SklearnLinearRegression
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from chainrule.cli import main
from chainrule.data import Standardizer, load_dataset, train_val_test_split
from chainrule.runs import default_epochs


def trained_metrics(tmp_path, capsys, *arguments) -> dict:
    out = tmp_path / "run"
    assert main(["train", *arguments, "--quiet", "--out", str(out)]) == 0, capsys.readouterr().err
    return json.loads((out / "metrics.json").read_text())


def test_small_data_gets_800_steps_and_large_data_keeps_20_epochs():
    assert default_epochs(105, 32) == 200          # iris: 4 steps per epoch
    assert default_epochs(33, 32) == 400           # a 47-row CSV: 2 steps per epoch
    assert default_epochs(1259, 32) == 20          # digits: 40 steps per epoch, as before
    assert default_epochs(54_000, 32) == 20        # MNIST


def test_the_default_mlp_on_iris_is_within_two_points_of_scikit_learns(tmp_path, capsys):
    ours = trained_metrics(tmp_path, capsys, "iris")["test"]["accuracy"]

    table = load_dataset("iris")
    split = train_val_test_split(len(table), val=0.1, test=0.2, stratify=table.y, seed=0)
    train, test = table.subset(split.train), table.subset(split.test)
    scaler = Standardizer().fit(train.X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SklearnMLPClassifier(random_state=0).fit(scaler.transform(train.X), train.y)
    assert ours >= theirs.score(scaler.transform(test.X), test.y) - 0.02


def test_linear_regression_on_47_rows_reaches_the_closed_form(tmp_path, capsys):
    # Portland-like: a size in the thousands, a few rooms, a price in the hundreds of thousands.
    rng = numpy.random.default_rng(3)
    size, rooms = rng.uniform(800, 4500, 47).round(), rng.integers(1, 6, 47)
    price = (140 * size - 8000 * rooms + 90_000 + rng.normal(0, 60_000, 47)).round()
    path = tmp_path / "houses.csv"
    path.write_text("size,rooms,price\n" + "".join(
        f"{s:.0f},{r},{p:.0f}\n" for s, r, p in zip(size, rooms, price)))

    metrics = trained_metrics(tmp_path, capsys, "--csv", str(path), "--target", "price",
                              "--model", "linear")
    assert metrics["test"]["r2"] >= metrics["closed_form"]["r2"] - 0.02
    theirs = SklearnLinearRegression()  # the closed form is scikit-learn's answer too
    split = train_val_test_split(47, val=0.1, test=0.2, seed=0)
    X = numpy.stack([size, rooms], axis=1)
    theirs.fit(X[split.train], price[split.train])
    assert metrics["closed_form"]["r2"] == pytest.approx(
        theirs.score(X[split.test], price[split.test]), abs=1e-4)


def test_a_run_cut_short_warns_that_the_loss_was_still_falling(tmp_path, capsys):
    assert main(["train", "iris", "--epochs", "3", "--quiet", "--out", str(tmp_path)]) == 0
    warning = capsys.readouterr().err.strip().splitlines()[-1]
    assert warning.startswith("warning: val_loss was still falling")
    assert "--epochs 6" in warning


def test_a_converged_run_does_not_warn(tmp_path, capsys):
    assert main(["train", "breast_cancer", "--model", "logistic", "--quiet",
                 "--out", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().err
