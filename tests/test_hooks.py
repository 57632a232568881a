"""Hooks, with PyTorch's names and order: tensor hooks see (and may replace) a tensor's whole
gradient; module hooks see a module's inputs, outputs and their gradients."""
import numpy
import pytest

import chainrule
import chainrule.nn as nn
from chainrule.nn.utils import gradient_stats


def test_a_tensor_hook_sees_the_summed_gradient_once_and_may_replace_it():
    x = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.register_hook(lambda g: g * 10)
    (h * h + h).sum().backward()  # h used twice: one hook call with both terms summed
    assert len(seen) == 1
    values = x.detach().numpy()
    numpy.testing.assert_allclose(seen[0], 2 * values * 3 + 1)
    numpy.testing.assert_allclose(x.grad.numpy(), 10 * (2 * 3 * values + 1) * 3)


def test_a_leaf_hook_runs_before_accumulation_and_can_be_removed():
    w = chainrule.tensor([2.0], requires_grad=True)
    handle = w.register_hook(lambda g: g * 0)
    (w * 5).sum().backward()
    assert w.grad.item() == 0
    handle.remove()
    (w * 5).sum().backward()
    assert w.grad.item() == 5


def test_hooks_run_for_autograd_grad_too():
    x = chainrule.tensor(3.0, requires_grad=True)
    x.register_hook(lambda g: g + 1)
    (gx,) = chainrule.autograd.grad(x * x, x)
    assert gx.item() == 7


def test_a_hook_returning_the_wrong_shape_is_named():
    x = chainrule.ones(3, requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"returned \(\); return None or a Tensor of the "
                                           r"gradient's shape \(3,\)"):
        (x * 2).sum().backward()


def test_a_tensor_that_needs_no_gradient_refuses_a_hook():
    with pytest.raises(RuntimeError, match="does not require grad"):
        chainrule.ones(2).register_hook(print)


def two_layers():
    chainrule.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def test_module_hooks_fire_in_pytorchs_order_with_pytorchs_arguments():
    net = two_layers()
    calls = []
    for name, module in net.named_modules():
        if not name:
            continue
        module.register_forward_pre_hook(lambda m, args, n=name: calls.append(("pre", n)))
        module.register_forward_hook(lambda m, args, out, n=name: calls.append(("forward", n)))
        module.register_full_backward_hook(
            lambda m, gi, go, n=name: calls.append(("backward", n, gi, go)))
    x = chainrule.randn(5, 3, dtype=chainrule.float64)
    out = net(x)
    (out * out).sum().backward()
    assert [c[:2] for c in calls] == [("pre", "0"), ("forward", "0"), ("pre", "1"), ("forward", "1"),
                                      ("pre", "2"), ("forward", "2"), ("backward", "2"),
                                      ("backward", "1"), ("backward", "0")]
    last = calls[6]
    grad_output = 2 * out.detach().numpy()                 # ∂Σout²/∂out
    numpy.testing.assert_allclose(last[3][0].numpy(), grad_output)
    numpy.testing.assert_allclose(last[2][0].numpy(), grad_output @ net[2].weight.detach().numpy())
    assert calls[8][2] == (None,)  # the network's input needs no gradient, as in PyTorch


def test_a_backward_hook_may_replace_the_gradient_of_a_modules_input():
    net = two_layers()
    net[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    net(chainrule.randn(5, 3, dtype=chainrule.float64)).sum().backward()
    assert numpy.all(net[0].weight.grad.numpy() == 0)     # nothing flows below the hook
    assert numpy.any(net[2].weight.grad.numpy() != 0)     # the layer's own weights still learn


def test_forward_hooks_may_replace_inputs_and_outputs():
    layer = nn.Identity()
    layer.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    layer.register_forward_hook(lambda m, args, out: out * 2)
    assert layer(chainrule.tensor([1.0])).item() == 4


def test_a_replaced_gradient_of_an_earlier_input_is_refused():
    class Add(nn.Module):
        def forward(self, a, b):
            return a + b

    add = Add()
    add.register_full_backward_hook(lambda m, gi, go: (gi[0] * 2, gi[1] * 2))
    a, b = chainrule.ones(2, requires_grad=True), chainrule.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="already passed on"):
        add(a, b).sum().backward()


def test_gradient_stats_gives_each_parameters_gradient_norm():
    net = two_layers()
    net(chainrule.randn(5, 3, dtype=chainrule.float64)).sum().backward()
    stats = gradient_stats(net)
    assert list(stats) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    grad = net[2].weight.grad.numpy()
    assert stats["2.weight"]["norm"] == pytest.approx(numpy.linalg.norm(grad))
    assert stats["2.weight"]["max_abs"] == pytest.approx(numpy.abs(grad).max())
    assert "2.weight" in str(stats) and "‖grad‖" in str(stats)


def test_the_vanishing_gradients_example_shows_sigmoid_signals_shrinking(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "vanishing_gradients.py"
    spec = importlib.util.spec_from_file_location("vanishing_gradients", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.main(["--epochs", "1", "--rows", "320"])
    sigmoid, relu = results["sigmoid"][0], results["relu"][0]
    assert sigmoid[0] / sigmoid[-1] < 1e-3     # ten sigmoid layers: σ′ ≤ ¼ at every one
    assert relu[0] / relu[-1] > 0.1            # ReLU with He initialisation keeps the size
    assert "layer 1 gets" in capsys.readouterr().out


@pytest.mark.parametrize("hooked", ["intermediate", "leaf"])
def test_a_hook_changing_its_gradient_in_place_changes_no_other_gradient(hooked):
    # add hands one signal to both of its inputs: a hook scaling it in place (PyTorch's hooks
    # should not, but they can) must scale only its own tensor's gradient, here by 3.
    a = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    b = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    h = b * 1 if hooked == "intermediate" else b
    h.register_hook(lambda g: g.mul_(3))
    weights = chainrule.tensor([1.0, 10.0], dtype=chainrule.float64)
    ((a + h) * weights).sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), [1.0, 10.0])  # d/da of Σ wᵢ (aᵢ + bᵢ)
    numpy.testing.assert_array_equal(b.grad.numpy(), [3.0, 30.0])


def test_a_module_hook_changing_grad_output_in_place_changes_no_gradient():
    # the module's output gradient is also the gradient of `a` (add hands one signal to both);
    # the hook runs after backward has used it, and its change in place must reach nothing,
    # as in PyTorch
    layer = nn.Linear(2, 2, dtype=chainrule.float64)
    with chainrule.no_grad():
        layer.weight.copy_(chainrule.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=chainrule.float64))

    def triple_in_place(module, grad_input, grad_output):
        grad_output[0].mul_(3)
    layer.register_full_backward_hook(triple_in_place)
    x = chainrule.tensor([1.0, 1.0], dtype=chainrule.float64, requires_grad=True)
    a = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    weights = chainrule.tensor([1.0, 10.0], dtype=chainrule.float64)
    ((layer(x) + a) * weights).sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), [1.0, 10.0])  # d/da of Σ wᵢ (Wx + b + a)ᵢ
    numpy.testing.assert_array_equal(x.grad.numpy(), [31.0, 42.0])  # Wᵀ w
