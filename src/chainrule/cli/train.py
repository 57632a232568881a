"""``chainrule train``, ``evaluate`` and ``predict``: the course's recipe on real data, from the
command line.

    chainrule train                                   # digits, an MLP, ≥ 97% test accuracy
    chainrule train breast_cancer --model logistic
    chainrule train --csv housing.csv --target median_house_value --missing mean --model mlp
    chainrule evaluate runs/digits-mlp
    chainrule predict runs/housing-mlp --input new_districts.csv --output predictions.csv

A run directory holds everything needed to evaluate or predict later: ``config.json`` (the model,
the data source and its encoding, the scalers), ``model.safetensors`` (the weights),
``metrics.json``, ``history.json``, ``history.png`` and ``checkpoint/`` (to ``--resume``).
"""
from __future__ import annotations

import os
import sys
import warnings

from . import add_compile_option, add_threads_option, as_flag
from .arguments import HelpFormatter, seed

DATASETS = ["digits", "iris", "wine", "breast_cancer", "diabetes", "mnist", "fashion-mnist",
            "california-housing"]
MODELS = ["linear", "logistic", "softmax", "mlp", "cnn"]
DEFAULT_MODEL = "mlp"
# RunConfig's defaults, said in the help (spelled here: importing the library would slow --help)
DEFAULT_DATASET, DEFAULT_HIDDEN, DEFAULT_ACTIVATION = "digits", "512", "relu"


def register(subparsers) -> None:
    formatter = HelpFormatter
    train = subparsers.add_parser(
        "train", formatter_class=formatter, help="train a model on a dataset or a CSV file",
        description="Train a model by minibatch SGD: load the data, split it into train / "
                    "validation / test, scale the features on the training split, train with a "
                    "per-epoch validation (keeping the best epoch's weights), then evaluate on "
                    "the test split once. With no arguments: an MLP on the digits dataset.")
    source = train.add_argument_group("data")
    source.add_argument("dataset", nargs="?", choices=DATASETS, metavar="DATASET",
                        help=f"a bundled dataset: {', '.join(DATASETS)} (default: "
                             f"{DEFAULT_DATASET}, unless --csv is given)")
    source.add_argument("--csv", metavar="PATH",
                        help="train on this CSV file instead (needs --target)")
    source.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    source.add_argument("--missing", choices=["error", "drop", "mean"], default="error",
                        help="what to do with empty cells in the CSV: refuse them, drop their "
                             "rows, or fill them with the column's mean (most frequent text)")
    source.add_argument("--delimiter", type=_delimiter, default=",", metavar="CHAR",
                        help="what separates the CSV's cells: ',', ';', a tab (written 'tab' "
                             "or '\\t'), or another character")
    source.add_argument("--task", choices=["classification", "regression"], default=None,
                        help="how to read the CSV's target (default: classes when it is text, "
                             "or at most 20 distinct integers and at most half as many as rows; "
                             "numbers to predict otherwise; a target that mixes numbers and "
                             "words is refused unless it is classification)")
    source.add_argument("--data-dir", metavar="DIR",
                        help="folder with the dataset's files: the MNIST / Fashion-MNIST IDX "
                             "files (.gz or raw), california-housing's housing.csv (default: the "
                             "download cache)")
    source.add_argument("--val", type=float, default=0.1, metavar="FRACTION",
                        help="fraction of the rows held out for validation (0: none, no early "
                             "stopping)")
    source.add_argument("--test", type=float, default=0.2, metavar="FRACTION",
                        help="fraction of the rows held out for the final test (datasets with "
                             "their own test set, such as MNIST, keep it)")
    source.add_argument("--scale", choices=["auto", "standard", "none"], default="auto",
                        help="feature scaling fitted on the training split: standard (zero mean, "
                             "unit variance) or none; auto is none for image pixels in [0, 1] "
                             "and standard otherwise. Regression targets are always standardised "
                             "for training and reported in their own units")
    model = train.add_argument_group("model")
    model.add_argument("--model", choices=MODELS, default=DEFAULT_MODEL,
                       help="linear regression, logistic regression (two classes), softmax "
                            "regression (any number of classes), or a multilayer perceptron "
                            "(classifier or regressor, following the target), or the tutorials' "
                            "convolutional network for square images (a classifier: "
                            "models.ConvNet's layers, with --dropout before its last layer)")
    model.add_argument("--hidden", default=None, metavar="SIZES",
                       help=f"MLP hidden layer sizes, comma-separated, e.g. 256,256 (default: "
                            f"{DEFAULT_HIDDEN})")
    model.add_argument("--activation", choices=["relu", "sigmoid", "tanh"], default=None,
                       help=f"MLP activation between layers (default: {DEFAULT_ACTIVATION})")
    model.add_argument("--dropout", type=float, default=0.0, metavar="P",
                       help="MLP dropout probability after each hidden layer (cnn: before "
                            "its last layer)")
    fitting = train.add_argument_group("training")
    fitting.add_argument("--epochs", type=int, default=None,
                         help="passes over the training data (default: at least 20 epochs and "
                              "at least 800 steps: more epochs for small data)")
    fitting.add_argument("--batch-size", type=int, default=32, help="examples per SGD step")
    fitting.add_argument("--lr", type=float, default=None,
                         help="learning rate (default: 0.001 for adam; for sgd 0.1, or 0.003 "
                              "for linear regression, whose squared error punishes outliers)")
    fitting.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                         help="default: adam for mlp, sgd for the linear models")
    fitting.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                         help="the learning rate over the epochs: constant, or cosine (from --lr "
                              "down to 0 over the epochs, one step per epoch)")
    fitting.add_argument("--momentum", type=float, default=0.0,
                         help="SGD momentum (PyTorch's); --optimizer sgd only")
    fitting.add_argument("--patience", type=int, default=None, metavar="EPOCHS",
                         help="stop when the validation loss has not improved for this many "
                              "epochs; needs a validation split (default: train all epochs; the "
                              "best epoch's weights are kept either way)")
    fitting.add_argument("--seed", type=seed, default=0,
                         help="seeds the split, the initial weights, the shuffling and dropout")
    fitting.add_argument("--out", metavar="DIR", default=None,
                         help="run directory (default: runs/<dataset>-<model>)")
    fitting.add_argument("--resume", action="store_true",
                         help="continue the run in --out from its last epoch checkpoint")
    fitting.add_argument("--overwrite", action="store_true",
                         help="replace the run already in --out (it stays until the new run "
                              "has finished)")
    fitting.add_argument("--quiet", action="store_true", help="print only the final metrics")
    add_compile_option(train)
    add_threads_option(train)
    train.set_defaults(handler=run_train)

    evaluate = subparsers.add_parser(
        "evaluate", formatter_class=formatter,
        help="evaluate a trained run on its test split or a CSV",
        description="Print the test metrics of a run directory made by 'chainrule train': on "
                    "the run's own test split (recomputed from the saved seed), or on a CSV with "
                    "the training columns and the target column.")
    evaluate.add_argument("run", metavar="DIR", help="the run directory ('chainrule train --out')")
    evaluate.add_argument("--csv", metavar="PATH",
                          help="evaluate on this CSV (same columns as the training CSV)")
    evaluate.add_argument("--data-dir", metavar="DIR",
                          help="where the dataset's files are now (default: the run's --data-dir)")
    add_threads_option(evaluate)
    evaluate.set_defaults(handler=run_evaluate)

    predict = subparsers.add_parser(
        "predict", formatter_class=formatter, help="predict the target for the rows of a CSV",
        description="Predict with a trained run: the CSV needs the training feature columns (a "
                    "target column, if present, is ignored). Writes one row per input row: the "
                    "prediction and, for classifiers, each class's probability.")
    predict.add_argument("run", metavar="DIR", help="the run directory ('chainrule train --out')")
    predict.add_argument("--input", metavar="CSV", required=True, help="rows to predict")
    predict.add_argument("--output", metavar="CSV", default=None,
                         help="where to write the predictions (default: standard output)")
    add_threads_option(predict)
    predict.add_argument("--missing", choices=["error", "mean"], default=None,
                         help="what to do with empty cells: refuse them, or fill them with the "
                              "training data's column means (most frequent text); default: as "
                              "the run was trained, refusing them if it dropped rows (each "
                              "input row gets its prediction)")
    predict.set_defaults(handler=run_predict)


def _delimiter(text: str) -> str:
    """A tab is hard to type in a shell: 'tab' and '\\t' say it (RunConfig checks the rest)."""
    return "\t" if text in ("tab", "\\t") else text


def _hidden_sizes(text: str) -> list[int]:
    from ..errors import ChainruleError

    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise ChainruleError(f"--hidden {text!r}: give positive layer sizes separated by commas, "
                             "e.g. --hidden 256,256")
    return sizes


def _missing_values(error, remedy: str):
    """The library's MissingValuesError, its remedy said in this command's flags."""
    from ..errors import DataError

    return DataError(f"{error.problem}; {remedy}")


def _offline(error):
    """The library's DownloadError, its offline remedy said with --data-dir."""
    from ..errors import DataError

    return DataError(f"{error.problem}; offline, put {', '.join(error.files)} in a folder and "
                     "give it as --data-dir FOLDER")


def run_train(args) -> int:
    from ..data.csv_table import MissingValuesError
    from ..data.download import DownloadError
    from ..extras import require

    require("train", "sklearn", "safetensors", "matplotlib", "tqdm", purpose="chainrule train")
    from ..run_config import NotConvergedWarning, RunConfig
    from ..runs import train

    try:
        config = RunConfig(
            dataset=args.dataset, csv=args.csv, target=args.target, missing=args.missing,
            delimiter=args.delimiter, task=args.task,
            data_dir=args.data_dir, val=args.val, test=args.test, scale=args.scale,
            model=args.model, hidden=_hidden_sizes(args.hidden) if args.hidden else None,
            activation=args.activation, dropout=args.dropout, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
            momentum=args.momentum, lr_schedule=args.lr_schedule, patience=args.patience,
            seed=args.seed, compile=args.compile)
        name = config.dataset or os.path.splitext(os.path.basename(args.csv))[0]
        out = args.out or os.path.join("runs", f"{name}-{args.model}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NotConvergedWarning)
            train(config, out, resume=args.resume, overwrite=args.overwrite, quiet=args.quiet)
    except MissingValuesError as error:
        raise _missing_values(error, "use --missing drop to leave those rows out, or --missing "
                                     "mean to fill them with the column mean (the most frequent "
                                     "value for a text column)") from None
    except DownloadError as error:
        raise _offline(error) from None
    for warning in caught:
        if isinstance(warning.message, NotConvergedWarning):
            print(f"warning: {warning.message.say(as_flag)}", file=sys.stderr, flush=True)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
    return 0


def run_evaluate(args) -> int:
    from ..checkpoint import to_json
    from ..data.csv_table import MissingValuesError
    from ..data.download import DownloadError
    from ..runs import evaluate

    try:
        results = evaluate(args.run, csv_path=args.csv, data_dir=args.data_dir)
    except MissingValuesError as error:
        raise _missing_values(error, "fill or remove those rows (evaluate treats empty cells as "
                                     "the run's training did, and it refused them)") from None
    except DownloadError as error:
        raise _offline(error) from None
    print(to_json(results, indent=1))
    return 0


def run_predict(args) -> int:
    from ..data.csv_table import MissingValuesError
    from ..runs import predict, write_csv

    try:
        header, rows = predict(args.run, args.input, missing=args.missing)
    except MissingValuesError as error:
        raise _missing_values(error, "fill those cells, or add --missing mean to fill them with "
                                     "the training data's column means") from None
    write_csv(header, rows, args.output)
    if args.output:
        print(f"{len(rows):,} predictions → {args.output}", file=sys.stderr)
    return 0
