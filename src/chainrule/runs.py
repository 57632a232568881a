"""A run: train a model on a dataset into a directory, then evaluate and predict from it later.

The recipe, step by step, as ``chainrule train`` runs it:

1. data      load a bundled dataset or a CSV; split the rows into train / validation / test
             (stratified by class for classifiers, never overlapping, seeded); fit the feature
             standardiser on the training rows only (and, for regression, a target standardiser).
2. decision  build the model's module: ``nn.Linear``, ``nn.MLP`` or ``models.ConvNet``.
3. loss      mean squared error, binary cross-entropy (logistic) or cross-entropy (softmax, MLP).
4. SGD       ``training.fit`` with validation each epoch, the best epoch's weights kept, and a
             checkpoint per epoch; then the test split, once.

The directory keeps ``config.json`` (everything needed to rebuild the model and re-encode new
data), ``model.safetensors``, ``metrics.json``, ``history.json``, ``history.png`` and
``checkpoint/``. Regression metrics are reported in the target's own units. ``rundir`` writes
it (the lock, the overwrite rule, ``metrics.json`` last) and checks ``config.json`` on load
against ``TRAINING_RUN``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy

from . import backend, training
from .checkpoint import atomic_write, load_json, to_json
from .errors import CheckpointError, DataError
from .threads import describe_threads
from .run_schemas import TRAINING_RUN, check_training_run, parameter_count
from .rundir import CONFIG_FILE, HISTORY_FILE, RunDirectory, read_config
from .schema import validate

IMAGE_DATASETS = ("mnist", "fashion-mnist")
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
def load_source(source: dict):
    """The Table(s) a run's ``source`` names: (pool, test) where ``test`` is None unless the
    dataset comes with its own test set (MNIST)."""
    from . import data

    if source.get("csv"):
        if not source.get("target"):
            raise DataError(f"{source['csv']}: say which column to predict with --target COLUMN")
        table = data.load_csv(source["csv"], target=source["target"], missing=source["missing"])
    else:
        table = data.load_dataset(source["dataset"], root=source.get("data_dir"),
                                  missing=source["missing"])
    if isinstance(table, data.TrainTest):
        return table.train, table.test
    return table, None


def split_rows(pool, test, split: dict):
    """(train, validation or None, test) Tables: the split is a function of the seed only."""
    from .data import train_val_test_split

    stratify = pool.y if pool.task == "classification" else None
    parts = train_val_test_split(len(pool), val=split["val"], test=0.0 if test is not None
                                 else split["test"], stratify=stratify, seed=split["seed"])
    validation = pool.subset(parts.val) if len(parts.val) else None
    test = test if test is not None else pool.subset(parts.test)
    if len(test) == 0:
        raise DataError(f"--test {split['test']} leaves no rows to test on; the run ends with "
                        "a test evaluation, so give a fraction such as --test 0.2")
    return pool.subset(parts.train), validation, test


def features(table, scaler) -> numpy.ndarray:
    """The table's inputs as (rows, features) float32, scaled by the training split's statistics."""
    X = table.X.reshape(len(table.X), -1).astype(backend.get_default_dtype(), copy=False)
    return X if scaler is None else scaler.transform(X)


def targets(table, kind: str, target_scaler) -> numpy.ndarray:
    """What the loss compares outputs with: class indices, a 0/1 column (logistic regression)
    or standardised values (regression)."""
    if table.task == "classification" and kind == "logistic":
        return table.y.astype(backend.get_default_dtype()).reshape(-1, 1)
    if table.task == "classification":
        return table.y
    return target_scaler.transform(table.y.reshape(-1, 1).astype(backend.get_default_dtype()))


# ---------------------------------------------------------------- 2. and 3. model and loss
def check_model_fits_task(kind: str, table) -> None:
    task, what = table.task, repr(table.target_name)
    if kind == "linear" and task == "classification":
        raise DataError(f"--model linear is a regression model, but the target {what} holds "
                        f"{table.n_classes} classes; use --model logistic, softmax or mlp")
    side = math.isqrt(table.n_features)
    if kind == "cnn" and (task == "regression" or side * side != table.n_features or side < 4):
        raise DataError(f"--model cnn classifies square images of at least 4 × 4 pixels (its "
                        f"two poolings halve them twice), but the data has {table.n_features} "
                        f"features and the target {what} is {task}")
    if kind in ("logistic", "softmax") and task == "regression":
        raise DataError(f"--model {kind} is a classifier, but the target {what} is a number to "
                        "predict (regression); use --model linear or mlp")
    if kind == "logistic" and table.n_classes != 2:
        raise DataError(f"--model logistic separates two classes, but the target {what} has "
                        f"{table.n_classes}; use --model softmax or mlp")


def build_module(model: dict):
    """The decision function a config describes: ``nn.Linear(d, k)``, ``nn.MLP(sizes)``, or the
    ``ConvNet`` of square one-channel images of d pixels."""
    from . import nn

    if model["kind"] == "cnn":
        from .models import ConvNet

        side = math.isqrt(model["sizes"][0])
        return ConvNet((1, side, side), classes=model["sizes"][-1], dropout=model["dropout"])
    if model["kind"] == "mlp":
        return nn.MLP(model["sizes"], activation=model["activation"],
                      dropout=model.get("dropout", 0.0))
    return nn.Linear(model["sizes"][0], model["sizes"][-1])


def check_memory(model: dict, optimizer: str) -> None:
    """Refuse, before allocating anything, a model whose training cannot fit in this machine's
    memory (a --hidden with a few zeros too many), saying how much it would need."""
    sizes = model["sizes"]
    parameters = sum(inputs * outputs + outputs for inputs, outputs in zip(sizes, sizes[1:]))
    # the weights, their gradients, the best epoch's copy, and the optimiser's state
    copies = 3 + {"adam": 2, "sgd": 1}.get(optimizer, 0)
    needed = parameters * numpy.dtype(backend.get_default_dtype()).itemsize * copies
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): let NumPy decide
        return
    if needed > available:
        gib = 2 ** 30
        hidden = f"--hidden {','.join(map(str, sizes[1:-1]))}: " if sizes[2:] else ""
        raise DataError(f"{hidden}the model {'-'.join(map(str, sizes))} has {parameters:,} "
                        f"parameters; training it with {optimizer} holds {copies} copies of them, {needed / gib:,.1f} GiB, "
                        f"but this machine has {available / gib:,.1f} GiB of memory")


def loss_function(kind: str, task: str):
    from .nn import functional as F

    if task == "regression":
        return F.mse_loss
    if kind == "logistic":
        return F.binary_cross_entropy_with_logits
    return F.cross_entropy


def validation_metrics(task: str, target_scaler) -> dict:
    """Accuracy for classifiers; RMSE (in the target's units) and R² for regressors."""
    if task == "classification":
        return {"accuracy": training.accuracy}
    scale = float(backend.to_numpy(target_scaler.scale_).reshape(-1)[0])
    return {"rmse": lambda outputs, wanted: scale * training.rmse(outputs, wanted),
            "r2": training.r2}


def test_metrics(module, kind: str, table, X: numpy.ndarray, target_scaler) -> dict:
    """Classifiers: accuracy and mean loss; regressors: RMSE, MAE and R² in the target's units."""
    outputs = training.predict(module, X)
    if table.task == "classification":
        loss = training.evaluate(module, loss_function(kind, table.task),
                                 (X, targets(table, kind, None)))["loss"]
        return {"accuracy": training.accuracy(outputs, table.y), "loss": loss, "rows": len(X)}
    predicted = target_scaler.inverse_transform(outputs).reshape(-1).astype(numpy.float64)
    wanted = table.y.astype(numpy.float64)
    return {"rmse": training.rmse(predicted, wanted),
            "mae": float(numpy.mean(numpy.abs(predicted - wanted))),
            "r2": training.r2(predicted, wanted), "rows": len(X)}


# ---------------------------------------------------------------- 4. train
def train(source: dict, model: dict, fitting: dict, out, resume: bool = False,
          overwrite: bool = False, quiet: bool = False, echo=None) -> dict:
    """Train as the config dicts say, write the run directory ``out``, return metrics.json's dict.

    source   {"dataset": name} or {"csv": path, "target": column, "missing": policy}, and
             "data_dir"; split: "val", "test" fractions; "scale": "auto" | "standard" | "none".
    model    {"kind": linear|logistic|softmax|mlp|cnn, "hidden": [sizes], "activation": name}.
    fitting  {"epochs", "batch_size", "lr", "optimizer", "momentum", "patience", "seed"}.
    An existing run in ``out`` is refused unless ``resume`` (continue it from its checkpoint)
    or ``overwrite`` (replace it once the new run has finished).
    """
    with RunDirectory(out, overwrite=overwrite, resume=resume) as run:
        return _train_into(run, source, model, fitting, quiet,
                           echo or (lambda line: print(line, flush=True)))


def _train_into(run: RunDirectory, source: dict, model: dict, fitting: dict, quiet: bool,
                echo) -> dict:
    from . import manual_seed
    from .data import Standardizer
    from .estimators import make_optimizer

    resume = run.resume
    # Under mpiexec every rank trains (chainrule.distributed); rank 0 alone writes and prints.
    if not run.writer:
        echo = lambda line: None  # noqa: E731
        quiet = True
    started = time.perf_counter()
    pool, given_test = load_source(source)
    check_model_fits_task(model["kind"], pool)
    split = {"val": source["val"], "test": source["test"], "seed": fitting["seed"]}
    train_table, val_table, test_table = split_rows(pool, given_test, split)
    if fitting["epochs"] is None:
        fitting = {**fitting, "epochs": default_epochs(len(train_table), fitting["batch_size"])}

    scale = source["scale"]
    if scale == "auto":
        scale = "none" if source.get("dataset") in IMAGE_DATASETS else "standard"
    scaler = Standardizer().fit(features(train_table, None)) if scale == "standard" else None
    target_scaler = None
    if pool.task == "regression":
        target_scaler = Standardizer().fit(train_table.y.reshape(-1, 1).astype(numpy.float32))

    n_features = train_table.n_features
    n_outputs = 1 if pool.task == "regression" or model["kind"] == "logistic" else pool.n_classes
    hidden = list(model["hidden"]) if model["kind"] == "mlp" else []
    config = {
        "format": "chainrule.run", "version": CONFIG_VERSION,
        "source": {**source, "scale": scale},
        "split": split,
        "model": {"kind": model["kind"], "sizes": [n_features, *hidden, n_outputs],
                  "activation": model["activation"] if hidden else None,
                  "dropout": model.get("dropout", 0.0) if hidden or model["kind"] == "cnn"
                  else 0.0},
        "fitting": fitting,
        "task": pool.task, "target": pool.target_name, "classes": pool.classes,
        "feature_names": pool.feature_names,
        "encoder": pool.encoder.to_json() if pool.encoder is not None else None,
        "scaler": scaler.to_json() if scaler is not None else None,
        "target_scaler": target_scaler.to_json() if target_scaler is not None else None,
    }
    check_memory(config["model"], fitting["optimizer"])
    if resume:
        _check_same_run(run.path, config)
    run.begin()
    run.write_json(CONFIG_FILE, config)

    kind = model["kind"]
    X_train = features(train_table, scaler)
    train_data = (X_train, targets(train_table, kind, target_scaler))
    val_data = None
    if val_table is not None:
        val_data = (features(val_table, scaler), targets(val_table, kind, target_scaler))
    if not quiet:
        echo(_describe_data(pool, train_table, val_table, test_table, source))
        echo(_describe_model(config, fitting))

    manual_seed(fitting["seed"])
    module = build_module(config["model"])
    optimizer = make_optimizer(fitting["optimizer"], module.parameters(), fitting["lr"],
                               fitting["momentum"])
    scheduler = None
    if fitting.get("schedule", "constant") == "cosine":  # half a cosine, stepped each epoch
        from .optim.lr_scheduler import CosineAnnealingLR

        scheduler = CosineAnnealingLR(optimizer, T_max=fitting["epochs"])
    # A diverging run overflows before fit stops it with a TrainingError: that error is the
    # message, not NumPy's overflow warnings on the way.
    with numpy.errstate(over="ignore", invalid="ignore"):
        history = training.fit(
            module, loss_function(kind, pool.task), optimizer, train_data, val_data,
            scheduler=scheduler, epochs=fitting["epochs"], batch_size=fitting["batch_size"],
            metrics=validation_metrics(pool.task, target_scaler), patience=fitting["patience"],
            monitor=fitting.get("monitor", "val_loss"), seed=fitting["seed"],
            checkpoint_dir=run.folder / "checkpoint", resume=resume, progress=not quiet,
            stream=sys.stderr, compile=fitting.get("compile", True))

    results = test_metrics(module, kind, test_table, features(test_table, scaler), target_scaler)
    best = history.records[history.best_epoch - 1]
    metrics = {
        "test": results,
        "validation": {key[4:]: value for key, value in best.items() if key.startswith("val_")},
        "train": {"loss": best["loss"], "rows": len(X_train)},
        "best_epoch": history.best_epoch, "epochs_run": len(history),
        "stopped_early": history.stopped_early, "compiled": history.compiled,
        "seconds": round(time.perf_counter() - started, 2),
        "config": config,
    }
    if kind == "linear":
        # The same goal solved exactly: SGD's test error should come out close to this one.
        metrics["closed_form"] = closed_form_metrics(config, train_data, test_table,
                                                     features(test_table, scaler), target_scaler)
    if run.writer:
        save_model(run.folder, module)
        history.save(run.folder / HISTORY_FILE)
        history.plot(run.folder / "history.png")
    run.finish(metrics)
    echo(_describe_result(metrics, history, run.path))
    if run.writer and history.still_improving():
        print(f"warning: {history.monitor} was still falling in the last epochs (by more than "
              f"1e-4 in the last 10); it has not converged: train longer with --epochs "
              f"{2 * fitting['epochs']}", file=sys.stderr, flush=True)
    if "closed_form" in metrics:
        exact = metrics["closed_form"]
        gap = 100 * (results["rmse"] / exact["rmse"] - 1)
        echo(f"closed-form least squares on the same split: test RMSE {_readable(exact['rmse'])}"
             f"  R² {exact['r2']:.4f}  (SGD's RMSE is {gap:+.2f}% from it)")
    return metrics


def closed_form_metrics(config: dict, train_data: tuple, test_table, X_test, target_scaler):
    """Test metrics of the least-squares solution θ = [X 1]⁺ T on the same training rows."""
    from .models import least_squares

    module = build_module(config["model"])
    weight, bias = least_squares(*train_data)
    module.weight.data[...] = weight
    module.bias.data[...] = bias
    return test_metrics(module, "linear", test_table, X_test, target_scaler)


# ---------------------------------------------------------------- a saved run
def save_model(out: Path, module) -> None:
    from . import checkpoint

    checkpoint.save_weights(out / WEIGHTS_FILE, module)


def load_run(run) -> tuple:
    """(config, module) of a finished run directory, the module holding the trained weights;
    the config and the weights are checked before either is used."""
    from . import checkpoint

    run = Path(run)
    config = read_config(run, TRAINING_RUN, "training run")
    check_training_run(config, run / CONFIG_FILE)
    checkpoint.check_file_holds(run / WEIGHTS_FILE, parameter_count(config["model"]["sizes"]),
                                f"{run / CONFIG_FILE}: model.sizes")
    module = build_module(config["model"])
    checkpoint.load_weights(run / WEIGHTS_FILE, module)
    module.eval()
    return config, module


def _scalers(config: dict):
    from .data import Standardizer

    scaler = Standardizer.from_json(config["scaler"]) if config["scaler"] else None
    target_scaler = (Standardizer.from_json(config["target_scaler"])
                     if config["target_scaler"] else None)
    return scaler, target_scaler


def _encoder(config: dict):
    """The run's CSV encoder; for a bundled dataset, one whose columns are its feature names."""
    from .data.csv_table import Column, TableEncoder

    if config["encoder"] is not None:
        return TableEncoder.from_json(config["encoder"])
    columns = [Column(name, "numeric") for name in config["feature_names"]]
    return TableEncoder(columns, config["target"], config["task"], config["classes"])


def evaluate(run, csv_path=None, data_dir=None) -> dict:
    """Test metrics of a run: on its own test split (recomputed from the seed) or on a CSV."""
    config, module = load_run(run)
    scaler, target_scaler = _scalers(config)
    if csv_path is not None:
        table = _encoder(config).encode_csv(csv_path, with_target=True)
    else:
        source = dict(config["source"])
        if data_dir is not None:
            source["data_dir"] = data_dir
        pool, given_test = load_source(source)
        table = split_rows(pool, given_test, config["split"])[2]
    X = features(table, scaler)
    if X.shape[1] != config["model"]["sizes"][0]:
        raise DataError(f"the data has {X.shape[1]} features but the model takes "
                        f"{config['model']['sizes'][0]}")
    return test_metrics(module, config["model"]["kind"], table, X, target_scaler)


def predict(run, input_path, missing: str | None = None) -> tuple[list[str], list[list]]:
    """(header, rows) of predictions for each row of the CSV ``input_path``: the predicted target
    and, for a classifier, the probability of each class. ``missing`` ("error" or "mean"):
    what to do with empty cells; by default the training policy, but never "drop", which would
    leave rows without their prediction."""
    from .estimators import softmax_rows, two_class_probabilities

    config, module = load_run(run)
    scaler, target_scaler = _scalers(config)
    encoder = _encoder(config)
    if missing is None:
        missing = "error" if encoder.missing == "drop" else encoder.missing
    if missing not in ("error", "mean"):
        raise ValueError(f"predict: missing must be 'error' or 'mean', not {missing!r}")
    table = encoder.encode_csv(input_path, with_target=False, missing=missing)
    outputs = training.predict(module, features(table, scaler)).astype(numpy.float64)
    target = config["target"]
    if config["task"] == "regression":
        values = target_scaler.inverse_transform(outputs).reshape(-1)
        return [target], [[_number(value)] for value in values]
    if config["model"]["kind"] == "logistic":
        probabilities = two_class_probabilities(outputs)
    else:
        probabilities = softmax_rows(outputs)
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


def _number(value: float) -> str:
    return f"{value:.6g}"


def _check_same_run(out: Path, config: dict) -> None:
    """Refuse to resume a run with other settings. A run killed before its first checkpoint
    resumes from epoch 1, which gives the same result as an uninterrupted run."""
    saved_path = out / CONFIG_FILE
    if not saved_path.is_file():
        raise CheckpointError(f"{out}: holds no run to resume (no {CONFIG_FILE}); start it "
                              "again with overwrite=True")
    saved = validate(load_json(saved_path), TRAINING_RUN, saved_path)
    check_training_run(saved, saved_path)
    for part in ("source", "split", "model"):
        if json.loads(to_json(config[part])) != saved[part]:
            raise CheckpointError(f"{out}: resume=True with different {part} settings than "
                                  f"the run was started with ({saved[part]}); use the same "
                                  "settings or another directory")
    for key in ("batch_size", "lr", "optimizer", "momentum", "seed"):
        if config["fitting"][key] != saved["fitting"][key]:
            raise CheckpointError(f"{out}: resume=True with {key}={config['fitting'][key]} but "
                                  f"the run was started with {saved['fitting'][key]}")


def _describe_data(pool, train_table, val_table, test_table, source: dict) -> str:
    name = source.get("dataset") or os.path.basename(source["csv"])
    what = (f"{pool.n_classes} classes" if pool.task == "classification"
            else f"target {pool.target_name!r}")
    validation = f"{len(val_table):,} validation, " if val_table is not None else ""
    return (f"{name}: {len(train_table):,} training, {validation}{len(test_table):,} test rows · "
            f"{train_table.n_features} features · {what}")


def _describe_model(config: dict, fitting: dict) -> str:
    model = config["model"]
    sizes = "-".join(map(str, model["sizes"]))
    name = {"linear": "linear regression", "logistic": "logistic regression",
            "softmax": "softmax regression", "cnn": "CNN"}.get(model["kind"], f"MLP ({model['activation']})")
    momentum = f" momentum {fitting['momentum']}" if fitting["momentum"] else ""
    if fitting.get("schedule", "constant") != "constant":
        momentum += f" ({fitting['schedule']} schedule)"
    return (f"model: {name} {sizes} · {fitting['optimizer']} lr {fitting['lr']:g}{momentum} · "
            f"batch {fitting['batch_size']} · {fitting['epochs']} epochs · seed {fitting['seed']} · "
            f"{describe_threads()}")


def _describe_result(metrics: dict, history, out: Path) -> str:
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
