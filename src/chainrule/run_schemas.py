"""The declared shape of each kind of run's files, checked whenever a run is read back.

One schema per kind of run (``chainrule train``, ``lm train``, ``rl train``), side by side so
that the formats can be compared; ``schema.validate`` refuses a file that does not fit with one
line naming the file and the field. Sizes have no upper bound here: each loader checks instead
that the weights file is large enough for the model the config describes, before building it.
"""
from __future__ import annotations

from .errors import CheckpointError
from .schema import (Anything, Boolean, Integer, ListOf, Nullable, Number, Record, Text,
                     validate)

__all__ = ["TRAINING_RUN", "LANGUAGE_MODEL_RUN", "LANGUAGE_MODEL_PROGRESS", "REINFORCE_RUN",
           "RUN_KINDS", "check_training_run", "kind_of_run", "parameter_count"]

ACTIVATIONS = ["relu", "sigmoid", "tanh", "gelu"]

# ---------------------------------------------------------------- chainrule train: config.json
_SCALER = Record({"mean": ListOf(Number()), "scale": ListOf(Number(0, above=True))},
                 optional={"dtype": Text(["float32", "float64"])})
_COLUMN = Record({"name": Text(), "kind": Text(["numeric", "categorical"])},
                 optional={"categories": Nullable(ListOf(Anything())), "fill": Anything()})
_ENCODER = Record({"format": Text(["chainrule.TableEncoder"]), "target": Text(),
                   "task": Text(["classification", "regression"]), "columns": ListOf(_COLUMN)},
                  optional={"classes": Nullable(ListOf(Anything())),
                            "missing": Text(["error", "drop", "mean"]), "delimiter": Text()})
TRAINING_RUN = Record({
    "format": Text(["chainrule.run"]), "version": Integer(1, 1),
    "source": Record({"dataset": Nullable(Text()), "csv": Nullable(Text()),
                      "target": Nullable(Text()), "missing": Text(["error", "drop", "mean"]),
                      "val": Number(0, 1), "test": Number(0, 1),
                      "scale": Text(["standard", "none"])},
                     # absent from runs saved before each was kept
                     optional={"data_dir": Nullable(Text()), "delimiter": Text(),
                               "task": Nullable(Text(["classification", "regression"])),
                               "csv_sha256": Nullable(Text())}),
    "split": Record({"val": Number(0, 1), "test": Number(0, 1), "seed": Integer()}),
    "model": Record({"kind": Text(["linear", "logistic", "softmax", "mlp", "cnn"]), "sizes": ListOf(Integer(1), min_length=2),
                     "activation": Nullable(Text(ACTIVATIONS)),
                     "dropout": Number(0, 1)}),
    "fitting": Record({"epochs": Integer(1), "batch_size": Integer(1),
                       "lr": Number(0, above=True), "optimizer": Text(["sgd", "adam"]),
                       "momentum": Number(0, 1), "patience": Nullable(Integer(1)),
                       "seed": Integer()},
                      optional={"schedule": Text(["constant", "cosine"]), "compile": Boolean()}),
    "task": Text(["classification", "regression"]), "target": Text(),
    "classes": Nullable(ListOf(Anything())), "feature_names": ListOf(Text()),
    "encoder": Nullable(_ENCODER), "scaler": Nullable(_SCALER), "target_scaler": Nullable(_SCALER),
})


def parameter_count(sizes: list[int]) -> int:
    """Weights and biases of the layers ``sizes[0] → sizes[1] → …``."""
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))


def check_training_run(config: dict, path) -> None:
    """What the schema cannot say: the parts of a training run's config must agree with each
    other (the model's inputs with the encoder and the scaler, its outputs with the task and
    the classes)."""
    def refuse(field: str, problem: str):
        raise CheckpointError(f"{path}: {field}: {problem}")

    model, task, classes = config["model"], config["task"], config["classes"]
    sizes, kind = model["sizes"], model["kind"]
    if kind == "mlp" and model["activation"] is None:
        refuse("model.activation", "an MLP needs one, got null")
    if kind != "mlp" and len(sizes) != 2:
        refuse("model.sizes", f"a {kind} model has two sizes (inputs, outputs), got {sizes}")
    if task == "classification":
        if classes is None or len(classes) < 2:
            refuse("classes", f"a classifier needs at least two classes, got {classes}")
        outputs = 1 if kind == "logistic" else len(classes)
        if kind == "logistic" and len(classes) != 2:
            refuse("classes", f"logistic regression separates two classes, got {len(classes)}")
    else:
        if kind in ("logistic", "softmax", "cnn"):
            refuse("model.kind", f"{kind} is a classifier, but the task is regression")
        if config["target_scaler"] is None:
            refuse("target_scaler", "a regression run needs one, got null")
        outputs = 1
    if sizes[-1] != outputs:
        refuse("model.sizes", f"the model has {sizes[-1]} outputs but the task needs {outputs}")
    inputs = {"feature_names": len(config["feature_names"])}
    if config["scaler"] is not None:
        inputs.update({"scaler.mean": len(config["scaler"]["mean"]),
                       "scaler.scale": len(config["scaler"]["scale"])})
    encoder = config["encoder"]
    if encoder is not None:
        if encoder["task"] != task:
            refuse("encoder.task", f"{encoder['task']!r} but the run's task is {task!r}")
        for index, column in enumerate(encoder["columns"]):
            if column["kind"] == "categorical" and not column.get("categories"):
                refuse(f"encoder.columns[{index}].categories", "a categorical column needs them")
        inputs["encoder.columns"] = sum(len(column["categories"]) if column["kind"] ==
                                        "categorical" else 1 for column in encoder["columns"])
    for field, count in inputs.items():
        if count != sizes[0]:
            refuse(field, f"gives {count} input columns but the model takes {sizes[0]}")

# ---------------------------------------------------------------- lm train: the checkpoint's config
# (config.json holds a copy for people to read; loading uses the checkpoint's own)
LANGUAGE_MODEL_RUN = Record({
    "model": Record({"vocab_size": Integer(1), "block_size": Integer(1), "n_layer": Integer(1),
                     "n_head": Integer(1), "n_embd": Integer(1), "dropout": Number(0, 1),
                     "bias": Boolean(), "tie_weights": Boolean()}),
    "train": Record({"batch_size": Integer(1), "max_iters": Integer(1),
                     "learning_rate": Number(0, above=True), "min_lr": Number(0),
                     "warmup_iters": Integer(0), "lr_decay_iters": Integer(1),
                     "weight_decay": Number(0), "beta1": Number(0, 1), "beta2": Number(0, 1),
                     "grad_clip": Number(0), "eval_interval": Integer(1),
                     "eval_iters": Integer(1), "final_eval_iters": Integer(1),
                     "tokenizer": Text(["char", "byte"]), "seed": Integer()}),
    "tokenizer": Record({"kind": Text(["char", "byte"])}, optional={"chars": Text()}),
}, optional={"text_sha256": Text(), "preset": Nullable(Text())})  # absent in older runs
# the checkpoint's "extra": where the run is and what it measured so far
LANGUAGE_MODEL_PROGRESS = Record(
    {"iteration": Integer(0),
     "history": ListOf(Record({"step": Integer(0), "train_loss": Number(),
                               "val_loss": Number()}))},
    optional={"first_loss": Nullable(Number())})

# ---------------------------------------------------------------- rl train: config.json
REINFORCE_RUN = Record({
    "config": Record({"env": Text(), "gamma": Number(0, 1, above=True),
                      "lr": Number(0, above=True), "hidden": Integer(1),
                      "activation": Text(["relu", "tanh"]), "baseline": Boolean(),
                      "value_lr": Number(0, above=True), "seed": Integer()},
                     # absent from runs saved before the time limit was recorded
                     optional={"max_episode_steps": Nullable(Integer(1))}),
    "observation_size": Integer(1), "action_count": Integer(1),
})

# ---------------------------------------------------------------- which kind of run a config is
# (named as each reader names its kind, so that a reader given another kind can say which)
RUN_KINDS = {"training run": TRAINING_RUN, "language-model run": LANGUAGE_MODEL_RUN,
             "reinforcement-learning run": REINFORCE_RUN}


def kind_of_run(config) -> str | None:
    """The kind of run whose schema ``config`` fits (a key of ``RUN_KINDS``), or None."""
    for kind, declared in RUN_KINDS.items():
        try:
            validate(config, declared, "config.json")
        except CheckpointError:
            continue
        return kind
    return None
