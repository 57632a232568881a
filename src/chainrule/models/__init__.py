"""The course's models, each a small file: a decision function (an ``nn.Module``), a loss, and
scikit-learn's estimator API (``fit``, ``predict``, ``predict_proba``, ``score``) on top.

    from chainrule.models import LinearRegression, LogisticRegression, SoftmaxRegression
    from chainrule.models import MLPClassifier, MLPRegressor, CNNClassifier
"""
import importlib

# The estimators are scikit-learn estimators (the ``train`` extra) and load on first use; the GPT
# is not one, so ``chainrule lm`` and ``chainrule.models.gpt`` work without scikit-learn.
_MODULE_OF = {"LinearRegression": "linear", "least_squares": "linear",
              "LogisticRegression": "logistic", "MLPClassifier": "mlp", "MLPRegressor": "mlp",
              "SoftmaxRegression": "softmax", "CNNClassifier": "cnn", "ConvNet": "cnn"}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
