"""Every op of the engine, and the Tensor methods and operators that call them."""
from __future__ import annotations

import numbers

import numpy

from .. import autograd, backend, devices
from ..pytorch_names import refuse_operator, tensor_getattr
from ..tensor import Tensor
from .elementwise import (abs, add, cast, ceil, clamp, cos, div, eq, erf, exp, floor, ge, gt,
                          isfinite, isnan, le, leaky_relu, log, logical_and, logical_not,
                          logical_or, logsigmoid, lt, maximum, minimum, mul, ne, neg, pow, relu,
                          round, sigmoid, sign, sin, softplus, sqrt, sub, tanh, where)
from .convolution import adaptive_avg_pool2d, avg_pool2d, conv, max_pool2d
from .fused import (binary_cross_entropy_with_logits_per_element, cross_entropy_per_sample,
                    linear, log_softmax, logsumexp, softmax)
from .indexing import (allclose, argsort, cumsum, equal, flip, gather, index_select, isclose,
                       product, scatter, scatter_add, sort, take_along_dim, topk)
from .linalg import einsum, matmul
from .normalization import layer_norm
from .norm import norm, normalize
from .primitive import REGISTRY, Sample, ShapeError, primitive
from .reduce import all, amax, amin, any, argmax, argmin, max, mean, min, std, sum, var
from .shape import (cat, chunk, expand, flatten, getitem, masked_fill, observed, permute, reshape,
                    split, squeeze, stack, sum_to, transpose, tril, triu, unsqueeze)
from .transformer import (causal_self_attention, embedding, embedding_dense_backward, gelu_tanh,
                          scaled_dot_product_attention)


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        return tuple(shape[0])
    return tuple(shape)


def _reflected(op):
    return lambda self, other: op(other, self)


def _to(self, *args, copy: bool = False, **kwargs):
    """``x.to(dtype)``, ``x.to("cpu")``, ``x.to(device, dtype)``, ``x.to(other)`` as in PyTorch;
    a device other than the backend's is refused (see ``chainrule.devices``)."""
    if len(args) == 1 and not kwargs and isinstance(args[0], numpy.dtype):
        dtype = args[0]  # the engine's own call, once per gradient: no parsing
    else:
        dtype = devices.to_arguments(args, kwargs, "to")
    if dtype is not None and self.dtype != dtype:
        return cast(self, dtype=dtype)
    return _clone(self) if copy else self


def _clone(self):
    return self * 1 if self.requires_grad else Tensor._wrap(self.data.copy())


def _on_device(name: str):
    def method(self):
        devices.check(name, f"{name}()")
        return self
    method.__name__ = name
    return method


def _t(self):
    """``x.t()``: a matrix's transpose; a vector or a scalar as it is (PyTorch's rule)."""
    if self.ndim > 2:
        raise ShapeError(f"t: expects at most 2 dimensions, got shape {tuple(self.shape)}; use "
                         "transpose(dim0, dim1) or .mT")
    return self if self.ndim < 2 else transpose(self, 0, 1)


def _setitem(self, index, value):
    """``x[index] = value`` writes in place, outside the graph (like PyTorch under no_grad)."""
    self._check_inplace("__setitem__", value)
    index = tuple(i.data if isinstance(i, Tensor) else i for i in index) \
        if isinstance(index, tuple) else (index.data if isinstance(index, Tensor) else index)
    self._store(index, value.data if isinstance(value, Tensor) else value, "__setitem__")


def _write_into(self, result: Tensor, op: str) -> Tensor:
    """Store ``result`` in ``self`` itself, so every reference to it (and every view) sees it."""
    if not backend.xp.can_cast(result.dtype, self.dtype, "same_kind"):
        raise RuntimeError(f"{op}: the result type {result.dtype} can't be cast to the tensor's "
                           f"dtype {self.dtype}")
    self._store(..., result.data, op)
    return self


def _augmented(op, name: str):
    """``x += y`` as in PyTorch: x itself changes, so a manual step ``p -= lr * p.grad`` under
    no_grad updates the parameter. While a graph is recorded through x or y, the step is recorded
    as a new node and the name moves to it (x's other references keep the old value); a leaf
    that requires grad is refused, as in PyTorch."""
    def assign(self, other):
        if autograd.is_grad_enabled() and (self.requires_grad
                                           or getattr(other, "requires_grad", False)):
            if self.is_leaf:
                self._check_inplace(name)
            return op(self, other)
        return _write_into(self, op(self, other), name)
    return assign


def _in_place(op, name: str):
    """``x.add_(y)``, ``x.mul_(y)``…: x itself changes (outside the graph, e.g. in an optimiser's
    step); ``alpha`` scales y first, as in PyTorch's add_ and sub_."""
    def method(self, other, alpha=1):
        self._check_inplace(name)
        if autograd.is_grad_enabled() and getattr(other, "requires_grad", False):
            raise RuntimeError(f"{name}: the operand requires grad; wrap the update in "
                               "chainrule.no_grad()")
        return _write_into(self, op(self, other if alpha == 1 else other * alpha), name)
    return method


_FLOOR_WAY = "for floats write (x / y).floor(); for integers compute on x.numpy()"
_MOD_WAY = "for floats write x - (x / y).floor() * y; for integers compute on x.numpy()"


def _scattered_in_place(op, name: str):
    """``x.scatter_(dim, index, src)``: x itself changes, outside the graph (one-hot targets)."""
    def method(self, dim, index, src=None, **settings):
        self._check_inplace(name)
        if autograd.is_grad_enabled() and getattr(src, "requires_grad", False):
            raise RuntimeError(f"{name}: the source requires grad; use {name[:-1]} (no "
                               "underscore), which records the gradient")
        return _write_into(self, op(self, dim, index, src, **settings), name)
    return method


def _methods() -> dict:
    return {
        "__add__": add, "__radd__": _reflected(add),
        "__sub__": sub, "__rsub__": _reflected(sub),
        "__mul__": mul, "__rmul__": _reflected(mul),
        "__truediv__": div, "__rtruediv__": _reflected(div),
        "__pow__": pow, "__rpow__": _reflected(pow),
        "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
        "__iadd__": _augmented(add, "+="), "__isub__": _augmented(sub, "-="),
        "__imul__": _augmented(mul, "*="), "__itruediv__": _augmented(div, "/="),
        "add_": _in_place(add, "add_"), "sub_": _in_place(sub, "sub_"),
        "mul_": _in_place(mul, "mul_"), "div_": _in_place(div, "div_"),
        "__neg__": neg, "__pos__": lambda self: self, "__abs__": abs,
        "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
        "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
        "__floordiv__": refuse_operator("//", _FLOOR_WAY),
        "__rfloordiv__": refuse_operator("//", _FLOOR_WAY),
        "__mod__": refuse_operator("%", _MOD_WAY), "__rmod__": refuse_operator("%", _MOD_WAY),
        "__getattr__": tensor_getattr,
        "__and__": logical_and, "__or__": logical_or, "__invert__": logical_not,
        "__getitem__": lambda self, index: getitem(self, index=index),
        "__setitem__": _setitem,
        "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "neg": neg,
        "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "sin": sin, "cos": cos, "tanh": tanh,
        "sigmoid": sigmoid, "relu": relu, "erf": erf, "sign": sign, "floor": floor, "ceil": ceil,
        "round": round, "isnan": isnan, "isfinite": isfinite,
        "maximum": maximum, "minimum": minimum, "clamp": clamp, "clip": clamp,
        "masked_fill": masked_fill,
        "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax,
        "amin": amin, "argmax": argmax, "argmin": argmin, "any": any, "all": all,
        "logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax, "norm": norm,
        "reshape": lambda self, *shape: reshape(self, shape=_shape_args(shape)),
        "view": lambda self, *shape: reshape(self, shape=_shape_args(shape)),
        "expand": lambda self, *shape: expand(self, shape=_shape_args(shape)),
        "reshape_as": lambda self, other: reshape(self, shape=other.shape),
        "view_as": lambda self, other: reshape(self, shape=other.shape),
        "expand_as": lambda self, other: expand(self, shape=other.shape),
        "permute": lambda self, *dims: permute(self, dims=_shape_args(dims)),
        "transpose": transpose, "unsqueeze": unsqueeze, "squeeze": squeeze, "flatten": flatten,
        "sum_to": lambda self, shape: sum_to(self, shape=shape),
        "split": split, "chunk": chunk, "tril": tril, "triu": triu,
        "to": _to,
        "cpu": _on_device("cpu"), "cuda": _on_device("cuda"),
        "t": _t,
        "is_floating_point": lambda self: backend.is_floating(self.dtype),
        "type": lambda self, dtype: cast(self, dtype=dtype),
        "type_as": lambda self, other: _to(self, other.dtype),
        "float": lambda self: cast(self, dtype="float32") if self.dtype != "float32" else self,
        "double": lambda self: cast(self, dtype="float64") if self.dtype != "float64" else self,
        "long": lambda self: cast(self, dtype="int64"),
        "int": lambda self: cast(self, dtype="int32"),
        "bool": lambda self: cast(self, dtype="bool"),
        "clone": _clone,
        "contiguous": lambda self: self,
        "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
        "scatter_": _scattered_in_place(scatter, "scatter_"),
        "scatter_add_": _scattered_in_place(scatter_add, "scatter_add_"),
        "index_select": index_select, "take_along_dim": take_along_dim, "flip": flip,
        "cumsum": cumsum, "prod": product, "sort": sort, "argsort": argsort, "topk": topk,
        "equal": equal, "allclose": allclose, "isclose": isclose,
    }


for _name, _function in _methods().items():
    setattr(Tensor, _name, _function)
