"""Layers, MLP builder, losses as modules, initialisation and gradient clipping."""
import math

import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.errors import ShapeError
from chainrule.nn import functional as F


def test_linear_matches_x_wT_plus_b_with_pytorch_weight_layout():
    layer = nn.Linear(3, 2)
    x = chainrule.randn(5, 3)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    expected = x.numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    numpy.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("input_shape", [(4,), (3, 4), (2, 5, 4)])
def test_linear_to_no_outputs_is_empty_with_the_gradients_pytorch_gives(input_shape,
                                                                          create_graph):
    # PyTorch: an output of shape (..., 0); x̄ zeros of x's shape, W̄ of shape (0, in), b̄ (0,).
    # A reshape to (-1, 0) could not infer the rows of no elements and raised.
    x = chainrule.tensor(numpy.random.default_rng(0).normal(size=input_shape),
                         dtype=chainrule.float64, requires_grad=True)
    weight = chainrule.zeros(0, 4, dtype=chainrule.float64, requires_grad=True)
    bias = chainrule.zeros(0, dtype=chainrule.float64, requires_grad=True)
    y = F.linear(x, weight, bias)
    assert y.shape == input_shape[:-1] + (0,)
    y.sum().backward(create_graph=create_graph)
    numpy.testing.assert_array_equal(x.grad.detach().numpy(), numpy.zeros(input_shape))
    assert weight.grad.shape == (0, 4) and bias.grad.shape == (0,)


def test_linear_default_init_is_bounded_by_one_over_sqrt_fan_in():
    layer = nn.Linear(100, 50)
    assert numpy.abs(layer.weight.detach().numpy()).max() <= 1 / math.sqrt(100)


def test_activations_compute_their_formulas():
    x = chainrule.tensor([-2.0, 0.5, 3.0])
    a = x.numpy()
    numpy.testing.assert_allclose(nn.ReLU()(x).numpy(), numpy.maximum(a, 0))
    numpy.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + numpy.exp(-a)), rtol=1e-6)
    numpy.testing.assert_allclose(nn.Tanh()(x).numpy(), numpy.tanh(a), rtol=1e-6)
    erf = numpy.vectorize(math.erf)
    numpy.testing.assert_allclose(nn.GELU()(x).numpy(), 0.5 * a * (1 + erf(a / math.sqrt(2))),
                                  rtol=1e-6)
    assert nn.Identity()(x) is x
    assert nn.Flatten()(chainrule.zeros(2, 3, 4)).shape == (2, 12)


def test_dropout_is_active_in_training_and_identity_in_eval():
    chainrule.manual_seed(0)
    layer = nn.Dropout(0.5)
    x = chainrule.ones(1000)
    out = layer(x).numpy()
    assert set(numpy.unique(out)) == {0.0, 2.0}
    assert 400 < (out == 0).sum() < 600
    layer.eval()
    assert layer(x) is x


def test_mlp_builds_linear_activation_pairs_and_no_activation_at_the_end():
    model = nn.MLP([784, 256, 10], activation="tanh", dropout=0.2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear"]
    assert model(chainrule.zeros(2, 784)).shape == (2, 10)


def test_mlp_uses_glorot_for_tanh_and_he_for_relu_with_zero_biases():
    chainrule.manual_seed(1)
    glorot = nn.MLP([400, 600, 10], activation="sigmoid")[0]
    he = nn.MLP([400, 600, 10], activation="relu")[0]
    bound = math.sqrt(6 / (400 + 600))
    w = glorot.weight.detach().numpy()
    assert numpy.abs(w).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert he.weight.detach().numpy().std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert numpy.all(glorot.bias.detach().numpy() == 0) and numpy.all(he.bias.detach().numpy() == 0)


def test_mlp_initialisation_is_fixed_by_the_seed():
    chainrule.manual_seed(7)
    first = nn.MLP([5, 4, 2]).state_dict()
    chainrule.manual_seed(7)
    second = nn.MLP([5, 4, 2]).state_dict()
    for name in first:
        numpy.testing.assert_array_equal(first[name].numpy(), second[name].numpy())


def test_mlp_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([3, 2], activation="swish")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_equal_their_functional_forms(reduction):
    chainrule.manual_seed(3)
    logits = chainrule.randn(4, 3)
    labels = chainrule.tensor([0, 2, 1, 2])
    targets = chainrule.rand(4, 3)
    pairs = [
        (nn.MSELoss(reduction)(logits, targets), F.mse_loss(logits, targets, reduction)),
        (nn.CrossEntropyLoss(reduction=reduction)(logits, labels), F.cross_entropy(logits, labels, reduction)),
        (nn.NLLLoss(reduction=reduction)(F.log_softmax(logits, dim=1), labels),
         F.cross_entropy(logits, labels, reduction)),
        (nn.BCEWithLogitsLoss(reduction=reduction)(logits, targets),
         F.binary_cross_entropy_with_logits(logits, targets, reduction)),
    ]
    for module_loss, functional_loss in pairs:
        numpy.testing.assert_allclose(module_loss.numpy(), functional_loss.numpy(), rtol=1e-6)


def test_loss_modules_pass_pytorchs_options_through():
    chainrule.manual_seed(3)
    logits = chainrule.randn(4, 3)
    labels = chainrule.tensor([0, 2, 1, 2])
    weight = chainrule.tensor([1.0, 2.0, 0.5])
    numpy.testing.assert_allclose(
        nn.CrossEntropyLoss(weight, ignore_index=1, label_smoothing=0.1)(logits, labels).numpy(),
        F.cross_entropy(logits, labels, weight=weight, ignore_index=1,
                        label_smoothing=0.1).numpy(), rtol=1e-6)
    unweighted = nn.NLLLoss()(F.log_softmax(logits, dim=1), labels)
    weighted = nn.NLLLoss(weight)(F.log_softmax(logits, dim=1), labels)
    assert abs(weighted.item() - unweighted.item()) > 1e-3
    targets = chainrule.rand(4, 3)
    numpy.testing.assert_allclose(
        nn.BCEWithLogitsLoss(pos_weight=weight)(logits, targets).numpy(),
        F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight).numpy(), rtol=1e-6)


def test_init_functions_follow_their_formulas():
    weight = nn.Parameter(numpy.empty((300, 200), numpy.float64))
    nn.init.xavier_normal_(weight)
    assert weight.detach().numpy().std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    nn.init.kaiming_uniform_(weight, nonlinearity="relu")
    assert numpy.abs(weight.detach().numpy()).max() <= math.sqrt(6 / 200)
    nn.init.normal_(weight, mean=3.0, std=0.5)
    assert weight.detach().numpy().mean() == pytest.approx(3.0, abs=0.01)
    nn.init.ones_(weight)
    assert numpy.all(weight.detach().numpy() == 1)
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(numpy.zeros(3)))


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm():
    a, b = nn.Parameter(numpy.zeros(2)), nn.Parameter(numpy.zeros(1))
    a.grad = chainrule.tensor(numpy.array([3.0, 0.0]))
    shared = b.grad = chainrule.tensor(numpy.array([4.0]))
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert float(total) == pytest.approx(5.0)
    numpy.testing.assert_allclose(a.grad.numpy(), [3 / (5 + 1e-6), 0.0])
    numpy.testing.assert_allclose(b.grad.numpy(), [4 / (5 + 1e-6)])
    assert shared.numpy()[0] == 4.0  # the old array was not changed in place


def test_clip_grad_norm_leaves_small_gradients_alone():
    a = nn.Parameter(numpy.zeros(2))
    a.grad = chainrule.tensor(numpy.array([0.3, 0.4]))
    total = nn.utils.clip_grad_norm_([a], max_norm=1.0)
    assert float(total) == pytest.approx(0.5)
    numpy.testing.assert_array_equal(a.grad.numpy(), [0.3, 0.4])


def test_layer_norm_takes_pytorchs_arguments_in_pytorchs_order():
    x = numpy.random.default_rng(1).standard_normal((3, 5)) * 2 + 1
    expected = (x - x.mean(1, keepdims=True)) / numpy.sqrt(x.var(1, keepdims=True) + 1e-3)
    plain = nn.LayerNorm(5, 1e-3, False)  # the third is elementwise_affine, as in PyTorch
    assert plain.weight is None and plain.bias is None and list(plain.parameters()) == []
    data = chainrule.tensor(x, requires_grad=True)
    out = plain(data)
    numpy.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    out.sum().backward()  # Σ of a normalised row does not depend on the row
    numpy.testing.assert_allclose(data.grad.numpy(), 0, atol=1e-12)
    assert nn.LayerNorm((5,)).weight.shape == (5,)
    assert nn.LayerNorm([5], bias=False).bias is None
    with pytest.raises(ValueError, match=r"last dimension only.*\(2, 5\)"):
        nn.LayerNorm((2, 5))


def test_functional_layer_norm_takes_pytorchs_arguments():
    rng = numpy.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)) * 3 - 1
    weight, bias = rng.standard_normal(4), rng.standard_normal(4)
    normalised = (x - x.mean(-1, keepdims=True)) / numpy.sqrt(x.var(-1, keepdims=True) + 1e-5)
    data = chainrule.tensor(x)
    numpy.testing.assert_allclose(F.layer_norm(data, (4,)).numpy(), normalised, rtol=1e-12)
    numpy.testing.assert_allclose(
        F.layer_norm(data, 4, chainrule.tensor(weight), chainrule.tensor(bias), 1e-5).numpy(),
        normalised * weight + bias, rtol=1e-12)
    with pytest.raises(ShapeError, match=r"normalized_shape \(3,\) does not fit .*\(2, 3, 4\)"):
        F.layer_norm(data, [3])
    with pytest.raises(ValueError, match=r"last dimension only.*\(3, 4\)"):
        F.layer_norm(data, (3, 4))


def test_dropout_accepts_pytorchs_inplace_flag():
    layer = nn.Dropout(0.2, inplace=True)
    assert repr(layer) == "Dropout(p=0.2, inplace=True)"
    layer.eval()
    x = chainrule.ones(4)
    numpy.testing.assert_array_equal(layer(x).numpy(), x.numpy())


def test_embedding_padding_idx_starts_at_zero_and_gets_no_gradient_as_in_pytorch():
    table = nn.Embedding(5, 3, padding_idx=-1, dtype=chainrule.float64)  # row 4
    assert table.padding_idx == 4
    numpy.testing.assert_array_equal(table.weight.detach().numpy()[4], 0)
    weights = numpy.arange(15.0).reshape(5, 3)
    table.weight.data[...] = weights  # a padding row that is not zero is still looked up
    indices = chainrule.tensor([[4, 1, 4], [2, 2, 0]])
    rows = table(indices)
    numpy.testing.assert_array_equal(rows.detach().numpy(), weights[indices.numpy()])
    upstream = numpy.arange(18.0).reshape(2, 3, 3)
    (rows * chainrule.tensor(upstream)).sum().backward()
    expected = numpy.zeros((5, 3))
    for position, index in numpy.ndenumerate(indices.numpy()):
        if index != 4:
            expected[index] += upstream[position]
    numpy.testing.assert_array_equal(table.weight.grad.numpy(), expected)
    with pytest.raises(ValueError, match="padding_idx 5 is outside the table of 5 rows"):
        nn.Embedding(5, 3, padding_idx=5)


def test_loss_weights_are_buffers_in_the_state_dict_as_in_pytorch():
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(2, 3)
            self.criterion = nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5])
            self.binary = nn.BCEWithLogitsLoss(pos_weight=chainrule.tensor([3.0]))
            self.plain = nn.NLLLoss()
    model = Classifier()
    assert list(model.state_dict()) == ["head.weight", "head.bias", "criterion.weight",
                                        "binary.pos_weight"]
    model.double()
    assert model.criterion.weight.dtype == chainrule.float64
    logits, labels = chainrule.randn(4, 3, dtype=chainrule.float64), chainrule.tensor([0, 1, 1, 2])
    numpy.testing.assert_allclose(
        model.criterion(logits, labels).item(),
        F.cross_entropy(logits, labels, weight=chainrule.tensor([1.0, 2.0, 0.5])).item(),
        rtol=1e-12)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_a_class_weight_given_by_position_names_the_way_to_pass_it(loss):
    # PyTorch's third positional argument is weight; here it is reduction
    logits = chainrule.randn(3, 4)
    with pytest.raises(TypeError, match=r"^\w+: the third argument is reduction .*weight=w"):
        loss(logits, chainrule.tensor([0, 1, 3]), chainrule.tensor([1.0, 2.0, 3.0, 4.0]))


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.huber_loss, F.kl_div,
                                  F.binary_cross_entropy])
def test_a_reduction_that_is_no_name_is_refused_without_advice_about_a_weight(loss):
    # these take no weight here (PyTorch's third positional argument of most of them is the old
    # size_average): the advice to pass weight= by name would fail in its turn
    with pytest.raises(TypeError, match=r"^\w+: reduction must be 'mean', .*not a NoneType$"):
        loss(chainrule.rand(3), chainrule.rand(3), None)


@pytest.mark.parametrize("module", [nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss])
def test_a_loss_module_given_a_tensor_for_its_reduction_says_so(module):
    # (not that a tensor's truth value is ambiguous, from comparing it with the names)
    with pytest.raises(TypeError, match=rf"^{module.__name__}: reduction must be .*not a Tensor$"):
        module(chainrule.tensor([1.0, 2.0]))


@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy_with_logits,
                                  F.binary_cross_entropy])
def test_an_unknown_reduction_is_refused_by_name(loss):
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', not 'avg'"):
        loss(chainrule.rand(3), chainrule.rand(3), "avg")
