"""A step computed from data alone (s = x*x with x data, c = 2*3) is in the forward pass, as the
lecture lists every step, and gets no gradient: the tables, --json, --step and --draw agree."""
import gc
import json
import math

import pytest

import chainrule
from chainrule.cli import main
from chainrule.expression import evaluate

SQUARE = "s = x*x; z = w*s + b; y = sigmoid(z)"
AT = {"w": 0.5, "x": 2.0, "b": 0.1}


def command(capsys, expression, *arguments):
    assert main(["explain", expression, *arguments]) == 0
    return capsys.readouterr().out


def forward_rows(out: str) -> list[tuple[str, str, str, str]]:
    """The forward table's rows as (vᵢ, op, parents, value), cut at the columns its rule marks."""
    lines = out.split("Forward pass")[1].split("\n\n")[0].splitlines()
    rule = lines[2]
    spans, start = [], None
    for position, character in enumerate(rule + " "):
        if character == "─" and start is None:
            start = position
        elif character != "─" and start is not None:
            spans.append((start, position))
            start = None
    ends = [begin for begin, _ in spans[1:]] + [None]
    return [tuple(line[begin:end].strip() for (begin, _), end in zip(spans, ends))
            for line in lines[3:]]


def backward_names(out: str) -> list[str]:
    table = out.split("Backward pass")[1].split("\n\n")[0].splitlines()[3:]
    return [line.split()[0] for line in table if not line.startswith("    ")]


def assert_topological(rows) -> None:
    seen = set()
    for name, _, parents, _ in rows:
        for parent in filter(None, parents.split(", ")):
            assert parent in seen or _is_number(parent), (name, parent)
        seen.add(name)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_the_example_lists_x_and_the_step_s_made_from_it(capsys):
    out = command(capsys, SQUARE, "--at", "w=0.5", "x=2", "b=0.1", "--data", "x")
    rows = forward_rows(out)
    z = 0.5 * 4 + 0.1
    assert {row[0]: row[1:] for row in rows} == {
        "x": ("input", "", "2"),
        "s": ("mul (no gradient)", "x, x", "4"),
        "w": ("parameter", "", "0.5"),
        "mul1": ("mul", "w, s", "2"),
        "b": ("parameter", "", "0.1"),
        "z": ("add", "mul1, b", f"{z:.6g}"),
        "y": ("sigmoid", "z", f"{1 / (1 + math.exp(-z)):.6g}"),
    }
    assert len(rows) == 7
    assert_topological(rows)
    assert backward_names(out) == ["y", "z", "mul1", "w", "b"]  # x and s get no v̄


def test_the_report_marks_the_steps_that_get_no_gradient():
    report = chainrule.explain(evaluate(SQUARE, AT, data=("x",)))
    steps = {step.name: step for step in report.forward}
    assert (steps["s"].kind, steps["s"].op, steps["s"].parents) == ("op", "mul", ["x", "x"])
    assert steps["s"].value == 4.0 and steps["x"].kind == "input"
    assert {name for name, step in steps.items() if not step.requires_grad} == {"x", "s"}
    assert set(report.signals) == {"y", "z", "mul1", "w", "b"}


def gradient_by_finite_differences(expression, values, name, data, step=1e-6):
    def at(value):
        return evaluate(expression, {**values, name: value}, data=data).item()
    return (at(values[name] + step) - at(values[name] - step)) / (2 * step)


def test_a_data_step_feeding_two_children_is_one_row_and_the_gradients_stay_true():
    expression = "s = x*x; u = s + 1; z = w*u + s; y = sigmoid(z)"
    output = evaluate(expression, AT, data=("x",))
    report = chainrule.explain(output)
    rows = {step.name: (step.op, step.parents, step.value, step.requires_grad)
            for step in report.forward}
    assert [step.name for step in report.forward].count("s") == 1
    assert rows["s"] == ("mul", ["x", "x"], 4.0, False)
    assert rows["u"] == ("add", ["s", "1"], 5.0, False)   # s's children: u and z
    assert rows["z"] == ("add", ["mul1", "s"], 0.5 * 5 + 4, True)
    assert "s" not in report.signals and "u" not in report.signals
    assert report.signals["w"] == pytest.approx(
        gradient_by_finite_differences(expression, AT, "w", ("x",)), rel=1e-8)
    output.backward()
    from chainrule import explain_forward

    leaves = {tensor.name: tensor for tensor in explain_forward.forward_order(output)}
    assert leaves["x"].grad is None and not leaves["x"].requires_grad
    assert leaves["w"].grad.item() == report.signals["w"]


def test_a_step_of_numbers_alone_is_listed_with_its_op(capsys):
    rows = forward_rows(command(capsys, "c = 2*3; y = c*w", "--at", "w=0.5"))
    assert rows == [("c", "mul (no gradient)", "2, 3", "6"), ("w", "parameter", "", "0.5"),
                    ("y", "mul", "c, w", "3")]


def test_a_step_that_is_a_number_is_a_constant_not_an_input(capsys):
    # s = 2 was listed as an input, as x is, though the program writes s and is given x
    rows = forward_rows(command(capsys, "s = 2; y = s*w + x", "--at", "w=0.5", "x=1",
                                "--data", "x"))
    assert rows == [("s", "constant", "", "2"), ("w", "parameter", "", "0.5"),
                    ("mul1", "mul", "s, w", "1"), ("x", "input", "", "1"),
                    ("y", "add", "mul1, x", "2")]
    report = chainrule.explain(evaluate("s = -2; t = s*x; y = t*w", {"w": 0.5, "x": 3},
                                        data=("x",)))
    kinds = {step.name: (step.kind, step.value, step.requires_grad) for step in report.forward}
    assert kinds["s"] == ("constant", -2.0, False) and kinds["x"] == ("input", 3.0, False)
    assert kinds["t"] == ("op", -6.0, False) and "s" not in report.signals


def test_a_negative_number_is_a_number_written_in_place_not_a_step(capsys):
    # -2 is read as the negation of 2: it was listed as neg1 = neg(2), a step of its own
    rows = forward_rows(command(capsys, "y = w * -2 + -(3*w)", "--at", "w=0.5"))
    assert rows == [("w", "parameter", "", "0.5"), ("mul1", "mul", "w, -2", "-1"),
                    ("mul2", "mul", "3, w", "1.5"), ("neg1", "neg", "mul2", "-1.5"),
                    ("y", "add", "mul1, neg1", "-2.5")]


def test_an_unnamed_product_of_data_is_a_row_not_a_number_written_in_place(capsys):
    out = command(capsys, "y = w*log(x)", "--at", "w=0.5", "x=-1", "--data", "x")
    rows = forward_rows(out)
    assert rows[1:] == [("x", "input", "", "-1"), ("log1", "log (no gradient)", "x", "nan"),
                        ("y", "mul", "w, log1", "nan")]
    assert "note: log1 = log(-1) is nan" in out  # the undefined value is named, not a bare nan


def test_wrt_and_json_list_the_whole_forward_pass(capsys):
    out = command(capsys, SQUARE, "--at", "w=0.5", "x=2", "b=0.1", "--wrt", "w", "--json")

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    report = json.loads(out, parse_constant=refuse)
    forward = {step["name"]: (step["kind"], step["op"], step["parents"], step["requires_grad"])
               for step in report["forward"]}
    assert forward == {"w": ("parameter", None, [], True), "x": ("input", None, [], False),
                       "s": ("op", "mul", ["x", "x"], False),
                       "mul1": ("op", "mul", ["w", "s"], True),
                       "b": ("input", None, [], False), "z": ("op", "add", ["mul1", "b"], True),
                       "y": ("op", "sigmoid", ["z"], True)}
    assert [step["name"] for step in report["backward"]] == ["y", "z", "mul1", "w"]


def test_step_mode_prints_the_same_forward_table(capsys):
    arguments = ["--at", "w=0.5", "x=2", "b=0.1", "--data", "x"]
    stepped = command(capsys, SQUARE, *arguments, "--step")
    assert forward_rows(stepped) == forward_rows(command(capsys, SQUARE, *arguments))
    assert ("s", "mul (no gradient)", "x, x", "4") in forward_rows(stepped)
    assert ("x", "input", "", "2") in forward_rows(stepped)
    assert "v̄(s)" not in stepped and "v̄(x)" not in stepped


@pytest.mark.parametrize("renderer", ["dot", "chainrule"])
def test_the_drawing_has_a_box_for_every_row_and_marks_the_data_step(capsys, tmp_path, renderer):
    path = tmp_path / ("graph.dot" if renderer == "dot" else "graph.svg")
    arguments = ["--at", "w=0.5", "x=2", "b=0.1", "--data", "x", "--draw", str(path)]
    if renderer == "chainrule":
        arguments += ["--draw-with", "chainrule"]
    rows = forward_rows(command(capsys, SQUARE, *arguments))
    drawing = chainrule.draw(chainrule.explain(evaluate(SQUARE, AT, data=("x",))))
    boxes = [box for box in drawing.picture[0] if box.kind != "literal"]
    assert [box.name for box in boxes] == [row[0] for row in rows]
    (s_box,) = [box for box in boxes if box.name == "s"]
    assert s_box.tag == "no gradient" and s_box.signal is None and s_box.look == "data op"
    ids = {box.name: box.id for box in boxes}
    arrows = {(arrow.source, arrow.target) for arrow in drawing.picture[1]}
    assert {(ids["x"], ids["s"]), (ids["s"], ids["mul1"])} <= arrows
    text = path.read_text()
    if renderer == "dot":
        assert f'{ids["s"]} [' in text and "<b>s</b> <i>no gradient</i>" in text
    else:
        assert 'data-node="s"' in text and 'data-node="x"' in text and "no gradient" in text


def test_how_a_data_step_was_made_is_let_go_with_it():
    from chainrule import explain_forward

    gc.collect()
    before = len(explain_forward._made_from_data)
    output = evaluate(SQUARE, AT, data=("x",))
    assert len(explain_forward._made_from_data) == before + 1
    del output
    gc.collect()
    assert len(explain_forward._made_from_data) == before
