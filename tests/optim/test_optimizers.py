"""SGD, Adam, AdamW and RMSprop against PyTorch's update rules written out in NumPy, and closed
forms."""
import json

import numpy
import pytest

import chainrule
from chainrule import nn, optim

RNG = numpy.random.default_rng(0)
A = RNG.normal(size=(6, 3))
Y = RNG.normal(size=6)
THETA0 = RNG.normal(size=3)


def quadratic_gradient(theta):
    """The gradient of ½‖Aθ − y‖²."""
    return A.T @ (A @ theta - Y)


def chainrule_trajectory(make_optimizer, steps):
    theta = nn.Parameter(THETA0.copy())
    optimizer = make_optimizer([theta])
    a, y = chainrule.tensor(A), chainrule.tensor(Y)
    path = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = 0.5 * ((a @ theta - y) ** 2).sum()
        loss.backward()
        optimizer.step()
        path.append(theta.detach().numpy().copy())
    return numpy.array(path)


def torch_sgd_reference(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, steps=8):
    """torch.optim.SGD's algorithm, from its documentation."""
    theta, buffer, path = THETA0.copy(), None, []
    for t in range(steps):
        g = quadratic_gradient(theta)
        if weight_decay:
            g = g + weight_decay * theta
        if momentum:
            buffer = g.copy() if t == 0 else momentum * buffer + (1 - dampening) * g
            g = g + momentum * buffer if nesterov else buffer
        theta = theta - lr * g
        path.append(theta)
    return numpy.array(path)


def torch_adam_reference(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False,
                         steps=8):
    """torch.optim.Adam / AdamW's algorithm, from their documentation."""
    theta, m, v, path = THETA0.copy(), numpy.zeros(3), numpy.zeros(3), []
    for t in range(1, steps + 1):
        g = quadratic_gradient(theta)
        if decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay:
            g = g + weight_decay * theta
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat = m / (1 - betas[0] ** t)
        v_hat = v / (1 - betas[1] ** t)
        theta = theta - lr * m_hat / (numpy.sqrt(v_hat) + eps)
        path.append(theta)
    return numpy.array(path)


def torch_rmsprop_reference(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                            centered=False, steps=10):
    """torch.optim.RMSprop's algorithm, from its documentation."""
    theta, v, g_avg, b, path = THETA0.copy(), numpy.zeros(3), numpy.zeros(3), numpy.zeros(3), []
    for _ in range(steps):
        g = quadratic_gradient(theta)
        if weight_decay:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g * g
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v - g_avg * g_avg
        if momentum > 0:
            b = momentum * b + g / (numpy.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (numpy.sqrt(v_tilde) + eps)
        path.append(theta)
    return numpy.array(path)


@pytest.mark.parametrize("settings", [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
    dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.01),
])
def test_sgd_follows_pytorch_update_rule(settings):
    ours = chainrule_trajectory(lambda ps: optim.SGD(ps, **settings), steps=8)
    numpy.testing.assert_allclose(ours, torch_sgd_reference(**settings), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("settings", [
    dict(lr=0.1),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
])
def test_adam_follows_pytorch_update_rule(settings):
    ours = chainrule_trajectory(lambda ps: optim.Adam(ps, **settings), steps=8)
    numpy.testing.assert_allclose(ours, torch_adam_reference(**settings), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.01, 0.3])
def test_adamw_follows_pytorch_update_rule(weight_decay):
    ours = chainrule_trajectory(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=weight_decay), 8)
    expected = torch_adam_reference(lr=0.1, weight_decay=weight_decay, decoupled=True)
    numpy.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("settings", [
    dict(),
    dict(lr=0.02, alpha=0.9, eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.005, alpha=0.95, weight_decay=0.05, momentum=0.5, centered=True),
])
def test_rmsprop_follows_pytorch_update_rule_step_by_step(settings):
    ours = chainrule_trajectory(lambda ps: optim.RMSprop(ps, **settings), steps=10)
    numpy.testing.assert_allclose(ours, torch_rmsprop_reference(**settings), rtol=1e-12,
                                  atol=1e-14)


def test_rmsprop_defaults_are_pytorchs():
    group = optim.RMSprop([nn.Parameter([1.0])]).param_groups[0]
    assert {key: group[key] for key in group if key != "params"} == dict(
        lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)
    with pytest.raises(ValueError, match="RMSprop: invalid alpha"):
        optim.RMSprop([nn.Parameter([1.0])], alpha=-0.5)


def test_adamw_default_weight_decay_is_pytorchs():
    assert optim.AdamW([nn.Parameter([1.0])]).param_groups[0]["weight_decay"] == 0.01
    assert optim.Adam([nn.Parameter([1.0])]).param_groups[0]["weight_decay"] == 0.0


def test_sgd_on_half_theta_squared_is_geometric():
    theta = nn.Parameter(numpy.array([2.0, -1.0]))
    optimizer = optim.SGD([theta], lr=0.1)
    for _ in range(10):
        optimizer.zero_grad()
        (0.5 * (theta * theta).sum()).backward()
        optimizer.step()
    numpy.testing.assert_allclose(theta.detach().numpy(), numpy.array([2.0, -1.0]) * 0.9 ** 10,
                                  rtol=1e-13)


def test_sgd_momentum_under_a_constant_gradient_sums_a_geometric_series():
    # v_t = c (1 + μ + … + μ^(t−1)), so θ_T = θ_0 − lr c Σ_{t=1..T} (1 − μ^t) / (1 − μ).
    theta = nn.Parameter(numpy.array([0.0]))
    optimizer = optim.SGD([theta], lr=0.1, momentum=0.5)
    for _ in range(5):
        optimizer.zero_grad()
        (3.0 * theta).sum().backward()
        optimizer.step()
    expected = -0.1 * 3.0 * sum((1 - 0.5 ** t) / 0.5 for t in range(1, 6))
    assert theta.detach().numpy()[0] == pytest.approx(expected, rel=1e-13)


def test_adam_first_step_moves_each_coordinate_by_lr():
    # After one step m̂ = g and v̂ = g², so θ₁ = θ₀ − lr · g / (|g| + ε).
    theta = nn.Parameter(numpy.array([1.0, 1.0]))
    optimizer = optim.Adam([theta], lr=0.01)
    (theta * chainrule.tensor(numpy.array([5.0, -0.001]))).sum().backward()
    optimizer.step()
    expected = [1 - 0.01 * 5 / (5 + 1e-8), 1 + 0.01 * 0.001 / (0.001 + 1e-8)]
    numpy.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-14)


def test_adamw_decay_alone_shrinks_weights_geometrically():
    theta = nn.Parameter(numpy.array([4.0, -2.0]))
    optimizer = optim.AdamW([theta], lr=0.1, weight_decay=0.5)
    for _ in range(6):
        theta.grad = chainrule.zeros(2, dtype=chainrule.float64)
        optimizer.step()
    numpy.testing.assert_allclose(theta.detach().numpy(), numpy.array([4.0, -2.0]) * 0.95 ** 6,
                                  rtol=1e-13)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.1, weight_decay=0.1, momentum=0.9, centered=True),
])
def test_step_updates_in_place_and_never_writes_into_the_gradient(make):
    theta = nn.Parameter(numpy.array([1.0, 2.0], dtype=numpy.float32))
    scalar = nn.Parameter(numpy.array(3.0, dtype=numpy.float32))
    optimizer = make([theta, scalar])
    array = theta.data
    for _ in range(2):
        theta.grad = chainrule.tensor(numpy.array([0.5, -0.5], dtype=numpy.float32))
        scalar.grad = chainrule.tensor(numpy.array(1.0, dtype=numpy.float32))
        gradient = theta.grad.data
        optimizer.step()
        numpy.testing.assert_array_equal(gradient, [0.5, -0.5])
    assert theta.data is array and theta.dtype == numpy.float32
    assert scalar.data.shape == () and scalar.data.item() < 3.0


def test_parameter_groups_have_their_own_learning_rates():
    frozen, moving = nn.Parameter([1.0]), nn.Parameter([1.0])
    optimizer = optim.SGD([{"params": [frozen], "lr": 0.0}, {"params": [moving]}], lr=0.5)
    for p in (frozen, moving):
        p.grad = chainrule.ones(1)
    optimizer.step()
    assert frozen.data[0] == 1.0 and moving.data[0] == 0.5


def test_parameters_without_gradient_are_skipped_and_zero_grad_clears():
    a, b = nn.Parameter([1.0]), nn.Parameter([1.0])
    optimizer = optim.Adam([a, b], lr=0.1)
    a.grad = chainrule.ones(1)
    optimizer.step()
    assert b.data[0] == 1.0 and b not in optimizer.state
    optimizer.zero_grad()
    assert a.grad is None


def test_zero_grad_without_none_zeroes_the_same_gradient_in_place_as_pytorch():
    w = nn.Parameter([1.0, 2.0])
    optimizer = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    gradient, version = w.grad, w.grad._version
    optimizer.zero_grad(set_to_none=False)
    assert w.grad is gradient and w.grad.tolist() == [0.0, 0.0]
    assert w.grad._version == version + 1  # an in-place write, counted
    (w * 3).sum().backward()  # accumulates onto the zeros
    assert w.grad.tolist() == [3.0, 3.0]
    optimizer.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    unused = nn.Parameter([2.0])
    optim.SGD([unused], lr=0.1).zero_grad(set_to_none=False)
    assert unused.grad is None  # nothing to zero: None stays None, as in PyTorch


def test_zero_grad_without_none_replaces_a_gradient_with_a_graph_of_its_own():
    w = nn.Parameter([1.0, 2.0])
    (w * w).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0] and not w.grad.requires_grad


def test_empty_parameter_list_and_bad_hyperparameters_are_refused():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([nn.Parameter([1.0])], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([nn.Parameter([1.0])], betas=(1.0, 0.9))


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.AdamW(ps, lr=0.05, betas=(0.8, 0.9)),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
])
def test_state_dict_survives_json_and_continues_bit_for_bit(make):
    def run(steps, start=None):
        theta = nn.Parameter(THETA0.copy() if start is None else start[0])
        optimizer = make([theta])
        if start is not None:
            optimizer.load_state_dict(start[1])
        a, y = chainrule.tensor(A), chainrule.tensor(Y)
        for _ in range(steps):
            optimizer.zero_grad()
            (0.5 * ((a @ theta - y) ** 2).sum()).backward()
            optimizer.step()
        return theta, optimizer

    straight, _ = run(6)
    theta, optimizer = run(3)
    state = optimizer.state_dict()
    arrays = {f"{k}.{n}": v for k, buffers in state["state"].items()
              for n, v in buffers.items() if isinstance(v, numpy.ndarray)}
    scalars = {"state": {k: {n: v for n, v in buffers.items() if not isinstance(v, numpy.ndarray)}
                         for k, buffers in state["state"].items()},
               "param_groups": state["param_groups"]}
    restored = json.loads(json.dumps(scalars))
    for key, buffers in restored["state"].items():
        buffers.update({n.split(".", 1)[1]: v for n, v in arrays.items() if n.split(".")[0] == key})
    resumed, _ = run(3, start=(theta.detach().numpy().copy(), restored))
    numpy.testing.assert_array_equal(resumed.detach().numpy(), straight.detach().numpy())


def test_load_state_dict_with_wrong_shape_names_both_shapes():
    optimizer = optim.Adam([nn.Parameter(numpy.zeros((2, 3)))])
    state = {"state": {0: {"step": 1, "exp_avg": numpy.zeros((3, 2)),
                           "exp_avg_sq": numpy.zeros((3, 2))}},
             "param_groups": optimizer.state_dict()["param_groups"]}
    with pytest.raises(chainrule.CheckpointError, match=r"\(3, 2\).*\(2, 3\)"):
        optimizer.load_state_dict(state)


def test_frozen_parameters_are_accepted_and_left_alone_as_in_pytorch():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    model[0].requires_grad_(False)  # a frozen first layer, still in model.parameters()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    assert len(optimizer.param_groups[0]["params"]) == 4
    frozen = model[0].weight.numpy().copy()
    model(chainrule.ones(3, 2)).sum().backward()
    optimizer.step()
    numpy.testing.assert_array_equal(model[0].weight.numpy(), frozen)
    assert model[0].weight.grad is None and model[1].weight.grad is not None


def test_the_result_of_an_operation_is_refused_as_a_parameter():
    weight = nn.Parameter([1.0, 2.0])
    with pytest.raises(ValueError, match="leaf tensors"):
        optim.SGD([weight * 2], lr=0.1)


def test_one_tensor_instead_of_an_iterable_of_tensors_is_refused_as_in_pytorch():
    with pytest.raises(TypeError, match="iterable of tensors"):
        optim.SGD(nn.Parameter([[1.0, 2.0], [3.0, 4.0]]), lr=0.1)


def test_a_set_of_parameters_is_refused_as_in_pytorch():
    # state_dict numbers the parameters in order; a set's order changes from run to run.
    weights = {nn.Parameter([1.0]), nn.Parameter([2.0])}
    with pytest.raises(TypeError, match="not a set"):
        optim.Adam(weights)
    optimizer = optim.Adam([nn.Parameter([0.0])])
    with pytest.raises(TypeError, match="not a set"):
        optimizer.add_param_group({"params": weights, "lr": 0.1})
