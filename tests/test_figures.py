"""Every figure of a run is readable: tick labels never overlap, labels instead of keys, the
two-way colour scale is centred at INMB = 0 (matplotlib's own text bounding boxes)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch

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


def _crossings(ax) -> list[tuple[str, int]]:
    """(label, line or arrow index) for each state box that a line or an arrow passes
    through, its own end boxes excepted: points every ~1 px along each drawn path, tested
    against each box shrunk by 2 px (a line may touch the box it starts or ends at)."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = [
        (t.get_text(), t.get_bbox_patch().get_window_extent(renderer).padded(-2))
        for t in ax.texts
        if t.get_bbox_patch() is not None
    ]
    paths = [line.get_transform().transform(line.get_xydata()) for line in ax.lines]
    for child in ax.get_children():
        arrow = getattr(child, "arrow_patch", None)
        if isinstance(arrow, FancyArrowPatch):
            for polygon in arrow.get_path().to_polygons(closed_only=False):
                paths.append(arrow.get_transform().transform(polygon))
    found = []
    for i, xy in enumerate(paths):
        points = []
        for (x0, y0), (x1, y1) in pairwise(xy):
            steps = max(2, int(np.hypot(x1 - x0, y1 - y0)))
            t = np.linspace(0.0, 1.0, steps)
            points.append(np.column_stack([x0 + t * (x1 - x0), y0 + t * (y1 - y0)]))
        if not points:
            continue
        points = np.concatenate(points)
        for label, box in boxes:
            inside = (
                (points[:, 0] > box.x0)
                & (points[:, 0] < box.x1)
                & (points[:, 1] > box.y0)
                & (points[:, 1] < box.y1)
            )
            if inside.any():
                found.append((label, i))
    return found


def test_state_diagram_lines_never_cross_a_state_label():
    """The MSC model's diagram: 7 + 3 states in two phases, transitions that skip rows (to
    death from every hospital state) run along lanes beside the column, not through the
    boxes between; arrows start and end at the box edges."""
    from costmodel.reports.figures import _diagram
    from costmodel.reports.plot_diagram import plot_state_diagram
    from costmodel.validate import load_inputs
    from tests.conftest import ROOT

    inputs = load_inputs(ROOT / "inputs" / "msc_covid19.xlsx")
    ax = plot_state_diagram(*_diagram(inputs))
    assert len(ax.lines) >= 6  # the lanes of the transitions that skip rows
    assert _crossings(ax) == []
    # the same check finds a crossing when one is drawn: a line through the middle row
    middle = next(t for t in ax.texts if t.get_text() == "ICU, invasive mechanical ventilation")
    x, y = middle.get_position()
    ax.plot([x - 1.0, x + 1.0], [y, y])
    assert ("ICU, invasive mechanical ventilation", len(ax.lines) - 1) in _crossings(ax)


def test_willingness_to_pay_axes_name_the_effect(hiv_figures):
    """The HIV example measures effect in life-years: WTP is GBP per LY on the CEAC, the
    expected-loss and the EVPI curves (not a generic 'unit of effect'; LY, as the ICER
    tables of the command line and the report say)."""
    assert hiv_figures.inputs.settings.effect_measure == "ly"
    drawn = figures_for(hiv_figures)
    for name in ("ceac", "expected_loss", "evpi"):
        assert drawn[name]().get_xlabel() == "Willingness to pay (GBP per LY)", name


@pytest.fixture(scope="module")
def covid_figures():
    from tests.conftest import ROOT

    return run_workbook(ROOT / "inputs" / "msc_covid19.xlsx")  # as `make run` draws them


def _texts(figure) -> list:
    """The visible, non-empty Text artists of a figure (labels, ticks, titles, legends)."""
    from matplotlib.text import Text

    return [
        t
        for t in figure.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
    ]


def _outside(figure) -> list[float]:
    """How far drawn content (every text included) reaches past each edge of the figure
    [inches; left, bottom, right, top], if it does: a label there is cut."""
    figure.canvas.draw()
    drawn = figure.get_tightbbox(figure.canvas.get_renderer())
    width, height = figure.get_size_inches()
    past = [-drawn.x0, -drawn.y0, drawn.x1 - width, drawn.y1 - height]
    return past if max(past) > 0.01 else []


def _overlapping_texts(figure) -> list[tuple[str, str]]:
    """Pairs of texts other than tick labels (titles, axis labels, legend entries,
    annotations) whose boxes intersect."""
    renderer = figure.canvas.get_renderer()
    ticks = {
        id(t)
        for ax in figure.axes
        for t in (*ax.get_xticklabels(which="both"), *ax.get_yticklabels(which="both"))
    }
    boxes = [
        (t.get_text(), t.get_window_extent(renderer)) for t in _texts(figure) if id(t) not in ticks
    ]
    return [
        (a, b)
        for i, (a, box) in enumerate(boxes)
        for b, other in boxes[i + 1 :]
        if box.overlaps(other)
    ]


def test_the_default_models_figures_are_readable(covid_figures):
    """The default workbook's figures (an HTA review found 'GBP 50kGBP 100k' on the EVPPI
    axis and labels cut with '…' on the tornado and two-way): no tick labels or other texts
    overlap, no text is cut at the figure's edge or shortened with an ellipsis."""
    drawn = figures_for(covid_figures)
    problems = {}
    for name, draw in drawn.items():
        figure = draw().figure
        figure.canvas.draw()
        for ax in figure.axes:
            if _overlaps(ax):
                problems[f"{name}: overlapping"] = _overlaps(ax)
        if outside := _outside(figure):
            problems[f"{name}: outside"] = outside
        if crossing := _overlapping_texts(figure):
            problems[f"{name}: texts overlap"] = crossing
        if shortened := [t.get_text() for t in _texts(figure) if "…" in t.get_text()]:
            problems[f"{name}: shortened"] = shortened
    assert problems == {}


def test_a_strategy_has_one_colour_in_every_figure(hiv_figures):
    """The CE plane coloured its comparisons from the start of the colour cycle (the
    reference has no cloud), so on the default model 'Standard care + MSC' was blue there
    and orange in the acceptability and expected-loss curves. Each strategy now has the
    colour of its place in the decision everywhere."""
    from matplotlib.colors import to_hex

    drawn = figures_for(hiv_figures)

    def line_colours(name):
        ax = drawn[name]()
        return {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}

    ceac, loss = line_colours("ceac"), line_colours("expected_loss")
    plane = drawn["ce_plane"]()
    clouds = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in plane.collections}
    assert clouds and set(clouds) <= set(ceac)
    for label, colour in clouds.items():
        assert colour == ceac[label] == loss[label], label


def test_a_willingness_to_pay_has_one_colour_in_every_value_of_information_figure(
    covid_figures,
):
    """EVPPI drew its WTP bars in green and red (C2, C3) while the EVSI and the
    value-of-research-by-price figures drew the same WTPs in blue and orange (C0, C1)."""
    from matplotlib.colors import to_hex

    drawn = figures_for(covid_figures)
    evppi = drawn["evppi"]()
    bars = {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in evppi.containers}
    evsi = {line.get_label(): to_hex(line.get_color()) for line in drawn["evsi"]().get_lines()}
    price = drawn["voi_by_price"]()
    by_price = {line.get_label(): to_hex(line.get_color()) for line in price.get_lines()}
    for wtp in ("20,000", "30,000"):
        colours = {c for label, c in {**bars, **evsi, **by_price}.items() if wtp in label}
        assert len(colours) == 1, (wtp, colours)
