"""runs.train from Python and chainrule train from the command line: one implementation.

The library names its settings as Python arguments (``model='logistic'``), the command line as
flags (``--model logistic``); the command line trains, bit for bit, the model that the Python
estimator trains on the same rows with the same settings.
"""
import gzip
import json
import re
import struct
import warnings

import numpy
import pytest
import safetensors.numpy
from sklearn.exceptions import ConvergenceWarning

from chainrule import backend, runs
from chainrule.cli import main
from chainrule.data import Standardizer, load_dataset, train_val_test_split
from chainrule.models import (CNNClassifier, LinearRegression, LogisticRegression, MLPClassifier,
                              MLPRegressor)
from chainrule.run_config import RunConfig, SettingError

from test_train_cli import fails

# (RunConfig's arguments, the same as flags, what a Python caller reads, what a CLI user reads)
BAD_SETTINGS = [
    (dict(model="softmax", hidden=(16,)), ["--model", "softmax", "--hidden", "16"],
     "hidden=(16,): only an MLP has hidden layers to choose, model='softmax' has none; use "
     "model='mlp'",
     "--hidden 16: only an MLP has hidden layers to choose, --model softmax has none; use "
     "--model mlp"),
    (dict(momentum=0.9), ["--momentum", "0.9"],
     "momentum=0.9 is SGD's; adam keeps its own running averages of the gradient; add "
     "optimizer='sgd', or leave momentum out",
     "--momentum 0.9 is SGD's; adam keeps its own running averages of the gradient; add "
     "--optimizer sgd, or leave --momentum out"),
    (dict(patience=3, val=0.0), ["--patience", "3", "--val", "0"],
     "patience=3 waits for the validation loss to stop improving, but val=0.0 holds out",
     "--patience 3 waits for the validation loss to stop improving, but --val 0 holds out"),
    (dict(epochs=0), ["--epochs", "0"], "epochs=0 must be a whole number",
     "--epochs 0 must be a whole number"),
    (dict(lr=-1.0), ["--lr", "-1"], "lr=-1.0: the learning rate must be positive",
     "--lr -1: the learning rate must be positive"),
    (dict(dropout=1.0), ["--dropout", "1"], "dropout=1.0: use a probability in [0, 1)",
     "--dropout 1: use a probability in [0, 1)"),
    (dict(target="y"), ["--target", "y"], "target names a column of a csv file",
     "--target names a column of a --csv file"),
    # these need the data: runs.train refuses them before it writes anything
    (dict(model="logistic"), ["--model", "logistic"],
     "model='logistic' separates two classes, but the target 'target' has 3; use "
     "model='softmax' or model='mlp'",
     "--model logistic separates two classes, but the target 'target' has 3; use "
     "--model softmax or --model mlp"),
    (dict(model="linear"), ["--model", "linear"], "model='linear' is a regression model",
     "--model linear is a regression model"),
    (dict(test=0.0), ["--test", "0"], "test=0.0 leaves no rows to test on; the run ends with a "
     "test evaluation, so give a fraction such as test=0.2",
     "--test 0 leaves no rows to test on; the run ends with a test evaluation, so give a "
     "fraction such as --test 0.2"),
    (dict(hidden=(2_000_000_000,)), ["--hidden", "2000000000"],
     "hidden=(2000000000,): the model 4-2000000000-3 has", "--hidden 2000000000: the model"),
]


@pytest.mark.parametrize("settings, flags, python, command_line", BAD_SETTINGS)
def test_a_python_caller_reads_argument_names(settings, flags, python, command_line, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SettingError) as error:
        runs.train(RunConfig(dataset="iris", **settings), out, quiet=True)
    assert python in str(error.value)
    assert "--" not in str(error.value)
    assert not out.exists()


@pytest.mark.parametrize("settings, flags, python, command_line", [
    (dict(dataset="iris", csv="rows.csv", target="y"),
     ["iris", "--csv", "rows.csv", "--target", "y"],
     "give a dataset (dataset='iris') or csv='rows.csv', not both",
     "give a dataset (iris) or --csv rows.csv, not both"),
    (dict(csv="rows.csv"), ["--csv", "rows.csv"],
     "csv='rows.csv': say which column to predict with target='COLUMN'",
     "--csv rows.csv: say which column to predict with --target COLUMN"),
])
def test_where_the_data_comes_from_is_checked_once_and_said_both_ways(settings, flags, python,
                                                                      command_line, capsys):
    with pytest.raises(SettingError, match=re.escape(python)):
        RunConfig(**settings)
    assert command_line in fails(capsys, ["train", *flags])


@pytest.mark.parametrize("settings, flags, python, command_line", BAD_SETTINGS)
def test_a_command_line_user_reads_flags(settings, flags, python, command_line, tmp_path,
                                         capsys):
    out = tmp_path / "run"
    err = fails(capsys, ["train", "iris", *flags, "--out", str(out)])
    assert command_line in err
    assert python not in err and "='" not in err
    assert not out.exists()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 1 epoch
def test_resuming_with_other_settings_is_refused_in_each_callers_words(tmp_path, capsys):
    out = tmp_path / "run"
    runs.train(RunConfig(dataset="iris", model="softmax", epochs=1), out, quiet=True,
               echo=lambda line: None)
    with pytest.raises(SettingError, match=r"resume=True with lr=0.5 but the run in .* was "
                                           r"started with lr=0.1; use the same settings"):
        runs.train(RunConfig(dataset="iris", model="softmax", epochs=2, lr=0.5), out,
                   resume=True, quiet=True)
    err = fails(capsys, ["train", "iris", "--model", "softmax", "--epochs", "2", "--lr", "0.5",
                         "--out", str(out), "--resume"])
    assert "--resume with --lr 0.5 but the run in" in err and "started with --lr 0.1;" in err


def test_a_run_cut_short_warns_a_python_caller_with_the_argument(tmp_path):
    with pytest.warns(ConvergenceWarning, match=r"train longer with epochs=6$"):
        runs.train(RunConfig(dataset="iris", model="softmax", epochs=3), tmp_path / "run",
                   quiet=True, echo=lambda line: None)


def test_the_defaults_that_depend_on_other_settings_are_filled_in():
    assert RunConfig().dataset == "digits" and RunConfig().hidden == (512,)
    assert (RunConfig().optimizer, RunConfig().lr) == ("adam", 0.001)
    assert (RunConfig(model="linear").optimizer, RunConfig(model="linear").lr) == ("sgd", 0.003)
    assert RunConfig(model="softmax").lr == 0.1 and RunConfig(model="softmax").hidden is None
    assert RunConfig(dataset="mnist").scale == "none"  # pixels in [0, 1] stay as they are
    assert RunConfig(dataset="digits").scale == "standard"
    assert RunConfig(dataset="mnist", scale="standard").scale == "standard"


def test_a_config_round_trips_through_config_json():
    config = RunConfig(csv="houses.csv", target="price", missing="mean", model="mlp",
                       hidden=(8, 4), activation="tanh", dropout=0.1, epochs=7, lr=0.01,
                       optimizer="sgd", momentum=0.9, lr_schedule="cosine", patience=2, seed=5)
    saved = json.loads(json.dumps(config.to_config([3, 8, 4, 1])))
    assert RunConfig.from_config(saved) == config


def test_numpy_numbers_are_taken_and_whole_numbers_required():
    config = RunConfig(epochs=numpy.int64(3), hidden=[numpy.int32(4)], lr=numpy.float32(0.5))
    assert json.loads(json.dumps(config.to_config([64, 4, 10])))["fitting"]["epochs"] == 3
    for name, value in (("epochs", 2.5), ("epochs", True), ("seed", -1), ("batch_size", 0)):
        with pytest.raises(SettingError, match=f"^{name}={value!r}"):
            RunConfig(**{name: value})


# ---------------------------------------------------------------- the same model both ways
def split_and_scale(name: str, seed: int, scale: bool):
    """The rows chainrule train trains and validates on, as a Python user makes them."""
    table = load_dataset(name)
    stratify = table.y if table.task == "classification" else None
    parts = train_val_test_split(len(table), val=0.1, test=0.2, stratify=stratify, seed=seed)
    train, val, test = (table.subset(rows) for rows in (parts.train, parts.val, parts.test))
    inputs = [part.X.astype(numpy.float32) for part in (train, val, test)]
    if scale:
        scaler = Standardizer().fit(inputs[0])
        inputs = [scaler.transform(X) for X in inputs]
    return (inputs[0], train.y), (inputs[1], val.y), (inputs[2], test.y)


SAME_SETTINGS = [
    ("digits", ["--model", "mlp", "--hidden", "32", "--dropout", "0.1", "--epochs", "3"],
     lambda: MLPClassifier(hidden=(32,), init="nn.MLP", dropout=0.1, epochs=3, batch_size=32, lr=0.001,
                           tol=0.0, n_iter_no_change=None, random_state=0), 0, True),
    ("breast_cancer", ["--model", "logistic", "--epochs", "4", "--lr-schedule", "cosine"],
     lambda: LogisticRegression(epochs=4, lr_schedule="cosine", batch_size=32, lr=0.1,
                                tol=0.0, n_iter_no_change=None, random_state=0), 0, True),
    ("diabetes", ["--model", "linear", "--epochs", "6", "--patience", "2", "--seed", "3"],
     lambda: LinearRegression(epochs=6, batch_size=32, lr=0.003, tol=0.0, n_iter_no_change=2,
                              random_state=3), 3, True),
    ("diabetes", ["--model", "mlp", "--hidden", "16", "--optimizer", "sgd", "--momentum", "0.9",
                  "--lr", "0.01", "--epochs", "3"],
     lambda: MLPRegressor(hidden=(16,), init="nn.MLP", optimizer="sgd", momentum=0.9, lr=0.01, epochs=3,
                          batch_size=32, tol=0.0, n_iter_no_change=None, random_state=0), 0, True),
    ("digits", ["--model", "cnn", "--scale", "none", "--epochs", "1", "--batch-size", "64"],
     lambda: CNNClassifier(epochs=1, batch_size=64, lr=0.001, tol=0.0, n_iter_no_change=None,
                           random_state=0), 0, False),
]


@pytest.mark.parametrize("dataset, flags, estimator, seed, scale", SAME_SETTINGS)
def test_the_cli_trains_the_python_apis_model_bit_for_bit(dataset, flags, estimator, seed, scale,
                                                          tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", dataset, *flags, "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    train, validation, test = split_and_scale(dataset, seed, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs, on purpose
        model = estimator().fit(*train, validation=validation)

    saved = safetensors.numpy.load_file(out / "model.safetensors")
    weights = {name: backend.to_numpy(tensor.data)
               for name, tensor in model.module_.state_dict().items()}
    assert saved.keys() == weights.keys()
    for name, array in weights.items():
        assert saved[name].dtype == array.dtype and numpy.array_equal(saved[name], array), name
    metrics = json.loads((out / "metrics.json").read_text())
    if "accuracy" in metrics["test"]:
        assert metrics["test"]["accuracy"] == model.score(*test)
        assert metrics["test"]["loss"] == model.log_loss(*test)
    else:
        predicted = model.predict(test[0])
        assert metrics["test"]["rmse"] == numpy.sqrt(numpy.mean((predicted - test[1]) ** 2))
        assert metrics["validation"]["rmse"] == model.history_.records[
            model.history_.best_epoch - 1]["val_rmse"]


# ---------------------------------------------------------------- images and old runs
def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(numpy.uint8).tobytes()))


def test_an_image_dataset_trains_a_cnn_on_unscaled_pixels_and_keeps_its_own_test_set(
        tmp_path, capsys):
    rng = numpy.random.default_rng(0)
    for part, count in (("train", 60), ("t10k", 20)):
        labels = numpy.arange(count) % 10
        # each class a bright square in its own place, so that a CNN can learn them in 1 epoch
        images = rng.integers(0, 40, size=(count, 28, 28))
        for index, label in enumerate(labels):
            images[index, 2 * label:2 * label + 8, 2 * label:2 * label + 8] = 255
        write_idx(tmp_path / f"{part}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{part}-labels-idx1-ubyte.gz", labels)
    out = tmp_path / "run"
    assert main(["train", "mnist", "--data-dir", str(tmp_path), "--model", "cnn", "--epochs",
                 "1", "--val", "0", "--batch-size", "20", "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["source"]["scale"] == "none" and config["scaler"] is None
    assert metrics["test"]["rows"] == 20 and metrics["train"]["rows"] == 60
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == metrics["test"]


def test_a_run_of_the_earlier_format_still_evaluates_and_predicts(tmp_path, capsys):
    """Runs written before the estimators trained them: no learning-rate schedule and no
    compile in the config, and the regression target's scaler in float32, without its dtype."""
    out = tmp_path / "run"
    assert main(["train", "diabetes", "--model", "linear", "--epochs", "2", "--quiet",
                 "--out", str(out)]) == 0
    table, rows = load_dataset("diabetes"), tmp_path / "rows.csv"
    rows.write_text(",".join(table.feature_names) + "\n" + "".join(
        ",".join(repr(float(value)) for value in row) + "\n" for row in table.X[:10]))
    capsys.readouterr()
    assert main(["predict", str(out), "--input", str(rows)]) == 0
    predicted = capsys.readouterr().out
    path = out / "config.json"
    config = json.loads(path.read_text())
    del config["fitting"]["schedule"], config["fitting"]["compile"]
    scaler = config["target_scaler"]
    del scaler["dtype"]
    scaler["mean"] = [float(numpy.float32(value)) for value in scaler["mean"]]
    scaler["scale"] = [float(numpy.float32(value)) for value in scaler["scale"]]
    path.write_text(json.dumps(config))
    assert main(["evaluate", str(out)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    trained = json.loads((out / "metrics.json").read_text())["test"]
    assert evaluated["rows"] == trained["rows"]
    assert evaluated["rmse"] == pytest.approx(trained["rmse"], rel=1e-6)
    assert main(["predict", str(out), "--input", str(rows)]) == 0
    assert capsys.readouterr().out == predicted and len(predicted.splitlines()) == 11
    settings = RunConfig.from_config(config)
    assert settings.lr_schedule == "constant" and settings.compile is True


def test_a_setting_is_said_as_the_flag_a_user_types():
    from chainrule.cli import as_flag

    assert as_flag("lr_schedule", "cosine") == "--lr-schedule cosine"
    assert as_flag("hidden", (256, 256)) == "--hidden 256,256"
    assert [as_flag("lr", value) for value in (0.0, 1e-05, 1234567.0)] == [
        "--lr 0", "--lr 1e-05", "--lr 1234567"]
    assert as_flag("resume", True) == "--resume" and as_flag("patience") == "--patience"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 1 epoch
def test_resuming_with_another_data_source_is_refused_naming_both(tmp_path, capsys):
    table = tmp_path / "flowers.csv"
    table.write_text("a,b,kind\n" + "".join(f"{i % 7},{i % 5},{'xy'[i % 2]}\n" for i in range(40)))
    from_csv, from_dataset = tmp_path / "csv-run", tmp_path / "dataset-run"
    assert main(["train", "--csv", str(table), "--target", "kind", "--model", "softmax",
                 "--epochs", "1", "--quiet", "--out", str(from_csv)]) == 0
    assert main(["train", "iris", "--model", "softmax", "--epochs", "1", "--quiet",
                 "--out", str(from_dataset)]) == 0
    capsys.readouterr()
    err = fails(capsys, ["train", "iris", "--model", "softmax", "--epochs", "1",
                         "--out", str(from_csv), "--resume"])
    assert f"--resume with iris but the run in {from_csv} was started with --csv {table};" in err
    err = fails(capsys, ["train", "--csv", str(table), "--target", "kind", "--model", "softmax",
                         "--epochs", "1", "--out", str(from_dataset), "--resume"])
    assert f"--resume with --csv {table} but the run in {from_dataset} was started with iris;" \
        in err
    with pytest.raises(SettingError, match=r"resume=True with dataset='iris' but the run in .* "
                                           r"was started with csv='.*flowers.csv'; use the same"):
        runs.train(RunConfig(dataset="iris", model="softmax", epochs=1), from_csv,
                   resume=True, quiet=True)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 1 epoch
def test_resuming_takes_any_path_to_the_same_csv_but_not_another_file(tmp_path, monkeypatch,
                                                                         capsys):
    # the paths were compared as text: ./flowers.csv, or its absolute path, was refused
    monkeypatch.chdir(tmp_path)
    rows = "a,b,kind\n" + "".join(f"{i % 7},{i % 5},{'xy'[i % 2]}\n" for i in range(40))
    (tmp_path / "flowers.csv").write_text(rows)
    train = ["train", "--target", "kind", "--model", "softmax", "--quiet", "--out", "run"]
    assert main([*train, "--csv", "flowers.csv", "--epochs", "1"]) == 0
    assert main([*train, "--csv", "./flowers.csv", "--epochs", "2", "--resume"]) == 0
    assert main([*train, "--csv", str(tmp_path / "flowers.csv"), "--epochs", "3",
                 "--resume"]) == 0
    (tmp_path / "copy.csv").write_text(rows)  # the same rows, but another file
    capsys.readouterr()
    err = fails(capsys, [*train, "--csv", "copy.csv", "--epochs", "4", "--resume"])
    assert f"--resume with --csv copy.csv but the run in run was started with --csv " \
           f"{tmp_path / 'flowers.csv'};" in err


def test_a_setting_left_out_is_said_as_no_flag():
    from chainrule.cli import as_flag

    assert as_flag("dataset", None) == "no DATASET" and as_flag("target", None) == "no --target"
