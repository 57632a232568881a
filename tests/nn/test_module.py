"""Module: finding parameters, names, state_dict round trips, modes and errors."""
import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.errors import CheckpointError


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter([1.0, 2.0])
        self.encoder = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 1, bias=False)})
        self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
        self.register_buffer("count", chainrule.zeros(1))
        self.register_buffer("mask", chainrule.ones(2), persistent=False)

    def forward(self, x):
        return self.heads["a"](self.encoder(x)) * self.scale


def test_parameters_are_found_in_nested_modules_with_pytorch_names():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["scale", "encoder.0.weight", "encoder.0.bias", "heads.a.weight",
                     "heads.a.bias", "heads.b.weight", "blocks.0.weight", "blocks.0.bias",
                     "blocks.1.weight", "blocks.1.bias"]
    assert all(p.requires_grad for p in model.parameters())
    assert len(list(model.children())) == 3
    assert len(list(model.modules())) == 1 + 3 + 2 + 2 + 2


def test_state_dict_holds_parameters_and_persistent_buffers_only():
    state = TwoLayer().state_dict()
    assert "count" in state and "mask" not in state
    assert state["encoder.0.weight"].shape == (4, 3)
    assert not state["encoder.0.weight"].requires_grad


def test_load_state_dict_round_trip_copies_values():
    source, target = TwoLayer(), TwoLayer()
    target.load_state_dict(source.state_dict())
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_load_state_dict_shape_mismatch_names_tensor_and_both_shapes_and_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 4))
    before = model[0].bias.detach().numpy().copy()
    state = {"0.weight": numpy.zeros((5, 3), numpy.float32), "0.bias": numpy.zeros(4, numpy.float32)}
    with pytest.raises(CheckpointError, match=r"0\.weight.*\(5, 3\).*\(4, 3\)"):
        model.load_state_dict(state)
    numpy.testing.assert_array_equal(model[0].bias.detach().numpy(), before)


def test_load_state_dict_strict_lists_missing_and_unexpected_keys():
    model = nn.Sequential(nn.Linear(3, 4))
    state = {"0.weight": numpy.zeros((4, 3), numpy.float32), "1.weight": numpy.zeros(2)}
    with pytest.raises(CheckpointError, match=r"missing keys: 0\.bias.*unexpected keys: 1\.weight"):
        model.load_state_dict(state)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["1.weight"]
    assert numpy.all(model[0].weight.detach().numpy() == 0)


def test_plain_list_of_modules_is_refused_with_a_pointer_to_modulelist():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    with pytest.raises(TypeError, match="ModuleList"):
        Bad()


def test_forgetting_super_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Forgot()


def test_train_and_eval_reach_every_submodule():
    model = TwoLayer()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_sets_gradients_to_none():
    model = nn.Linear(3, 2)
    model(chainrule.randn(4, 3)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_tied_weights_are_one_parameter_but_two_state_entries():
    first, second = nn.Linear(3, 3), nn.Linear(3, 3)
    second.weight = first.weight
    model = nn.Sequential(first, second)
    assert len(list(model.parameters())) == 3
    assert {"0.weight", "1.weight"} <= set(model.state_dict())


def test_to_double_keeps_the_same_parameter_objects():
    model = nn.Linear(3, 2)
    weight = model.weight
    model.double()
    assert model.weight is weight and weight.dtype == chainrule.float64


def test_parameter_from_tensor_shares_memory_and_defaults_to_float32():
    base = chainrule.zeros(3)
    parameter = nn.Parameter(base)
    base.data[0] = 5
    assert parameter.data[0] == 5
    assert nn.Parameter([1.0, 2.0]).dtype == chainrule.float32
    assert nn.Parameter([1.0]).requires_grad


def test_apply_visits_every_module():
    model = TwoLayer()
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "TwoLayer" and visited.count("Linear") == 5


def test_repr_shows_the_tree_and_settings():
    text = repr(nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh")))
    assert "(0): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(1): GELU(approximate='tanh')" in text


def test_replacing_a_parameter_by_a_computed_tensor_is_refused():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter"):
        layer.weight = layer.weight * 2
    layer.weight = nn.Parameter(chainrule.zeros(2, 2))
    assert list(layer.parameters())[0] is layer.weight


class FrozenNorm(nn.Module):
    """A block whose batch norm stays in evaluation (fine-tuning's frozen statistics)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(2)

    def train(self, mode=True):
        super().train(mode)
        self.norm.eval()
        return self

    def forward(self, x):
        return self.norm(x)


def test_train_calls_each_childs_own_train_as_pytorch_does():
    model = nn.Sequential(nn.Linear(2, 2), FrozenNorm())
    model.train()
    assert model.training and model[0].training and model[1].training
    assert not model[1].norm.training
    statistics = model[1].norm.running_mean.numpy().copy()
    model(chainrule.tensor(numpy.arange(8.0).reshape(4, 2)))
    numpy.testing.assert_array_equal(model[1].norm.running_mean.numpy(), statistics)


def test_train_refuses_a_mode_that_is_not_a_bool():
    with pytest.raises(ValueError, match="True or False"):
        nn.Linear(2, 2).train("eval")


def test_a_module_registered_under_two_names_is_saved_under_both_as_in_pytorch():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(2, 3)
            self.decoder = self.encoder  # the same module, two names
    model = Shared()
    assert [name for name, _ in model.named_parameters()] == ["encoder.weight", "encoder.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "encoder"]
    assert [name for name, _ in model.named_modules(remove_duplicate=False)] == \
        ["", "encoder", "decoder"]
    state = model.state_dict()
    assert list(state) == ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"]
    new_weight = numpy.arange(6.0).reshape(3, 2)
    state = {key: value.numpy().copy() for key, value in state.items()}  # detached
    state["encoder.weight"] = state["decoder.weight"] = new_weight
    assert model.load_state_dict(state) == ([], [])  # strict: every name is the model's
    numpy.testing.assert_array_equal(model.decoder.weight.detach().numpy(), new_weight)


def test_incompatible_keys_print_as_pytorchs_when_everything_matched():
    model = nn.Linear(2, 2)
    assert repr(model.load_state_dict(model.state_dict())) == "<All keys matched successfully>"
    result = model.load_state_dict({"weight": model.weight.detach()}, strict=False)
    assert result.missing_keys == ["bias"] and "missing_keys=['bias']" in repr(result)


def test_apply_visits_each_childs_tree_before_its_parent_in_order_as_pytorch():
    inner = nn.Sequential(nn.ReLU(), nn.Tanh())
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2), inner), nn.Linear(2, 1), nn.Sigmoid())
    visited = []
    model.apply(visited.append)
    # post-order: a module after all of its children, siblings left to right
    assert visited == [model[0][0], inner[0], inner[1], inner, model[0], model[1], model[2], model]


def test_children_lists_a_module_registered_twice_once():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(2, 2)
            self.again = self.first
            self.last = nn.Linear(2, 1)
    model = Shared()
    assert [name for name, _ in model.named_children()] == ["first", "last"]
    assert "(again): Linear" in repr(model)  # the printout shows every name, as PyTorch's


def test_zero_grad_without_none_zeroes_the_same_gradient_in_place_as_pytorch():
    model = nn.Linear(2, 1)
    model(chainrule.ones(3, 2)).sum().backward()
    gradient = model.weight.grad  # a reference a user keeps, e.g. for logging
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is gradient and gradient.tolist() == [[0.0, 0.0]]
    model.bias.grad.fill_(5.0)
    model.zero_grad(set_to_none=False)
    assert model.bias.grad.tolist() == [0.0]
