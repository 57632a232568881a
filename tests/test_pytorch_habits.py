"""A PyTorch user's first hour: the subpackages are there after one import."""
import subprocess
import sys

import pytest

import chainrule


def run_fresh(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter, so that this process's imports cannot hide a failure."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


# ---------------------------------------------------------------- one import
def test_subpackages_are_there_after_a_bare_import():
    result = run_fresh(
        "import chainrule\n"
        "model = chainrule.nn.Linear(2, 1)\n"
        "chainrule.optim.SGD(model.parameters(), lr=0.1)\n"
        "chainrule.optim.lr_scheduler.StepLR\n"
        "data = chainrule.utils.data.TensorDataset(chainrule.ones(4, 2), chainrule.zeros(4))\n"
        "assert len(chainrule.utils.data.DataLoader(data, batch_size=3)) == 2\n"
        "assert issubclass(chainrule.utils.data.TensorDataset, chainrule.utils.data.Dataset)\n"
        "chainrule.autograd.grad\n"
        "chainrule.data.load_dataset\n")
    assert result.returncode == 0, result.stderr


def test_import_chainrule_loads_no_heavy_optional_package():
    result = run_fresh("import sys, chainrule\n"
                       "print(sorted(m for m in ('sklearn', 'matplotlib', 'safetensors', 'http', "
                       "'chainrule.data', 'chainrule.serialization') if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_utils_data_is_pytorchs_import_path_for_the_same_classes():
    from chainrule.data import DataLoader, Dataset, TensorDataset
    from chainrule.utils import data

    assert (data.DataLoader, data.Dataset, data.TensorDataset) == (DataLoader, Dataset,
                                                                   TensorDataset)


def test_a_missing_top_level_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        chainrule.no_such_thing

