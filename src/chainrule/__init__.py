"""chainrule: backpropagation you can read, and the Machine Learning Basics course built on it.

The public API follows PyTorch's names: ``chainrule.tensor``, ``x.sum(dim=1)``, ``loss.backward()``,
``chainrule.no_grad()``, ``chainrule.nn.functional``.
"""
from . import autograd, backend
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (bool_ as bool, float16, float32, float64, get_default_dtype, int32, int64,
                      manual_seed, set_default_dtype, uint8)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import (abs, add, all, amax, amin, any, argmax, argmin, cat, chunk, clamp, cos, div, eq,
                  erf, exp, expand, flatten, ge, gt, isfinite, isnan, le, log, log_softmax,
                  logsumexp, lt, masked_fill, matmul, max, maximum, mean, min, minimum, mul, ne,
                  neg, permute, pow, relu, reshape, sigmoid, sign, sin, softmax, split, sqrt,
                  squeeze, stack, std, sub, sum, tanh, transpose, tril, triu, unsqueeze, var,
                  where)
from .errors import ChainruleError, CheckpointError, DataError, ShapeError
from .threads import get_num_threads, set_num_threads
from .tensor import (Tensor, arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace,
                     ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor,
                     zeros, zeros_like)
from . import nn  # noqa: E402  (nn builds on everything above)
from .draw import draw  # noqa: E402
from .compile import CompileError, compile  # noqa: E402  (records nn modules and optimisers)
from .explain import explain  # noqa: E402

clip = clamp
view = reshape
__version__ = "0.1.0"
