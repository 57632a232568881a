"""scikit-learn's estimator contract on top of chainrule's modules, optimizers and ``training.fit``.

A model of the course is two things: a decision function (an ``nn.Module``: ``Linear`` or an
``MLP``) and a loss. The estimator classes here add what scikit-learn users expect around them:

    model = LogisticRegression(alpha=1e-3).fit(X_train, y_train)
    model.predict(X_test); model.predict_proba(X_test); model.score(X_test, y_test)

They are scikit-learn estimators (``BaseEstimator`` and its classifier/regressor mixins), and pass
its ``check_estimator``: keyword-only hyper-parameters stored untouched by ``__init__``; everything
learned ends in an underscore (``module_``, ``classes_``, ``history_``, ``n_features_in_``,
``feature_names_in_``); inputs validated at the door by ``validate_data``; ``NotFittedError``
before ``fit``, and after a ``fit`` from scratch that raised; ``partial_fit`` and ``warm_start``;
a ``ConvergenceWarning`` when ``epochs`` ran out while the loss was still falling. scikit-learn
is the ``train`` extra's dependency.

Training follows scikit-learn's MLPs: up to ``epochs`` passes over the data, stopping once the
loss has not improved by ``tol`` for ``n_iter_no_change`` epochs (the validation loss when
``fit`` is given ``validation=(X_val, y_val)``, else the training loss).
"""
from __future__ import annotations

import contextlib
import numbers
import warnings

import numpy
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from . import backend, training
from .errors import DataError, DivergenceError
from .estimator_settings import architecture, check_architecture, check_settings
from .tensor import Tensor


def make_optimizer(name: str, parameters, lr: float, momentum: float = 0.0):
    """``"sgd"`` (with optional momentum) or ``"adam"`` over ``parameters``."""
    from . import optim

    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=momentum)
    if name == "adam":
        return optim.Adam(parameters, lr=lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', not {name!r}")


def l2_penalty(module) -> Tensor | float:
    """½ Σ w² over the weight matrices of ``module`` (biases are not penalised, as in
    scikit-learn)."""
    total = 0.0
    for name, parameter in module.named_parameters():
        if name.endswith("weight"):
            total = total + (parameter * parameter).sum()
    return 0.5 * total


def softmax_rows(scores: numpy.ndarray) -> numpy.ndarray:
    """softmax of each row, shifted by the row maximum so that exp never overflows."""
    shifted = numpy.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def two_class_probabilities(logits: numpy.ndarray) -> numpy.ndarray:
    """(1 − σ(z), σ(z)) for each logit z of the second class: an (N, 2) array. σ is computed
    from e = exp(−|z|), which never overflows: σ(z) = 1/(1 + e) for z ≥ 0, e/(1 + e) below."""
    z = logits.reshape(-1).astype(numpy.float64)
    e = numpy.exp(-numpy.abs(z))
    positive = numpy.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return numpy.stack([1 - positive, positive], axis=1)


def target_scaling(y) -> tuple[numpy.ndarray, numpy.ndarray]:
    """(mean, standard deviation) of each target column, the regressors' scaling of ``y`` (N,)
    or (N, k); a constant column gets the scale 1. They are a ``Standardizer``'s of the targets
    held in the default dtype, the dtype the module learns in, so that ``chainrule train``'s
    regressors learn the targets they always learned."""
    from .data import Standardizer

    held = SGDRegressorMixin._target_array(y).astype(backend.get_default_dtype())
    scaler = Standardizer().fit(held)
    return backend.to_numpy(scaler.mean_), backend.to_numpy(scaler.scale_)


class SGDEstimator(BaseEstimator):
    """The training part shared by every model: build the module, then ``training.fit``.

    Subclasses define ``_build_module(n_features, n_outputs)`` and ``_data_loss(outputs,
    targets)``; the objective minimised is

        J(θ) = (1/N) Σₙ ℓ(f(xₙ; θ), tₙ) + α · ½ Σ w²    (α = ``alpha``; biases unpenalised)
    """
    ARCHITECTURE: tuple = ()  # the settings ``_build_module`` builds the network from

    def _fit_module(self, X, targets, n_outputs: int, *, validation=None, metrics=None,
                    checkpoint_dir=None, resume: bool = False, incremental: bool = False):
        """Train ``module_`` on (X, targets): a new one, or the fitted one for ``partial_fit``
        (one epoch, the optimizer's state kept) and ``warm_start``."""
        check_settings(self)
        continuing = hasattr(self, "module_") and (incremental or self.warm_start)
        seed = self._seed()
        if continuing:
            check_architecture(self)
        else:
            backend.manual_seed(seed)  # the initial weights and dropout masks repeat
            self.module_ = self._build_module(X.shape[1], n_outputs)
            self._built_with_, self.n_iter_ = architecture(self), 0
        if not (incremental and hasattr(self, "_optimizer")):
            self._optimizer = make_optimizer(self.optimizer, self.module_.parameters(), self.lr,
                                             getattr(self, "momentum", 0.0))
        module, alpha = self.module_, getattr(self, "alpha", 0.0)

        def objective(outputs, batch_targets):
            loss = self._data_loss(outputs, batch_targets)
            return loss + alpha * l2_penalty(module) if alpha else loss

        epochs = 1 if incremental else self.epochs
        scheduler = self._schedule(epochs) if not incremental else None
        monitor = "val_loss" if validation is not None else "loss"
        # A diverging fit overflows before training.fit stops it with a TrainingError: that
        # error is the message, not NumPy's overflow warnings on the way.
        try:
            with numpy.errstate(over="ignore", invalid="ignore"):
                self.history_ = training.fit(
                    module, objective, self._optimizer, (X, targets), validation, epochs=epochs,
                    scheduler=scheduler,
                    batch_size=self._batch_size(len(X)), metrics=metrics, monitor=monitor,
                    patience=None if incremental else self.n_iter_no_change, min_delta=self.tol,
                    seed=seed + self.n_iter_, checkpoint_dir=checkpoint_dir, resume=resume,
                    progress=self.verbose,
                    # one epoch per partial_fit call: a recording would not be replayed enough
                    compile=self.compile and not incremental)
        except DivergenceError:
            self._forget_fit()  # its weights are garbage: predict must not answer with them
            raise
        self.n_iter_ += len(self.history_)
        window = self.n_iter_no_change or 10
        if not incremental and self.history_.still_improving(window, self.tol):
            what = "validation loss" if validation is not None else "training loss"
            warnings.warn(f"{type(self).__name__}: the {what} was still "
                          f"falling after {epochs} epochs (by more than tol={self.tol} in the "
                          f"last {window}); it has not converged: raise epochs",
                          ConvergenceWarning, stacklevel=3)
        return self

    def _forget_fit(self) -> None:
        """Back to unfitted (``predict`` raises ``NotFittedError``): everything learned goes."""
        for name in [name for name in vars(self) if name.endswith("_")
                     and not name.startswith("__")] + ["_optimizer"]:
            vars(self).pop(name, None)

    @contextlib.contextmanager
    def _unfitted_if_it_fails(self, fresh: bool):
        """A ``fit`` from scratch that fails (a bad setting found after new classes or untrained
        weights replaced the old) leaves the estimator unfitted, not half replaced."""
        try:
            yield
        except Exception as error:
            # a warning made an error (ConvergenceWarning) is raised last, from a whole model
            if fresh and not isinstance(error, Warning):
                self._forget_fit()
            raise

    def _schedule(self, epochs: int):
        """The learning rate over the epochs of ``fit``: ``"constant"``, or ``"cosine"``, half a
        cosine from ``lr`` down to 0 over ``epochs``, stepped once per epoch."""
        if self.lr_schedule == "cosine":
            from .optim.lr_scheduler import CosineAnnealingLR

            return CosineAnnealingLR(self._optimizer, T_max=epochs)
        return None

    def _seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _batch_size(self, rows: int) -> int:
        """``"auto"``: min(200, N), scikit-learn's MLP default; None: the whole set (full batch)."""
        if self.batch_size == "auto":
            return min(200, rows)
        return rows if self.batch_size is None else min(int(self.batch_size), rows)  # NumPy's

    def _validate_X(self, X, reset: bool, what: str = "X") -> numpy.ndarray:
        """A 2-D finite array of the default float dtype, with the features seen in fit."""
        if isinstance(X, Tensor):
            X = backend.to_numpy(X.data)
        X = validate_data(self, X, reset=reset, dtype=backend.get_default_dtype(),
                          ensure_all_finite=False)
        self._refuse_non_finite(X, what)
        return X

    def _validation_data(self, validation, targets) -> tuple:
        """``fit``'s ``validation=(X_val, y_val)`` checked as its own data is, each message
        naming the validation data; ``targets(y_val)`` makes the module's targets of y_val."""
        try:
            X_val, y_val = validation
            X_val = self._validate_X(X_val, reset=False, what="validation X")
            check_consistent_length(X_val, y_val)
        except DataError:
            raise
        except ValueError as error:  # scikit-learn's message, which says "X" or names no data
            raise DataError(f"{type(self).__name__}: validation=(X_val, y_val): {error}") from None
        return X_val, targets(y_val)

    def _refuse_non_finite(self, array: numpy.ndarray, what: str) -> None:
        if not numpy.isfinite(array).all():
            rows, columns = numpy.nonzero(~numpy.isfinite(array.reshape(len(array), -1)))
            # a finite float64 beyond float32's range became inf when X was cast: say it may
            first = array.reshape(len(array), -1)[rows[0], columns[0]]
            narrow = (f" (inf as {array.dtype}: it may be a finite number beyond "
                      f"±{numpy.finfo(array.dtype).max:.1e})"
                      if numpy.isinf(first) and array.dtype.itemsize < 8 else "")
            raise DataError(f"{type(self).__name__}: {what} has {len(rows)} NaN or infinite "
                            f"values, the first at row {rows[0]}, column {columns[0]}{narrow}")

    def _outputs(self, X) -> numpy.ndarray:
        check_is_fitted(self)
        return training.predict(self.module_, self._validate_X(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class SGDClassifierMixin(ClassifierMixin):
    """Class labels of any kind in, the same labels out; the module sees indices 0..K−1.

    The defaults are a K-class model on the cross-entropy: K outputs, integer class targets,
    softmax probabilities. A model with another output (logistic regression's single logit)
    overrides ``_n_outputs``, ``_encode``, ``_data_loss`` and ``_probabilities``.
    """

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _encode(self, indices: numpy.ndarray) -> numpy.ndarray:
        return indices.astype(numpy.int64)

    def _data_loss(self, logits, targets):
        from .nn import functional as F

        return F.cross_entropy(logits, targets)

    def _probabilities(self, logits: numpy.ndarray) -> numpy.ndarray:
        return softmax_rows(logits.astype(numpy.float64))

    def fit(self, X, y, validation=None, checkpoint_dir=None, resume: bool = False):
        """Fit on (X, y); ``validation=(X_val, y_val)`` records validation accuracy each epoch
        and decides when to stop."""
        continuing = self.warm_start and hasattr(self, "module_")
        with self._unfitted_if_it_fails(fresh=not continuing):
            X, labels = self._validate(X, y, reset=not continuing)
            if not continuing:
                self.classes_ = numpy.unique(labels)
            if validation is not None:
                validation = self._validation_data(validation, self._class_targets)
            return self._fit_module(X, self._class_targets(labels), self._n_outputs(),
                                    validation=validation,
                                    metrics={"accuracy": training.accuracy},
                                    checkpoint_dir=checkpoint_dir, resume=resume)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing from the fitted model; the first call needs
        ``classes``, every label that will ever be seen (as scikit-learn's ``partial_fit``)."""
        first = not hasattr(self, "module_")
        if first and classes is None:
            raise ValueError(f"{type(self).__name__}.partial_fit: the first call needs "
                             "classes=, all the labels of the problem")
        if not (first or classes is None
                or numpy.array_equal(numpy.unique(numpy.asarray(classes)), self.classes_)):
            raise ValueError(f"{type(self).__name__}.partial_fit: classes="
                             f"{numpy.asarray(classes).tolist()} differ from the classes it was "
                             f"fitted with ({', '.join(map(str, self.classes_))}); a continued "
                             "fit cannot add or drop classes")
        with self._unfitted_if_it_fails(fresh=first):
            X, labels = self._validate(X, y, reset=first)
            if first:
                self.classes_ = numpy.unique(numpy.asarray(classes))
            return self._fit_module(X, self._class_targets(labels), self._n_outputs(),
                                    incremental=True)

    def _validate(self, X, y, reset: bool):
        if isinstance(X, Tensor):
            X = backend.to_numpy(X.data)
        X, y = validate_data(self, X, y, reset=reset, dtype=backend.get_default_dtype(),
                             ensure_all_finite=False)
        self._refuse_non_finite(X, "X")
        check_classification_targets(y)
        return X, y

    def _class_targets(self, labels) -> numpy.ndarray:
        """The module's targets of the labels: their indices in ``classes_``, encoded."""
        labels = numpy.asarray(labels)
        unseen = ~numpy.isin(labels, self.classes_)
        if unseen.any():
            first = labels[unseen][0].item()
            raise DataError(f"{type(self).__name__}: label {first!r} was not among the classes "
                            f"seen in fit ({', '.join(map(str, self.classes_))})")
        return self._encode(numpy.searchsorted(self.classes_, labels))

    def log_loss(self, X, y) -> float:
        """The mean loss of the labels ``y`` under the model, as ``fit`` measures it each epoch:
        the cross-entropy, without the penalty."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        check_consistent_length(X, y)  # else TensorDataset's ShapeError, of arrays not named
        return training.evaluate(self.module_, self._data_loss, (X, self._class_targets(y)))["loss"]

    def predict_proba(self, X) -> numpy.ndarray:
        """p(class | x) for every class: an (N, K) array whose rows sum to 1."""
        return self._probabilities(self._outputs(X))

    def predict(self, X) -> numpy.ndarray:
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]


class SGDRegressorMixin(RegressorMixin):
    """Targets of shape (N,) or (N, k); ``predict`` gives the same shape back, in float64.

    The module learns standardised targets (t − mean) / scale, with the training targets' mean
    and standard deviation (``target_mean_``, ``target_scale_``), and ``predict`` maps its
    outputs back: a last layer that starts near zero then starts near the targets' mean, and one
    learning rate suits targets in the units of houses' prices and of probabilities alike.
    """

    def fit(self, X, y, validation=None, checkpoint_dir=None, resume: bool = False):
        """Fit on (X, y); ``validation=(X_val, y_val)`` records validation RMSE (in the targets'
        units) and R² each epoch and decides when to stop."""
        continuing = self.warm_start and hasattr(self, "module_")
        with self._unfitted_if_it_fails(fresh=not continuing):
            X, targets = self._validate(X, y, reset=not continuing)
            if not continuing:
                self._fit_target_scaling(targets)
            if validation is not None:
                validation = self._validation_data(
                    validation, lambda y_val: self._scaled(self._targets(y_val, "validation y")))
            metrics = {"rmse": self._rmse_in_target_units, "r2": training.r2}
            return self._fit_module(X, self._scaled(targets), targets.shape[1], metrics=metrics,
                                    validation=validation, checkpoint_dir=checkpoint_dir,
                                    resume=resume)

    def partial_fit(self, X, y):
        """One epoch over (X, y), continuing from the fitted model; the first call fixes the
        target scaling from its targets."""
        first = not hasattr(self, "module_")
        with self._unfitted_if_it_fails(fresh=first):
            X, targets = self._validate(X, y, reset=first)
            if first:
                self._fit_target_scaling(targets)
            return self._fit_module(X, self._scaled(targets), targets.shape[1],
                                    incremental=True)

    def _validate(self, X, y, reset: bool):
        if isinstance(X, Tensor):
            X = backend.to_numpy(X.data)
        X, y = validate_data(self, X, y, reset=reset, dtype=backend.get_default_dtype(),
                             multi_output=True, y_numeric=True, ensure_all_finite=False)
        self._refuse_non_finite(X, "X")
        if reset:
            self.n_outputs_ = numpy.shape(y)[1] if numpy.ndim(y) == 2 else None
        return X, self._targets(y, "y", fitted=not reset)

    def _targets(self, y, what: str, fitted: bool = True) -> numpy.ndarray:
        """y as an (N, k) array, finite, and with the k columns of the fitted target scaling:
        one column would broadcast over the model's k outputs and stand for each, silently."""
        targets = self._target_array(y)
        self._refuse_non_finite(targets, what)
        if fitted and targets.shape[1] != len(self.target_mean_):
            raise DataError(f"{type(self).__name__}: {what} has {targets.shape[1]} target "
                            f"column(s), but the model is fitted on {len(self.target_mean_)}")
        return targets

    @staticmethod
    def _target_array(y) -> numpy.ndarray:
        targets = numpy.asarray(y, dtype=numpy.float64)
        return targets.reshape(len(targets), -1)

    def _fit_target_scaling(self, targets: numpy.ndarray) -> None:
        self.target_mean_, self.target_scale_ = target_scaling(targets)

    def _scaled(self, targets: numpy.ndarray) -> numpy.ndarray:
        held = targets.astype(backend.get_default_dtype())
        return (held - self.target_mean_.astype(held.dtype)) / self.target_scale_.astype(held.dtype)

    def _data_loss(self, outputs, targets):
        from .nn import functional as F

        return F.mse_loss(outputs, targets)

    def _rmse_in_target_units(self, outputs, scaled_targets) -> float:
        """RMSE of standardised outputs and targets, in the targets' own units."""
        return training.rmse(outputs.reshape(scaled_targets.shape) * self.target_scale_,
                             scaled_targets * self.target_scale_)

    def predict(self, X) -> numpy.ndarray:
        outputs = self._outputs(X).astype(numpy.float64)
        outputs = outputs * self.target_scale_ + self.target_mean_
        return outputs.reshape(-1) if self.n_outputs_ is None else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
