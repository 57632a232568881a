"""A run: train a model on a dataset into a directory, then evaluate and predict from it later.

The recipe, step by step, as ``train`` runs it (and ``chainrule train`` on top of it):

1. data      load a bundled dataset or a CSV; split the rows into train / validation / test
             (stratified by class for classifiers, never overlapping, seeded); fit the feature
             standardiser on the training rows only.
2. fit       the estimator the settings name (``RunConfig.make_estimator``: ``LinearRegression``,
             ``LogisticRegression``, ``SoftmaxRegression``, ``MLPClassifier`` or ``MLPRegressor``,
             ``CNNClassifier``) is fitted as a Python user fits it: its decision function, its
             loss and ``training.fit``, with validation each epoch, the best epoch's weights
             kept, and a checkpoint between epochs (at most once a second, and after the last),
             the step compiled unless ``compile=False``.
3. test      the test split, once; for linear regression also the closed-form least-squares
             solution on the same rows (``LinearRegression(solver="lstsq")``).

    runs.train(RunConfig(dataset="breast_cancer", model="logistic"), "runs/cancer")

The directory keeps ``config.json`` (everything needed to rebuild the model and re-encode new
data), ``model.safetensors``, ``metrics.json``, ``history.json``, ``history.png`` and
``checkpoint/``. Regression metrics are reported in the target's own units. ``rundir`` writes
it (the lock, the overwrite rule, ``metrics.json`` last) and checks ``config.json`` on load
against ``TRAINING_RUN``.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import os
import sys
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy

from . import backend, training
from .checkpoint import atomic_write
from .errors import DataError
from .run_config import (NotConvergedWarning, RunConfig, SettingError, built_to_resume,
                         check_memory, check_model_fits_task, check_same_run)
from .run_schemas import TRAINING_RUN, check_training_run, parameter_count
from .rundir import CONFIG_FILE, HISTORY_FILE, RunDirectory, read_config
from .threads import describe_threads
from .training_checkpoint import check_readable

CONFIG_VERSION = 1
WEIGHTS_FILE = "model.safetensors"

# The default length of training: at least 20 epochs and at least the 800 SGD steps that 20
# epochs of digits take at batch 32. Larger data (digits, MNIST, housing) keeps its 20 epochs; a
# table of a hundred rows takes a few steps per epoch and needs hundreds of epochs (iris: 200).
MIN_EPOCHS, MIN_STEPS = 20, 800


def default_epochs(rows: int, batch_size: int) -> int:
    """max(20, ⌈800 / steps per epoch⌉) for ``rows`` training rows in batches of ``batch_size``."""
    steps_per_epoch = -(-rows // batch_size)
    return max(MIN_EPOCHS, -(-MIN_STEPS // steps_per_epoch))


# ---------------------------------------------------------------- 1. data
def load_source(config: RunConfig):
    """The Table(s) the settings name: (pool, test) where ``test`` is None unless the dataset
    comes with its own test set (MNIST)."""
    from . import data

    if config.csv is not None:
        table = data.load_csv(config.csv, target=config.target, missing=config.missing,
                              delimiter=config.delimiter, task=config.task)
    else:
        table = data.load_dataset(config.dataset, root=config.data_dir, missing=config.missing)
    if isinstance(table, data.TrainTest):
        return table.train, table.test
    return table, None


def split_rows(pool, test, config: RunConfig):
    """(train, validation or None, test) Tables: the split is a function of the seed only."""
    from .data import train_val_test_split

    stratify = pool.y if pool.task == "classification" else None
    parts = train_val_test_split(len(pool), val=config.val, test=0.0 if test is not None
                                 else config.test, stratify=stratify, seed=config.seed)
    validation = pool.subset(parts.val) if len(parts.val) else None
    test = test if test is not None else pool.subset(parts.test)
    if len(test) == 0 and config.test > 0:  # each class's share rounded down to no row
        split_by = " (each class's share of its rows, rounded)" if stratify is not None else ""
        raise SettingError(("test", config.test), f" leaves no rows to test on{split_by}: the "
                           f"data has only {len(pool)} rows; give more rows or a larger fraction")
    if len(test) == 0:
        raise SettingError(("test", config.test), " leaves no rows to test on; the run ends "
                           "with a test evaluation, so give a fraction such as ", ("test", 0.2))
    return pool.subset(parts.train), validation, test


def features(table, scaler) -> numpy.ndarray:
    """The table's inputs as (rows, features) of the default dtype, scaled by the training
    split's statistics."""
    X = table.X.reshape(len(table.X), -1).astype(backend.get_default_dtype(), copy=False)
    return X if scaler is None else scaler.transform(X)


class RunData(NamedTuple):
    """The tables of a run's three splits, and the feature scaler fitted on its training rows."""
    pool: object
    train: object
    validation: object
    test: object
    scaler: object


def prepare_data(config: RunConfig) -> RunData:
    """Step 1: load, check that the model suits the target, split, fit the feature scaler."""
    from .data import Standardizer

    pool, given_test = load_source(config)
    check_model_fits_task(config.model, pool)
    train_table, val_table, test_table = split_rows(pool, given_test, config)
    if pool.task == "classification":
        absent = sorted(set(range(pool.n_classes)) - set(train_table.y.tolist()))
        if absent:
            raise DataError(f"the training split has no rows of the class "
                            f"{pool.classes[absent[0]]!r}, so no model can learn it; give "
                            "that class more rows")
    scaler = (Standardizer().fit(features(train_table, None)) if config.scale == "standard"
              else None)
    return RunData(pool, train_table, val_table, test_table, scaler)


# ---------------------------------------------------------------- 2. fit, 3. test
def train(config: RunConfig, out, *, resume: bool = False, overwrite: bool = False,
          quiet: bool = False, echo=None) -> dict:
    """Train as ``config`` says, write the run directory ``out``, return metrics.json's dict.

    An existing run in ``out`` is refused unless ``resume`` (continue it from its checkpoint)
    or ``overwrite`` (replace it once the new run has finished). Progress goes to standard
    error unless ``quiet``; the summary lines to ``echo`` (default: print). A run that ends
    with its monitored loss still falling warns with scikit-learn's ``ConvergenceWarning``.
    """
    with RunDirectory(out, overwrite=overwrite, resume=resume) as run:
        # Under mpiexec every rank trains (chainrule.distributed); rank 0 alone writes and prints.
        if not run.writer:
            echo, quiet = (lambda line: None), True
        echo = echo or (lambda line: print(line, flush=True))
        started = time.perf_counter()
        data = prepare_data(config)
        if config.epochs is None:
            config = dataclasses.replace(
                config, epochs=default_epochs(len(data.train), config.batch_size))
        saved = run_config_json(config, data)
        check_memory(saved["model"]["sizes"], config.optimizer)
        if run.resume:
            check_same_run(run.path, config, saved)

            def reached(folder) -> int:  # the epoch a checkpoint holds, read as the fit reads it
                return check_readable(folder / "checkpoint", data.validation is not None,
                                      *built_to_resume(config, data.pool.task,
                                                       saved["model"]["sizes"]))
            trained = reached(run.folder)
            if config.epochs < trained:  # its weights are epoch ``trained``'s: none trained less
                raise SettingError(("resume", True), f": {run.path} has trained to epoch "
                                   f"{trained}; ", ("epochs", config.epochs), " would end before "
                                   "it (a run cannot be shortened): give ", ("epochs", trained),
                                   " or more")
            run.begin(config.epochs, reached)
        run.write_json(CONFIG_FILE, saved)
        if not quiet:
            echo(_describe_data(config, data))
            echo(_describe_model(config, saved["model"]["sizes"]))
            if run.discarded:
                echo(run.discarded)
            if run.continued_at is not None:
                echo(f"continuing the interrupted extension of the finished run in {run.path} "
                     f"from its checkpoint at epoch {run.continued_at}, in its copy {run.folder}: "
                     "the run stays as it is until the extension has finished")
            elif run.extending:
                echo(f"extending the finished run in {run.path} in a copy, {run.folder}: the run "
                     "stays as it is until the extension has finished")
        estimator = fit_estimator(config, data, run, quiet)
        metrics = {**measure(estimator, config, data),
                   "seconds": round(time.perf_counter() - started, 2), "config": saved}
        if run.writer:
            save_model(run.folder, estimator)
            estimator.history_.save(run.folder / HISTORY_FILE)
            estimator.history_.plot(run.folder / "history.png")
        run.finish(metrics)
    _report(metrics, estimator.history_, config, run, echo)
    return metrics


def _report(metrics: dict, history, config: RunConfig, run: RunDirectory, echo) -> None:
    """The result line, the closed form's beside SGD's, and a warning if the loss still fell."""
    echo(_describe_result(metrics, run.path))
    if "closed_form" in metrics:
        exact, rmse = metrics["closed_form"], metrics["test"]["rmse"]
        echo(f"closed-form least squares on the same split: test RMSE {_readable(exact['rmse'])}"
             f"  R² {exact['r2']:.4f}  (SGD's RMSE is {100 * (rmse / exact['rmse'] - 1):+.2f}% "
             "from it)")
    if run.writer and history.still_improving():
        warnings.warn(NotConvergedWarning(
            f"{history.monitor} was still falling in the last epochs (by more than 1e-4 in the "
            "last 10); it has not converged: train longer with ", ("epochs", 2 * config.epochs)),
            stacklevel=3)


def run_config_json(config: RunConfig, data: RunData) -> dict:
    """config.json: the settings, the model's layer sizes, and what re-encodes new data."""
    pool = data.pool
    outputs = 1 if pool.task == "regression" or config.model == "logistic" else pool.n_classes
    sizes = [data.train.n_features, *(config.hidden if config.model == "mlp" else ()), outputs]
    target_scaler = None
    if pool.task == "regression":  # the regressor's own, of the training rows
        from .estimators import target_scaling

        mean, scale = target_scaling(data.train.y)
        target_scaler = {"mean": mean.tolist(), "scale": scale.tolist(),
                         "dtype": str(mean.dtype)}
    return {"format": "chainrule.run", "version": CONFIG_VERSION,
            **config.to_config(sizes, pool.sha256 if config.csv is not None else None),
            "task": pool.task, "target": pool.target_name, "classes": pool.classes,
            "feature_names": pool.feature_names,
            "encoder": pool.encoder.to_json() if pool.encoder is not None else None,
            "scaler": data.scaler.to_json() if data.scaler is not None else None,
            "target_scaler": target_scaler}


def fit_estimator(config: RunConfig, data: RunData, run: RunDirectory, quiet: bool):
    """Step 2: the estimator, fitted on the training rows with the validation rows watched."""
    from sklearn.exceptions import ConvergenceWarning

    estimator = config.make_estimator(data.pool.task, verbose=not quiet)
    validation = None
    if data.validation is not None:
        validation = (features(data.validation, data.scaler), data.validation.y)
    with warnings.catch_warnings():
        # the run warns once it has finished, with the run's own rule (train)
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(features(data.train, data.scaler), data.train.y, validation=validation,
                      checkpoint_dir=run.folder / "checkpoint", resume=run.resume)
    return estimator


def measure(estimator, config: RunConfig, data: RunData) -> dict:
    """Step 3: the test split once, the best epoch's validation numbers, and for linear
    regression the closed-form solution's test metrics on the same rows."""
    X_test = features(data.test, data.scaler)
    history = estimator.history_
    best = history.records[history.best_epoch - 1]
    metrics = {
        "test": test_metrics(estimator, data.test, X_test),
        "validation": {key[4:]: value for key, value in best.items() if key.startswith("val_")},
        "train": {"loss": best["loss"], "rows": len(data.train)},
        "best_epoch": history.best_epoch, "epochs_run": len(history),
        "stopped_early": history.stopped_early, "compiled": history.compiled,
    }
    if config.model == "linear":
        # The same goal solved exactly: SGD's test error should come out close to this one.
        from .models import LinearRegression

        exact = LinearRegression(solver="lstsq").fit(features(data.train, data.scaler),
                                                     data.train.y)
        metrics["closed_form"] = test_metrics(exact, data.test, X_test)
    return metrics


def test_metrics(estimator, table, X: numpy.ndarray) -> dict:
    """Classifiers: accuracy and mean loss; regressors: RMSE, MAE and R² in the target's units."""
    if table.task == "classification":
        return {"accuracy": float(estimator.score(X, table.y)),
                "loss": estimator.log_loss(X, table.y), "rows": len(X)}
    predicted, wanted = estimator.predict(X), table.y.astype(numpy.float64)
    return {"rmse": training.rmse(predicted, wanted),
            "mae": float(numpy.mean(numpy.abs(predicted - wanted))),
            "r2": training.r2(predicted, wanted), "rows": len(X)}


# ---------------------------------------------------------------- a saved run
def save_model(out: Path, estimator) -> None:
    from . import checkpoint

    checkpoint.save_weights(out / WEIGHTS_FILE, estimator.module_)


def load_run(run) -> tuple:
    """(config, estimator) of a finished run directory, the estimator fitted with the trained
    weights; the config and the weights are checked before either is used."""
    from . import checkpoint

    run = Path(run)
    config = read_config(run, TRAINING_RUN, "training run")
    check_training_run(config, run / CONFIG_FILE)
    sizes = config["model"]["sizes"]
    checkpoint.check_file_holds(run / WEIGHTS_FILE, parameter_count(sizes),
                                f"{run / CONFIG_FILE}: model.sizes")
    estimator = RunConfig.from_config(config).make_estimator(config["task"])
    # what fit learns, from the run's files: the weights, the classes, the target scaling
    estimator.module_ = estimator._build_module(sizes[0], sizes[-1])
    checkpoint.load_weights(run / WEIGHTS_FILE, estimator.module_)
    estimator.module_.eval()
    estimator.n_features_in_ = sizes[0]
    if config["task"] == "classification":
        estimator.classes_ = numpy.arange(len(config["classes"]))
    else:
        estimator.target_mean_ = numpy.asarray(config["target_scaler"]["mean"], numpy.float64)
        estimator.target_scale_ = numpy.asarray(config["target_scaler"]["scale"], numpy.float64)
        estimator.n_outputs_ = None
    return config, estimator


def _scaler(config: dict):
    from .data import Standardizer

    return Standardizer.from_json(config["scaler"]) if config["scaler"] else None


def _encoder(config: dict):
    """The run's CSV encoder; for a bundled dataset, one whose columns are its feature names."""
    from .data.csv_table import Column, TableEncoder

    if config["encoder"] is not None:
        return TableEncoder.from_json(config["encoder"])
    columns = [Column(name, "numeric") for name in config["feature_names"]]
    return TableEncoder(columns, config["target"], config["task"], config["classes"])


def evaluate(run, csv_path=None, data_dir=None) -> dict:
    """Test metrics of a run: on its own test split (recomputed from the seed, from a CSV
    refused if it has changed since the run started) or on a CSV."""
    config, estimator = load_run(run)
    if csv_path is not None:
        table = _encoder(config).encode_csv(csv_path, with_target=True)
    else:
        settings = RunConfig.from_config(config)
        if data_dir is not None:
            settings.data_dir = data_dir
        if settings.csv is not None and not os.path.isfile(settings.csv):
            relative = "" if os.path.isabs(settings.csv) else f" (read from {os.getcwd()})"
            raise DataError(f"{Path(run) / CONFIG_FILE}: the run's test split is recomputed from "
                            f"the CSV it was trained on, {settings.csv!r}, which is not there"
                            f"{relative}; evaluate from the folder the run was trained in, or "
                            "on rows of your own (csv_path=)")
        pool, given_test = load_source(settings)
        # (a run saved before the hash was kept has none, and is evaluated on trust)
        if config["source"].get("csv_sha256") not in (None, pool.sha256):
            raise DataError(f"{Path(run) / CONFIG_FILE}: the run's test split is recomputed from "
                            f"the CSV it was trained on, {settings.csv!r}, whose content has "
                            "changed since the run started (its SHA-256 is not the one the run "
                            "recorded), so its rows would not be the run's test rows; evaluate "
                            "on rows of your own (csv_path=), or train anew on the file as it is")
        table = split_rows(pool, given_test, settings)[2]
    X = features(table, _scaler(config))
    if X.shape[1] != estimator.n_features_in_:
        raise DataError(f"the data has {X.shape[1]} features but the model takes "
                        f"{estimator.n_features_in_}")
    return test_metrics(estimator, table, X)


def predict(run, input_path, missing: str | None = None) -> tuple[list[str], list[list]]:
    """(header, rows) of predictions for each row of the CSV ``input_path``: the predicted target
    and, for a classifier, the probability of each class. ``missing`` ("error" or "mean"):
    what to do with empty cells; by default the training policy, but never "drop", which would
    leave rows without their prediction."""
    config, estimator = load_run(run)
    encoder = _encoder(config)
    if missing is None:
        missing = "error" if encoder.missing == "drop" else encoder.missing
    if missing not in ("error", "mean"):
        raise ValueError(f"predict: missing must be 'error' or 'mean', not {missing!r}")
    table = encoder.encode_csv(input_path, with_target=False, missing=missing)
    X = features(table, _scaler(config))
    target = config["target"]
    if config["task"] == "regression":
        return [target], [[_number(value)] for value in estimator.predict(X)]
    probabilities = estimator.predict_proba(X)
    classes = config["classes"]
    header = [target] + [f"p({label})" for label in classes]
    rows = [[classes[int(row.argmax())]] + [f"{p:.6f}" for p in row] for row in probabilities]
    return header, rows


def write_csv(header: list, rows: list, path=None) -> None:
    """Write to ``path`` atomically, or to standard output when ``path`` is None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if path is None:
        sys.stdout.write(buffer.getvalue())
        return
    if Path(path).is_dir():
        raise DataError(f"{path} is a directory; give a file name for the predictions")
    atomic_write(path, buffer.getvalue().encode("utf-8"))


# ---------------------------------------------------------------- helpers
def _readable(value: float) -> str:
    """66,730 or 0.5312: thousands separated, small values to four significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _number(value) -> str:
    """Every digit the value's float type holds (the shortest that reads back the same), in
    plain notation: 1234567.4, where six significant digits wrote 1.23457e+06."""
    return numpy.format_float_positional(value, trim="-")


def _describe_data(config: RunConfig, data: RunData) -> str:
    pool, validation = data.pool, data.validation
    name = config.dataset or os.path.basename(config.csv)
    what = (f"{pool.n_classes} classes" if pool.task == "classification"
            else f"target {pool.target_name!r}")
    held_out = f"{len(validation):,} validation, " if validation is not None else ""
    return (f"{name}: {len(data.train):,} training, {held_out}{len(data.test):,} test rows · "
            f"{data.train.n_features} features · {what}")


def _describe_model(config: RunConfig, sizes: list[int]) -> str:
    name = {"linear": "linear regression", "logistic": "logistic regression",
            "softmax": "softmax regression", "cnn": "CNN"}.get(config.model,
                                                               f"MLP ({config.activation})")
    momentum = f" momentum {config.momentum}" if config.momentum else ""
    if config.lr_schedule != "constant":
        momentum += f" ({config.lr_schedule} schedule)"
    return (f"model: {name} {'-'.join(map(str, sizes))} · {config.optimizer} lr {config.lr:g}"
            f"{momentum} · batch {config.batch_size} · {config.epochs} epochs · seed "
            f"{config.seed} · {describe_threads()}")


def _describe_result(metrics: dict, out: Path) -> str:
    test = metrics["test"]
    if "accuracy" in test:
        numbers = f"test accuracy {100 * test['accuracy']:.2f}%  loss {test['loss']:.4f}"
    else:
        numbers = f"test RMSE {_readable(test['rmse'])}  R² {test['r2']:.4f}"
    if metrics["validation"]:
        epochs = f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']}"
    else:
        epochs = f"{metrics['epochs_run']} epochs, no validation split"
    return f"{numbers}  ({epochs}, {metrics['seconds']:.1f}s) → {out}/metrics.json"
