"""The compatibility suite: PyTorch programs run unchanged on chainrule (and, where PyTorch is
installed, on both, with the same numbers to float32 tolerance where no random draw enters).

Each program in ``programs/`` is ``main(torch)``: a PyTorch program with its ``import torch``
replaced by the argument. The test passes ``chainrule``, as ``import chainrule as torch`` would.
"""
import importlib
import importlib.util
import pkgutil
import sys
import types

import numpy
import pytest

import chainrule
import chainrule.data
import chainrule.optim  # a PyTorch program reaches torch.optim without importing it

from . import programs

PROGRAMS = sorted(module.name for module in pkgutil.iter_modules(programs.__path__))
TORCH_INSTALLED = importlib.util.find_spec("torch") is not None
LIBRARIES = ["chainrule"] + (["torch"] if TORCH_INSTALLED else [])


def library(name: str):
    if name == "torch":
        import torch
        return torch
    return chainrule


def run(program: str, library_name: str):
    module = importlib.import_module(f"{programs.__name__}.{program}")
    torch = library(library_name)
    # ``from torch.utils.data import DataLoader`` inside a program reads sys.modules["torch"]
    saved = {name: sys.modules.get(name) for name in ("torch", "torch.utils", "torch.utils.data")}
    if library_name == "chainrule":
        utils = getattr(chainrule, "utils", None) or types.SimpleNamespace(data=chainrule.data)
        sys.modules.update({"torch": chainrule, "torch.utils": utils,
                            "torch.utils.data": utils.data})
    try:
        return module.main(torch), module.SAME_NUMBERS
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value


@pytest.mark.parametrize("library_name", LIBRARIES)
@pytest.mark.parametrize("program", PROGRAMS)
def test_program_runs_and_its_own_checks_hold(program, library_name):
    numbers, _ = run(program, library_name)
    assert numbers and all(numpy.all(numpy.isfinite(value)) for value in numbers.values()
                           if not isinstance(value, str))


def _same(mine, theirs) -> bool:
    if isinstance(mine, str):
        return mine == theirs
    return numpy.allclose(mine, theirs, rtol=1e-4, atol=1e-5)


if TORCH_INSTALLED:  # the benchmarks environment; CI runs chainrule alone
    @pytest.mark.parametrize("program", PROGRAMS)
    def test_program_gives_pytorchs_numbers(program):
        mine, same_numbers = run(program, "chainrule")
        theirs, _ = run(program, "torch")
        assert mine.keys() == theirs.keys()
        if same_numbers:
            different = [key for key in mine if not _same(mine[key], theirs[key])]
            assert not different, {key: (mine[key], theirs[key]) for key in different}
