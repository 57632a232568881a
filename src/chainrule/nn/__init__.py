"""Neural-network building blocks: modules, layers, losses, initialisation (PyTorch's names)."""
from . import functional, init, utils
from .containers import ModuleDict, ModuleList, Sequential
from .layers import (GELU, MLP, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear,
                     LogSoftmax, ReLU, Sigmoid, Softmax, Tanh)
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, Parameter
from ..pytorch_names import NN as _NOT_PROVIDED
from ..pytorch_names import missing as _missing


def __getattr__(name: str):
    raise _missing("module 'chainrule.nn'", name, _NOT_PROVIDED)
