"""draw(): DOT text always; SVG/PNG through Graphviz's `dot`, faked here so the tests run the
same with Graphviz installed or not; without it, chainrule's own SVG (tests/test_draw_svg.py) and
a clear message for PNG."""
import os
import re
import shutil
import stat
import sys

import pytest

import chainrule
from chainrule.draw import MISSING_DOT
from chainrule.cli import main
from chainrule.errors import ChainruleError


def example_graph():
    """z = wx + b, y = σ(z), L = ½(y − t)²: two parameters, two inputs, six ops."""
    def leaf(value, name, requires_grad):
        tensor = chainrule.tensor(value, dtype=chainrule.float64, requires_grad=requires_grad)
        tensor.name = name
        return tensor
    w, x = leaf(0.5, "w", True), leaf(2.0, "x", False)
    b, t = leaf(0.1, "b", True), leaf(1.0, "t", False)
    loss = 0.5 * ((w * x + b).sigmoid() - t) ** 2
    loss.name = "L"
    return loss


def node_lines(source: str) -> dict[str, str]:
    """Node name (the bold text of its label) -> its DOT line."""
    found = {}
    for line in source.splitlines():
        match = re.search(r"label=<<b>([^<]+)</b>", line)
        if match:
            found[match.group(1)] = line
    return found


def test_dot_text_has_one_box_per_value_with_values_and_gradients():
    source = chainrule.draw(example_graph()).source
    nodes = node_lines(source)
    assert set(nodes) == {"w", "x", "mul1", "b", "add1", "sigmoid1", "t", "sub1", "pow1", "L"}
    assert source.startswith("digraph chainrule {") and source.rstrip().endswith("}")
    report = chainrule.explain(example_graph())
    w_bar = report.signals["w"]
    assert f"v̄ = {w_bar:.6g}" in nodes["w"]
    assert ">0.5<" in nodes["w"] and "v̄" not in nodes["x"]  # x needs no gradient


def test_parameters_are_drawn_apart_from_inputs_and_ops():
    nodes = node_lines(chainrule.draw(example_graph()).source)
    assert "peripheries=2" in nodes["w"] and "peripheries=2" in nodes["b"]
    assert "peripheries=2" not in nodes["x"] and "peripheries=2" not in nodes["mul1"]
    assert "<i>parameter</i>" in nodes["w"] and "<i>input</i>" in nodes["t"]
    assert nodes["x"].split("label=")[0] != nodes["mul1"].split("label=")[0]


def test_edges_run_parent_to_child_and_carry_the_term_sent_back():
    source = chainrule.draw(example_graph()).source
    edges = [line for line in source.splitlines() if "->" in line]
    # one per input of each op: mul (w, x), add (mul1, b), sigmoid, sub (y, t), pow (sub1, 2),
    # mul (0.5, pow1)
    assert len(edges) == 11
    ids = {name: line.split()[0] for name, line in node_lines(source).items()}
    report = chainrule.explain(example_graph())
    edge = [line for line in edges if line.split()[0] == ids["w"]][0]
    assert edge.split()[2] == ids["mul1"]
    assert f"{report.signals['w']:.6g}" in edge  # the only child of w sends back all of w̄


def test_save_dot_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = chainrule.draw(example_graph(), tmp_path / "graph.dot")
    assert path is not None
    assert (tmp_path / "graph.dot").read_text().startswith("digraph chainrule {")


def test_without_graphviz_svg_is_drawn_by_chainrule_and_png_names_the_way_out(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere on it
    drawing = chainrule.draw(example_graph())
    with pytest.raises(ChainruleError) as error:
        drawing.save(tmp_path / "graph.png")
    assert str(error.value) == MISSING_DOT
    assert "`dot`" in str(error.value) and "apt-get install graphviz" in str(error.value)
    drawing.save(tmp_path / "graph.svg")
    assert (tmp_path / "graph.svg").read_text() == drawing._repr_svg_()  # Jupyter shows it too
    assert drawing._repr_svg_().startswith('<svg xmlns="http://www.w3.org/2000/svg"')


def fake_dot(folder, exit_code=0):
    """A stand-in `dot` that answers -Tsvg with an SVG holding the size of the DOT it was given."""
    program = folder / "dot"
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "source = sys.stdin.buffer.read()\n"
        f"if {exit_code}:\n"
        "    sys.stderr.write('Error: syntax error in line 1\\n'); sys.exit(1)\n"
        "fmt = sys.argv[1][2:]\n"
        "sys.stdout.write(f'<svg format=\"{fmt}\" bytes=\"{len(source)}\"/>')\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return program


def test_svg_and_png_come_from_dot(tmp_path, monkeypatch):
    fake_dot(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    drawing = chainrule.draw(example_graph())
    drawing.save(tmp_path / "graph.svg")
    written = (tmp_path / "graph.svg").read_text()
    assert written == f'<svg format="svg" bytes="{len(drawing.source.encode())}"/>'
    assert drawing._repr_svg_() == written
    drawing.save(tmp_path / "graph.PNG")
    assert 'format="png"' in (tmp_path / "graph.PNG").read_text()


def test_a_failing_dot_and_an_unknown_suffix_are_clear_errors(tmp_path, monkeypatch):
    fake_dot(tmp_path, exit_code=1)
    monkeypatch.setenv("PATH", str(tmp_path))
    drawing = chainrule.draw(example_graph())
    with pytest.raises(ChainruleError, match="dot failed: Error: syntax error"):
        drawing.save(tmp_path / "graph.svg")
    with pytest.raises(ChainruleError, match=r"\.dot, \.gv, \.svg, \.png"):
        drawing.save(tmp_path / "graph.jpg")
    with pytest.warns(UserWarning, match="dot failed"):  # Jupyter shows chainrule's drawing
        assert drawing._repr_svg_().startswith('<svg xmlns="http://www.w3.org/2000/svg"')


def test_cli_draw_writes_dot_and_reports_missing_graphviz_in_one_line(tmp_path, monkeypatch,
                                                                      capsys):
    dot_path = tmp_path / "graph.dot"
    assert main(["explain", "y + exp(x * y)", "--at", "x=0.5", "y=2",
                 "--draw", str(dot_path)]) == 0
    assert "y -> " not in dot_path.read_text() and dot_path.read_text().count("->") == 5
    capsys.readouterr()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code = main(["explain", "x * 2", "--at", "x=1", "--draw", str(tmp_path / "graph.png")])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"chainrule explain: error: {MISSING_DOT}"


def test_a_value_read_twice_by_one_child_is_one_arrow_labelled_with_its_whole_term():
    from chainrule.draw import picture

    x = chainrule.tensor(3.0, dtype=chainrule.float64, requires_grad=True)
    x.name = "x"
    boxes, arrows = picture(chainrule.explain(x * x + x.sin()))
    ids = {box.name: box.id for box in boxes}
    into_product = [arrow for arrow in arrows
                    if (arrow.source, arrow.target) == (ids["x"], ids["mul1"])]
    assert [arrow.term for arrow in into_product] == ["6"]   # ∂(x·x)/∂x · v̄ = 2·3·1
