"""PyTorch's import paths for things chainrule keeps elsewhere: ``chainrule.utils.data``."""
from . import data

__all__ = ["data"]
