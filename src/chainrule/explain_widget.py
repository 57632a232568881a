"""Step through backpropagation in a notebook: a slider over the chain rule's terms.

``chainrule.explain(loss).widget()`` shows the graph (chainrule's own drawing) and a slider; at
step k the k-th term v̄ⱼ · ∂vⱼ/∂vᵢ is added, its node vᵢ outlined in orange and the child vⱼ it
comes from in blue, with the terms so far listed below and the newest one in bold. It needs
ipywidgets (``pip install 'chainrule[notebook]'``); in a terminal, ``chainrule explain … --step``
does the same one term per Enter.
"""
from __future__ import annotations

from html import escape

NODE, CHILD = "#e67e22", "#2e86c1"


def step_widget(report):
    from .extras import require

    require("notebook", "ipywidgets", purpose="the step-through slider")
    import ipywidgets

    from .draw import draw

    steps = list(report.steps())
    svg = draw(report, renderer="chainrule").svg()
    slider = ipywidgets.IntSlider(value=0, min=0, max=len(steps), description="term",
                                  continuous_update=True)
    view = ipywidgets.HTML(value=render(report, steps, svg, 0))
    slider.observe(lambda change: setattr(view, "value", render(report, steps, svg,
                                                                change["new"])), names="value")
    return ipywidgets.VBox([slider, view])


def render(report, steps: list, svg: str, shown: int) -> str:
    """The page at slider position ``shown``: 0 is the start, v̄ of the output = 1."""
    if shown == 0:
        node, child = report.output, None
        caption = f"start: v̄({report.output}) = 1"
    else:
        step = steps[shown - 1]
        node, child = step.node, step.child
        caption = f"term {shown} of {len(steps)}: {step}"
    outline = [f'g[data-node="{_css(node)}"] > rect:first-of-type {{stroke: {NODE}; '
               f'stroke-width: 4px;}}']
    if child is not None:
        outline.append(f'g[data-node="{_css(child)}"] > rect:first-of-type {{stroke: {CHILD}; '
                       f'stroke-width: 4px;}}')
    done = "".join(f"<li>{'<b>' if k == shown - 1 else ''}{escape(str(step))}"
                   f"{'</b>' if k == shown - 1 else ''}</li>" for k, step in enumerate(steps[:shown]))
    return (f"<style>{' '.join(outline)}</style><p>{escape(caption)}</p>{svg}"
            f"<ol>{done}</ol>")


def _css(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')
