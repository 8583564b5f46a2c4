"""Every figure of a run is readable: tick labels never overlap, labels instead of keys, the
two-way colour scale is centred at INMB = 0 (matplotlib's own text bounding boxes)."""

from __future__ import annotations

import pytest

from costmodel.api import run_workbook
from costmodel.reports.figures import figures_for
from tests.conftest import HIV_WORKBOOK


@pytest.fixture(scope="module")
def hiv_figures():
    return run_workbook(HIV_WORKBOOK, psa_samples=300, seed=3)


def _overlaps(ax) -> list[tuple[str, str]]:
    """Pairs of visible tick labels on one axis whose boxes intersect."""
    renderer = ax.figure.canvas.get_renderer()
    pairs = []
    for axis in (ax.xaxis, ax.yaxis):
        boxes = [
            (t.get_text(), t.get_window_extent(renderer))
            for t in axis.get_ticklabels()
            if t.get_visible() and t.get_text()
        ]
        for i, (text_a, a) in enumerate(boxes):
            for text_b, b in boxes[i + 1 :]:
                if a.overlaps(b):
                    pairs.append((text_a, text_b))
    return pairs


def test_no_figure_has_overlapping_tick_labels(hiv_figures):
    drawn = figures_for(hiv_figures)
    assert {"tornado", "twoway", "ce_plane", "ceac", "evpi"} <= set(drawn)
    problems = {}
    for name, draw in drawn.items():
        ax = draw()
        ax.figure.canvas.draw()
        for each in ax.figure.axes:
            if _overlaps(each):
                problems[name] = _overlaps(each)

    assert problems == {}


def test_tornado_and_two_way_show_labels_not_keys(hiv_figures):
    inputs = hiv_figures.inputs
    drawn = figures_for(hiv_figures)
    tornado = drawn["tornado"]()
    shown = [t.get_text() for t in tornado.get_yticklabels()]
    keys = {p.name for p in inputs.parameters if p.description}
    assert shown and not set(shown) & keys

    two_way = drawn["twoway"]()
    mesh = two_way.collections[0]
    assert mesh.norm(0.0) == pytest.approx(0.5)  # white of RdBu sits at INMB = 0
    assert two_way.get_xlabel() not in keys
