"""Devices, PyTorch's way of saying where a tensor lives, and chainrule's answer: on the backend.

chainrule has one device at a time, the array library's: NumPy's arrays are on the CPU, CuPy's
(``chainrule.backend.use("cupy")``) on the GPU. So ``x.to("cpu")``, ``model.to(device)`` and
``chainrule.device("cuda")`` are accepted when they name that device, and refused, with the way to
switch, when they name the other: a program that asked for the GPU must not run on the CPU unawares.
"""
from __future__ import annotations

import numpy

from . import backend

_KNOWN = ("cpu", "cuda")


class device:
    """``chainrule.device("cpu")``, ``device("cuda:0")`` or ``device("cuda", 0)``, as
    ``torch.device``; it equals its name (``device("cpu") == "cpu"``)."""

    __slots__ = ("type", "index")

    def __init__(self, type: "str | device", index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a name such as 'cpu' or 'cuda:0', got "
                            f"{type.__class__.__name__}")
        name, _, number = type.partition(":")
        if name not in _KNOWN:
            raise ValueError(f"device: unknown device {type!r}; chainrule knows 'cpu' (the NumPy "
                             "backend) and 'cuda' (the CuPy backend)")
        if number:
            if index is not None or not number.isdigit():
                raise ValueError(f"device: invalid device string {type!r}")
            index = int(number)
        self.type, self.index = name, index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def current() -> str:
    """The device every tensor is on: "cpu" with NumPy, "cuda" with CuPy."""
    return "cpu" if backend.name == "numpy" else "cuda"


def check(target, op: str) -> None:
    """Refuse a device other than the backend's, saying how to switch."""
    wanted = device(target).type
    if wanted == current():
        return
    if wanted == "cuda":
        raise RuntimeError(f"{op}: chainrule computes with NumPy on the CPU now. For the GPU, call "
                           "chainrule.backend.use('cupy') before creating tensors or models "
                           "(needs CuPy: pip install 'chainrule[gpu]'); every tensor then lives "
                           "there, and no .to() is needed")
    raise RuntimeError(f"{op}: chainrule computes with CuPy on the GPU now, and every tensor lives "
                       "there; .numpy(), .tolist() and .item() copy values to the host, and "
                       "chainrule.backend.use('numpy') switches back to the CPU")


def _is_device(value) -> bool:
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.partition(":")[0] in _KNOWN


def to_arguments(args: tuple, kwargs: dict, op: str):
    """The dtype that PyTorch's ``.to(...)`` arguments ask for (None: keep it), after checking the
    device: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``,
    ``to(device=…, dtype=…)``. ``non_blocking`` is accepted and means nothing here."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)
    target_device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    args = list(args)
    if args and hasattr(args[0], "dtype") and hasattr(args[0], "device") \
            and not isinstance(args[0], (numpy.dtype, type)):
        other = args.pop(0)  # to(other_tensor): its dtype and its device
        target_device, dtype = other.device, other.dtype
    elif args and _is_device(args[0]):
        target_device = args.pop(0)
    if args and dtype is None and not isinstance(args[0], bool):
        dtype = args.pop(0)
    if args and isinstance(args[0], bool):
        args.pop(0)  # non_blocking by position
    if args:
        raise TypeError(f"{op}: unexpected arguments {args!r}; use .to(device), .to(dtype), "
                        ".to(device, dtype) or .to(other_tensor)")
    if target_device is not None:
        check(target_device, op)
    if dtype is None:
        return None
    try:
        return backend.as_dtype(dtype)
    except TypeError:
        if isinstance(dtype, str):
            raise ValueError(f"{op}: {dtype!r} is neither a device ('cpu', 'cuda') nor a dtype "
                             "('float32', 'float64', 'int64'…)") from None
        raise
