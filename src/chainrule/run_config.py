"""The settings of a training run (``runs.train``, ``chainrule train``) as one typed object.

    RunConfig(dataset="breast_cancer", model="logistic")
    RunConfig(csv="housing.csv", target="median_house_value", missing="mean", model="mlp",
              hidden=(256, 256), epochs=30)

Every field is a Python argument with a default. Settings that cannot work are refused when the
object is made, with a ``SettingError`` that names them as a Python caller writes them
(``model='logistic'``); the error keeps the (argument, value) pairs it names, so that the command
line can say them as its flags (``--model logistic``). The defaults that depend on other settings
are filled in then too: the optimizer and learning rate from the model, the feature scaling from
the dataset; only ``epochs`` waits for the data (``runs.default_epochs``).

In a run's ``config.json`` the settings are kept in four sections, ``source``, ``split``,
``model`` and ``fitting`` (the schema ``run_schemas.TRAINING_RUN``); ``to_config`` writes them
and ``from_config`` reads them back, from runs of every version.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy
from sklearn.exceptions import ConvergenceWarning

from . import backend
from .checkpoint import parse_json, to_json
from .errors import DataError
from .estimator_settings import whole
from .run_schemas import ACTIVATIONS, TRAINING_RUN, check_training_run, parameter_count
from .rundir import CONFIG_FILE, read_config

MODELS = ("linear", "logistic", "softmax", "mlp", "cnn")
IMAGE_DATASETS = ("mnist", "fashion-mnist")  # pixels in [0, 1]: scaled as they are
DEFAULT_DATASET = "digits"
DEFAULT_HIDDEN, DEFAULT_ACTIVATION = (512,), "relu"
CHOICES = {"missing": ("error", "drop", "mean"), "scale": ("auto", "standard", "none"),
           "model": MODELS, "activation": (None, *ACTIVATIONS), "optimizer": (None, "sgd", "adam"),
           "lr_schedule": ("constant", "cosine"), "task": (None, "classification", "regression")}


class _InArguments:
    """A message that names settings. ``parts`` is the message: text, and the settings it names
    as (argument, value) pairs, or (argument,) for the name alone; ``say(spell)`` writes each
    with ``spell(argument, *value)``, and ``str()`` as Python arguments."""

    def __init__(self, *parts):
        self.parts = parts
        super().__init__(self.say(python_argument))

    def say(self, spell) -> str:
        return "".join(part if isinstance(part, str) else spell(*part) for part in self.parts)


class SettingError(_InArguments, DataError):
    """Settings that cannot work, or cannot work with this data."""


class NotConvergedWarning(_InArguments, ConvergenceWarning):
    """A run that ended while its monitored loss was still falling."""


def python_argument(name: str, *value) -> str:
    """``model='mlp'``, or the bare name when no value is given."""
    return f"{name}={value[0]!r}" if value else name


@dataclass
class RunConfig:
    """What to train on, which model, and how (see the module's docstring)."""

    # the data: a bundled dataset, or a CSV file and its target column
    dataset: str | None = None     # DEFAULT_DATASET unless csv is given
    csv: str | None = None
    target: str | None = None
    missing: str = "error"         # empty CSV cells: "error", "drop" their rows, fill the "mean"
    delimiter: str = ","           # what separates the CSV's cells: ";" or "\t" too
    task: str | None = None        # the CSV target's: "classification" or "regression"; None
                                   # guesses (load_csv's rule: few integers or text are classes)
    data_dir: str | None = None    # the MNIST / Fashion-MNIST IDX files
    val: float = 0.1               # the fractions held out for validation and the final test
    test: float = 0.2
    scale: str = "auto"            # "standard" or "none"; "auto": "none" for image pixels
    # the model
    model: str = "mlp"             # one of MODELS
    hidden: tuple[int, ...] | None = None   # an MLP's hidden layer sizes: DEFAULT_HIDDEN
    activation: str | None = None  # an MLP's: DEFAULT_ACTIVATION
    dropout: float = 0.0           # an MLP's after each hidden layer; the CNN's before its last
    # the training
    epochs: int | None = None      # None: runs.default_epochs for the training rows
    batch_size: int = 32
    lr: float | None = None        # None: 0.001 for adam; for sgd 0.1, or 0.003 for linear
    optimizer: str | None = None   # None: "adam" for mlp and cnn, "sgd" for the linear models
    momentum: float = 0.0          # sgd's
    lr_schedule: str = "constant"  # or "cosine": from lr down to 0 over the epochs
    patience: int | None = None    # epochs without a better validation loss before stopping
    seed: int = 0                  # the split, the initial weights, the shuffling and dropout
    compile: bool = True           # replay the recorded step (chainrule.compile): same weights

    def __post_init__(self):
        self._check_values()
        if self.optimizer is None:
            self.optimizer = "adam" if self.model in ("mlp", "cnn") else "sgd"
        self._check_combinations()
        if self.csv is None and self.dataset is None:
            self.dataset = DEFAULT_DATASET
        if self.scale == "auto":
            self.scale = "none" if self.dataset in IMAGE_DATASETS else "standard"
        if self.model == "mlp":
            self.hidden = tuple(self.hidden or DEFAULT_HIDDEN)
            self.activation = self.activation or DEFAULT_ACTIVATION
        if self.lr is None:
            sgd_lr = 0.003 if self.model == "linear" else 0.1  # squared errors punish outliers
            self.lr = 0.001 if self.optimizer == "adam" else sgd_lr

    def _check_values(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                given = [option for option in allowed if option is not None]
                raise SettingError((name, getattr(self, name)),
                                   f": choose one of {', '.join(map(repr, given))}")
        for name in ("epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if value is not None and (not whole(value) or value < 1):
                raise SettingError((name, value), " must be a whole number, at least 1")
        if not (isinstance(self.delimiter, str) and len(self.delimiter) == 1) or \
                self.delimiter in '"\r\n':
            raise SettingError(("delimiter", self.delimiter), ": the cells' separator is one "
                               "character, such as ';' or a tab, and not a quote or line break")
        if not isinstance(self.compile, bool):
            raise SettingError(("compile", self.compile), " is True or False")
        if not whole(self.seed) or self.seed < 0:
            raise SettingError(("seed", self.seed), ": a seed is a whole number ≥ 0")
        if self.lr is not None and not self.lr > 0:
            raise SettingError(("lr", self.lr), ": the learning rate must be positive")
        if not 0 <= self.momentum < 1:
            raise SettingError(("momentum", self.momentum), ": use a value in [0, 1), e.g. 0.9")
        if not 0 <= self.dropout < 1:
            raise SettingError(("dropout", self.dropout), ": use a probability in [0, 1)")
        for name in ("val", "test"):
            if not 0 <= getattr(self, name) < 1:
                raise SettingError((name, getattr(self, name)), ": use a fraction in [0, 1)")
        if self.hidden is not None and (not self.hidden or not all(
                whole(size) and size >= 1 for size in self.hidden)):
            raise SettingError(("hidden", self.hidden), ": give positive layer sizes, e.g. ",
                               ("hidden", (256, 256)))
        # NumPy's numbers are welcome, but config.json holds Python's
        for name, kind in (("epochs", int), ("batch_size", int), ("patience", int), ("seed", int),
                           ("lr", float), ("val", float), ("test", float), ("momentum", float),
                           ("dropout", float)):
            if getattr(self, name) is not None:
                setattr(self, name, kind(getattr(self, name)))
        if self.hidden is not None:
            self.hidden = tuple(int(size) for size in self.hidden)

    def _check_combinations(self) -> None:
        """Settings that would be silently ignored are refused: a run that ignored momentum is
        a run its user misreads, and leaving the setting out is one edit."""
        if self.dataset is not None and self.csv is not None:
            raise SettingError("give a dataset (", ("dataset", self.dataset), ") or ",
                               ("csv", self.csv), ", not both")
        if self.csv is not None and not self.target:
            raise SettingError(("csv", self.csv), ": say which column to predict with ",
                               ("target", "COLUMN"))
        if self.delimiter != "," and self.csv is None:
            raise SettingError(("delimiter", self.delimiter), " separates the cells of a ",
                               ("csv",), " file; a bundled dataset is read as it is published")
        if self.task is not None and self.csv is None:
            raise SettingError(("task", self.task), " says how to read a ", ("csv",), " file's "
                               "target; a bundled dataset knows its own")
        if self.target is not None and self.csv is None:
            raise SettingError(("target",), " names a column of a ", ("csv",),
                               " file; bundled datasets know their target")
        if self.model != "mlp":
            given = [(name, getattr(self, name)) for name in ("hidden", "activation", "dropout")
                     if getattr(self, name) and not (name == "dropout" and self.model == "cnn")]
            if given:
                what = "its layers are fixed" if self.model == "cnn" else "has none"
                parts = [part for setting in given for part in (", ", setting)][1:]
                raise SettingError(*parts, ": only an MLP has hidden layers to choose, ",
                                   ("model", self.model), f" {what}; use ", ("model", "mlp"),
                                   f", or leave {'them' if len(given) > 1 else 'it'} out")
        if self.momentum and self.optimizer != "sgd":
            raise SettingError(("momentum", self.momentum), f" is SGD's; {self.optimizer} keeps "
                               "its own running averages of the gradient; add ",
                               ("optimizer", "sgd"), ", or leave ", ("momentum",), " out")
        if self.patience is not None and self.val == 0:
            raise SettingError(("patience", self.patience), " waits for the validation loss to "
                               "stop improving, but ", ("val", self.val), " holds out no "
                               "validation rows; give ", ("val", 0.1), ", or leave ",
                               ("patience",), " out")

    # ------------------------------------------------------------ the estimator it describes
    def make_estimator(self, task: str, verbose: bool = False):
        """The unfitted estimator these settings train for ``task`` ("classification" or
        "regression"). Its best epoch is the best validation loss by any margin (``tol=0``),
        and it stops early only with ``patience``."""
        from .models import (CNNClassifier, LinearRegression, LogisticRegression, MLPClassifier,
                             MLPRegressor, SoftmaxRegression)

        common = dict(lr=self.lr, epochs=self.epochs, batch_size=self.batch_size,
                      optimizer=self.optimizer, momentum=self.momentum,
                      lr_schedule=self.lr_schedule, tol=0.0, n_iter_no_change=self.patience,
                      random_state=self.seed, compile=self.compile, verbose=verbose)
        if self.model == "mlp":
            kind = MLPClassifier if task == "classification" else MLPRegressor
            # nn.MLP's own initial weights (He for ReLU), with which the published runs were
            # measured; the estimators' default is scikit-learn's Glorot rule.
            return kind(hidden=self.hidden, activation=self.activation, init="nn.MLP",
                        dropout=self.dropout, **common)
        if self.model == "cnn":
            return CNNClassifier(dropout=self.dropout, **common)
        kind = {"linear": LinearRegression, "logistic": LogisticRegression,
                "softmax": SoftmaxRegression}[self.model]
        return kind(**common)

    # ------------------------------------------------------------ config.json
    def to_config(self, sizes: list[int], csv_sha256: str | None = None) -> dict:
        """The ``source``, ``split``, ``model`` and ``fitting`` sections of config.json, for a
        model of layer sizes ``sizes`` (inputs, hidden layers, outputs), trained on a CSV whose
        bytes have the SHA-256 ``csv_sha256`` (None for a bundled dataset)."""
        return {
            "source": {"dataset": self.dataset, "csv": self.csv, "target": self.target,
                       "missing": self.missing, "delimiter": self.delimiter, "task": self.task,
                       "data_dir": self.data_dir, "val": self.val,
                       "test": self.test, "scale": self.scale, "csv_sha256": csv_sha256},
            "split": {"val": self.val, "test": self.test, "seed": self.seed},
            "model": {"kind": self.model, "sizes": sizes, "activation": self.activation,
                      "dropout": self.dropout},
            "fitting": {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                        "optimizer": self.optimizer, "momentum": self.momentum,
                        "patience": self.patience, "seed": self.seed,
                        "schedule": self.lr_schedule, "compile": self.compile},
        }

    @classmethod
    def from_config(cls, config: dict) -> "RunConfig":
        """The settings of a run's config.json (checked against ``TRAINING_RUN`` first)."""
        source, model, fitting = config["source"], config["model"], config["fitting"]
        mlp = model["kind"] == "mlp"
        return cls(dataset=source["dataset"], csv=source["csv"], target=source["target"],
                   missing=source["missing"], delimiter=source.get("delimiter", ","),
                   task=source.get("task"),
                   data_dir=source.get("data_dir"),
                   val=source["val"], test=source["test"], scale=source["scale"],
                   model=model["kind"], hidden=tuple(model["sizes"][1:-1]) if mlp else None,
                   activation=model["activation"] if mlp else None, dropout=model["dropout"],
                   epochs=fitting["epochs"], batch_size=fitting["batch_size"], lr=fitting["lr"],
                   optimizer=fitting["optimizer"], momentum=fitting["momentum"],
                   lr_schedule=fitting.get("schedule", "constant"),
                   patience=fitting["patience"], seed=config["split"]["seed"],
                   compile=fitting.get("compile", True))


# ---------------------------------------------------------------- the settings and the data
def check_model_fits_task(kind: str, table) -> None:
    """The model a run names must suit its target: a regressor for numbers, a classifier for
    classes (logistic regression for two), the CNN for square images."""
    task, what = table.task, repr(table.target_name)
    # a CSV's target was guessed from its cells, and may be read the other way
    read_otherwise = (lambda other: ("; or read the target otherwise: ", ("task", other))) \
        if table.encoder is not None else (lambda other: ())
    if kind == "linear" and task == "classification":
        raise SettingError(("model", "linear"), f" is a regression model, but the target {what} "
                           f"holds {table.n_classes} classes; use ", ("model", "logistic"), ", ",
                           ("model", "softmax"), " or ", ("model", "mlp"),
                           *read_otherwise("regression"))
    side = math.isqrt(table.n_features)
    if kind == "cnn" and (task == "regression" or side * side != table.n_features or side < 4):
        raise SettingError(("model", "cnn"), " classifies square images of at least 4 × 4 pixels "
                           f"(its two poolings halve them twice), but the data has "
                           f"{table.n_features} features and the target {what} is {task}")
    if kind in ("logistic", "softmax") and task == "regression":
        labels = table.y is not None and bool(numpy.all(table.y == numpy.round(table.y)))
        raise SettingError(("model", kind), f" is a classifier, but the target {what} is a "
                           "number to predict (regression); use ", ("model", "linear"), " or ",
                           ("model", "mlp"), *(read_otherwise("classification") if labels else ()))
    if kind == "logistic" and table.n_classes != 2:
        raise SettingError(("model", "logistic"), f" separates two classes, but the target "
                           f"{what} has {table.n_classes}; use ", ("model", "softmax"), " or ",
                           ("model", "mlp"))


def check_memory(sizes: list[int], optimizer: str) -> None:
    """Refuse, before allocating anything, a model whose training cannot fit in this machine's
    memory (hidden layers with a few zeros too many), saying how much it would need."""
    parameters = parameter_count(sizes)
    # the weights, their gradients, the best epoch's copy, and the optimiser's state
    copies = 3 + {"adam": 2, "sgd": 1}.get(optimizer, 0)
    needed = parameters * numpy.dtype(backend.get_default_dtype()).itemsize * copies
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): let NumPy decide
        return
    if needed > available:
        gib = 2 ** 30
        hidden = [("hidden", tuple(sizes[1:-1])), ": "] if sizes[2:] else []
        raise SettingError(*hidden, f"the model {'-'.join(map(str, sizes))} has {parameters:,} "
                           f"parameters; training it with {optimizer} holds {copies} copies of "
                           f"them, {needed / gib:,.1f} GiB, but this machine has "
                           f"{available / gib:,.1f} GiB of memory")


def built_to_resume(config: RunConfig, task: str, sizes: list[int]) -> tuple:
    """(model, optimizer, scheduler) as the resumed fit builds them, for ``check_readable`` to
    load the checkpoint into: one that does not fit is refused before the run is written to
    (fit finds it only after). The global random state is left as it was."""
    from .estimators import make_optimizer

    random_state = backend.get_rng_state()  # building draws initial weights
    try:
        estimator = config.make_estimator(task)
        model = estimator._build_module(sizes[0], sizes[-1])
        estimator._optimizer = make_optimizer(estimator.optimizer, model.parameters(),
                                              estimator.lr, getattr(estimator, "momentum", 0.0))
        return model, estimator._optimizer, estimator._schedule(config.epochs)
    finally:
        backend.set_rng_state(random_state)


def _data_source(config: RunConfig) -> tuple:
    """The setting that names a run's data: ("csv", path), or ("dataset", name) without one."""
    return ("csv", config.csv) if config.csv is not None else ("dataset", config.dataset)


def _same_data_source(config: RunConfig, saved: RunConfig) -> bool:
    """Whether ``config`` names the data ``saved`` does: a CSV by any path to the same file
    (``data.csv``, ``./data.csv``, its absolute path; a relative path is read from the current
    directory, as ``evaluate`` reads it), a copy of it being another file."""
    if config.csv is None or saved.csv is None:
        return _data_source(config) == _data_source(saved)
    try:
        return os.path.samefile(config.csv, saved.csv)
    except OSError:  # one of them is not there: the same file only if the same path
        return os.path.realpath(config.csv) == os.path.realpath(saved.csv)


def check_same_run(out: Path, config: RunConfig, described: dict) -> None:
    """Refuse to resume a run with other settings (the number of epochs, unless a cosine
    schedule spans them, the patience, the data folder and compile, which changes the speed and
    not the numbers, may change), or with other data: ``described`` (the new config.json) must
    hold the SHA-256 of the CSV's bytes that the run recorded (a CSV edited since differs even
    where only its test rows do), and encode and scale the data as the run did (all that is
    checked of a run saved before the hash was kept). A run killed before its first checkpoint
    resumes from epoch 1, which gives the same result as an uninterrupted run."""
    saved_path = out / CONFIG_FILE
    if not saved_path.is_file():
        raise SettingError(f"{out}: holds no run to resume (no {CONFIG_FILE}); choose another "
                           "directory")
    saved_config = read_config(out, TRAINING_RUN, "training run", finished_only=False)
    check_training_run(saved_config, saved_path)
    saved = RunConfig.from_config(saved_config)
    if saved.lr_schedule == "cosine" and config.epochs != saved.epochs:
        # the schedule's length is its epochs: past them the cosine climbs back up
        raise SettingError(("resume", True), " with ", ("epochs", config.epochs), f" but the run "
                           f"in {out} was started with ", ("epochs", saved.epochs), " and a "
                           "cosine schedule, which decays the rate over those epochs (past "
                           "them it would rise again); resume with ", ("epochs", saved.epochs),
                           ", or train anew with ", ("overwrite", True))
    if not _same_data_source(config, saved):
        given, before = _data_source(config), _data_source(saved)
        raise SettingError(("resume", True), " with ", given, f" but the run in {out} was "
                           "started with ", before, "; use the same data or another directory")
    # a run saved before the hash was kept (None) is checked by its encoding alone, below
    recorded_sha256 = saved_config["source"].get("csv_sha256")
    if recorded_sha256 is not None and recorded_sha256 != described["source"]["csv_sha256"]:
        raise SettingError(("resume", True), " with ", ("csv", config.csv), ", whose content has "
                           f"changed since the run in {out} started (its SHA-256 is not the one "
                           f"in {CONFIG_FILE}): the run would go on with other data; start a new "
                           "run in another directory, or train anew in this one with ",
                           ("overwrite", True))
    for field in dataclasses.fields(RunConfig):
        if field.name in ("dataset", "csv", "epochs", "patience", "data_dir", "compile"):
            continue
        given, before = getattr(config, field.name), getattr(saved, field.name)
        if given != before:
            raise SettingError(("resume", True), " with ", (field.name, given), f" but the run "
                               f"in {out} was started with ", (field.name, before), "; use the "
                               "same settings or another directory")
    for key in ("task", "target", "classes", "feature_names", "encoder", "scaler",
                "target_scaler"):
        if not _says_the_same(saved_config[key], parse_json(to_json(described[key]), key)):
            raise SettingError(("resume", True), f" with data that are not those the run in "
                               f"{out} was trained on (their {key} differs from its "
                               f"{CONFIG_FILE}'s: has the data changed?); resume with the same "
                               "data, or train anew with ", ("overwrite", True))


def _says_the_same(saved, described) -> bool:
    """Whether ``described`` holds what ``saved`` holds (a field that a newer version writes and
    the saved config lacks is not compared: a run from an older version resumes)."""
    if isinstance(saved, dict) and isinstance(described, dict):
        return all(key in described and _says_the_same(value, described[key])
                   for key, value in saved.items())
    if isinstance(saved, list) and isinstance(described, list):
        return len(saved) == len(described) and all(map(_says_the_same, saved, described))
    return saved == described
