"""Draw docs/state_diagram.png: the MSC model's states and transitions (README figure)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parents[1]
BOXES = {
    "o2": (1.0, 4.0, "Low-flow O2\n(ward)"),
    "niv": (3.4, 4.0, "HFNO / NIV"),
    "imv": (5.8, 4.0, "IMV (ICU)\ntunnel: day 1-4+"),
    "ward": (8.2, 4.0, "Ward after\nextubation\ntunnel: 1-14 d"),
    "d_no": (1.0, 1.9, "Discharged,\nnever IMV"),
    "d_imv": (8.2, 1.9, "Discharged\nafter IMV"),
    "dead": (4.6, 1.9, "Dead"),
    "p_no": (1.0, -0.4, "Alive, never IMV\nyear 1 / later"),
    "p_imv": (8.2, -0.4, "Alive after IMV\nyears 1, 2, 3, later"),
    "dead_lt": (4.6, -0.4, "Dead"),
}
ARROWS = [
    ("o2", "niv", 0.15),
    ("niv", "o2", 0.15),
    ("niv", "imv", 0),
    ("imv", "ward", 0),
    ("o2", "d_no", 0),
    ("o2", "dead", 0),
    ("niv", "dead", 0),
    ("imv", "dead", 0),
    ("ward", "dead", 0),
    ("ward", "d_imv", 0),
    ("d_no", "dead", 0),
    ("d_imv", "dead", 0),
    ("d_no", "p_no", 0),
    ("d_imv", "p_imv", 0),
    ("p_no", "dead_lt", 0),
    ("p_imv", "dead_lt", 0),
]


def main() -> None:
    fig, ax = plt.subplots(figsize=(10, 6.2))
    w, h = 1.9, 1.0
    patches = {}
    for key, (x, y, text) in BOXES.items():
        color = "#fde2e2" if key.startswith("dead") else "#e3eefc" if y > 0.5 else "#e6f4e6"
        patches[key] = ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=color, ec="0.3"
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=9)
    for a, b, bend in ARROWS:
        (x1, y1, _), (x2, y2, _) = BOXES[a], BOXES[b]
        ax.add_patch(
            FancyArrowPatch(  # from edge to edge of the boxes: no line crosses a label
                (x1, y1),
                (x2, y2),
                connectionstyle=f"arc3,rad={bend}",
                arrowstyle="-|>",
                mutation_scale=12,
                color="0.35",
                patchA=patches[a],
                patchB=patches[b],
                shrinkA=2,
                shrinkB=2,
            )
        )
    ax.axhline(0.75, color="0.5", ls="--", lw=0.8)
    ax.text(
        -0.3,
        5.4,
        "Acute phase: 1-day cycles, days 1-90\n(entry on O2, HFNO/NIV or IMV; "
        "MSC effect = hazard ratio on in-hospital death;\nevery state may die; stays in a "
        "state are not drawn)",
        fontsize=9,
        va="top",
    )
    ax.text(  # between the two columns of arrows that cross into this phase
        2.15,
        0.55,
        "Long-term phase: 1-year cycles to age 100 (life table x SMR)",
        fontsize=9,
        va="top",
    )
    ax.set_xlim(-0.4, 9.4)
    ax.set_ylim(-1.2, 5.45)
    ax.axis("off")
    fig.tight_layout()
    out = ROOT / "docs" / "state_diagram.png"
    fig.savefig(out, dpi=130)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
