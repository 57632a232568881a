"""The engine's public view of a graph, the one ``explain`` and other layers above it use."""
import numpy
import pytest

import chainrule
from chainrule import autograd


def _line():
    w = chainrule.tensor(2.0, requires_grad=True, name="w")
    x = chainrule.tensor(3.0, name="x")
    b = chainrule.tensor(1.0, requires_grad=True, name="b")
    product = w * x
    return w, x, b, product, product + b


def test_topological_order_lists_what_needs_a_gradient_parents_before_children():
    w, x, b, product, y = _line()
    order = autograd.topological_order([y])
    assert {id(t) for t in order} == {id(w), id(b), id(product), id(y)}
    position = {id(t): i for i, t in enumerate(order)}
    for tensor in order:
        if tensor.grad_fn is not None:
            for parent in tensor.grad_fn.parents:
                if parent.requires_grad:
                    assert position[id(parent)] < position[id(tensor)]


def test_topological_order_with_constants_is_the_forward_pass_in_the_ops_argument_order():
    w, x, b, product, y = _line()
    order = autograd.topological_order([y], constants=True)
    assert [id(t) for t in order] == [id(w), id(x), id(product), id(b), id(y)]


def test_grad_fn_names_the_op_and_its_parents():
    w, x, b, product, y = _line()
    assert w.grad_fn is None
    assert product.grad_fn.op == "mul"
    assert [id(p) for p in product.grad_fn.parents] == [id(w), id(x)]


def test_fit_to_sums_broadcast_axes_and_undoes_type_promotion():
    bias = chainrule.zeros(3, dtype=chainrule.float32, requires_grad=True)
    term = chainrule.tensor(numpy.arange(6.0).reshape(2, 3), dtype=chainrule.float64)
    fitted = autograd.fit_to(term, bias)
    assert fitted.shape == (3,) and fitted.dtype == bias.dtype
    numpy.testing.assert_array_equal(fitted.numpy(), [3.0, 5.0, 7.0])


def test_root_signals_start_a_scalar_at_one_and_refuse_a_missing_gradient_for_a_vector():
    scalar = chainrule.tensor(2.0, requires_grad=True) * 3
    (signal,) = autograd.root_signals([scalar], [None], "mine")
    assert signal.item() == 1.0
    vector = chainrule.ones(3, requires_grad=True) * 3
    with pytest.raises(RuntimeError, match="mine: the output has shape"):
        autograd.root_signals([vector], [None], "mine")
