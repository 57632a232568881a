"""scikit-learn's estimator contract on top of chainrule's modules, optimizers and ``training.fit``.

A model of the course is two things: a decision function (an ``nn.Module``: ``Linear`` or an
``MLP``) and a loss. The estimator classes here add what scikit-learn users expect around them:

    model = LogisticRegression(alpha=1e-3, epochs=200).fit(X_train, y_train)
    model.predict(X_test); model.predict_proba(X_test); model.score(X_test, y_test)

Hyper-parameters are stored untouched by ``__init__`` (so ``get_params``/``set_params`` and
``sklearn.base.clone`` work); everything learned ends in an underscore (``module_``,
``classes_``, ``history_``, ``n_features_in_``). Inputs are validated at the door.
"""
from __future__ import annotations

import inspect

import numpy

from . import backend, training
from .errors import DataError, ShapeError
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


class Estimator:
    """``get_params``/``set_params`` and a readable ``repr``, from the ``__init__`` signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name, parameter in signature.parameters.items()
                if name != "self" and parameter.kind != parameter.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Estimator":
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__}.set_params: unknown parameter {name!r}; "
                                 f"valid ones are {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """What scikit-learn's tools (``clone``, ``cross_val_score``, ``GridSearchCV``,
        ``Pipeline``) ask of an estimator; only they call it, so scikit-learn stays optional."""
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        classifier = isinstance(self, ClassifierMixin)
        return Tags(estimator_type="classifier" if classifier else "regressor",
                    target_tags=TargetTags(required=True), input_tags=InputTags(),
                    classifier_tags=ClassifierTags() if classifier else None,
                    regressor_tags=None if classifier else RegressorTags())

    def __repr__(self) -> str:
        defaults = {name: parameter.default for name, parameter
                    in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if defaults.get(name) != value]
        return f"{type(self).__name__}({', '.join(changed)})"


class SGDEstimator(Estimator):
    """The training part shared by every model: build the module, then ``training.fit``.

    Subclasses define ``_build_module(n_features, n_outputs)``, ``_data_loss(outputs, targets)``
    and how targets are encoded; the objective minimised is

        J(θ) = (1/N) Σₙ ℓ(f(xₙ; θ), tₙ) + α · ½ Σ w²    (α = ``alpha``; biases unpenalised)
    """

    def _fit_module(self, X: numpy.ndarray, targets: numpy.ndarray, n_outputs: int, validation=None,
                    metrics=None, checkpoint_dir=None, resume: bool = False):
        from .backend import manual_seed

        manual_seed(self.random_state)  # the initial weights and dropout masks repeat
        module = self._build_module(X.shape[1], n_outputs)
        alpha = getattr(self, "alpha", 0.0)

        def objective(outputs, batch_targets):
            loss = self._data_loss(outputs, batch_targets)
            return loss + alpha * l2_penalty(module) if alpha else loss

        optimizer = make_optimizer(self.optimizer, module.parameters(), self.lr,
                                   getattr(self, "momentum", 0.0))
        batch_size = len(X) if self.batch_size is None else self.batch_size
        self.history_ = training.fit(
            module, objective, optimizer, (X, targets), validation, epochs=self.epochs,
            batch_size=batch_size, metrics=metrics, seed=self.random_state,
            checkpoint_dir=checkpoint_dir, resume=resume, progress=self.verbose)
        self.module_ = module
        return self

    def _check_X(self, X, fitting: bool = False) -> numpy.ndarray:
        """A 2-D float array (the default float dtype) with the number of features seen in fit."""
        array = backend.to_numpy(X.data) if isinstance(X, Tensor) else numpy.asarray(X)
        if array.ndim != 2:
            raise ShapeError(f"{type(self).__name__}: X must be 2-D (samples, features), got "
                             f"shape {array.shape}; use X.reshape(-1, 1) for a single feature")
        if array.dtype.kind not in "fiub":
            raise DataError(f"{type(self).__name__}: X must be numeric, got dtype {array.dtype}")
        array = array.astype(backend.get_default_dtype())
        if not numpy.isfinite(array).all():
            rows, columns = numpy.nonzero(~numpy.isfinite(array))
            raise DataError(f"{type(self).__name__}: X has {len(rows)} NaN or infinite values, "
                            f"the first at row {rows[0]}, column {columns[0]}")
        if fitting:
            self.n_features_in_ = array.shape[1]
        elif array.shape[1] != self.n_features_in_:
            raise ShapeError(f"{type(self).__name__}: X has {array.shape[1]} features, but the "
                             f"model was fitted with {self.n_features_in_}")
        return array

    def _outputs(self, X) -> numpy.ndarray:
        if not hasattr(self, "module_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(X, y) first")
        return training.predict(self.module_, self._check_X(X))


def softmax_rows(scores: numpy.ndarray) -> numpy.ndarray:
    """softmax of each row, shifted by the row maximum so that exp never overflows."""
    shifted = numpy.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def two_class_probabilities(logits: numpy.ndarray) -> numpy.ndarray:
    """(1 − σ(z), σ(z)) for each logit z of the second class: an (N, 2) array."""
    positive = 1 / (1 + numpy.exp(-logits.reshape(-1).astype(numpy.float64)))
    return numpy.stack([1 - positive, positive], axis=1)


class ClassifierMixin:
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
        """Fit on (X, y); ``validation=(X_val, y_val)`` records validation accuracy each epoch."""
        X = self._check_X(X, fitting=True)
        labels = numpy.asarray(y)
        if labels.ndim != 1 or len(labels) != len(X):
            raise ShapeError(f"{type(self).__name__}: y must be 1-D with one label per row of X; "
                             f"got X with {len(X)} rows and y of shape {labels.shape}")
        self.classes_ = numpy.unique(labels)
        targets = self._encode(numpy.searchsorted(self.classes_, labels))
        if validation is not None:
            validation = (self._check_X(validation[0]), self._encode(self._indices(validation[1])))
        return self._fit_module(X, targets, self._n_outputs(), validation,
                                {"accuracy": training.accuracy}, checkpoint_dir, resume)

    def _indices(self, labels) -> numpy.ndarray:
        labels = numpy.asarray(labels)
        unseen = ~numpy.isin(labels, self.classes_)
        if unseen.any():
            first = labels[unseen][0].item()
            raise DataError(f"{type(self).__name__}: label {first!r} was not among the classes "
                            f"seen in fit ({', '.join(map(str, self.classes_))})")
        return numpy.searchsorted(self.classes_, labels)

    def predict_proba(self, X) -> numpy.ndarray:
        """p(class | x) for every class: an (N, K) array whose rows sum to 1."""
        return self._probabilities(self._outputs(X))

    def predict(self, X) -> numpy.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y) -> float:
        """Mean accuracy on (X, y)."""
        return float(numpy.mean(self.predict(X) == numpy.asarray(y)))


class RegressorMixin:
    """Targets of shape (N,) or (N, k); ``predict`` gives the same shape back."""

    def fit(self, X, y, validation=None, checkpoint_dir=None, resume: bool = False):
        """Fit on (X, y); ``validation=(X_val, y_val)`` records validation RMSE and R²."""
        X = self._check_X(X, fitting=True)
        targets = self._check_y(y, len(X))
        self.n_outputs_ = targets.shape[1] if numpy.ndim(y) == 2 else None
        if validation is not None:
            validation = (self._check_X(validation[0]),
                          self._check_y(validation[1], len(validation[0])))
        return self._fit_module(X, targets, targets.shape[1], validation,
                                {"rmse": training.rmse, "r2": training.r2}, checkpoint_dir, resume)

    def _check_y(self, y, rows: int) -> numpy.ndarray:
        targets = numpy.asarray(y, dtype=backend.get_default_dtype())
        targets = targets.reshape(len(targets), -1) if targets.ndim >= 1 else targets
        if targets.ndim != 2 or len(targets) != rows:
            raise ShapeError(f"{type(self).__name__}: y must have one row per row of X; got X "
                             f"with {rows} rows and y of shape {numpy.shape(y)}")
        return targets

    def _data_loss(self, outputs, targets):
        from .nn import functional as F

        return F.mse_loss(outputs, targets)

    def predict(self, X) -> numpy.ndarray:
        outputs = self._outputs(X)
        return outputs.reshape(-1) if self.n_outputs_ is None else outputs

    def score(self, X, y) -> float:
        """R² = 1 − Σ(y − t)² / Σ(t − t̄)² on (X, y), as scikit-learn's regressors."""
        targets = self._check_y(y, len(X))
        return training.r2(self._outputs(X), targets)
