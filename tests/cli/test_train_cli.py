"""chainrule train / evaluate / predict: round trips on tiny CSVs; each bad input gets one line."""
import csv
import json

import numpy
import pytest

from chainrule.cli import main


def write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def flowers(tmp_path):
    """Three separate clusters with string labels, two numbers and a text column."""
    rng = numpy.random.default_rng(0)
    rows = []
    for index in range(90):
        label = ["setosa", "versicolor", "virginica"][index % 3]
        x, y = [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)][index % 3]
        rows.append([f"{x + rng.normal():.3f}", f"{y + rng.normal():.3f}",
                     ["red", "blue"][index % 2], label])
    return write_csv(tmp_path / "flowers.csv", ["length", "width", "colour", "species"], rows)


@pytest.fixture
def prices(tmp_path):
    """A linear target in the thousands: price = 1000 · (3 + 2 size − rooms) + noise."""
    rng = numpy.random.default_rng(1)
    size, rooms = rng.uniform(0, 5, 120), rng.integers(1, 6, 120)
    price = 1000 * (3 + 2 * size - rooms) + rng.normal(0, 50, 120)
    rows = [[f"{s:.4f}", str(r), f"{p:.2f}"] for s, r, p in zip(size, rooms, price)]
    return write_csv(tmp_path / "prices.csv", ["size", "rooms", "price"], rows)


def train(capsys, *arguments):
    code = main(["train", *arguments, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured


def fails(capsys, arguments):
    """Run a command that must fail: exit 2 and one line on stderr, without a traceback."""
    code = main(arguments)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


# ---------------------------------------------------------------- round trips
def test_train_evaluate_predict_round_trip_for_a_classifier(tmp_path, flowers, capsys):
    run = str(tmp_path / "run")
    train(capsys, "--csv", flowers, "--target", "species", "--model", "softmax", "--epochs", "5",
          "--batch-size", "8", "--out", run)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == 1.0 and metrics["test"]["loss"] < 0.5
    assert {"config", "validation", "best_epoch"} <= set(metrics)
    for name in ("config.json", "history.json", "history.png", "model.safetensors"):
        assert (tmp_path / "run" / name).is_file()

    assert main(["evaluate", run]) == 0
    assert json.loads(capsys.readouterr().out) == metrics["test"]
    assert main(["evaluate", run, "--csv", flowers]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 90

    output = tmp_path / "predictions.csv"
    assert main(["predict", run, "--input", flowers, "--output", str(output)]) == 0
    with open(output) as file:
        predictions = list(csv.reader(file))
    assert predictions[0] == ["species", "p(setosa)", "p(versicolor)", "p(virginica)"]
    with open(flowers) as file:
        truth = [row[3] for row in list(csv.reader(file))[1:]]
    assert [row[0] for row in predictions[1:]] == truth


@pytest.mark.parametrize("delimiter, flag", [(";", ";"), ("\t", "tab"), ("\t", "\\t")])
def test_a_csv_separated_otherwise_trains_with_its_delimiter_and_predicts(tmp_path, flowers,
                                                                          capsys, delimiter,
                                                                          flag):
    with open(flowers) as file:
        rows = list(csv.reader(file))
    separated = tmp_path / "flowers.txt"
    separated.write_text("".join(delimiter.join(row) + "\n" for row in rows))
    refused = fails(capsys, ["train", "--csv", str(separated), "--target", "species"])
    shown = "tab" if delimiter == "\t" else "';'"
    assert refused.rstrip().endswith(f"Then give --delimiter {shown}")
    run = str(tmp_path / "run")
    train(capsys, "--csv", str(separated), "--target", "species", "--delimiter", flag,
          "--model", "softmax", "--epochs", "5", "--batch-size", "8", "--out", run)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["source"]["delimiter"] == delimiter
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"] == 1.0
    output = tmp_path / "predictions.csv"
    assert main(["predict", run, "--input", str(separated), "--output", str(output)]) == 0
    with open(output) as file:
        assert [row[0] for row in list(csv.reader(file))[1:]] == [row[3] for row in rows[1:]]


def test_a_target_of_few_integers_is_read_as_numbers_with_task_regression(tmp_path, capsys):
    # room counts 1-8 in 100 rows: guessed to be 8 classes, which a linear model cannot fit
    rng = numpy.random.default_rng(0)
    rooms = rng.integers(1, 9, size=100)
    rows = [[f"{count + rng.normal() * 0.3:.3f}", str(count)] for count in rooms]
    path = write_csv(tmp_path / "rooms.csv", ["area", "rooms"], rows)
    run = str(tmp_path / "run")
    common = ["--csv", path, "--target", "rooms", "--model", "linear", "--out", run]
    assert fails(capsys, ["train", *common]).rstrip().endswith(
        "holds 8 classes; use --model logistic, --model softmax or --model mlp; or read the "
        "target otherwise: --task regression")
    train(capsys, *common, "--task", "regression", "--epochs", "40", "--batch-size", "8")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"] == "regression" and config["source"]["task"] == "regression"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["r2"] > 0.9
    assert "--task regression" in fails(capsys, ["train", *common, "--resume", "--epochs", "41"])


def test_regression_metrics_are_in_the_targets_units(tmp_path, prices, capsys):
    run = str(tmp_path / "run")
    train(capsys, "--csv", prices, "--target", "price", "--model", "linear", "--epochs", "30",
          "--batch-size", "8", "--lr", "0.05", "--out", run)
    test = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    assert 20 < test["rmse"] < 120 and test["r2"] > 0.99  # the noise has σ = 50 dollars

    assert main(["evaluate", run, "--csv", prices]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert main(["predict", run, "--input", prices]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    with open(prices) as file:
        truth = numpy.array([float(row[2]) for row in list(csv.reader(file))[1:]])
    predicted = numpy.array([float(row[0]) for row in rows[1:]])
    assert rows[0] == ["price"]
    assert whole["rmse"] == pytest.approx(numpy.sqrt(numpy.mean((predicted - truth) ** 2)),
                                          rel=1e-4)


def test_a_resumed_cli_run_ends_with_the_same_weights(tmp_path, flowers, capsys):
    common = ["--csv", flowers, "--target", "species", "--model", "mlp", "--hidden", "8",
              "--dropout", "0.1", "--batch-size", "16"]
    train(capsys, *common, "--epochs", "4", "--out", str(tmp_path / "straight"))
    train(capsys, *common, "--epochs", "2", "--out", str(tmp_path / "resumed"))
    train(capsys, *common, "--epochs", "4", "--out", str(tmp_path / "resumed"), "--resume")
    straight = (tmp_path / "straight" / "model.safetensors").read_bytes()
    assert (tmp_path / "resumed" / "model.safetensors").read_bytes() == straight
    history = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert [record["epoch"] for record in history["epochs"]] == [1, 2, 3, 4]


def test_a_bundled_dataset_trains_and_reports_its_shape(tmp_path, capsys):
    code = main(["train", "iris", "--model", "softmax", "--epochs", "3", "--out",
                 str(tmp_path / "iris")])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "iris: 105 training, 15 validation, 30 test rows · 4 features · 3 classes"
    assert out[-1].startswith("test accuracy ")


def test_the_cnn_trains_on_square_images_and_evaluates_from_its_run(tmp_path, capsys):
    run = str(tmp_path / "digits-cnn")
    assert main(["train", "digits", "--model", "cnn", "--epochs", "1", "--dropout", "0.25",
                 "--out", run]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("model: CNN 64-10 · adam")
    config = json.loads((tmp_path / "digits-cnn" / "config.json").read_text())
    assert config["model"]["dropout"] == 0.25
    trained = json.loads((tmp_path / "digits-cnn" / "metrics.json").read_text())["test"]
    assert main(["evaluate", run]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == trained["accuracy"]


# ---------------------------------------------------------------- bad input
def test_a_missing_target_column_lists_the_columns(flowers, capsys):
    err = fails(capsys, ["train", "--csv", flowers, "--target", "kind"])
    assert "flowers.csv: no column named 'kind'" in err and "species" in err


def test_a_non_numeric_cell_names_file_line_and_column(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", ["x", "y"],
                     [["1.0", "0"], ["2.0", "1"], ["oops", "0"], ["4.0", "1"]] * 3)
    err = fails(capsys, ["train", "--csv", path, "--target", "y", "--model", "logistic"])
    assert "bad.csv, line 4, column 'x'" in err and "'oops'" in err


def test_missing_values_are_counted_and_the_flag_suggested(tmp_path, capsys):
    path = write_csv(tmp_path / "gaps.csv", ["x", "z", "y"],
                     [["1.0", "", "0"], ["", "2", "1"], ["3.0", "", "0"], ["4.0", "1", "1"]] * 3)
    err = fails(capsys, ["train", "--csv", path, "--target", "y", "--model", "logistic"])
    assert "gaps.csv" in err and "'z'" in err and "--missing" in err
    assert "9 missing values" in err


def test_missing_values_train_when_dropped(tmp_path, capsys):
    rows = [["1.0", "0"], ["", "1"], ["3.0", "0"], ["4.0", "1"], ["0.5", "0"], ["5.0", "1"]] * 4
    path = write_csv(tmp_path / "gaps.csv", ["x", "y"], rows)
    train(capsys, "--csv", path, "--target", "y", "--model", "logistic", "--epochs", "2",
          "--missing", "drop", "--out", str(tmp_path / "run"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train"]["rows"] + metrics["test"]["rows"] <= 20  # 4 rows dropped


def test_a_label_the_model_never_saw_is_named(tmp_path, flowers, capsys):
    run = str(tmp_path / "run")
    train(capsys, "--csv", flowers, "--target", "species", "--model", "softmax", "--epochs", "1",
          "--out", run)
    other = write_csv(tmp_path / "other.csv", ["length", "width", "colour", "species"],
                      [["0.1", "0.2", "red", "setosa"], ["4.0", "-4.0", "blue", "tulip"]])
    err = fails(capsys, ["evaluate", run, "--csv", other])
    assert "other.csv, line 3, column 'species': label 'tulip' was never seen" in err


def test_predicting_on_other_columns_names_them(tmp_path, flowers, capsys):
    run = str(tmp_path / "run")
    train(capsys, "--csv", flowers, "--target", "species", "--model", "softmax", "--epochs", "1",
          "--out", run)
    other = write_csv(tmp_path / "other.csv", ["length", "height", "colour"],
                      [["0.1", "0.2", "red"]])
    err = fails(capsys, ["predict", run, "--input", other])
    assert "other.csv: the columns differ" in err and "'width'" in err and "'height'" in err


@pytest.mark.parametrize("arguments, message", [
    (["train", "iris", "--model", "logistic"], "has 3; use --model softmax or --model mlp"),
    (["train", "iris", "--model", "linear"], "--model linear is a regression model"),
    (["train", "diabetes", "--model", "softmax"], "is a classifier, but the target"),
    (["train", "iris", "--model", "cnn"], "--model cnn classifies square images"),
    (["train", "--csv", "somewhere.csv"], "--target COLUMN"),
    (["train", "iris", "--hidden", "8,x"], "--hidden '8,x'"),
    (["evaluate", "no-such-run"], "not a run directory"),
    (["train", "iris", "--test", "0"], "--test 0 leaves no rows to test on"),
    (["train", "iris", "--lr", "-1"], "the learning rate must be positive"),
    (["train", "iris", "--dropout", "1"], "use a probability in [0, 1)"),
    (["train", "iris", "--epochs", "0"], "--epochs 0 must be a whole number, at least 1"),
    (["train", "iris", "--delimiter", ";"], "--delimiter ';' separates the cells of a --csv"),
    (["train", "iris", "--task", "regression"], "--task regression says how to read a --csv"),
    (["train", "--csv", "a.csv", "--target", "y", "--delimiter", ";;"],
     "--delimiter ';;': the cells' separator is one character"),
])
def test_wrong_options_get_one_line(arguments, message, capsys):
    assert message in fails(capsys, arguments)


def test_resume_without_a_run_says_so_in_flags(tmp_path, capsys):
    err = fails(capsys, ["train", "iris", "--model", "softmax", "--out", str(tmp_path / "new"),
                         "--resume"])
    assert "no run to resume" in err and "train without --resume" in err
    assert "resume=True" not in err


@pytest.mark.parametrize("command, options", [
    ("train", ["--csv", "--target", "--missing", "--delimiter", "--task", "--model", "--hidden",
               "--activation", "--epochs", "--batch-size", "--lr", "--optimizer", "--seed",
               "--out", "--resume", "--overwrite", "--data-dir", "--dropout", "--momentum",
               "--patience"]),
    ("evaluate", ["--csv"]),
    ("predict", ["--input", "--output"]),
])
def test_help_explains_every_option(command, options, capsys):
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit.value.code == 0
    for option in options:
        assert option in out


def test_a_cosine_schedule_is_recorded_shown_and_changes_the_training(tmp_path, capsys):
    common = ["digits", "--model", "softmax", "--epochs", "3", "--lr", "0.5"]
    assert main(["train", *common, "--lr-schedule", "cosine", "--out", str(tmp_path / "c")]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert "sgd lr 0.5 (cosine schedule)" in header
    train(capsys, *common, "--out", str(tmp_path / "k"))
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["fitting"]["schedule"] == "cosine"
    cosine = json.loads((tmp_path / "c" / "history.json").read_text())
    constant = json.loads((tmp_path / "k" / "history.json").read_text())
    # epoch 1 runs at the full rate in both; later epochs at a lower one with the schedule
    assert cosine["epochs"][0]["loss"] == constant["epochs"][0]["loss"]
    assert cosine["epochs"][-1]["loss"] != constant["epochs"][-1]["loss"]
    assert main(["evaluate", str(tmp_path / "c")]) == 0


def test_a_cosine_run_resumed_with_more_epochs_is_refused_not_warmed_up_again(tmp_path, capsys):
    # the schedule's state keeps the epochs it decays over: resumed with more, the rate
    # climbed back up along the cosine after them
    run = str(tmp_path / "c")
    common = ["digits", "--model", "softmax", "--lr", "0.5", "--lr-schedule", "cosine",
              "--out", run]
    train(capsys, *common, "--epochs", "3")
    err = fails(capsys, ["train", *common, "--epochs", "6", "--resume"])
    assert "--resume with --epochs 6 but the run in" in err
    assert "started with --epochs 3 and a cosine schedule" in err
    train(capsys, *common, "--epochs", "3", "--resume")  # its own epochs: nothing left to do
    constant = ["digits", "--model", "softmax", "--lr", "0.5", "--out", str(tmp_path / "k")]
    train(capsys, *constant, "--epochs", "2")
    train(capsys, *constant, "--epochs", "4", "--resume")  # a constant rate: more epochs go on


def test_an_unknown_schedule_in_a_config_is_refused_naming_the_field(tmp_path, capsys):
    train(capsys, "digits", "--model", "softmax", "--epochs", "1", "--out", str(tmp_path / "r"))
    path = tmp_path / "r" / "config.json"
    config = json.loads(path.read_text())
    config["fitting"]["schedule"] = "exponential"
    path.write_text(json.dumps(config))
    err = fails(capsys, ["evaluate", str(tmp_path / "r")])
    assert "fitting.schedule" in err


def test_predictions_are_written_with_every_digit_their_float_holds(tmp_path, capsys):
    # a target in the millions: six significant digits (1.23457e+06) dropped the last ones
    rows = [[str(i), str(1_000_000 + 12_345 * i + 0.25)] for i in range(50)]
    path = write_csv(tmp_path / "big.csv", ["x", "y"], rows)
    run = str(tmp_path / "run")
    train(capsys, "--csv", path, "--target", "y", "--model", "linear", "--epochs", "5",
          "--out", run)
    assert main(["predict", run, "--input", path]) == 0
    printed = [row[0] for row in csv.reader(capsys.readouterr().out.splitlines())][1:]

    from chainrule.runs import _encoder, _scaler, features, load_run
    config, estimator = load_run(run)
    table = _encoder(config).encode_csv(path, with_target=False)
    exact = estimator.predict(features(table, _scaler(config)))
    assert len(printed) == len(exact) == 50
    assert all("e" not in text for text in printed)
    numpy.testing.assert_array_equal(numpy.array(printed, dtype=exact.dtype), exact)
