"""The declared shape of each kind of run's files, checked whenever a run is read back.

One schema per kind of run (``chainrule train``, ``lm train``, ``rl train``), side by side so
that the formats can be compared; ``schema.validate`` refuses a file that does not fit with one
line naming the file and the field. Sizes have no upper bound here: each loader checks instead
that the weights file is large enough for the model the config describes, before building it.
"""
from __future__ import annotations

from .schema import Anything, Boolean, Integer, ListOf, Nullable, Number, Record, Text

__all__ = ["TRAINING_RUN", "LANGUAGE_MODEL_RUN", "LANGUAGE_MODEL_PROGRESS", "REINFORCE_RUN"]

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
                     optional={"data_dir": Nullable(Text())}),
    "split": Record({"val": Number(0, 1), "test": Number(0, 1), "seed": Integer()}),
    "model": Record({"kind": Text(["linear", "logistic", "softmax", "mlp"]), "sizes": ListOf(Integer(1), min_length=2),
                     "activation": Nullable(Text(ACTIVATIONS)),
                     "dropout": Number(0, 1)}),
    "fitting": Record({"epochs": Integer(1), "batch_size": Integer(1),
                       "lr": Number(0, above=True), "optimizer": Text(["sgd", "adam"]),
                       "momentum": Number(0, 1), "patience": Nullable(Integer(1)),
                       "seed": Integer()}),
    "task": Text(["classification", "regression"]), "target": Text(),
    "classes": Nullable(ListOf(Anything())), "feature_names": ListOf(Text()),
    "encoder": Nullable(_ENCODER), "scaler": Nullable(_SCALER), "target_scaler": Nullable(_SCALER),
})

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
})
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
                      "value_lr": Number(0, above=True), "seed": Integer()}),
    "observation_size": Integer(1), "action_count": Integer(1),
})
