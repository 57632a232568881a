"""PyTorch's device forms (.to, .cpu, .cuda, chainrule.device) on chainrule's one device."""
import pytest

import chainrule
from chainrule import nn


def test_tensor_to_accepts_pytorchs_forms():
    x = chainrule.ones(2, 3)
    assert x.to("cpu") is x and x.cpu() is x and x.to(chainrule.device("cpu")) is x
    assert x.to(chainrule.float64).dtype == chainrule.float64
    assert x.to("cpu", chainrule.float64).dtype == chainrule.float64
    assert x.to(device="cpu", dtype=chainrule.float16).dtype == chainrule.float16
    assert x.to(chainrule.zeros(1, dtype=chainrule.float64)).dtype == chainrule.float64
    assert x.to(x.device) is x and x.to("cpu", non_blocking=True) is x
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.tolist() == x.tolist()
    assert chainrule.arange(3).float().dtype == chainrule.float32
    assert chainrule.arange(3).double().dtype == chainrule.float64


def test_casting_with_to_keeps_the_gradient_path():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    (x.to("cpu", chainrule.float64) * 3).sum().backward()
    assert x.grad.dtype == chainrule.float32 and x.grad.tolist() == [3.0, 3.0]


def test_module_to_accepts_pytorchs_forms_and_keeps_its_parameters():
    model = nn.Linear(2, 3)
    weight = model.weight
    assert model.to("cpu") is model and model.cpu() is model
    model.to("cpu", chainrule.float64)
    assert model.weight is weight and weight.dtype == chainrule.float64
    model.to(chainrule.zeros(1, dtype=chainrule.float32))
    assert weight.dtype == chainrule.float32
    with pytest.raises(TypeError, match="floating point"):
        model.to(chainrule.int64)


@pytest.mark.parametrize("ask", [
    lambda: chainrule.ones(2).to("cuda"), lambda: chainrule.ones(2).to("cuda:0"),
    lambda: chainrule.ones(2).cuda(), lambda: chainrule.ones(2).to(chainrule.device("cuda", 0)),
    lambda: nn.Linear(2, 1).to("cuda"), lambda: nn.Linear(2, 1).cuda(),
    lambda: chainrule.ones(2).to(device="cuda", dtype=chainrule.float64)])
def test_asking_for_cuda_on_numpy_names_the_chainrule_way(ask):
    with pytest.raises(RuntimeError, match=r"chainrule.backend.use\('cupy'\)"):
        ask()


def test_asking_for_the_cpu_on_the_gpu_backend_says_where_tensors_live(monkeypatch):
    monkeypatch.setattr(chainrule.backend, "name", "cupy")  # the check reads only the name
    assert chainrule.cuda.is_available()
    with pytest.raises(RuntimeError, match=r"\.numpy\(\)"):
        chainrule.ones(2).to("cpu")


def test_cuda_is_available_idiom_picks_the_backends_device():
    device = "cuda" if chainrule.cuda.is_available() else "cpu"
    assert device == "cpu" and chainrule.ones(2).to(device).device == "cpu"


def test_device_objects_behave_like_torchs():
    assert chainrule.device("cuda:1") == chainrule.device("cuda", 1)
    assert str(chainrule.device("cuda", 1)) == "cuda:1"
    assert chainrule.device("cpu") == "cpu"
    assert repr(chainrule.device("cpu")) == "device(type='cpu')"
    with pytest.raises(ValueError, match="unknown device 'mps'"):
        chainrule.device("mps")
    with pytest.raises(ValueError, match="neither a device .* nor a dtype"):
        chainrule.ones(2).to("gpu")
