"""The computation graph as SVG, drawn by our own code where Graphviz's ``dot`` is not installed.

A layered drawing, left to right like ``dot -Grankdir=LR``:
1. columns: an op stands one column right of its furthest parent (the longest path from the
   leaves); a leaf (a parameter, an input, a number) stands just left of its first consumer, so
   that its arrow stays short;
2. order within a column: a few sweeps of the barycentre rule (each box moves to the mean height
   of its neighbours in the other columns), which removes most crossings of a small graph;
3. an arrow that passes columns takes a thin place in each, between the boxes (up to
   ``LONGEST_ROUTE`` columns: a parameter used in every step of a long loop is drawn straight);
4. each arrow leaves its parent's right side and enters its child's left side at its own point,
   so that two arrows into one box stay apart.
Text widths are estimated (no font metrics without a renderer): generous, never measured.
"""
from __future__ import annotations

import unicodedata
from html import escape

FONT = "Helvetica, Arial, sans-serif"
FONT_SIZE, LINE_HEIGHT, CHARACTER_WIDTH = 12, 16, 7.0
PADDING, ROW_GAP, COLUMN_GAP, MARGIN = 8, 18, 96, 16
EDGE_COLOUR, LITERAL_COLOUR = "#566573", "#7f8c8d"
FILLS = {"parameter": "#fdebd0", "input": "#eaecee", "constant": "#ffffff", "op": "#d6eaf8",
         "data op": "#eaecee"}
SWEEPS = 4
WAYPOINT, WAYPOINT_HEIGHT = "~", 4  # the id prefix and height of an arrow's place in a column
LONGEST_ROUTE = 12  # columns an arrow may pass between boxes; a longer one is one curve, on top


def to_svg(boxes, arrows, legend: str, gradient_colour: str) -> str:
    """The SVG text of ``boxes`` and ``arrows`` (``draw.picture``'s), with ``legend`` below."""
    lines = {box.id: _lines(box) for box in boxes}
    size = {box.id: _size(lines[box.id]) for box in boxes}
    columns, routes = _columns(boxes, arrows)
    place = _place(_order(columns, routes), size)
    width = max(x + size[id_][0] for id_, (x, _) in place.items()) + MARGIN
    graph_height = max(y + size[id_][1] for id_, (_, y) in place.items())
    width = max(width, 2 * MARGIN + _text_width(legend) * 11 / FONT_SIZE)
    height = graph_height + 2 * LINE_HEIGHT + MARGIN
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:100%;height:auto" '
             f'font-family="{FONT}" '
             f'font-size="{FONT_SIZE}">',
             '<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="10" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto">'
             f'<path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker></defs>',
             f'<rect width="100%" height="100%" fill="white"/>']
    for box in boxes:
        parts.append(_box(box, lines[box.id], *place[box.id], *size[box.id], gradient_colour))
    names = {box.id: box.name for box in boxes}
    parts.extend(_arrows(arrows, routes, place, size, names, gradient_colour))
    parts.append(f'<text x="{width / 2:.1f}" y="{graph_height + LINE_HEIGHT + 8:.1f}" '
                 f'text-anchor="middle" font-size="11">{escape(legend)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- layout
def _columns(boxes, arrows) -> tuple[list[list[str]], list[list[str]]]:
    """The columns (box ids, top to bottom), and each arrow's route: its parent, a waypoint in
    every column it passes (so that it takes a place there, between the boxes), its child."""
    parents = {box.id: [] for box in boxes}
    children = {box.id: [] for box in boxes}
    for arrow in arrows:
        parents[arrow.target].append(arrow.source)
        children[arrow.source].append(arrow.target)
    column = {}
    for box in boxes:  # forward order: every op's parents come first
        if box.kind == "op":
            column[box.id] = 1 + max((column.get(p, 0) for p in parents[box.id]), default=0)
    for box in boxes:
        if box.kind != "op":
            column[box.id] = min((column[c] for c in children[box.id]), default=1) - 1
    shift = min(column.values())  # a graph of leaves alone starts at column 0 too
    table = [[] for _ in range(max(column.values()) - shift + 1)]
    for box in boxes:
        table[column[box.id] - shift].append(box.id)
    routes = []
    for index, arrow in enumerate(arrows):
        passes = range(column[arrow.source] + 1, column[arrow.target])
        if len(passes) > LONGEST_ROUTE:  # as w in a loop of a thousand steps: drawn straight
            passes = range(0)
        waypoints = [f"{WAYPOINT}{index}.{passed}" for passed in passes]
        for waypoint in waypoints:
            table[int(waypoint.split(".")[1]) - shift].append(waypoint)
        routes.append([arrow.source, *waypoints, arrow.target])
    return table, routes


def _order(columns: list[list[str]], routes) -> list[list[str]]:
    """Barycentre sweeps: left to right by parents, then right to left by children."""
    neighbours = {"parents": {}, "children": {}}
    for route in routes:
        for left, right in zip(route, route[1:]):
            neighbours["parents"].setdefault(right, []).append(left)
            neighbours["children"].setdefault(left, []).append(right)

    def place_in_column(index: int) -> None:  # each box's height in its column, from 0 to 1
        for rank, id_ in enumerate(columns[index]):
            where[id_] = (rank + 0.5) / len(columns[index])

    def barycentre(id_: str, side: str) -> float:
        others = neighbours[side].get(id_)
        if not others:
            return where[id_]
        return sum(where[other] for other in others) / len(others)

    where: dict[str, float] = {}
    for index in range(len(columns)):
        place_in_column(index)
    for _ in range(SWEEPS):
        for side, sequence in (("parents", range(len(columns))),
                               ("children", reversed(range(len(columns))))):
            for index in sequence:
                columns[index] = sorted(columns[index], key=lambda id_: barycentre(id_, side))
                place_in_column(index)
    return columns


def _place(columns, size) -> dict[str, tuple[float, float]]:
    """Top-left corners: columns side by side, each centred vertically. A waypoint is a thin
    slot as wide as its column, which its arrow crosses in a straight line."""
    widest = [max((size[id_][0] for id_ in column if id_ in size), default=0)
              for column in columns]
    for column, width in zip(columns, widest):
        for id_ in column:
            size.setdefault(id_, (width, WAYPOINT_HEIGHT))
    heights = [sum(size[id_][1] for id_ in column) + ROW_GAP * (len(column) - 1)
               for column in columns]
    tallest = max(heights)
    place, x = {}, MARGIN
    for column, height, width in zip(columns, heights, widest):
        y = MARGIN + (tallest - height) / 2
        for id_ in column:
            place[id_] = (x + (width - size[id_][0]) / 2, y)
            y += size[id_][1] + ROW_GAP
        x += width + COLUMN_GAP
    return place


# ---------------------------------------------------------------- drawing
def _lines(box) -> list[list[tuple[str, str]]]:
    """Each line of a box as (text, style) pieces; a style is "name", "kind", "op", "value",
    "signal" or "literal"."""
    if box.kind == "literal":
        return [[(box.name, "literal")]]
    first = [(box.name, "name")] + ([(f" {box.tag}", "kind")] if box.tag else [])
    rest = ([(box.op, "op")] if box.op else []) + [(box.value, "value")]
    if box.signal is not None:
        rest.append((f"v̄ = {box.signal}", "signal"))
    return [first] + [[line] for line in rest]


def _text_width(text: str) -> float:
    return CHARACTER_WIDTH * sum(not unicodedata.combining(c) for c in text)


def _size(lines) -> tuple[float, float]:
    width = max(sum(_text_width(text) for text, _ in line) for line in lines)
    if lines[0][0][1] == "literal":  # a number written in place: no box around it
        return width + 4, LINE_HEIGHT
    return width + 2 * PADDING, len(lines) * LINE_HEIGHT + PADDING


def _box(box, lines, x, y, width, height, gradient_colour) -> str:
    title = f"<title>{escape(box.name)}</title>"
    if box.kind == "literal":
        return (f'<g class="node literal" id="{box.id}">{title}<text x="{x + width / 2:.1f}" '
                f'y="{y + height - 4:.1f}" text-anchor="middle" fill="{LITERAL_COLOUR}">'
                f"{escape(box.name)}</text></g>")
    dashed = ' stroke-dasharray="4,3"' if box.kind == "constant" else ""
    stroke = LITERAL_COLOUR if box.kind == "constant" else "#34495e"
    shapes = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" rx="5" '
              f'fill="{FILLS[box.look]}" stroke="{stroke}"{dashed}/>']
    if box.kind == "parameter":  # a double border, as Graphviz's peripheries=2
        shapes.append(f'<rect x="{x + 3:.1f}" y="{y + 3:.1f}" width="{width - 6:.1f}" '
                      f'height="{height - 6:.1f}" rx="3" fill="none" stroke="#34495e" '
                      'stroke-width="1.5"/>')
    styles = {"name": ' font-weight="bold"', "kind": ' font-style="italic"',
              "op": ' font-style="italic"', "value": "", "signal": f' fill="{gradient_colour}"'}
    texts = []
    for row, line in enumerate(lines):
        spans = "".join(f"<tspan{styles[style]}>{escape(text)}</tspan>" for text, style in line)
        baseline = y + PADDING / 2 + LINE_HEIGHT * (row + 1) - 4
        texts.append(f'<text x="{x + width / 2:.1f}" y="{baseline:.1f}" '
                     f'text-anchor="middle" xml:space="preserve">{spans}</text>')
    return (f'<g class="node {box.kind}" id="{box.id}" data-node="{escape(box.name)}">{title}'
            f'{"".join(shapes + texts)}</g>')


def _arrows(arrows, routes, place, size, names, gradient_colour) -> list[str]:
    """Each arrow from its own point on the parent's right side, through its waypoints, to its
    own point on the child's left side."""
    def centre(id_) -> float:
        return place[id_][1] + size[id_][1] / 2

    leaving, entering = {}, {}
    for index, route in enumerate(routes):
        leaving.setdefault(route[0], []).append(index)
        entering.setdefault(route[-1], []).append(index)
    start, end = {}, {}
    for ends, group, neighbour, side in ((start, leaving, 1, 1), (end, entering, -2, 0)):
        for id_, indices in group.items():  # the points in the order of the other ends
            indices.sort(key=lambda i: (centre(routes[i][neighbour]), i))
            x, y = place[id_]
            width, height = size[id_]
            for rank, index in enumerate(indices):
                ends[index] = (x + side * width, y + height * (rank + 1) / (len(indices) + 1))
    parts = []
    for index, (arrow, route) in enumerate(zip(arrows, routes)):
        points = [start[index]]
        for waypoint in route[1:-1]:
            x, y = place[waypoint]
            points += [(x, centre(waypoint)), (x + size[waypoint][0], centre(waypoint))]
        points.append(end[index])
        path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
        for number, ((x1, y1), (x2, y2)) in enumerate(zip(points, points[1:])):
            if number % 2:  # across a column: straight
                path += f" L{x2:.1f},{y2:.1f}"
            else:  # between columns: a curve leaving and arriving horizontally
                bend = max((x2 - x1) / 2, 20)
                path += f" C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        label = ""
        if arrow.term is not None:  # midway between the parent and the next column
            (x1, y1), (x2, y2) = points[0], points[1]
            label = (f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" '
                     f'text-anchor="middle" font-size="10" fill="{gradient_colour}" '
                     f'stroke="white" stroke-width="3" paint-order="stroke">'
                     f"{escape(arrow.term)}</text>")
        title = f"{names[arrow.source]}→{names[arrow.target]}"
        parts.append(f'<g class="edge"><title>{escape(title)}</title><path d="{path}" '
                     f'fill="none" stroke="{EDGE_COLOUR}" marker-end="url(#arrowhead)"/>'
                     f"{label}</g>")
    return parts
