"""explain(): the forward pass and the lecture's table of error signals; `chainrule explain`."""
import json
import math

import numpy
import pytest

import chainrule
from chainrule.cli import main
from chainrule.cli.explain import parse_values
from chainrule.expression import evaluate
from chainrule.errors import ChainruleError

W, X, B, T = 0.5, 2.0, 0.1, 1.0


def scalar(value, name, requires_grad=False):
    leaf = chainrule.tensor(value, dtype=chainrule.float64, requires_grad=requires_grad)
    leaf.name = name
    return leaf


def univariate_example():
    """The lecture's z = wx + b, y = σ(z), L = ½(y − t)², with names on every value."""
    w, x = scalar(W, "w", True), scalar(X, "x")
    b, t = scalar(B, "b", True), scalar(T, "t")
    z = w * x + b
    z.name = "z"
    y = z.sigmoid()
    y.name = "y"
    loss = 0.5 * (y - t) ** 2
    loss.name = "L"
    return loss, w, b


def by_hand():
    z = W * X + B
    y = 1 / (1 + math.exp(-z))
    y_bar = y - T                     # ȳ = y − t
    z_bar = y_bar * y * (1 - y)       # z̄ = ȳ σ′(z)
    return {"z": z, "y": y, "L": 0.5 * (y - T) ** 2, "y_bar": y_bar, "z_bar": z_bar,
            "w_bar": z_bar * X, "b_bar": z_bar}


def test_example_one_values_and_signals_match_a_hand_computation():
    loss, _, _ = univariate_example()
    report = chainrule.explain(loss)
    expected = by_hand()
    for name in ("z", "y", "L"):
        assert report.values[name] == pytest.approx(expected[name], rel=1e-12)
    assert report.signals["L"] == 1.0
    assert report.signals["y"] == pytest.approx(expected["y_bar"], rel=1e-12)
    assert report.signals["z"] == pytest.approx(expected["z_bar"], rel=1e-12)
    assert report.signals["w"] == pytest.approx(expected["w_bar"], rel=1e-12)
    assert report.signals["b"] == pytest.approx(expected["b_bar"], rel=1e-12)


def test_example_one_prints_the_hand_computed_numbers_in_both_tables():
    loss, _, _ = univariate_example()
    text = str(chainrule.explain(loss))
    expected = by_hand()
    assert "Forward pass" in text and "Backward pass" in text and "Σⱼ v̄ⱼ · ∂vⱼ/∂vᵢ" in text
    forward_text = text.split("Backward pass")[0]
    lines = {line.split()[0]: line.split() for line in forward_text.splitlines()
             if line.startswith("  ") and line.split()}
    assert lines["y"][1:4] == ["sigmoid", "z", f"{expected['y']:.6g}"]
    # backward row of w: its v̄, "=", the child mul1, v̄ of mul1 (= z̄), ∂mul1/∂w = x, the product
    row_w = [line.split() for line in text.split("Backward pass")[1].splitlines()
             if line.startswith("  w ")][0]
    assert row_w == ["w", f"{expected['w_bar']:.6g}", "=", "mul1", f"{expected['z_bar']:.6g}",
                     "2", f"{expected['w_bar']:.6g}"]


def test_each_term_is_the_childs_signal_times_the_local_derivative():
    loss, _, _ = univariate_example()
    report = chainrule.explain(loss)
    y = by_hand()["y"]
    (term,) = [step for step in report.backward if step.name == "z"][0].terms
    assert term.child == "y"
    assert term.local_derivative == pytest.approx(y * (1 - y), rel=1e-12)  # σ′(z)
    assert term.contribution == pytest.approx(term.child_signal * term.local_derivative)


def test_signals_equal_backward_and_explain_leaves_grad_and_graph_alone():
    loss, w, b = univariate_example()
    report = chainrule.explain(loss)
    assert w.grad is None and b.grad is None
    loss.backward()  # the graph is still whole: explain kept the VJPs' saved values
    assert report.signals["w"] == pytest.approx(w.grad.item(), rel=1e-14)
    assert report.signals["b"] == pytest.approx(b.grad.item(), rel=1e-14)


def test_fan_out_shows_two_terms_in_the_shared_nodes_sum():
    # f = y + e^{xy}: y has two children (the sum and the product), so ȳ = f̄·1 + (xy)̄·x
    x, y = scalar(0.5, "x", True), scalar(2.0, "y", True)
    product = x * y
    product.name = "xy"
    f = y + product.exp()
    f.name = "f"
    report = chainrule.explain(f)
    step = [step for step in report.backward if step.name == "y"][0]
    assert sorted(term.child for term in step.terms) == ["f", "xy"]
    assert sum(term.contribution for term in step.terms) == pytest.approx(step.signal)
    assert step.signal == pytest.approx(1 + 0.5 * math.exp(1.0), rel=1e-12)
    rows = str(report).split("Backward pass")[1].splitlines()
    start = [i for i, line in enumerate(rows) if line.startswith("  y ")][0]
    assert rows[start].split()[2] == "=" and rows[start + 1].split()[0] == "+"


def test_unnamed_values_are_named_by_op_and_number_and_numbers_are_written_in_place():
    x = chainrule.tensor(3.0, dtype=chainrule.float64, requires_grad=True)
    report = chainrule.explain(2 * x * x + x.sin())
    assert [step.name for step in report.forward] == ["leaf1", "mul1", "mul2", "sin1", "add1"]
    assert report.forward[1].parents == ["2", "leaf1"]
    assert report.forward[0].kind == "parameter" and report.forward[1].op == "mul"
    assert report.signals["leaf1"] == pytest.approx(4 * 3.0 + math.cos(3.0), rel=1e-12)


def test_two_tensors_with_one_name_get_distinct_rows():
    a, b = scalar(1.0, "h", True), scalar(2.0, "h", True)
    names = [step.name for step in chainrule.explain(a * b).forward]
    assert len(set(names)) == len(names) == 3


def test_tensors_are_summarised_and_the_report_is_json_ready():
    chainrule.manual_seed(0)
    weight = chainrule.randn(3, 4, dtype=chainrule.float64, requires_grad=True)
    weight.name = "W"
    inputs = chainrule.randn(4, dtype=chainrule.float64)
    loss = (weight @ inputs).relu().mean()
    report = chainrule.explain(loss)
    first = report.forward[0]
    assert first.name == "W" and first.shape == (3, 4) and first.dtype == "float64"
    assert "3×4 float64 mean" in first.summary
    assert numpy.allclose(report.signals["W"], numpy.outer(
        (weight.detach().numpy() @ inputs.numpy() > 0) / 3, inputs.numpy()))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["output"] == report.output and len(data["forward"]) == len(report.forward)


def test_an_output_without_a_graph_or_with_a_freed_graph_is_refused():
    with pytest.raises(ChainruleError, match="no graph"):
        chainrule.explain(chainrule.tensor(1.0))
    x = scalar(1.0, "x", True)
    y = (x * x).exp()
    y.backward()
    with pytest.raises(ChainruleError, match="retain_graph=True"):
        chainrule.explain(y)


# ---------------------------------------------------------------- the expression language
@pytest.mark.parametrize("expression,expected", [
    ("-x ** 2", -9.0),               # ** binds tighter than unary minus
    ("2 ** 3 ** 2 - x", 509.0),      # and associates to the right
    ("x ^ 2", 9.0),
    ("8 - 2 - 1 + x", 8.0),          # - and / associate to the left
    ("8 / 2 / 2 * x", 6.0),
    ("1 + 2 * x", 7.0),
    ("(1 + 2) * x", 9.0),
    ("2 ** -1 * x", 1.5),
    ("maximum(x, 4) + sqrt(x * 3) - -x", 10.0),
    ("1.5e1 + .5 - x", 12.5),
])
def test_expressions_follow_pythons_precedence(expression, expected):
    assert evaluate(expression, {"x": 3.0}).item() == pytest.approx(expected, rel=1e-12)


def test_cli_prints_both_tables_with_the_hand_computed_gradients(capsys):
    code = main(["explain", "0.5 * (sigmoid(w * x + b) - t) ** 2",
                 "--at", "w=0.5", "x=2", "b=0.1", "t=1", "unused=7"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Forward pass" in out and "Backward pass" in out
    expected = by_hand()
    assert f"∂f/∂w = {expected['w_bar']:.6g}" in out
    assert f"∂f/∂b = {expected['b_bar']:.6g}" in out
    assert f"∂f/∂t = {-expected['y_bar']:.6g}" in out


def test_cli_wrt_leaves_the_other_variables_as_inputs(capsys):
    main(["explain", "w * x + b", "--at", "w=3,x=2", "b=1", "--wrt", "w", "--json"])
    report = json.loads(capsys.readouterr().out)
    kinds = {step["name"]: step["kind"] for step in report["forward"]}
    assert kinds == {"w": "parameter", "x": "input", "mul1": "op", "b": "input", "f": "op"}
    assert [step["name"] for step in report["backward"]] == ["f", "mul1", "w"]
    assert report["backward"][-1]["signal"] == 2.0


@pytest.mark.parametrize("expression,column,message", [
    ("0.5 * (sigmod(w))", 8, "unknown function 'sigmod'"),
    ("(w + 1", 1, "never closed"),
    ("exp(w + 1", 4, "never closed"),
    ("w + 1)", 6, "has no '(' to close"),
    ("w $ 2", 3, "unexpected character '$'"),
    ("w * t", 5, "variable 't' has no value"),
    ("w *", 4, "ends too early"),
    ("w w", 3, "expected an operator"),
    ("maximum(w)", 1, "takes 2 arguments"),
])
def test_bad_expressions_get_one_line_naming_the_column_and_a_caret(capsys, expression, column,
                                                                    message):
    code = main(["explain", expression, "--at", "w=1"])
    error = capsys.readouterr().err.splitlines()
    assert code == 2
    assert error[0].startswith(f"chainrule explain: error: column {column}: ")
    assert message in error[0]
    assert error[1].strip() == expression
    caret = error[2].index("^") - error[1].index(expression)
    assert caret == column - 1
    assert "Traceback" not in "\n".join(error)


def test_bad_values_after_at_are_one_line_errors():
    with pytest.raises(ChainruleError, match="expected NAME=VALUE"):
        parse_values(["w"])
    with pytest.raises(ChainruleError, match="'abc' is not a number"):
        parse_values(["w=abc"])
    with pytest.raises(ChainruleError, match="no variables"):
        evaluate("1 + 2", {})


def test_a_tensor_output_needs_its_gradient_as_backward_does():
    x = scalar(2.0, "x", True)
    y = x * chainrule.tensor([1.0, 3.0], dtype=chainrule.float64)
    with pytest.raises(RuntimeError, match="only for a scalar output"):
        chainrule.explain(y)
    report = chainrule.explain(y, gradient=chainrule.tensor([1.0, 0.5], dtype=chainrule.float64))
    assert report.signals["x"] == pytest.approx(1.0 * 1 + 0.5 * 3)  # Σ v̄ₖ ∂yₖ/∂x


def test_module_parameters_are_labelled_by_their_names_in_the_module():
    model = chainrule.nn.Sequential(chainrule.nn.Linear(3, 4), chainrule.nn.ReLU(),
                                    chainrule.nn.Linear(4, 2))
    loss = chainrule.nn.functional.cross_entropy(model(chainrule.randn(5, 3)),
                                                 chainrule.tensor([0, 1, 0, 1, 1]))
    report = chainrule.explain(loss)
    parameters = [step.name for step in report.forward if step.kind == "parameter"]
    assert parameters == [name for name, _ in model.named_parameters()] == \
        ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert report.signals["2.bias"] == pytest.approx(
        chainrule.backend.to_numpy(_gradient_of(model, loss, "2.bias")), rel=1e-6)


def _gradient_of(model, loss, name):
    loss.backward(retain_graph=True)
    return dict(model.named_parameters())[name].grad.data


def test_nested_modules_give_dotted_paths_and_a_users_name_is_kept():
    class Net(chainrule.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = chainrule.nn.ModuleList([chainrule.nn.Linear(2, 2)])
            self.heads = chainrule.nn.ModuleDict({"out": chainrule.nn.Linear(2, 1)})
            self.scale = chainrule.nn.Parameter([2.0])

    own = chainrule.nn.Linear(2, 2)
    own.weight.name = "W"
    net = Net()
    net.body.append(own)
    assert [p.name for _, p in net.named_parameters()] == [
        "scale", "body.0.weight", "body.0.bias", "W", "body.1.bias", "heads.out.weight",
        "heads.out.bias"]


def test_a_slice_or_a_second_registration_keeps_the_first_names():
    model = chainrule.nn.Module()
    model.layers = chainrule.nn.Sequential(chainrule.nn.Linear(2, 2), chainrule.nn.Linear(2, 1))
    head = model.layers[1:]
    other = chainrule.nn.Module()
    other.shared = model.layers[0]
    assert [p.name for p in head.parameters()] == ["layers.1.weight", "layers.1.bias"]
    assert [p.name for p in other.parameters()] == ["layers.0.weight", "layers.0.bias"]


def test_fused_loss_ops_keep_the_rows_narrow():
    model = chainrule.nn.MLP([3, 4, 2])
    outputs = model(chainrule.randn(5, 3))
    loss = chainrule.nn.functional.binary_cross_entropy_with_logits(
        outputs[:, 0], chainrule.tensor([0.0, 1, 0, 1, 1]))
    report = chainrule.explain(loss)
    assert "bce1" in report.signals
    assert max(len(line) for line in str(report).splitlines()) < 200
    assert "binary_cross_entropy_with_logits_per_element" in report.forward_table()


@pytest.mark.parametrize("make,local", [
    (lambda x: x * x + x.sin(), 2 * 3.0),         # ∂(x·x)/∂x = 2x, not x once per slot
    (lambda x: (x - x) + x.sin(), 0.0),           # ∂(x − x)/∂x = 0, not a 1 and a −1
    (lambda x: x.minimum(x) + x.sin(), 1.0),      # min(x, x) is x: not ½ twice
])
def test_a_value_in_two_argument_slots_of_one_child_is_one_term_with_the_whole_partial(make,
                                                                                        local):
    """v̄ᵢ = Σ over children j: a child that reads x twice is one child, one term, and the
    column ∂vⱼ/∂vᵢ holds its true partial derivative."""
    x = scalar(3.0, "x", True)
    report = chainrule.explain(make(x))
    (step,) = [step for step in report.backward if step.name == "x"]
    children = [term.child for term in step.terms]
    assert len(children) == len(set(children)) == 2
    (term,) = [term for term in step.terms if term.child != "sin1"]
    assert term.local_derivative == local
    assert term.contribution == term.child_signal * local
    assert step.signal == pytest.approx(local + math.cos(3.0), rel=1e-15)
    x_steps = [chain_step for chain_step in report.steps() if chain_step.node == "x"]
    assert [s.complete for s in x_steps] == [False, True]
    assert x_steps[-1].running_sum == step.signal


def test_the_command_names_an_unnamed_last_step_in_front_of_that_step_only(capsys):
    assert main(["explain", "s = 2*x; s + 1;", "--at", "x=1"]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    assert first_line.startswith("s = 2*x; f = s + 1   at x=1")


@pytest.mark.parametrize("expression,formula", [("x", "x   at"), ("s = 2*x; s", "s = 2*x; s   at")])
def test_an_output_that_is_a_bare_name_is_not_written_as_name_equals_itself(capsys, expression,
                                                                            formula):
    assert main(["explain", expression, "--at", "x=1"]) == 0
    assert capsys.readouterr().out.startswith(formula)


def test_an_infinite_or_undefined_signal_is_shown_in_the_table_without_a_numpy_warning(capsys):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["explain", "sqrt(y) + log(x)", "--at", "y=0", "x=0"]) == 0
    captured = capsys.readouterr()
    assert [str(warning.message) for warning in caught] == [] and captured.err == ""
    assert "∂f/∂y = inf, ∂f/∂x = inf" in captured.out


def test_the_json_report_is_strict_json_with_nan_and_inf_as_strings(capsys):
    assert main(["explain", "log(x) + sqrt(y)", "--at", "x=-1", "y=0", "--json"]) == 0

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    report = json.loads(capsys.readouterr().out, parse_constant=refuse)
    values = {step["name"]: step["value"] for step in report["forward"]}
    signals = {step["name"]: step["signal"] for step in report["backward"]}
    assert values["log1"] == "nan" and values["f"] == "nan" and values["y"] == 0.0
    assert signals["y"] == "inf" and signals["x"] == -1.0


def test_a_negative_zero_gradient_is_printed_as_0(capsys):
    """relu′(−1) = 0 times v̄ = −2 is −0.0 in IEEE arithmetic: the same number as 0."""
    assert main(["explain", "relu(x) * -2", "--at", "x=-1"]) == 0
    out = capsys.readouterr().out
    assert "∂f/∂x = 0" in out and "-0" not in out
    x = scalar(-1.0, "x", True)
    report = chainrule.explain(x.relu() * -2)
    assert math.copysign(1.0, report.signals["x"]) == -1.0   # the report's value is untouched


def test_a_value_outside_a_functions_domain_is_named_beside_the_gradients(capsys):
    """log(−1) is nan, yet ∂log/∂x = 1/x = −1 is a number: the command says which value is
    undefined, so the −1 is not read as the slope of f."""
    assert main(["explain", "log(x) + sqrt(y)", "--at", "x=-1", "y=4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "∂f/∂x = -1" in lines[-2]
    assert lines[-1].startswith("note: log1 = log(-1) is nan: ")
    assert main(["explain", "sqrt(y)", "--at", "y=0"]) == 0    # an infinite slope, rightly
    assert "note:" not in capsys.readouterr().out
