"""Version counters: backward refuses a graph whose saved values were changed in place since."""
import numpy
import pytest

import chainrule
from chainrule import nn, optim

MODIFIED = r"modified by an in-place operation after it was saved for backward"


def vector(values=(1.0, 2.0, 3.0), requires_grad=False):
    return chainrule.tensor(list(values), dtype=chainrule.float64, requires_grad=requires_grad)


def test_augmented_assignment_under_no_grad_after_pow_saved_it_is_refused():
    a = vector(requires_grad=True)
    b = a * 2
    y = (b ** 2).sum()
    with chainrule.no_grad():
        b += 1
    with pytest.raises(RuntimeError, match=r"pow: its input .*shape \(3,\).*output of mul.*"
                                           + MODIFIED + r" \(version 1, expected 0\)"):
        y.backward()


def test_mul_in_place_of_a_matmul_operand_is_refused():
    A = chainrule.randn(3, 4, dtype=chainrule.float64)
    B = chainrule.randn(4, 2, dtype=chainrule.float64, requires_grad=True)
    y = (A @ B).sum()
    with chainrule.no_grad():
        A.mul_(5)
    with pytest.raises(RuntimeError, match=r"matmul2d: its input of shape \(3, 4\).*a leaf.*"
                                           + MODIFIED):
        y.backward()
    assert B.grad is None  # refused before any gradient was written


IN_PLACE_WRITES = {
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(7.0),
    "copy_": lambda t: t.copy_(chainrule.tensor([4.0, 5.0, 6.0], dtype=chainrule.float64)),
    "+=": lambda t: t.__iadd__(1.0),
    "-=": lambda t: t.__isub__(1.0),
    "*=": lambda t: t.__imul__(2.0),
    "/=": lambda t: t.__itruediv__(2.0),
    "add_": lambda t: t.add_(1.0),
    "sub_": lambda t: t.sub_(1.0, alpha=2),
    "mul_": lambda t: t.mul_(2.0),
    "div_": lambda t: t.div_(2.0),
    "setitem": lambda t: (t.__setitem__(1, 9.0), t)[1],
    "init.uniform_": lambda t: nn.init.uniform_(t),
    "init.constant_": lambda t: nn.init.constant_(t, 0.5),
}


@pytest.mark.parametrize("write", IN_PLACE_WRITES.values(), ids=IN_PLACE_WRITES.keys())
def test_every_in_place_write_counts_and_is_refused_after_a_save(write):
    x = vector()
    w = vector(requires_grad=True)
    y = (x * w).sum()  # mul saves x, which w's gradient reads
    with chainrule.no_grad():
        result = write(x)
    assert result is x  # changed in place, not rebound
    assert x._version == 1
    with pytest.raises(RuntimeError, match="mul: " + ".*" + MODIFIED):
        y.backward()


@pytest.mark.parametrize("write", IN_PLACE_WRITES.values(), ids=IN_PLACE_WRITES.keys())
def test_a_write_into_a_view_counts_for_its_base_and_every_other_view(write):
    base = chainrule.tensor(numpy.arange(6.0).reshape(2, 3), dtype=chainrule.float64)
    row, flat = base[0], base.reshape(6)
    with chainrule.no_grad():
        write(row)
    assert (base._version, row._version, flat._version) == (1, 1, 1)
    assert base.detach()._version == 1  # detach shares the storage, so its counter too


def test_changing_a_view_of_a_saved_tensor_is_refused():
    x = chainrule.tensor(numpy.arange(1.0, 7.0).reshape(2, 3), dtype=chainrule.float64)
    w = chainrule.ones(2, 3, dtype=chainrule.float64, requires_grad=True)
    y = (x * w).sum()
    with chainrule.no_grad():
        x.transpose(0, 1)[2].fill_(0.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_a_copy_has_its_own_counter():
    x = vector()
    w = vector(requires_grad=True)
    y = (x * w).sum()
    with chainrule.no_grad():
        x.clone().add_(1)
    y.backward()
    numpy.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0, 3.0])


def test_an_op_that_reads_nothing_allows_the_change_as_pytorch_does():
    a = vector(requires_grad=True)
    b = a + 1
    with chainrule.no_grad():
        a.add_(1)
    b.sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0])


def test_reshape_and_sum_read_nothing_and_allow_the_change():
    a = chainrule.ones(2, 3, dtype=chainrule.float64, requires_grad=True)
    x = a * 1
    y = x.reshape(6).sum()
    with chainrule.no_grad():
        x.mul_(3)  # x is saved by nothing: reshape and sum need only shapes
    y.backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), numpy.ones((2, 3)))


def test_an_op_that_reads_its_output_refuses_a_change_to_the_output():
    a = vector(requires_grad=True)
    b = a.exp()
    y = b.sum()
    with chainrule.no_grad():
        b.mul_(2)
    with pytest.raises(RuntimeError, match=r"exp: its output .*" + MODIFIED):
        y.backward()


def test_a_reduction_result_written_in_place_is_refused_too():
    a = vector(requires_grad=True)
    total = a.sum()  # 0-d: a NumPy scalar that += must replace, not write into
    y = total ** 2
    with chainrule.no_grad():
        total += 1
    with pytest.raises(RuntimeError, match="pow: its input .*" + MODIFIED):
        y.backward()


def test_writes_through_data_are_not_counted_the_documented_exception():
    a = vector(requires_grad=True)
    b = a * 2
    y = (b ** 2).sum()
    b.data += 1  # on purpose, past the check: the gradient uses the changed values
    y.backward()
    assert b._version == 0
    numpy.testing.assert_allclose(a.grad.numpy(), 4 * (2 * numpy.array([1.0, 2, 3]) + 1))


def test_a_write_changing_the_value_back_is_still_refused():
    x = vector()
    w = vector(requires_grad=True)
    y = (x * w).sum()
    with chainrule.no_grad():
        x.add_(1).sub_(1)  # same values, two writes: the version says 2, and that is what counts
    with pytest.raises(RuntimeError, match=r"version 2, expected 0"):
        y.backward()


def test_the_error_names_a_named_tensor():
    x = vector()
    x.name = "inputs"
    w = vector(requires_grad=True)
    y = (x * w).sum()
    with chainrule.no_grad():
        x.zero_()
    with pytest.raises(RuntimeError, match="mul: its input 'inputs' of shape"):
        y.backward()


def _optimizers():
    """Every optimiser chainrule.optim offers, so that one added later is checked too."""
    classes = [getattr(optim, name) for name in dir(optim)]
    return [c for c in classes if isinstance(c, type) and issubclass(c, optim.Optimizer)
            and c is not optim.Optimizer]


@pytest.mark.parametrize("make", [lambda ps, kind=kind: kind(ps, lr=0.1) for kind in _optimizers()]
                         + [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)],
                         ids=[kind.__name__ for kind in _optimizers()] + ["SGD-momentum"])
def test_an_optimizer_step_between_forward_and_backward_is_refused(make):
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    optimizer = make(model.parameters())
    x = chainrule.randn(5, 3)
    model(x).sum().backward()
    first_versions = [p._version for p in model.parameters()]
    loss = model(x).sum()
    optimizer.step()  # updates the weights that loss's graph saved
    assert [p._version for p in model.parameters()] == [v + 1 for v in first_versions]
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_the_usual_training_step_is_not_refused():
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x, labels = chainrule.randn(8, 3), chainrule.tensor([0, 1] * 4)
    losses = []
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]


def test_load_state_dict_counts_as_a_write():
    model = nn.Linear(2, 1)
    loss = model(chainrule.ones(1, 2)).sum()
    before = model.weight._version
    model.load_state_dict(nn.Linear(2, 1).state_dict())
    assert model.weight._version == before + 1
    with pytest.raises(RuntimeError, match="linear: .*" + MODIFIED):
        loss.backward()


def test_retain_graph_backward_twice_still_works_and_a_later_change_is_refused():
    a = vector(requires_grad=True)
    b = a * 2
    y = (b ** 2).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    numpy.testing.assert_allclose(a.grad.numpy(), 2 * 8 * numpy.array([1.0, 2, 3]))
    with chainrule.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_create_graph_second_derivative_still_works_and_checks_its_own_saves():
    x = chainrule.tensor([0.5, -1.0], dtype=chainrule.float64, requires_grad=True)
    (first,) = chainrule.autograd.grad((x ** 3).sum(), x, create_graph=True)  # 3x²
    (second,) = chainrule.autograd.grad(first.sum(), x, retain_graph=True)    # 6x
    numpy.testing.assert_allclose(second.numpy(), [3.0, -6.0])
    with chainrule.no_grad():
        x.mul_(2)  # the graph of the gradient (3x², built by pow's VJP) saved x
    with pytest.raises(RuntimeError, match="pow: .*" + MODIFIED):
        chainrule.autograd.grad(first.sum(), x)


def test_the_version_table_forgets_arrays_that_are_freed():
    from chainrule import autograd

    before = len(autograd._versions)
    for _ in range(50):
        scratch = chainrule.zeros(4)
        scratch.add_(1)
    del scratch
    assert len(autograd._versions) <= before + 1


def test_a_data_write_counted_with_increment_version_is_refused():
    x = vector()
    w = vector(requires_grad=True)
    y = (x * w).sum()
    x.data[0] = 5.0  # past the Tensor API...
    chainrule.autograd.increment_version(x)  # ...but declared, as an optimizer does
    with pytest.raises(RuntimeError, match=r"mul: .*version 1, expected 0"):
        y.backward()



INDEX_PICKS = {  # op(x, index), the index, another index of the same shape, and d/dx of the sum
    # of x[index] weighted by (1, 10), for x of shape (1, 3)
    "x[index]": (lambda x, i: x[0][i], [0, 0], [0, 2], [[11.0, 0.0, 0.0]]),
    "x[mask]": (lambda x, i: x[i], [[True, False, True]], [[True, True, False]],
                [[1.0, 0.0, 10.0]]),
    "gather": (lambda x, i: x.gather(1, i), [[0, 0]], [[0, 2]], [[11.0, 0.0, 0.0]]),
    "index_select": (lambda x, i: x.index_select(1, i), [0, 0], [0, 2], [[11.0, 0.0, 0.0]]),
    "take_along_dim": (lambda x, i: x.take_along_dim(i, dim=1), [[0, 0]], [[0, 2]],
                       [[11.0, 0.0, 0.0]]),
}


@pytest.mark.parametrize("pick,indices,others,gradient", INDEX_PICKS.values(),
                         ids=INDEX_PICKS.keys())
def test_an_index_changed_in_place_after_the_forward_is_refused(pick, indices, others, gradient):
    # The gradient of an indexing op is its signal put back at the index: an index written since
    # would put it elsewhere, silently (x[index]: [1, 0, 10] instead of [11, 0, 0]).
    x = chainrule.tensor([[1.0, 2.0, 3.0]], dtype=chainrule.float64, requires_grad=True)
    index = chainrule.tensor(indices)
    y = (pick(x, index).reshape(-1) * chainrule.tensor([1.0, 10.0], dtype=chainrule.float64)).sum()
    y.backward(retain_graph=True)
    numpy.testing.assert_array_equal(x.grad.numpy(), gradient)
    with chainrule.no_grad():
        index.copy_(chainrule.tensor(others))
    with pytest.raises(RuntimeError, match=r"getitem: its input 'index' .*" + MODIFIED):
        y.backward()


def test_a_0d_integer_index_is_read_as_its_int_so_changing_it_after_the_forward_is_allowed():
    # x[i] with i a 0-d integer tensor takes the element i holds then, as x[int(i)] (PyTorch's
    # rule): the gradient does not read i again, so a counter stepped in place (i += 1) between
    # the forward and backward changes nothing of it, and PyTorch runs this loop
    x = chainrule.tensor([1.0, 2.0, 3.0], dtype=chainrule.float64, requires_grad=True)
    i = chainrule.tensor(0)
    loss = 0
    for weight in (1.0, 10.0, 100.0):
        loss = loss + x[i] * weight
        i += 1
    loss.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [1.0, 10.0, 100.0])
