"""Convolution and pooling against direct loops over the definition, and the layers around them.
(Gradients: the registry checks conv, its two VJPs and the pools by finite differences.)"""
import itertools

import numpy
import pytest

import chainrule
from chainrule import ShapeError, nn
from chainrule.nn import functional as F


def direct_conv2d(x, w, b, stride, padding, dilation, groups):
    """y[n, f, i, j] = b[f] + Σ w[f, c, p, q] x_padded[n, g·C/G + c, s·i + d·p, s·j + d·q]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, channels, height, width = x.shape
    filters, per_group, kh, kw = w.shape
    out_h = (height - dh * (kh - 1) - 1) // sh + 1
    out_w = (width - dw * (kw - 1) - 1) // sw + 1
    y = numpy.zeros((n, filters, out_h, out_w))
    per_filter_group = filters // groups
    for f, i, j in itertools.product(range(filters), range(out_h), range(out_w)):
        first = (f // per_filter_group) * per_group
        window = x[:, first:first + per_group, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                   j * sw:j * sw + dw * (kw - 1) + 1:dw]
        y[:, f, i, j] = (window * w[f]).sum(axis=(1, 2, 3)) + b[f]
    return y


@pytest.mark.parametrize("seed", range(6))
def test_conv2d_matches_the_definition_on_random_geometries(seed):
    rng = numpy.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 3]))
    stride = tuple(rng.integers(1, 3, size=2))
    padding = tuple(rng.integers(0, 3, size=2))
    dilation = tuple(rng.integers(1, 3, size=2))
    kernel = tuple(rng.integers(1, 4, size=2))
    x = rng.standard_normal((2, 2 * groups, 7, 8))
    w = rng.standard_normal((3 * groups, 2) + kernel)
    b = rng.standard_normal(3 * groups)
    got = F.conv2d(chainrule.tensor(x), chainrule.tensor(w), chainrule.tensor(b), stride=stride,
                   padding=padding, dilation=dilation, groups=groups)
    expected = direct_conv2d(x, w, b, stride, padding, dilation, groups)
    assert numpy.allclose(got.numpy(), expected, rtol=0, atol=1e-12)


def test_conv1d_is_conv2d_on_a_single_row():
    rng = numpy.random.default_rng(7)
    x, w = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3))
    got = F.conv1d(chainrule.tensor(x), chainrule.tensor(w), stride=2, padding=1, dilation=2,
                   groups=2)
    expected = direct_conv2d(x[:, :, None], w[:, :, None], numpy.zeros(6), (1, 2), (0, 1),
                             (1, 2), 2)[:, :, 0]
    assert numpy.allclose(got.numpy(), expected, rtol=0, atol=1e-12)


def test_conv2d_same_padding_keeps_the_size_and_refuses_uneven_padding():
    x = chainrule.randn(1, 2, 5, 6)
    assert nn.Conv2d(2, 3, 3, padding="same")(x).shape == (1, 3, 5, 6)
    with pytest.raises(ValueError, match="one side more than the other"):
        nn.Conv2d(2, 3, 2, padding="same")(x)


def test_conv2d_names_both_shapes_when_channels_disagree():
    with pytest.raises(ShapeError, match=r"expects 3 input channels, but the input of shape "
                                         r"\(1, 4, 5, 5\) has 4"):
        nn.Conv2d(3, 2, 3)(chainrule.randn(1, 4, 5, 5))


def test_conv_layer_initialisation_is_pytorchs_uniform_bound():
    layer = nn.Conv2d(4, 8, (3, 2), groups=2)
    bound = 1 / numpy.sqrt(2 * 3 * 2)
    assert layer.weight.shape == (8, 2, 3, 2) and layer.bias.shape == (8,)
    assert numpy.abs(layer.weight.detach().numpy()).max() <= bound
    assert numpy.abs(layer.weight.detach().numpy()).max() > 0.8 * bound


def windows(x, kernel, stride, padding, fill):
    x = numpy.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                  constant_values=fill)
    out = (x.shape[2] - kernel) // stride + 1, (x.shape[3] - kernel) // stride + 1
    return numpy.array([[x[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                         for j in range(out[1])] for i in range(out[0])])  # (oh, ow, N, C, k, k)


def test_max_pool_picks_each_windows_largest_and_routes_the_gradient_there():
    values = numpy.random.default_rng(3).standard_normal((2, 3, 7, 7))
    x = chainrule.tensor(values, requires_grad=True)
    y = F.max_pool2d(x, 3, stride=2, padding=1)
    expected = windows(values, 3, 2, 1, -numpy.inf).max(axis=(4, 5)).transpose(2, 3, 0, 1)
    assert numpy.array_equal(y.detach().numpy(), expected)
    y.sum().backward()
    # each output's gradient lands on one input equal to it
    assert x.grad.numpy().sum() == y.numel()
    assert set(values[x.grad.numpy() > 0]) <= set(expected.ravel())


def test_max_pool_takes_the_first_of_tied_maxima_and_lets_nan_through():
    x = chainrule.tensor([[[[1.0, 3.0], [3.0, 0.0]], [[1.0, float("nan")], [2.0, 5.0]]]],
                         dtype=chainrule.float64, requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y[0, 0].item() == 3.0 and numpy.isnan(y[0, 1].item())
    y[0, 0].sum().backward()
    assert x.grad[0, 0].tolist() == [[0.0, 1.0], [0.0, 0.0]]


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_divides_by_the_kernel_or_by_the_elements_inside(count_include_pad):
    values = numpy.random.default_rng(4).standard_normal((1, 2, 5, 5))
    got = F.avg_pool2d(chainrule.tensor(values), 2, stride=2, padding=1,
                       count_include_pad=count_include_pad).numpy()
    sums = windows(values, 2, 2, 1, 0.0).sum(axis=(4, 5))
    counts = 4 if count_include_pad else windows(numpy.ones_like(values), 2, 2, 1, 0.0).sum(
        axis=(4, 5))
    assert numpy.allclose(got, (sums / counts).transpose(2, 3, 0, 1), rtol=0, atol=1e-12)


def test_adaptive_avg_pool_uses_pytorchs_overlapping_bins():
    values = numpy.arange(7.0 * 5).reshape(1, 1, 7, 5)
    got = F.adaptive_avg_pool2d(chainrule.tensor(values), (3, 2)).numpy()
    rows = [(0, 3), (2, 5), (4, 7)]  # ⌊i·7/3⌋ to ⌈(i+1)·7/3⌉
    cols = [(0, 3), (2, 5)]
    expected = [[values[0, 0, r0:r1, c0:c1].mean() for c0, c1 in cols] for r0, r1 in rows]
    assert numpy.allclose(got[0, 0], expected, rtol=0, atol=1e-12)
    assert nn.AdaptiveAvgPool2d(1)(chainrule.randn(2, 3, 4, 4)).shape == (2, 3, 1, 1)


def test_batch_norm_normalises_with_batch_statistics_and_moves_the_running_ones():
    values = numpy.random.default_rng(5).standard_normal((4, 3, 2, 2)) * 3 + 1
    layer = nn.BatchNorm2d(3, momentum=0.25).double()
    y = layer(chainrule.tensor(values)).detach().numpy()
    assert numpy.allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert numpy.allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-4)  # ε = 1e-5 in the denominator
    mean, unbiased = values.mean(axis=(0, 2, 3)), values.var(axis=(0, 2, 3), ddof=1)
    assert numpy.allclose(layer.running_mean.numpy(), 0.25 * mean, rtol=0, atol=1e-12)
    assert numpy.allclose(layer.running_var.numpy(), 0.75 + 0.25 * unbiased, rtol=0, atol=1e-12)
    assert layer.num_batches_tracked.item() == 1


def test_batch_norm_in_eval_mode_uses_the_running_statistics_and_leaves_them():
    layer = nn.BatchNorm1d(2).double()
    with chainrule.no_grad():
        layer.running_mean.copy_(chainrule.tensor([1.0, -1.0]))
        layer.running_var.copy_(chainrule.tensor([4.0, 0.25]))
        layer.weight.copy_(chainrule.tensor([2.0, 1.0]))
    layer.eval()
    y = layer(chainrule.tensor([[3.0, 0.0]], dtype=chainrule.float64))
    assert numpy.allclose(y.detach().numpy(), [[2 * 2 / numpy.sqrt(4 + 1e-5),
                                                1 / numpy.sqrt(0.25 + 1e-5)]])
    assert layer.running_mean.tolist() == [1.0, -1.0] and layer.num_batches_tracked.item() == 0


def test_batch_norm_without_momentum_keeps_the_cumulative_average():
    layer = nn.BatchNorm1d(1, momentum=None).double()
    for batch in ([[1.0], [3.0]], [[5.0], [9.0]]):
        layer(chainrule.tensor(batch, dtype=chainrule.float64))
    assert numpy.isclose(layer.running_mean.item(), (2.0 + 7.0) / 2)


def test_batch_norm_refuses_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(chainrule.randn(1, 3))


def test_batch_norm_state_dict_holds_the_buffers_and_loads_back():
    trained = nn.BatchNorm2d(2)
    trained(chainrule.randn(4, 2, 3, 3))
    fresh = nn.BatchNorm2d(2)
    fresh.load_state_dict(trained.state_dict())
    assert numpy.array_equal(fresh.running_var.numpy(), trained.running_var.numpy())
    assert list(trained.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                          "num_batches_tracked"]


def test_unflatten_splits_a_dimension():
    assert nn.Unflatten(1, (1, 28, 28))(chainrule.zeros(5, 784)).shape == (5, 1, 28, 28)


def test_device_agnostic_code_chooses_the_cpu():
    device = chainrule.device("cuda" if chainrule.cuda.is_available() else "cpu")
    x = chainrule.ones(2).to(device)
    assert device.type == "cpu" and x.device == device and chainrule.cuda.device_count() == 0
    assert x.device.type == "cpu" and x.device == "cpu"
    with pytest.raises(ValueError, match="device"):
        chainrule.device("tpu")
