"""A PyTorch user's first hour: the subpackages after one import, a tutorial's loop word for
word, and the PyTorch names chainrule lacks saying what to write instead."""
import builtins
import subprocess
import sys

import numpy
import pytest

import chainrule
from chainrule import nn


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


def test_a_star_import_leaves_pythons_builtins_alone():
    namespace = {}
    exec("from chainrule import *", namespace)
    shadowed = sorted(name for name in namespace
                      if name != "__builtins__" and hasattr(builtins, name))
    assert shadowed == []
    assert namespace["tensor"] is chainrule.tensor and namespace["nn"] is chainrule.nn
    assert namespace["save"] is chainrule.save and namespace["load"] is chainrule.load
    assert chainrule.sum(chainrule.tensor([1.0, 2.0])).item() == 3.0  # still chainrule.sum


def test_every_name_of_a_star_import_is_there():
    for name in chainrule.__all__:
        assert getattr(chainrule, name) is not None


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


# ---------------------------------------------------------------- a PyTorch script, word for word
def test_a_pytorch_tutorial_loop_runs_with_import_chainrule_as_torch(tmp_path):
    import chainrule as torch
    import chainrule.nn as nn
    import chainrule.nn.functional as F
    from chainrule.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    X = torch.randn(128, 5)
    y = torch.tensor((X[:, 0] > 0).numpy(), dtype=torch.long)
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(inplace=True), nn.Linear(16, 2)).to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=1)
    losses = []
    for _ in range(5):
        model.train()
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item() * xb.size(0)
        losses.append(total / len(X))
        scheduler.step(losses[-1])
    model.eval()
    with torch.no_grad():
        predicted = model(X).argmax(dim=1)
        correct = predicted.eq(y.view_as(predicted)).sum().item()
    assert losses[-1] < losses[0] and correct / len(X) > 0.9
    torch.save(model.state_dict(), tmp_path / "model.pth")
    model.load_state_dict(torch.load(tmp_path / "model.pth", map_location=device,
                                     weights_only=True))


# ---------------------------------------------------------------- small things PyTorch code uses
def test_pytorchs_dtype_names_are_the_dtypes():
    assert (chainrule.long, chainrule.int, chainrule.half, chainrule.double, chainrule.float) == \
        (chainrule.int64, chainrule.int32, chainrule.float16, chainrule.float64, chainrule.float32)
    assert chainrule.tensor([1, 0], dtype=chainrule.long).dtype == chainrule.int64


def test_comparison_methods_and_rounding_functions():
    a, b = chainrule.tensor([1.0, 2.0, 3.0]), chainrule.tensor([2.0, 2.0, 2.0])
    for name, expected in [("eq", [False, True, False]), ("ne", [True, False, True]),
                           ("lt", [True, False, False]), ("le", [True, True, False]),
                           ("gt", [False, False, True]), ("ge", [False, True, True])]:
        assert getattr(a, name)(b).tolist() == expected, name
    x = chainrule.tensor([-1.5, 0.4, 2.6])
    assert chainrule.floor(x).tolist() == [-2.0, 0.0, 2.0]
    assert chainrule.ceil(x).tolist() == [-1.0, 1.0, 3.0]
    assert chainrule.round(x).tolist() == [-2.0, 0.0, 3.0]


def test_relu_inplace_is_accepted_with_the_same_values_and_gradients():
    x = chainrule.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    layer = nn.ReLU(inplace=True)
    layer(x).sum().backward()
    assert layer(x).tolist() == nn.ReLU()(x).tolist() == [0.0, 0.5, 2.0]
    assert x.grad.tolist() == [0.0, 1.0, 1.0] and x.tolist() == [-1.0, 0.5, 2.0]
    assert repr(layer) == "ReLU(inplace=True)" and repr(nn.ReLU()) == "ReLU()"


def test_one_hot_as_pytorch():
    F = nn.functional
    assert F.one_hot(chainrule.tensor([0, 2, 1])).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    encoded = F.one_hot(chainrule.tensor([[1], [0]]), num_classes=4)
    assert encoded.shape == (2, 1, 4) and encoded.dtype == chainrule.int64
    assert encoded.tolist() == [[[0, 1, 0, 0]], [[1, 0, 0, 0]]]
    with pytest.raises(ValueError, match=r"one_hot: the labels must lie in \[0, 3\)"):
        F.one_hot(chainrule.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match=r"labels.long\(\)"):
        F.one_hot(chainrule.tensor([0.0, 1.0]))


# ---------------------------------------------------------------- what is not provided says the way
@pytest.mark.parametrize("reach,words", [
    (lambda x: x.mm(x), "use @"),
    (lambda x: x.square(), r"x \*\* 2"),
    (lambda x: x.diagonal(), r"x\[chainrule.arange\(n\), chainrule.arange\(n\)\]"),
    (lambda x: x.exp_(), r"write x = x.exp\(…\)"),
    (lambda x: chainrule.inference_mode, r"chainrule.no_grad\(\)"),
    (lambda x: nn.BCELoss, "BCEWithLogitsLoss"),
    (lambda x: chainrule.utils.data.random_split, "train_val_test_split"),
])
def test_a_pytorch_name_that_is_not_provided_names_the_chainrule_way(reach, words):
    with pytest.raises(AttributeError, match=words):
        reach(chainrule.ones(2, 3))


@pytest.mark.parametrize("operation,words", [(lambda x: x // 2, r"\(x / y\).floor\(\)"),
                                             (lambda x: 7 // x, r"\(x / y\).floor\(\)"),
                                             (lambda x: x % 2, r"x - \(x / y\).floor\(\) \* y"),
                                             (lambda x: 7 % x, r"x - \(x / y\).floor\(\) \* y")])
def test_floor_division_and_remainder_name_the_way(operation, words):
    with pytest.raises(TypeError, match=words):
        operation(chainrule.tensor([3.0, -4.5]))


def test_the_named_ways_compute_what_pytorchs_functions_do():
    values = numpy.random.default_rng(0).uniform(-3, 3, size=(4, 5))
    x = chainrule.tensor(values)
    y = chainrule.tensor(1.25, dtype=chainrule.float64)
    numpy.testing.assert_array_equal((x / y).floor().numpy(), values // 1.25)
    numpy.testing.assert_allclose((x - (x / y).floor() * y).numpy(), values % 1.25, atol=1e-12)
    n = min(x.shape)
    numpy.testing.assert_array_equal(x[chainrule.arange(n), chainrule.arange(n)].numpy(),
                                     numpy.diagonal(values))


def test_hasattr_and_numpy_conversion_still_see_ordinary_attribute_errors():
    x = chainrule.ones(2)
    assert not hasattr(x, "square") and not hasattr(x, "__array_interface__")
    assert numpy.asarray(x).tolist() == [1.0, 1.0]
    with pytest.raises(AttributeError, match="^'Tensor' object has no attribute 'no_such'$"):
        x.no_such
