"""Data: datasets, minibatch loading, splits, scaling, and the sources the course trains on.

    from chainrule.data import TensorDataset, DataLoader, train_val_test_split, Standardizer
"""
from .dataset import DataLoader, Dataset, TensorDataset
from .scaling import Standardizer
from .split import Split, train_val_test_split

__all__ = ["DataLoader", "Dataset", "Split", "Standardizer", "TensorDataset",
           "train_val_test_split"]
