"""Data: datasets, minibatch loading, splits, scaling, and the sources the course trains on.

    from chainrule.data import load_dataset, train_val_test_split, Standardizer, DataLoader

    table = load_dataset("digits")                       # a Table: X, y, classes, ...
    split = train_val_test_split(len(table), val=0.1, test=0.2, stratify=table.y, seed=0)
    train, val, test = (table.subset(rows) for rows in (split.train, split.val, split.test))
    scaler = Standardizer().fit(train.X)                 # statistics of the training rows only
    loader = DataLoader(TensorDataset(scaler.transform(train.X), train.y), batch_size=64,
                        shuffle=True)
"""
from .csv_table import TableEncoder, load_csv
from .dataset import DataLoader, Dataset, TensorDataset
from .download import resolve_cache_dir
from .idx import load_idx, load_mnist
from .scaling import Standardizer
from .sources import DATASETS, load_dataset, load_portland_housing, load_sklearn, load_text
from .split import Split, train_val_test_split
from .table import Table, TrainTest

__all__ = ["DATASETS", "DataLoader", "Dataset", "Split", "Standardizer", "Table", "TableEncoder",
           "TensorDataset", "TrainTest", "load_csv", "load_dataset", "load_idx", "load_mnist",
           "load_portland_housing", "load_sklearn", "load_text", "resolve_cache_dir",
           "train_val_test_split"]
