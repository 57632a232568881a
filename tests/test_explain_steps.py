"""explain(...).steps() walks the chain rule term by term; an Explanation shows itself in HTML."""
import math
from html.parser import HTMLParser

import pytest

import chainrule


def named(value, name, requires_grad=False):
    tensor = chainrule.tensor(value, dtype=chainrule.float64, requires_grad=requires_grad)
    tensor.name = name
    return tensor


def slide_example():
    """L = ½(σ(wx + b) − t)² at w = 0.5, x = 2, b = 0.1, t = 1 (the univariate chain-rule slide)."""
    w, b = named(0.5, "w", True), named(0.1, "b", True)
    x, t = named(2.0, "x"), named(1.0, "t")
    z = w * x + b
    z.name = "z"
    y = z.sigmoid()
    y.name = "y"
    loss = 0.5 * (y - t) ** 2
    loss.name = "L"
    return loss


def test_steps_reproduce_the_slides_example_term_by_term():
    steps = list(chainrule.explain(slide_example()).steps())
    by_node = {step.node: step for step in steps}
    assert steps[0].child == "L" and by_node["y"].child != "L"   # output side first
    assert [step.node for step in steps][-2:] == ["b", "w"]      # the leaves last
    z_bar = by_node["z"]
    assert z_bar.local_derivative == pytest.approx(0.1873699, abs=1e-6)   # σ′(1.1)
    assert z_bar.running_sum == pytest.approx(-0.0467937, abs=5e-8)       # z̄ = ȳ σ′(z)
    assert by_node["b"].running_sum == pytest.approx(-0.0467937, abs=5e-8)  # b̄ = z̄
    assert by_node["w"].local_derivative == pytest.approx(2.0)             # ∂(wx)/∂w = x
    assert by_node["w"].running_sum == pytest.approx(-0.0935875, abs=5e-8)  # w̄ = z̄ x
    assert all(step.complete for step in steps)  # no value is used twice here
    assert "v̄(w) += v̄(" in str(by_node["w"]) and "(complete)" in str(by_node["w"])


def test_a_value_used_twice_gets_two_steps_the_second_completing_its_sum():
    t = named(0.7, "t", True)
    x = t.cos()
    x.name = "x"
    y = t ** 2
    y.name = "y"
    f = y + (x * y).exp()
    f.name = "f"
    steps = list(chainrule.explain(f).steps())
    for name in ("t", "y"):
        mine = [step for step in steps if step.node == name]
        assert len(mine) == 2, name
        assert not mine[0].complete and mine[1].complete
        assert mine[1].running_sum == pytest.approx(mine[0].contribution + mine[1].contribution)
    total = [step for step in steps if step.node == "t"][-1].running_sum
    tv = 0.7
    xv, yv = math.cos(tv), tv * tv
    slide = yv * math.exp(xv * yv) * (-math.sin(tv)) + (1 + xv * math.exp(xv * yv)) * 2 * tv
    assert total == pytest.approx(slide, rel=1e-12)


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.highlighted, self.cells = 0, [], []
        self._in_cell = self._strong = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
        if tag in ("td", "th"):
            self._in_cell, self._strong = True, "background" in (dict(attrs).get("style") or "")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data)
            if self._strong:
                self.highlighted.append(data)


def test_an_explanation_shows_both_tables_in_a_notebook_with_the_signals_highlighted():
    report = chainrule.explain(slide_example())
    parser = _Cells()
    parser.feed(report._repr_html_())
    assert parser.tables == 2
    assert parser.highlighted[0] == "v̄ᵢ"                       # the column's header
    assert "-0.0935875" in parser.highlighted                   # w̄, in the highlighted column
    assert {"w", "b", "z", "y", "L"} <= set(parser.cells)


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 4, 3)])
def test_a_two_layer_network_reads_in_the_slides_order_with_its_names(shape):
    chainrule.manual_seed(0)
    net = chainrule.nn.Sequential(chainrule.nn.Linear(3, 2), chainrule.nn.Sigmoid(),
                                  chainrule.nn.Linear(2, 1)).double()
    x = named(numpy_random(shape), "x")
    t = named(numpy_random(shape[:-1] + (1,)), "t")
    loss = 0.5 * ((net(x) - t) ** 2).sum()
    forward = chainrule.explain(loss).forward
    names = [step.name for step in forward]
    assert names.index("x") < names.index("0.weight") < names.index("2.weight")
    assert not [step for step in forward if step.op in ("reshape", "flatten", "permute")]
    linear_parents = [step.parents for step in forward if step.op == "linear"]
    assert linear_parents[0] == ["x", "0.weight", "0.bias"]


def numpy_random(shape):
    import numpy

    return numpy.random.default_rng(1).standard_normal(shape)


def test_the_command_line_steps_through_the_terms_in_the_engines_order(capsys):
    from chainrule.cli import main

    code = main(["explain", "x = cos(t); y = t**2; f = y + exp(x*y)", "--at", "t=1", "--step"])
    out = capsys.readouterr().out
    assert code == 0 and "one term at a time" in out
    lines = [line for line in out.splitlines() if line.strip().split(".")[0].isdigit()]
    assert len(lines) == 7
    t_lines = [line for line in lines if "v̄(t) +=" in line]
    assert len(t_lines) == 2 and "(so far)" in t_lines[0] and "(complete)" in t_lines[1]
    assert "v̄(t) = 2.41048 (complete)" in t_lines[1]


def test_end_of_input_at_a_pause_shows_the_rest_of_the_terms(capsys, monkeypatch):
    """Ctrl-D at the prompt on a terminal is read as q (the rest at once), not a traceback."""
    from chainrule.cli import explain as explain_command
    from chainrule.cli import main

    answers = iter(["", EOFError])

    def typed(prompt):
        answer = next(answers)
        if answer is EOFError:
            raise EOFError
        return answer
    monkeypatch.setattr(explain_command.sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(explain_command.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", typed)
    code = main(["explain", "x = cos(t); y = t**2; f = y + exp(x*y)", "--at", "t=1", "--step"])
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.strip().split(".")[0].isdigit()]
    assert code == 0 and len(lines) == 7


def test_a_tensor_named_when_made_keeps_its_name_in_the_tables_and_the_drawing():
    w = chainrule.tensor(0.5, requires_grad=True, name="w")
    x = chainrule.tensor(2.0, name="x")
    loss = (w * x).sigmoid()
    report = chainrule.explain(loss)
    assert [step.name for step in report.forward][:2] == ["w", "x"]
    assert "w" in report.signals and "x" not in report.signals
    assert ">w<" in chainrule.draw(loss, renderer="chainrule").svg()


def test_the_notebook_slider_walks_the_terms_and_outlines_node_and_child():
    report = chainrule.explain(slide_example())
    widget = report.widget()
    slider, view = widget.children
    steps = list(report.steps())
    assert slider.max == len(steps) and "start: v̄(L) = 1" in view.value
    slider.value = len(steps)  # the last term: w̄
    last = steps[-1]
    assert last.node == "w" and f"term {len(steps)} of {len(steps)}" in view.value
    assert 'g[data-node="w"] > rect:first-of-type {stroke: #e67e22' in view.value
    assert f'g[data-node="{last.child}"]' in view.value and view.value.count("<li>") == len(steps)
    assert 'data-node="w"' in view.value  # the drawing's boxes carry their names


def test_the_slider_says_which_extra_it_needs(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(chainrule.ChainruleError, match=r"pip install 'chainrule\[notebook\]'"):
        chainrule.explain(slide_example()).widget()


def test_the_steps_are_the_terms_backward_adds_in_the_order_it_adds_them():
    """The forward table lists parents in argument order; the backward walk must still be the
    engine's, whose order differs here (minimum's subtree before the sum's in one, after in the
    other), so that --step shows what backward() does and each v̄ equals .grad bit for bit."""
    b, y = named(0.3, "b", True), named(1.0, "y", True)
    f = (0.5 + (-b).relu()).minimum(y.minimum(b.exp())) + (b * y).sin()
    engine_order = []
    for tensor in chainrule.autograd.topological_order([f]):
        node = tensor.grad_fn
        if node is not None:
            node.vjps = [_recording(vjp, tensor, parent, engine_order)
                         for parent, vjp in zip(node.parents, node.vjps)]
    report = chainrule.explain(f)
    engine_order.clear()
    f.backward(retain_graph=True)
    names = {id(t): name for t, name in zip(*_named_order(f, report))}
    assert [(step.child, step.node) for step in report.steps()] == [
        (names[child], names[parent]) for child, parent in engine_order]
    assert report.signals["b"] == b.grad.item() and report.signals["y"] == y.grad.item()


def _recording(vjp, child, parent, log):
    def recorded(signal, out):
        log.append((id(child), id(parent)))
        return vjp(signal, out)
    return recorded


def _named_order(output, report):
    """The graph's tensors and their names in the report (the forward table, literals left out)."""
    order = chainrule.autograd.topological_order([output], constants=True)
    kept = [t for t in order if not (t.name is None and t.grad_fn is None
                                     and not t.requires_grad and t.ndim == 0)]
    return kept, [step.name for step in report.forward]
