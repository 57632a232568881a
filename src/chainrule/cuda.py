"""``chainrule.cuda.is_available()``, for PyTorch's idiom
``device = "cuda" if torch.cuda.is_available() else "cpu"``.

It says whether chainrule computes on the GPU, that is whether the CuPy backend is in use
(``chainrule.backend.use("cupy")``), not merely whether the machine has one: on the NumPy backend
the idiom then picks "cpu", which is where every tensor is.
"""
from . import backend


def is_available() -> bool:
    return backend.name == "cupy"
