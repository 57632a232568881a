"""``chainrule.utils.data``: PyTorch's import path for ``Dataset``, ``TensorDataset`` and
``DataLoader``, so that ``from torch.utils.data import DataLoader`` has a one-word translation.
The code lives in ``chainrule.data``, with the course's datasets, splits and scaling."""
from ..data.dataset import DataLoader, Dataset, TensorDataset

from ..pytorch_names import UTILS_DATA, missing

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


def __getattr__(name: str):
    raise missing("module 'chainrule.utils.data'", name, UTILS_DATA)
