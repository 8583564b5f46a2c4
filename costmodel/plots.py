"""Plotting only: each function takes results and an optional Axes and returns the Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from costmodel.evidence import Synthesis


def plot_forest(synthesis: Synthesis, ax: Axes | None = None) -> Axes:
    """Forest plot: each study's risk ratio of death (95% CI, 0.5 correction where a cell is
    zero), box area by random-effects weight, the DL diamond, its prediction interval and
    the MH estimate; log scale."""
    studies = [s for s in synthesis.studies if np.isfinite(s.log_rr)]
    n = len(studies)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 0.35 * (n + 4) + 1.0))
    y = np.arange(n, 0, -1, dtype=float)
    for yi, s in zip(y, studies, strict=True):
        se = np.sqrt(s.variance)
        low, high = np.exp(s.log_rr - 1.96 * se), np.exp(s.log_rr + 1.96 * se)
        ax.plot([low, high], [yi, yi], color="0.3", lw=1)
        ax.plot(np.exp(s.log_rr), yi, "s", color="tab:blue", ms=3 + 12 * np.sqrt(s.weight_dl))
    dl = synthesis.dl
    yd = -0.5
    ax.fill([dl.ci_low, dl.rr, dl.ci_high, dl.rr], [yd, yd + 0.3, yd, yd - 0.3], color="tab:red")
    if np.isfinite(dl.pi_low):
        ax.plot([dl.pi_low, dl.pi_high], [yd - 0.5, yd - 0.5], color="tab:red", lw=2, alpha=0.5)
    labels = [f"{s.trial_id} ({s.deaths_msc}/{s.n_msc} vs {s.deaths_control}/{s.n_control})"
              for s in studies]  # fmt: skip
    ticks = [*y, yd, yd - 0.5]
    labels += [
        f"DL random effects {dl.rr:.2f} ({dl.ci_low:.2f}-{dl.ci_high:.2f}), I² {100 * dl.i2:.0f}%",
        "95% prediction interval" if np.isfinite(dl.pi_low) else "",
    ]
    if synthesis.mh is not None:
        mh = synthesis.mh
        ym = yd - 1.0
        ax.plot([mh.ci_low, mh.ci_high], [ym, ym], color="0.5", lw=1)
        ax.plot(mh.rr, ym, "D", color="0.5", ms=5)
        ticks.append(ym)
        labels.append(f"Mantel-Haenszel {mh.rr:.2f} ({mh.ci_low:.2f}-{mh.ci_high:.2f})")
    ax.axvline(1.0, color="0.5", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel("Risk ratio of death, MSC vs control (log scale)")
    ax.set_title(f"Mortality: {synthesis.selection.describe()}", fontsize=9)
    ax.figure.tight_layout()
    return ax


def save_figure(ax: Axes, stem) -> None:
    """Write ``stem``.png (200 dpi) and ``stem``.svg, then close the figure."""
    ax.figure.savefig(f"{stem}.png", dpi=200)
    ax.figure.savefig(f"{stem}.svg")
    plt.close(ax.figure)
