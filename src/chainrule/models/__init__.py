"""The course's models, each a small file: a decision function (an ``nn.Module``), a loss, and
scikit-learn's estimator API (``fit``, ``predict``, ``predict_proba``, ``score``) on top.

    from chainrule.models import LinearRegression, LogisticRegression, SoftmaxRegression
    from chainrule.models import MLPClassifier, MLPRegressor, CNNClassifier
"""
from .cnn import CNNClassifier, ConvNet
from .linear import LinearRegression, least_squares
from .logistic import LogisticRegression
from .mlp import MLPClassifier, MLPRegressor
from .softmax import SoftmaxRegression

__all__ = ["CNNClassifier", "ConvNet",
           "LinearRegression", "LogisticRegression", "MLPClassifier", "MLPRegressor",
           "SoftmaxRegression", "least_squares"]
