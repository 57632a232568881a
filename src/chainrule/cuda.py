"""``chainrule.cuda``: what device-agnostic PyTorch code asks before choosing a device, for the
idiom ``device = "cuda" if torch.cuda.is_available() else "cpu"``.

It says whether chainrule computes on the GPU, that is whether the CuPy backend is in use
(``chainrule.backend.use("cupy")``), not merely whether the machine has one: on the NumPy backend
the idiom then picks "cpu", which is where every tensor is.
"""
from . import backend


def is_available() -> bool:
    return backend.name == "cupy"


def device_count() -> int:
    return 1 if is_available() else 0


def manual_seed(seed: int) -> None:
    """Seeds every CUDA generator; chainrule draws from one generator on either backend, which
    ``chainrule.manual_seed`` seeds."""


manual_seed_all = manual_seed
