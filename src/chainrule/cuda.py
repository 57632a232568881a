"""``chainrule.cuda``: what device-agnostic PyTorch code asks before choosing a device.

chainrule does not move tensors between devices (a GPU is used by switching the whole array
library, ``backend.use("cupy")``), so there is never a CUDA device to send a tensor to:
``torch.device("cuda" if torch.cuda.is_available() else "cpu")`` picks "cpu".
"""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Seeds every CUDA generator, of which there are none; ``chainrule.manual_seed`` seeds
    the one generator chainrule draws from."""


manual_seed_all = manual_seed
