"""The one door to the array library.

Engine code never imports NumPy for math: it uses ``xp`` from here, so that a GPU array library
with NumPy's interface (CuPy) can take its place with ``use("cupy")`` and no op changes.
"""
from __future__ import annotations

import math

import numpy

xp = numpy
name = "numpy"


def use(library: str) -> None:
    """Switch the array library: ``"numpy"`` (default) or ``"cupy"``."""
    global xp, name
    if library == "numpy":
        xp, name = numpy, "numpy"
    elif library == "cupy":
        import cupy  # only present on GPU machines

        xp, name = cupy, "cupy"
    else:
        raise ValueError(f"unknown array library {library!r}; use 'numpy' or 'cupy'")


# dtypes are the array library's own dtype objects; CuPy shares NumPy's.
float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

_DTYPES = {
    "float16": float16, "half": float16,
    "float32": float32, "float": float32,
    "float64": float64, "double": float64,
    "int32": int32, "int": int32,
    "int64": int64, "long": int64,
    "uint8": uint8,
    "bool": bool_,
}
_default_float = float32


def as_dtype(dtype) -> numpy.dtype:
    """Turn a dtype, its name or a NumPy scalar type into a dtype; refuse what we do not support."""
    if dtype is None:
        return _default_float
    if isinstance(dtype, str):
        if dtype in _DTYPES:
            return _DTYPES[dtype]
        raise TypeError(f"unknown dtype {dtype!r}; use one of: {', '.join(sorted(set(_DTYPES)))}")
    try:
        resolved = numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; use chainrule.float32, chainrule.float64, "
                        "chainrule.int64 or chainrule.bool") from None
    if resolved not in _DTYPES.values():
        raise TypeError(f"unsupported dtype {resolved}; use one of: float16, float32, float64, "
                        "int32, int64, uint8, bool")
    return resolved


def get_default_dtype() -> numpy.dtype:
    return _default_float


def set_default_dtype(dtype) -> None:
    global _default_float
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be a floating point type, not {dtype}")
    _default_float = dtype


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


def to_numpy(array) -> numpy.ndarray:
    """A host NumPy array, whatever library holds ``array``."""
    if name == "cupy" and not isinstance(array, numpy.ndarray):
        return array.get()
    return numpy.asarray(array)


def writable(array):
    """The array itself if it may be written in place, else a contiguous copy (broadcast views)."""
    flags = array.flags
    if getattr(flags, "writeable", True) and flags.c_contiguous:
        return array
    return array.copy()  # C order; unlike ascontiguousarray, keeps a 0-d array 0-d


class device(str):
    """``torch.device``: names where tensors live. Every tensor lives with the one array library
    in use ("cpu" for NumPy, "cuda" for CuPy), so a device is a name to compare and pass to
    ``.to()``, never a place to move to. A ``str``, so ``x.device == "cpu"`` holds as well."""

    def __new__(cls, type: str = "cpu", index: int | None = None):
        kind, _, number = str(type).partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda', got {type!r}")
        instance = super().__new__(cls, kind)
        instance.index = int(number) if number else index
        return instance

    @property
    def type(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"device(type={str(self)!r})"


# ---------------------------------------------------------------- random numbers
_generator = numpy.random.default_rng(0)


def manual_seed(seed: int):
    """Seed the generator behind ``rand``, ``randn``, initialisation, dropout and shuffling."""
    global _generator
    _generator = numpy.random.default_rng(seed)
    if name == "cupy":
        xp.random.seed(seed)
    return _generator


def generator() -> numpy.random.Generator:
    return _generator


def get_rng_state() -> dict:
    """The global generator's state as plain JSON-able values (checkpoints save it)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Continue the global generator from ``get_rng_state()``'s result. The state is set on the
    existing generator where the kinds agree, so code holding ``generator()`` follows along."""
    global _generator
    kind = state["bit_generator"]
    if type(_generator.bit_generator).__name__ != kind:
        _generator = numpy.random.Generator(getattr(numpy.random, kind)())
    _generator.bit_generator.state = state


def random_array(kind: str, shape, dtype, generator=None):
    """``kind`` is "uniform" or "normal"; drawn on the host so a seed gives the same numbers on any device."""
    rng = generator if generator is not None else _generator
    values = rng.random(shape) if kind == "uniform" else rng.standard_normal(shape)
    return xp.asarray(values.astype(dtype, copy=False))


# ---------------------------------------------------------------- special functions
def erf(array):
    """The error function, exactly: SciPy's (or CuPy's) where present, else the standard library's."""
    if name == "cupy":
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(array)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        return numpy.vectorize(math.erf, otypes=[array.dtype])(array)
    return scipy_erf(array)
