"""chainrule's own SVG of a computation graph, for machines without Graphviz: well-formed, one box
per node and one arrow per edge, the values and gradients written in, laid out left to right."""
import re
import shutil
import xml.etree.ElementTree as ElementTree

import pytest

import chainrule
from chainrule.cli import main
from chainrule.draw import GRADIENT_COLOUR, MISSING_DOT, Arrow, Box, picture
from chainrule.draw_svg import to_svg
from chainrule.errors import ChainruleError

from test_draw import example_graph, fake_dot

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)


def parse(svg: str):
    root = ElementTree.fromstring(svg)
    groups = root.iter(f"{SVG}g")
    nodes, edges = {}, []
    for group in groups:
        kind = group.get("class", "").split()
        title = group.find(f"{SVG}title").text
        if "node" in kind:
            nodes[title] = group
        elif "edge" in kind:
            path = group.find(f"{SVG}path").get("d")
            numbers = [float(n) for n in re.findall(r"-?\d+\.?\d*", path)]
            edges.append((title, (numbers[0], numbers[1]), (numbers[-2], numbers[-1]), group))
    return root, nodes, edges


def text_of(element) -> str:
    return " ".join("".join(text.itertext()) for text in element.iter(f"{SVG}text"))


def rectangle(node) -> tuple[float, float, float, float]:
    rect = node.find(f"{SVG}rect")
    return tuple(float(rect.get(key)) for key in ("x", "y", "width", "height"))


def test_svg_without_graphviz_has_one_box_per_node_and_one_arrow_per_edge(tmp_path, no_graphviz):
    chainrule.draw(example_graph(), tmp_path / "graph.svg")
    root, nodes, edges = parse((tmp_path / "graph.svg").read_text())
    assert root.tag == f"{SVG}svg"
    # the ten values of the forward pass and the two numbers written in place (2 and 0.5)
    assert set(nodes) == {"w", "x", "mul1", "b", "add1", "sigmoid1", "t", "sub1", "pow1", "L",
                          "2", "0.5"}
    assert len(edges) == 11  # one per input of each op, as in the DOT text
    boxes, arrows = picture(chainrule.explain(example_graph()))
    names = {box.id: box.name for box in boxes}
    assert sorted(title for title, *_ in edges) == sorted(
        f"{names[arrow.source]}→{names[arrow.target]}" for arrow in arrows)


def test_boxes_show_name_kind_value_and_gradient(no_graphviz):
    report = chainrule.explain(example_graph())
    _, nodes, edges = parse(chainrule.draw(report).svg())
    w_bar = report.signals["w"]
    assert text_of(nodes["w"]).split() == ["w", "parameter", "0.5", "v̄", "=", f"{w_bar:.6g}"]
    assert text_of(nodes["x"]).split() == ["x", "input", "2"]  # x needs no gradient
    assert text_of(nodes["L"]).split()[:2] == ["L", "mul"]  # the op, as L does not name it
    gradient_fills = {text.get("fill") for node in nodes.values() for text in node.iter(f"{SVG}tspan")}
    assert GRADIENT_COLOUR in gradient_fills
    assert len(nodes["w"].findall(f"{SVG}rect")) == 2  # parameters have a double border
    assert len(nodes["x"].findall(f"{SVG}rect")) == 1
    w_edge = [group for title, _, _, group in edges if title == "w→mul1"][0]
    assert text_of(w_edge) == f"{w_bar:.6g}"  # mul1 is w's only child: it sends back all of w̄


def test_layout_runs_left_to_right_without_overlaps(no_graphviz):
    _, nodes, edges = parse(chainrule.draw(example_graph()).svg())
    for title, start, end, _ in edges:
        assert end[0] > start[0], title
    boxed = {name: rectangle(node) for name, node in nodes.items() if node.find(f"{SVG}rect")
             is not None}
    for name, (x, y, width, height) in boxed.items():
        for other, (x2, y2, width2, height2) in boxed.items():
            if name < other:
                apart = x + width <= x2 or x2 + width2 <= x or y + height <= y2 or y2 + height2 <= y
                assert apart, (name, other)
    # an op stands right of every parent: the longest path from the leaves
    for parent, child in (("w", "mul1"), ("mul1", "add1"), ("add1", "sigmoid1"), ("pow1", "L")):
        assert boxed[child][0] > boxed[parent][0] + boxed[parent][2]


def test_barycentre_ordering_uncrosses_arrows():
    # listed so that the naive order crosses: a feeds the lower op, b the upper one
    boxes = [Box("a", "a", "input", value="1"), Box("b", "b", "input", value="2"),
             Box("lower", "lower", "op", value="3"), Box("upper", "upper", "op", value="4")]
    arrows = [Arrow("b", "lower"), Arrow("a", "upper")]
    _, nodes, edges = parse(to_svg(boxes, arrows, "legend", GRADIENT_COLOUR))
    (_, start1, end1, _), (_, start2, end2, _) = edges
    assert (start1[1] - start2[1]) * (end1[1] - end2[1]) > 0  # same vertical order at both ends


def test_graphviz_is_used_where_installed_unless_chainrule_is_asked_for(tmp_path, monkeypatch):
    fake_dot(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert chainrule.draw(example_graph()).svg().startswith('<svg format="svg"')
    ours = chainrule.draw(example_graph(), renderer="chainrule").svg()
    assert len(parse(ours)[1]) == 12


def test_png_without_graphviz_names_svg_as_the_way_out(tmp_path, no_graphviz):
    drawing = chainrule.draw(example_graph())
    with pytest.raises(ChainruleError) as error:
        drawing.save(tmp_path / "graph.png")
    assert str(error.value) == MISSING_DOT and ".svg" in MISSING_DOT
    with pytest.raises(ChainruleError, match="draws SVG only"):
        chainrule.draw(example_graph(), renderer="chainrule").save(tmp_path / "graph.pdf")
    with pytest.raises(ChainruleError, match="`dot` program was not found"):
        chainrule.draw(example_graph(), renderer="graphviz").save(tmp_path / "graph.svg")
    with pytest.raises(ValueError, match="unknown renderer 'cairo'"):
        chainrule.draw(example_graph(), renderer="cairo")


def test_cli_draws_svg_without_graphviz(tmp_path, no_graphviz, capsys):
    path = tmp_path / "graph.svg"
    assert main(["explain", "y + exp(x * y)", "--at", "x=0.5", "y=2", "--draw", str(path)]) == 0
    assert f"Drew the graph to {path}" in capsys.readouterr().out
    _, nodes, edges = parse(path.read_text())
    assert set(nodes) == {"x", "y", "mul1", "exp1", "f"} and len(edges) == 5


def test_cli_draw_with_chainrule_ignores_an_installed_graphviz(tmp_path, monkeypatch, capsys):
    fake_dot(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    path = tmp_path / "graph.svg"
    assert main(["explain", "x * 2", "--at", "x=1", "--draw", str(path),
                 "--draw-with", "chainrule"]) == 0
    assert set(parse(path.read_text())[1]) == {"x", "2", "f"}


def test_an_arrow_that_passes_columns_goes_between_the_boxes(no_graphviz):
    x = chainrule.tensor(0.5, requires_grad=True)
    y = chainrule.tensor(2.0, requires_grad=True)
    x.name, y.name = "x", "y"
    _, nodes, edges = parse(chainrule.draw(y + (x * y).sin().exp()).svg())
    path = [group for title, _, _, group in edges if title == "y→add1"][0].find(f"{SVG}path")
    straight = re.findall(r"L(-?[\d.]+),(-?[\d.]+)", path.get("d"))
    assert len(straight) == 3  # across the columns of mul1, sin1 and exp1
    for x_end, height in ((float(a), float(b)) for a, b in straight):
        for name, node in nodes.items():
            if node.find(f"{SVG}rect") is None:
                continue
            left, top, width, box_height = rectangle(node)
            if left <= x_end - 1 <= left + width:  # a box in a column the arrow crosses
                assert not top <= height <= top + box_height, name
