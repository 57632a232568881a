"""The Tensor: an array, and the node of the computation graph that made it."""
from __future__ import annotations

import numbers

import numpy

from . import autograd, backend, devices
from .autograd import Node


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    ``data`` is the backend array itself (NumPy, or CuPy on a GPU); ``grad`` is a Tensor filled by
    ``backward()``. Ops are methods and functions with PyTorch's names (``x.sum(dim=1)``).
    """

    __slots__ = ("data", "requires_grad", "grad", "_node", "name", "_retains_grad", "__weakref__")
    # NumPy must hand `ndarray (op) Tensor` to our reflected operators, not loop over us.
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, requires_grad: bool = False, name: str | None = None):
        self._init_leaf(_to_array(data, dtype), requires_grad)
        self.name = name

    def _init_leaf(self, array, requires_grad: bool) -> None:
        """Make this object a leaf holding ``array`` (shared, not copied)."""
        self.data = array
        self.grad = None
        self._node = None
        self.name = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(array) -> "Tensor":
        """A leaf around an array we already own: the cheap constructor the ops use (a static
        method: a class method makes a bound method on every call, and this runs on every op)."""
        tensor = object.__new__(Tensor)
        tensor.data = array
        tensor.grad = None
        tensor._node = None
        tensor.name = None
        tensor._retains_grad = False
        tensor.requires_grad = False
        return tensor

    @staticmethod
    def _from_op(array, node: Node) -> "Tensor":
        tensor = object.__new__(Tensor)
        tensor.data = array
        tensor.grad = None
        tensor._node = node
        tensor.name = None
        tensor._retains_grad = False
        tensor.requires_grad = True
        return tensor

    # ------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> "devices.device":
        """Where the tensor lives, "cpu" (NumPy) or "cuda" (CuPy), as a ``chainrule.device``."""
        return devices.device(devices.current())

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    @property
    def _version(self) -> int:
        """In-place writes to this tensor's storage so far, shared with its views (PyTorch's name)."""
        return autograd.version_of(self)

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> "Tensor":
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not backend.is_floating(self.dtype):
            raise RuntimeError(f"only floating point tensors can require gradients, and this one "
                               f"is {self.dtype}; convert it first, e.g. x.float()")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) only works on leaf tensors; use detach()")
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook) -> "autograd.RemovableHandle":
        """Call ``hook(grad)`` with this tensor's gradient each time backward computes it, before
        a leaf accumulates it into ``.grad``; a Tensor returned replaces the gradient (PyTorch's
        semantics). The hook gets its own copy, so changing it in place changes this tensor's
        gradient and no other. Returns a handle whose ``remove()`` takes the hook away."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad, so no gradient "
                               "will ever reach the hook")
        return autograd.add_tensor_hook(self, hook)

    def retain_grad(self) -> "Tensor":
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward, as leaves do."""
        self._retains_grad = self._node is not None
        return self

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Backpropagate: accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        autograd.backward(self, None if gradient is None else [gradient], retain_graph, create_graph)

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory, as in PyTorch)."""
        return Tensor._wrap(self.data)

    # ------------------------------------------------------------ conversion
    def numpy(self) -> numpy.ndarray:
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): the tensor has {self.data.size} elements, not one")
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        array = backend.to_numpy(self.data)
        return array if dtype is None else array.astype(dtype)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = numpy.array2string(backend.to_numpy(self.data), separator=", ", precision=4,
                                  prefix="tensor(")
        extras = []
        if self.dtype != backend.get_default_dtype() and self.dtype != backend.int64:
            extras.append(f"dtype=chainrule.{self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.op}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------ in-place (no graph)
    # Each write counts in the storage's version, so that backward can refuse a graph that saved
    # the old values. Writes to ``x.data`` itself are not counted (as in PyTorch).
    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self._store(..., 0, "zero_")
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_", value)
        self._store(..., value, "fill_")
        return self

    def copy_(self, source) -> "Tensor":
        self._check_inplace("copy_", source)
        self._store(..., source.data if isinstance(source, Tensor) else source, "copy_")
        return self

    def _store(self, index, value, op: str) -> None:
        """``self.data[index] = value``, counted in the storage's version: every in-place write
        of the Tensor API goes through here."""
        if isinstance(self.data, backend.xp.ndarray):
            try:
                self.data[index] = value
            except ValueError as error:
                if "read-only" not in str(error):
                    raise
                raise RuntimeError(f"{op}: the tensor of shape {tuple(self.shape)} can't be "
                                   "written: it is read-only memory, such as an expand() whose "
                                   "elements share memory; write into a clone() of it, or into "
                                   "the tensor it was expanded from") from None
            autograd.increment_version(self)
            return
        # A NumPy scalar (a full reduction's result) can't be written into, and nothing shares it:
        # it becomes a 0-d array, whose count continues the scalar's.
        previous = autograd.version_of(self)
        self.data = backend.xp.array(self.data)
        self.data[index] = value
        autograd.increment_version(self, previous)

    def _check_inplace(self, op: str, value=None) -> None:
        if not autograd.is_grad_enabled():
            return
        if self.requires_grad:
            raise RuntimeError(f"{op}: a tensor that requires grad can't be changed in place "
                               "while gradients are recorded; wrap it in chainrule.no_grad()")
        if getattr(value, "requires_grad", False):  # PyTorch records it; here it would be lost
            raise RuntimeError(f"{op}: the value written requires grad, and a write in place is "
                               "not recorded, so its gradient would be lost; build the tensor out "
                               "of place instead (chainrule.cat, chainrule.stack, chainrule.where, "
                               "or x = x + ...), or write value.detach() if no gradient is wanted")


# ---------------------------------------------------------------- creation
def _to_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    wanted = None if dtype is None else backend.as_dtype(dtype)
    if isinstance(data, (numpy.ndarray, numpy.generic)) or hasattr(data, "__cuda_array_interface__"):
        _check_numeric(data.dtype, data)
        return backend.xp.array(data, dtype=wanted)  # an array keeps its dtype, as torch.tensor(ndarray)
    array = numpy.asarray(data)
    if array.dtype.kind == "O" and wanted is not None:
        array = numpy.asarray(data, dtype=wanted)  # e.g. integers too large for int64, as floats
    _check_numeric(array.dtype, data)
    array = backend.xp.asarray(array)
    if wanted is not None:
        return array.astype(wanted, copy=False)
    if array.dtype.kind == "f":
        return array.astype(backend.get_default_dtype(), copy=False)
    if array.dtype.kind in "iu":
        return array.astype(backend.int64, copy=False)
    return array


def _check_numeric(dtype, data) -> None:
    """Refuse what is not numbers or bools (strings, dates, complex, Python objects): NumPy would
    hold them, but no op computes with them, and strings parsed silently hide a wrong column."""
    if dtype.kind in "biuf":
        return
    what = "strings" if dtype.kind in "US" else f"values of dtype {dtype}"
    raise TypeError(f"can't make a tensor from {what} ({type(data).__name__} of dtype {dtype}); "
                    "a tensor holds numbers or bools: convert them first, e.g. "
                    "numpy.asarray(values, dtype=float)")


def tensor(data, dtype=None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A new tensor holding a copy of ``data``. Python floats give float32 (the default dtype).
    ``name`` labels it in ``explain``'s tables and in drawings of the graph (``x.name`` too)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A tensor of ``array``'s dtype that shares its memory, as ``torch.from_numpy``: a change to
    one shows in the other (on a GPU backend, a copy on the device)."""
    backend.as_dtype(array.dtype)  # refuse what no op supports (object arrays, complex...)
    return Tensor._wrap(backend.xp.asarray(array))


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` itself when it is a Tensor of that dtype; an array of that dtype becomes a tensor
    that shares its memory, as ``torch.as_tensor`` does with a NumPy array (no copy of each
    minibatch); anything else becomes a new tensor."""
    wanted = None if dtype is None else backend.as_dtype(dtype)
    if isinstance(data, Tensor) and (wanted is None or data.dtype == wanted):
        return data
    if isinstance(data, backend.xp.ndarray) and (wanted is None or data.dtype == wanted):
        _check_numeric(data.dtype, data)
        return Tensor._wrap(data)
    return Tensor(data, dtype=dtype)


def _size(shape: tuple, size=None) -> tuple:
    """The shape of ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``, as in PyTorch."""
    if size is not None:
        shape = (size,)
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _filled(array, requires_grad: bool) -> Tensor:
    result = Tensor._wrap(array)
    return result.requires_grad_(True) if requires_grad else result


def zeros(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    array = backend.xp.zeros(_size(shape, size), dtype=backend.as_dtype(dtype))
    return _filled(array, requires_grad)


def ones(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    array = backend.xp.ones(_size(shape, size), dtype=backend.as_dtype(dtype))
    return _filled(array, requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None and isinstance(fill_value, bool):
        dtype = backend.bool_
    elif dtype is None and isinstance(fill_value, numbers.Integral):
        dtype = backend.int64
    shape = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    return _filled(backend.xp.full(shape, fill_value, dtype=backend.as_dtype(dtype)), requires_grad)


def empty(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    return zeros(_size(shape, size), dtype=dtype, requires_grad=requires_grad)


def zeros_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return zeros(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def ones_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return ones(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def full_like(other: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return full(other.shape, fill_value, dtype=dtype or other.dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Like torch.arange: integers give int64, any float argument gives the default float dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = backend.int64 if integral else backend.get_default_dtype()
    return _filled(backend.xp.arange(start, end, step, dtype=backend.as_dtype(dtype)), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    array = backend.xp.linspace(start, end, steps, dtype=backend.as_dtype(dtype))
    return _filled(array, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _filled(backend.xp.eye(n, m, dtype=backend.as_dtype(dtype)), requires_grad)


def rand(*shape, size=None, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from the generator seeded by ``chainrule.manual_seed``."""
    array = backend.random_array("uniform", _size(shape, size), backend.as_dtype(dtype), generator)
    return _filled(array, requires_grad)


def randn(*shape, size=None, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Standard normal, from the generator seeded by ``chainrule.manual_seed``."""
    array = backend.random_array("normal", _size(shape, size), backend.as_dtype(dtype), generator)
    return _filled(array, requires_grad)


def rand_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return rand(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def randn_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return randn(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None, generator=None) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` starts at 0, as in PyTorch."""
    if high is not None and not isinstance(high, numbers.Integral):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    rng = generator if generator is not None else backend.generator()
    values = rng.integers(low, high, size=tuple(size))
    return Tensor._wrap(backend.xp.asarray(values, dtype=backend.as_dtype(dtype or backend.int64)))


def randperm(n: int, generator=None) -> Tensor:
    rng = generator if generator is not None else backend.generator()
    return Tensor._wrap(backend.xp.asarray(rng.permutation(n)))
