"""chainrule's estimators against scikit-learn's with matching settings: 5-fold cross-validation.

    python benchmarks/estimators_cv.py [--seeds N] [--init glorot|nn.MLP]

Each pair minimises the same objective with the same model, so their cross-validated scores
should agree (issue 13 asks for 1 point); the fit times are the mean seconds per fold. Features
are standardised inside each fold (a ``Pipeline`` with ``StandardScaler``); the folds are
shuffled with seed 0 (stratified for the classifiers). An MLP's score depends on its random
initial weights and batch order, by about a point on these small sets: its row is the mean over
``--seeds`` seeds (``random_state`` 0, 1, … on both sides; default 5) of the 5 fold scores, ± their
standard deviation over all of them. The linear models' optimum does not depend on a seed.

- Logistic and softmax regression with scikit-learn's ``C = 1``: ours minimises the mean loss
  plus (α/2)‖w‖² with α = 1/(C·N), N the rows of a training fold, by 2,000 steps of full-batch
  gradient descent with momentum; scikit-learn's ``LogisticRegression`` uses L-BFGS.
- MLPs: one hidden layer of 100 ReLUs, Adam at lr 0.001, batches of 200, up to 200 epochs with
  tol 1e-4 and 10 epochs of patience, no L2 penalty (``alpha=0`` on both sides: scikit-learn's
  alpha is divided by each batch's rows, ours is not), initial weights and biases by
  scikit-learn's Glorot rule (``init="glorot"``, our default; ``--init nn.MLP`` shows what
  ``nn.MLP``'s He initialisation costs), each from its own generator. The
  regressors learn standardised targets: ours does that itself; scikit-learn's ``MLPRegressor``
  is wrapped in ``TransformedTargetRegressor(transformer=StandardScaler())`` to match.
- Linear regression: ours by 2,000 steps of full-batch gradient descent with momentum on the
  standardised targets, scikit-learn's ``LinearRegression`` (``Ridge`` with ``alpha=0``; ours has
  no ridge penalty) in closed form.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy
from sklearn import datasets
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import LinearRegression as SklearnLinearRegression
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from harness import print_machine

from chainrule.models import (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor,
                              SoftmaxRegression)

FOLDS = 5
MLP = dict(hidden=(100,), lr=0.001, batch_size=200, epochs=200, alpha=0.0)
SKLEARN_MLP = dict(hidden_layer_sizes=(100,), learning_rate_init=0.001, batch_size=200,
                   max_iter=200, alpha=0.0)


def pairs(n_train: int, classes: int, init: str):
    """(what, ours, theirs) for a dataset whose training folds have ``n_train`` rows."""
    # Every epoch runs: with momentum the loss oscillates on its way down, which a patience rule
    # mistakes for convergence (30 epochs instead of the optimum on breast_cancer).
    descent = dict(momentum=0.9, batch_size=None, epochs=2000, n_iter_no_change=None)
    if classes == 2:
        yield ("logistic regression, C=1",
               LogisticRegression(alpha=1 / n_train, lr=0.5, **descent),
               SklearnLogisticRegression(C=1.0, max_iter=10_000))
    elif classes > 2:
        yield ("softmax regression, C=1",
               SoftmaxRegression(alpha=1 / n_train, lr=0.5, **descent),
               SklearnLogisticRegression(C=1.0, max_iter=10_000))
    if classes:
        yield "MLP 100 ReLU", MLPClassifier(**MLP, init=init), SklearnMLPClassifier(**SKLEARN_MLP)
    else:
        yield ("linear regression", LinearRegression(lr=0.1, **descent),
               SklearnLinearRegression())
        yield ("MLP 100 ReLU", MLPRegressor(**MLP, init=init),
               TransformedTargetRegressor(SklearnMLPRegressor(**SKLEARN_MLP),
                                          transformer=StandardScaler()))


def cross_validated(estimator, X, y, folds, seeds: int) -> tuple[float, float, float]:
    """(mean score, its standard deviation over the folds and seeds, mean fit seconds per fold):
    ``seeds`` cross-validations, with ``random_state`` 0, 1, … (wherever ``estimator`` has one)."""
    seeded = [name for name in estimator.get_params() if name.endswith("random_state")]
    scores, seconds = [], []
    for seed in range(seeds):
        model = clone(estimator).set_params(**dict.fromkeys(seeded, seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarnings of the capped MLPs, both sides
            results = cross_validate(make_pipeline(StandardScaler(), model), X, y, cv=folds)
        scores.extend(results["test_score"])
        seconds.extend(results["fit_time"])
    return float(numpy.mean(scores)), float(numpy.std(scores)), float(numpy.mean(seconds))


def main() -> None:
    import sklearn

    import chainrule

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, metavar="N",
                        help="how many cross-validations each MLP row averages, with random_state "
                             "0 to N-1 on both sides (default: %(default)s)")
    parser.add_argument("--init", choices=["glorot", "nn.MLP"], default="glorot",
                        help="our MLPs' initial weights (default: %(default)s)")
    args = parser.parse_args()
    seeds = args.seeds
    rows = []
    for name in ["breast_cancer", "digits", "wine", "diabetes"]:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        classification = name != "diabetes"
        folds = (StratifiedKFold if classification else KFold)(FOLDS, shuffle=True,
                                                               random_state=0)
        n_train = len(X) - len(X) // FOLDS
        for what, ours, theirs in pairs(n_train, len(numpy.unique(y)) if classification else 0,
                                    args.init):
            started = time.perf_counter()
            runs = seeds if what.startswith("MLP") else 1
            our_mean, our_std, our_seconds = cross_validated(ours, X, y, folds, runs)
            their_mean, their_std, their_seconds = cross_validated(theirs, X, y, folds, runs)
            rows.append([name, what, "accuracy" if classification else "R²",
                         f"{our_mean:.4f} ± {our_std:.4f}", f"{their_mean:.4f} ± {their_std:.4f}",
                         f"{100 * (our_mean - their_mean):+.2f}",
                         f"{our_seconds:.2f}", f"{their_seconds:.2f}"])
            print(" | ".join(rows[-1]), f"({time.perf_counter() - started:.0f} s)", flush=True,
                  file=sys.stderr)

    print(f"chainrule {chainrule.__version__}, scikit-learn {sklearn.__version__}, "
          f"MLPs over {seeds} seeds, ours with init={args.init!r}")
    print_machine()
    print()
    header = ["dataset", "model", "metric", "chainrule (mean ± sd of the fold scores)",
              "scikit-learn", "difference (points)", "chainrule fit (s)", "scikit-learn fit (s)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
