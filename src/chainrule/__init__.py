"""chainrule: backpropagation you can read, and the Machine Learning Basics course built on it.

The public API follows PyTorch's names: ``chainrule.tensor``, ``x.sum(dim=1)``, ``loss.backward()``,
``chainrule.no_grad()``, ``chainrule.nn.functional``. As after ``import torch``, the subpackages
``chainrule.nn``, ``chainrule.optim``, ``chainrule.autograd`` and ``chainrule.utils.data`` are there
without importing them separately.
"""
import builtins as _builtins
import importlib as _importlib
import types as _types

from . import autograd, backend, cuda
from . import pytorch_names as _pytorch_names
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (bool_ as bool, float16, float32, float64, get_default_dtype, int32, int64,
                      manual_seed, set_default_dtype, uint8)
from .devices import device
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import (abs, add, all, allclose, amax, amin, any, argmax, argmin, argsort, cat, ceil,
                  chunk, clamp, cos, cumsum, div, einsum, eq, equal, erf, exp, expand, flatten,
                  flip, floor, gather, ge, gt, index_select, isclose, isfinite, isnan, le, log,
                  log_softmax, logsumexp, lt, masked_fill, matmul, max, maximum, mean, min,
                  minimum, mul, ne, neg, norm, permute, pow, relu, reshape, round, scatter,
                  scatter_add, sigmoid, sign, sin, softmax, sort, split, sqrt, squeeze, stack, std,
                  sub, sum, take_along_dim, tanh, topk, transpose, tril, triu, unsqueeze, var,
                  where)
from .ops import product as prod
from .errors import ChainruleError, CheckpointError, DataError, ShapeError
from .sampling import multinomial
from .threads import get_num_threads, set_num_threads
from .tensor import (Tensor, arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace,
                     ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor,
                     zeros, zeros_like)
from . import nn, optim  # noqa: E402  (they build on everything above)
from .draw import draw  # noqa: E402
from .compile import CompileError, compile  # noqa: E402  (records nn modules and optimisers)
from .explain import explain  # noqa: E402

clip = clamp
view = reshape
# PyTorch's other names of the dtypes: dtype=chainrule.long for class labels, as torch.long.
long, int, half, double, float = int64, int32, float16, float64, float32  # noqa: A001
__version__ = "0.1.0"

# ``from chainrule import *`` gives the functions (save and load too), classes and dtypes, and the
# subpackages autograd, backend, cuda, nn and optim, but no name of Python's builtins: after it,
# sum, max, abs, pow, round, all, any, min, bool, int, float and compile are still Python's
# (chainrule.sum and the others stay where they are). The engine's own modules (ops, versions...)
# are not part of it, nor data and utils, which a star import would otherwise load.
_SUBPACKAGES = {"autograd", "backend", "cuda", "nn", "optim"}
__all__ = sorted([name for name, value in globals().items()
                  if not name.startswith("_") and not hasattr(_builtins, name)
                  and (not isinstance(value, _types.ModuleType) or name in _SUBPACKAGES)]
                 + ["save", "load"])  # loaded on first use, below

# Loaded on first use: the datasets' modules bring in the CSV reader and the downloader (http,
# ssl), some 60 ms, a fifth of ``import chainrule``, for programs that never load data; save and
# load bring in JSON and the checkpoint writer.
_ON_FIRST_USE = {"data": None, "utils": None, "save": "serialization", "load": "serialization"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        module = _importlib.import_module(f".{_ON_FIRST_USE[name] or name}", __name__)
        return module if _ON_FIRST_USE[name] is None else getattr(module, name)
    raise _pytorch_names.missing("module 'chainrule'", name, _pytorch_names.MODULE)


def __dir__() -> list:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
