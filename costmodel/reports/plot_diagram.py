"""The model's state diagram: one column of state boxes per phase, transitions as arrows
that run from box edge to box edge and never through a label (a transition that skips
rows of a column runs along a lane beside it)."""

from __future__ import annotations

from matplotlib.axes import Axes

from costmodel.reports.plots import _subplots


def plot_state_diagram(
    phases: list[tuple[str, list[tuple[str, str, bool]]]],
    edges: list[tuple[str, str]],
    ax: Axes | None = None,
) -> Axes:
    """Generic state diagram: one column of boxes per phase (label, key, alive), arrows for
    transitions between different states (stays are not drawn). Arrows run from box edge to
    box edge and never through a label: between neighbours in a column as a short arc, to a
    state further down or up the column along a lane beside it (on its left; on the right of
    the last column), and straight across to another column."""
    n_rows = max((len(states) for _, states in phases), default=1)
    if ax is None:
        _, ax = _subplots(figsize=(3.2 * max(len(phases), 1) + 1.6, 0.75 * n_rows + 1.2))
    where: dict[str, tuple[int, int]] = {}  # key -> (column, row)
    boxes = {}
    for c, (label, states) in enumerate(phases):
        ax.text(_DIAGRAM_DX * c, 0.6, label, ha="center", fontsize=9, weight="bold")
        for r, (text, key, alive) in enumerate(states):
            where[key] = (c, r)
            boxes[key] = ax.text(
                _DIAGRAM_DX * c,
                -_DIAGRAM_DY * r,
                text,
                ha="center",
                va="center",
                fontsize=7.5,
                bbox={"boxstyle": "round", "fc": "#e3eefc" if alive else "#fde2e2", "ec": "0.4"},
            )
    drawn = [(a, b) for a, b in edges if a in where and b in where and a != b]
    lanes = _diagram_lanes(drawn, where, len(phases))
    ax.set_ylim(-_DIAGRAM_DY * n_rows, 1.0)
    ax.axis("off")
    ax.set_title("States and transitions (stays not drawn)", fontsize=10)
    renderer = ax.figure.canvas.get_renderer()
    last = _DIAGRAM_DX * (len(phases) - 1)
    n_lanes = {
        side: 1 + max((k for s, k in lanes.values() if s == side), default=-1)
        for side in ("left", "right")
    }

    def measure() -> tuple[dict[str, float], list[float]]:
        """Each box's half-width in data units at the current limits and layout, and the
        widest of each column."""
        ax.figure.draw_without_rendering()  # the boxes' patches sized to their text
        to_data = ax.transData.inverted()
        widths = {}
        for key, box in boxes.items():
            extent = box.get_bbox_patch().get_window_extent(renderer)
            (x0, _), (x1, _) = to_data.transform([(extent.x0, 0.0), (extent.x1, 0.0)])
            widths[key] = (x1 - x0) / 2
        widest = [
            max((widths[k] for k, (c, _) in where.items() if c == col), default=0.5)
            for col in range(len(phases))
        ]
        return widths, widest

    # the lanes' room depends on the boxes' widths in data units, which depend on the
    # limits: two rounds settle it (text keeps its size in points; a third changes nothing)
    ax.set_xlim(-1.8, last + 1.8)
    for _ in range(2):
        _, widest = measure()
        left = min(-1.8, -widest[0] - _LANE_GAP * (n_lanes["left"] + 1) - 0.1)
        right = max(last + 1.8, last + widest[-1] + _LANE_GAP * (n_lanes["right"] + 1) + 0.1)
        ax.set_xlim(left, right)
        ax.figure.tight_layout()
    widths, widest = measure()
    arrow = {"arrowstyle": "-|>", "color": "0.45", "lw": 0.7, "shrinkA": 2, "shrinkB": 2}
    for a, b in drawn:
        (ca, ra), (cb, rb) = where[a], where[b]
        xa, ya, xb, yb = _DIAGRAM_DX * ca, -_DIAGRAM_DY * ra, _DIAGRAM_DX * cb, -_DIAGRAM_DY * rb
        if ca != cb or abs(ra - rb) == 1:  # across, or to a neighbour: edge to edge
            rad = 0.35 if ca == cb else 0.0
            ax.annotate(
                "",
                (xb, yb),
                (xa, ya),
                arrowprops={
                    **arrow,
                    "patchA": boxes[a].get_bbox_patch(),
                    "patchB": boxes[b].get_bbox_patch(),
                    "connectionstyle": f"arc3,rad={rad}",
                },
            )
            continue
        side, lane = lanes[a, b]  # along a lane beside the column: out, along, back in
        sign = 1.0 if side == "right" else -1.0
        x_lane = xa + sign * (widest[ca] + _LANE_GAP * (lane + 1))
        ax.plot([xa + sign * widths[a], x_lane, x_lane], [ya, ya, yb], color="0.45", lw=0.7)
        ax.annotate(
            "", (xb + sign * widths[b], yb), (x_lane, yb), arrowprops={**arrow, "shrinkA": 0}
        )
    return ax


_DIAGRAM_DX = 3.2  # data units between phase columns
_DIAGRAM_DY = 0.8  # between rows
_LANE_GAP = 0.12  # between the lanes beside a column


def _diagram_lanes(
    edges: list[tuple[str, str]], where: dict[str, tuple[int, int]], n_columns: int
) -> dict[tuple[str, str], tuple[str, int]]:
    """(side, lane index) of each edge that skips rows within a column: beside the last
    column on its right, else on the left; shorter edges nearer the boxes, and edges whose
    spans overlap or touch in different lanes (lines never run on top of each other)."""
    out: dict[tuple[str, str], tuple[str, int]] = {}
    for c in range(n_columns):
        side = "right" if c == n_columns - 1 and n_columns > 1 else "left"
        skips = [
            (a, b)
            for a, b in edges
            if where[a][0] == c == where[b][0] and abs(where[a][1] - where[b][1]) > 1
        ]
        skips.sort(key=lambda e: (abs(where[e[0]][1] - where[e[1]][1]), where[e[0]][1]))
        taken: list[list[tuple[int, int]]] = []  # spans in each lane
        for a, b in skips:
            span = tuple(sorted((where[a][1], where[b][1])))
            for lane, spans in enumerate(taken):
                if all(span[1] < lo or span[0] > hi for lo, hi in spans):  # not even touching
                    spans.append(span)
                    out[a, b] = (side, lane)
                    break
            else:
                taken.append([span])
                out[a, b] = (side, len(taken) - 1)
    return out
