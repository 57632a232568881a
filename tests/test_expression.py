"""Named steps in the expression language: the lecture's two chain-rule examples as written."""
import math

import numpy
import pytest

import chainrule
from chainrule.cli import main
from chainrule.errors import ChainruleError
from chainrule.expression import evaluate, parse, variables_of

UNIVARIATE = "z = w*x + b; y = sigmoid(z); L = 0.5*(y - t)**2"
MULTIVARIATE = "x = cos(t); y = t**2; f = y + exp(x*y)"


def test_univariate_steps_give_the_slides_error_signals_and_data_gets_none():
    loss = evaluate(UNIVARIATE, {"w": 0.5, "x": 2, "b": 0.1, "t": 1}, data=("x", "t"))
    report = chainrule.explain(loss)
    z = 0.5 * 2 + 0.1
    y = 1 / (1 + math.exp(-z))
    z_bar = (y - 1) * y * (1 - y)
    assert report.output == "L"
    assert report.signals["w"] == pytest.approx(z_bar * 2, rel=1e-12)
    assert round(report.signals["w"], 7) == -0.0935875
    assert round(report.signals["b"], 7) == -0.0467937
    assert report.signals["y"] == pytest.approx(y - 1, rel=1e-12)   # ȳ = y − t
    assert report.signals["z"] == pytest.approx(z_bar, rel=1e-12)   # z̄ = ȳ σ′(z)
    assert "x" not in report.signals and "t" not in report.signals
    # the tables read z, y, L as the slide does: each step one row under its own name
    backward = [step.name for step in report.backward]
    assert backward.index("L") < backward.index("y") < backward.index("z") < backward.index("w")
    kinds = {step.name: step.kind for step in report.forward}
    assert kinds["x"] == kinds["t"] == "input" and kinds["w"] == kinds["b"] == "parameter"


def test_multivariate_steps_make_one_node_per_name_with_two_terms_for_t_and_y():
    output = evaluate(MULTIVARIATE, {"t": 1.0})
    report = chainrule.explain(output)
    assert report.signals["t"] == pytest.approx(2.4104790162, abs=1e-10)
    t, x, y = 1.0, math.cos(1.0), 1.0
    slide = y * math.exp(x * y) * -math.sin(t) + (1 + x * math.exp(x * y)) * 2 * t
    assert report.signals["t"] == pytest.approx(slide, rel=1e-12)
    rows = {step.name: step for step in report.backward}
    assert sorted(term.child for term in rows["t"].terms) == ["x", "y"]
    assert len(rows["y"].terms) == 2 and "f" in [term.child for term in rows["y"].terms]
    names = [step.name for step in report.forward]
    assert names.count("y") == 1 and len(names) == 6  # t, x, y, x·y, exp, f: y built once


def test_the_cli_reads_named_steps_and_marks_data(capsys):
    code = main(["explain", UNIVARIATE, "--at", "w=0.5", "x=2", "b=0.1", "t=1",
                 "--data", "x", "t"])
    out = capsys.readouterr().out
    assert code == 0
    assert "∂L/∂w = -0.0935875, ∂L/∂b = -0.0467937" in out
    assert "∂L/∂t" not in out and "data, no gradient: x, t" in out


@pytest.mark.parametrize("text,column,message", [
    ("z = w*2; z = z + 1", 10, "z is already defined (column 1)"),
    ("y = z + 1; z = w*2; y", 5, "z is used before its step defines it"),
    ("z = z + w", 5, "z is used in its own step"),
    ("a = w*2; w + 1", 1, "the step a is never used"),
    ("a = w; a + 1", 1, "would only give w a second name"),
    ("w*2; w + 1", 1, "only the last step may be left unnamed"),
    ("exp = w*2; exp + 1", 1, "exp is a function"),
    ("z = w = 2", 7, "'=' names a step"),
])
def test_bad_steps_name_the_column(text, column, message):
    with pytest.raises(ChainruleError) as caught:
        parse(text)
    assert caught.value.column == column
    assert message in caught.value.message


def test_data_wrt_and_values_are_checked_against_the_variables():
    values = {"w": 1.0, "t": 2.0}
    with pytest.raises(ChainruleError, match=r"data=\['q'\]: the expression has no variable 'q'"):
        evaluate("w * t", values, data=("q",))
    with pytest.raises(ChainruleError, match=r"data=\['z'\]: z is computed by a step"):
        evaluate("z = w * t; z + 1", values, data=("z",))
    with pytest.raises(ChainruleError, match="named both in wrt= and in data="):
        evaluate("w * t", values, wrt=["w", "t"], data=("t",))
    with pytest.raises(ChainruleError, match="z is computed by its step"):
        evaluate("z = w * t; z + 1", {**values, "z": 3.0})
    assert list(variables_of(parse("z = w*x + b; y = z * t"))) == ["w", "x", "b", "t"]


@pytest.mark.parametrize("text, values, arguments, python", [
    ("w * t", {"w": 1.0}, {}, "give it with values={'t': VALUE}"),
    ("2 + 3", {}, {}, "give its value with values={'x': VALUE}"),
    ("w * t", {"w": 1.0, "t": 2.0}, {"wrt": ["q"]}, "wrt=['q']: the expression has no"),
    ("z = w * t; z + 1", {"w": 1.0, "t": 2.0}, {"data": ["z"]}, "data= names variables"),
    ("w * t", {"w": 1.0, "t": 2.0}, {"wrt": []}, "name them with wrt="),
])
def test_the_library_names_its_python_arguments_never_a_flag(text, values, arguments, python):
    with pytest.raises(ChainruleError) as caught:
        evaluate(text, values, **arguments)
    assert python in str(caught.value)
    assert "--" not in str(caught.value)


@pytest.mark.parametrize("arguments, flags", [
    (["w * t", "--at", "w=1"], "give it with --at t=VALUE"),
    (["2 + 3"], "give its value with --at x=VALUE"),
    (["w * t", "--at", "w=1", "t=2", "--wrt", "q"], "--wrt q: the expression has no variable"),
    (["z = w * t; z + 1", "--at", "w=1", "t=2", "--data", "z"],
     "--data z: z is computed by a step; --data names variables (w, t)"),
    (["w * t", "--at", "w=1", "t=2", "--wrt", "w", "--data", "w"],
     "w: named both in --wrt and in --data; data gets no gradient"),
])
def test_the_command_line_says_the_same_in_its_flags(arguments, flags, capsys):
    assert main(["explain", *arguments]) == 2
    error = capsys.readouterr().err
    assert flags in error
    assert "values=" not in error and "wrt=" not in error and "data=" not in error


def test_a_small_vector_prints_its_values_before_its_shape():
    from chainrule.explain import summarize
    assert summarize(numpy.array([-1.89, -0.2327])) == "[-1.89, -0.2327] (shape 2)"
    assert summarize(numpy.ones((2, 2)), "float64") == "[[1, 1], [1, 1]] (shape 2×2 float64)"
