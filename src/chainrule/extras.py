"""Optional dependencies: a feature whose extra is not installed says which extra to install.

The core (tensors, backprop, nn, optim) needs NumPy only. Training from the command line, weights
files, plots and the bundled datasets need the ``train`` extra; Gymnasium needs ``rl``. Each place
that imports one of these calls ``require`` first, and each command calls it before any work, so
that a plain ``pip install chainrule`` ends in one line naming the extra, not in a traceback
after the first epoch.
"""
from __future__ import annotations

import importlib.util

from .errors import ChainruleError

# importable module -> the name pip knows it by
PACKAGES = {"sklearn": "scikit-learn", "safetensors": "safetensors", "matplotlib": "matplotlib",
            "tqdm": "tqdm", "gymnasium": "gymnasium"}


class MissingExtraError(ChainruleError, ImportError):
    """An optional dependency that is not installed; the message names the extra to install."""


def installed(module: str) -> bool:
    # find_spec also answers None for a module blocked by ``sys.modules[name] = None``
    return importlib.util.find_spec(module) is not None


def require(extra: str, *modules: str, purpose: str) -> None:
    """Raise MissingExtraError unless every module is importable: ``purpose`` needs them."""
    missing = [PACKAGES.get(module, module) for module in modules if not installed(module)]
    if missing:
        raise MissingExtraError(f"{purpose} needs {' and '.join(missing)}, which "
                                f"{'is' if len(missing) == 1 else 'are'} not installed: "
                                f"pip install 'chainrule[{extra}]'")
