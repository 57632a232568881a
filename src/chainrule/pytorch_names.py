"""PyTorch names that chainrule does not provide, each with the way to do it here.

A PyTorch user's ``x.square()`` or ``torch.mm`` should not end in a bare AttributeError:
the error says what to write instead. The table is the "not provided" list of
docs/pytorch-parity.md, for what a course user reaches for first; a name not in it gets Python's
usual error.
"""
from __future__ import annotations

_PRODUCTS = "use @ (chainrule.matmul): it multiplies matrices, batches of them and vectors"

# Tensor methods, and functions of the chainrule module, by PyTorch's name.
TENSOR = {
    "square": "write x ** 2 or x * x",
    "log1p": "write (1 + x).log()",
    "mm": _PRODUCTS, "bmm": _PRODUCTS, "dot": _PRODUCTS,
    "clamp_min": "write x.clamp(min=value)", "clamp_max": "write x.clamp(max=value)",
    "new_zeros": "write chainrule.zeros(shape, dtype=x.dtype)",
    "new_ones": "write chainrule.ones(shape, dtype=x.dtype)",
    "new_tensor": "write chainrule.tensor(data, dtype=x.dtype)",
    "multinomial": "call chainrule.multinomial(x, num_samples, replacement)",
    "diagonal": "index it: x[chainrule.arange(n), chainrule.arange(n)], n = min(x.shape)",
    "repeat": "x.expand(…) repeats along dimensions of size 1 without a copy; "
              "chainrule.cat([x] * n, dim) repeats any tensor",
}
MODULE = {
    **{name: TENSOR[name] for name in ("square", "log1p", "mm", "bmm", "dot")},
    "outer": "write a[:, None] * b[None, :]",
    "inference_mode": "use chainrule.no_grad(): no graph is recorded inside it",
    "is_tensor": "write isinstance(x, chainrule.Tensor)",
    "numel": "write x.numel()",
    "Generator": "chainrule's random functions take a NumPy generator: "
                 "generator=numpy.random.default_rng(seed), as DataLoader(generator=…) does",
    "linalg": "vector norms are x.norm(p, dim) and chainrule.norm(x, p, dim)",
}
NN = {
    "BCELoss": "use nn.BCEWithLogitsLoss on the logits (before the sigmoid): the same loss, and "
               "it does not overflow",
}
UTILS_DATA = {
    "random_split": "chainrule.data.train_val_test_split(len(X), val=0.2, test=0.0, seed=0) gives "
                    "the rows of each part; TensorDataset(X[split.train], y[split.train])",
    "Subset": "index the arrays instead: TensorDataset(X[rows], y[rows])",
}


def missing(owner: str, name: str, hints: dict) -> AttributeError:
    """The AttributeError for ``owner.name``, with the chainrule way when the table has one."""
    message = f"{owner} has no attribute {name!r}"
    if name in hints:
        return AttributeError(f"{message}: chainrule does not provide PyTorch's {name}; "
                              f"{hints[name]}")
    return AttributeError(message)


def tensor_getattr(self, name: str):
    """Tensor.__getattr__: Python calls it only when ordinary lookup fails, so it costs nothing
    else (NumPy's probes for ``__array_interface__`` and the like end here, and are answered at
    once)."""
    if name.startswith("__"):
        raise AttributeError(f"'Tensor' object has no attribute {name!r}")
    if name.endswith("_") and callable(getattr(type(self), name[:-1], None)):  # x.exp_()
        raise AttributeError(f"'Tensor' object has no attribute {name!r}: chainrule's in-place "
                             "methods are add_, sub_, mul_, div_, zero_, fill_ and copy_; write "
                             f"x = x.{name[:-1]}(…) instead")
    raise missing("'Tensor' object", name, TENSOR)


def refuse_operator(symbol: str, way: str):
    """A Tensor operator PyTorch has and chainrule does not (``//``, ``%``)."""
    def operator(self, other):
        raise TypeError(f"unsupported operand {symbol} for chainrule tensors: {way}")
    return operator
