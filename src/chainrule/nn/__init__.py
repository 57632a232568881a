"""Neural-network building blocks: modules, layers, losses, initialisation (PyTorch's names)."""
from . import functional, init, utils
from .containers import ModuleDict, ModuleList, Sequential
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, MaxPool2d
from .layers import (GELU, MLP, Dropout, Embedding, Flatten, Identity, LayerNorm, LeakyReLU,
                     Linear, LogSigmoid, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh,
                     Unflatten)
from .loss import (BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                   NLLLoss, SmoothL1Loss)
from .module import IncompatibleKeys, Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from ..pytorch_names import NN as _NOT_PROVIDED
from ..pytorch_names import missing as _missing


def __getattr__(name: str):
    raise _missing("module 'chainrule.nn'", name, _NOT_PROVIDED)
