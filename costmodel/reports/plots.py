"""Plotting only: each function takes results and an optional Axes and returns the Axes."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from costmodel.evidence import Synthesis, describe_method


def plot_forest(synthesis: Synthesis, sensitivity=None, ax: Axes | None = None) -> Axes:
    """Forest plot: each study's risk ratio of death (95% CI, 0.5 correction where a cell is
    zero), box area by random-effects weight, the pooled diamond with its interval (HKSJ or
    Wald, as used), its prediction interval, the MH estimate and, when given, the evidence
    sensitivity analyses (evidence_sensitivity.csv rows); log scale."""
    studies = [s for s in synthesis.studies if np.isfinite(s.log_rr)]
    extra = [] if sensitivity is None else [r for r in sensitivity.itertuples() if r.k == r.k]
    extra = [r for r in extra if r.analysis != "as selected"]
    n = len(studies)
    if ax is None:
        _, ax = _subplots(figsize=(7.5, 0.32 * (n + len(extra) + 5) + 1.0))
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
    labels = [
        f"{s.trial_id} ({s.deaths_msc}/{s.n_msc} vs {s.deaths_control}/{s.n_control})"
        for s in studies
    ]
    ticks = [*y, yd, yd - 0.5]
    method = describe_method(dl)
    labels += [
        f"Pooled {dl.rr:.2f} ({dl.ci_low:.2f}-{dl.ci_high:.2f}), I² {100 * dl.i2:.0f}%; {method}",
        "95% prediction interval" if np.isfinite(dl.pi_low) else "",
    ]
    y_next = yd - 1.0
    if synthesis.mh is not None:
        mh = synthesis.mh
        ax.plot([mh.ci_low, mh.ci_high], [y_next, y_next], color="0.5", lw=1)
        ax.plot(mh.rr, y_next, "D", color="0.5", ms=5)
        ticks.append(y_next)
        labels.append(f"Mantel-Haenszel {mh.rr:.2f} ({mh.ci_low:.2f}-{mh.ci_high:.2f})")
        y_next -= 1.0
    for row in extra:  # sensitivity analyses of the synthesis
        ax.plot([row.ci_low, row.ci_high], [y_next, y_next], color="tab:purple", lw=1)
        ax.plot(row.rr, y_next, "o", color="tab:purple", ms=4)
        ticks.append(y_next)
        labels.append(f"{row.analysis}: {row.rr:.2f} ({row.ci_low:.2f}-{row.ci_high:.2f})")
        y_next -= 1.0
    ax.axvline(1.0, color="0.5", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("Risk ratio of death, MSC vs control (log scale)")
    ax.set_title(f"Mortality: {synthesis.selection.describe()}", fontsize=9)
    ax.figure.tight_layout()
    return ax


def _subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float]):
    """(figure, axes) drawn by Agg, for files only: no pyplot (no window, no figure manager,
    nothing to close; pyplot added ~0.04 s to every start)."""
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(nrows, ncols)


CE_PLANE_POINTS = 2_000  # samples drawn per comparison on the CE plane (means use all)


# zlib level 1 instead of Pillow's 6: the same pixels, 12% larger files, PNG encoding a
# quarter of the time (15 figures of the default run: 2.5 -> 1.9 s of CPU)
_PNG = {"compress_level": 1}


def save_figure(ax: Axes, stem) -> None:
    """Write ``stem``.png (200 dpi) and ``stem``.svg. Both are the same bytes for the same
    figure: no date in the metadata, SVG element ids from a fixed salt."""
    with matplotlib.rc_context({"svg.hashsalt": "costmodel"}):
        ax.figure.savefig(f"{stem}.png", dpi=200, metadata={"Software": None}, pil_kwargs=_PNG)
        ax.figure.savefig(f"{stem}.svg", metadata={"Date": None, "Creator": None})


def _money(currency: str):
    """Currency tick labels, compact (GBP 20k, GBP 1.2m) so that they never overlap."""
    return _compact_money(currency)


def _money_along_x(ax: Axes, currency: str) -> None:
    """Money on the x axis: compact labels ('GBP 250k'), and no more ticks than such labels
    fit side by side (matplotlib's default spacing assumes labels three font sizes wide, and
    'GBP 50kGBP 100k' ran together on a narrow axis)."""
    ax.xaxis.set_major_formatter(_compact_money(currency))
    ax.xaxis.set_major_locator(_MoneyTicks())


class _MoneyTicks(MaxNLocator):
    """MaxNLocator with as many bins as labels of about 9 characters ('GBP -150k') fit along
    the axis at its drawn width, 2 at least."""

    def __init__(self) -> None:
        super().__init__(nbins="auto", steps=[1, 2, 2.5, 5, 10])

    def tick_values(self, vmin: float, vmax: float):
        axis = self.axis
        if axis is not None and axis.axes is not None and axis.figure is not None:
            width_pt = axis.axes.bbox.width * 72.0 / axis.figure.dpi
            size = FontProperties(size=matplotlib.rcParams["xtick.labelsize"]).get_size_in_points()
            self.set_params(nbins=max(2, int(width_pt // (6.0 * size))))
        return super().tick_values(vmin, vmax)


def _compact_money(currency: str):
    """Axis labels such as 'GBP 2.5k' and 'GBP 120m' for wide ranges."""
    from matplotlib.ticker import FuncFormatter

    def label(v: float, _) -> str:
        for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
            if abs(v) >= size:
                return f"{currency} {v / size:,.3g}{suffix}"
        return f"{currency} {v:,.0f}"

    return FuncFormatter(label)


def plot_ce_plane(
    inc_cost: np.ndarray,
    inc_effect: np.ndarray,
    labels: list[str],
    wtp: tuple[float, ...],
    currency: str,
    effect_label: str = "QALYs",
    ax: Axes | None = None,
    reference: str = "reference",
    colors: list[str] | None = None,
) -> Axes:
    """Incremental cost-effectiveness plane: PSA samples (n_samples, n_comparisons) versus the
    reference (named ``reference``), their means, and a line per WTP; ``colors`` per
    comparison (each strategy's colour in the other figures; default the colour cycle)."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 5.0))
    shown = min(len(inc_cost), CE_PLANE_POINTS)  # draws are independent: the first are a sample
    colors = colors or [f"C{j}" for j in range(len(labels))]
    for j, label in enumerate(labels):
        ax.scatter(
            inc_effect[:shown, j],
            inc_cost[:shown, j],
            s=3,
            alpha=0.25,
            label=label,
            color=colors[j],
        )
        ax.plot(inc_effect[:, j].mean(), inc_cost[:, j].mean(), "k+", ms=10)
    # the axes hold the samples and the origin; WTP lines are clipped to them (they used to
    # stretch the cost axis to where no sample is)
    ax.update_datalim([(0.0, 0.0)])
    ax.autoscale_view()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    unit = effect_label.removesuffix("s")
    for w, style in zip(wtp, ("--", ":", "-.", (0, (5, 1, 1, 1))) * len(wtp), strict=False):
        # named in the legend: labels at the lines' ends ran into each other and the title
        label = f"WTP {currency} {w:,.0f} per {unit}"
        ax.axline((0.0, 0.0), slope=w, ls=style, lw=0.9, color="0.3", label=label)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axhline(0, color="0.7", lw=0.6)
    ax.axvline(0, color="0.7", lw=0.6)
    ax.set_xlabel(f"Incremental {effect_label} vs {reference}")
    ax.set_ylabel(f"Incremental cost ({currency})")
    ax.yaxis.set_major_formatter(_money(currency))
    ax.legend(fontsize=7, markerscale=3)
    title = "Cost-effectiveness plane (PSA); +: mean"
    if shown < len(inc_cost):
        title += f"\n{shown:,} of {len(inc_cost):,} samples shown, means of all"
    ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax


def _lines_with_frontier(ax: Axes, table, column: str, labels: dict[str, str]) -> None:
    """One line of ``column`` over WTP per strategy of a ceac table, with dots where the
    strategy is the optimal one (the acceptability frontier)."""
    for strategy, group in table.groupby("strategy", sort=False):
        line = ax.plot(group.wtp, group[column], label=labels.get(strategy, strategy))[0]
        frontier = group[group.on_frontier]
        ax.plot(frontier.wtp, frontier[column], "o", ms=3, color=line.get_color())


def plot_ceac(
    table,
    currency: str,
    ax: Axes | None = None,
    labels: dict[str, str] | None = None,
    effect_unit: str = "unit of effect",
) -> Axes:
    """CEAC per strategy (lines) and the CEAF (markers on the frontier strategy) from a
    ceac table with columns wtp, strategy, prob_ce, on_frontier; ``labels`` maps strategy keys
    to the names shown; WTP is in ``currency`` per ``effect_unit`` (e.g. QALY)."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 4.5))
    _lines_with_frontier(ax, table, "prob_ce", labels or {})
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"Willingness to pay ({currency} per {effect_unit})")
    ax.set_ylabel("Probability cost-effective")
    _money_along_x(ax, currency)
    ax.legend(fontsize=7)
    ax.set_title("Acceptability curves; dots: acceptability frontier", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_expected_loss(
    table,
    currency: str,
    ax: Axes | None = None,
    labels: dict[str, str] | None = None,
    effect_unit: str = "unit of effect",
) -> Axes:
    """Expected-loss curves (dampack, BCEA): per strategy and WTP, the net benefit expected to
    be forgone by choosing it, from a ceac table with expected_loss; the lowest curve is the
    optimal choice and its height the EVPI."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 4.5))
    _lines_with_frontier(ax, table, "expected_loss", labels or {})
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"Willingness to pay ({currency} per {effect_unit})")
    ax.set_ylabel(f"Expected loss per patient ({currency})")
    _money_along_x(ax, currency)
    ax.yaxis.set_major_formatter(_money(currency))
    ax.legend(fontsize=7)
    ax.set_title("Expected loss; dots: the optimal strategy (its loss is the EVPI)", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_evpi(
    table,
    currency: str,
    population: bool,
    ax: Axes | None = None,
    effect_unit: str = "unit of effect",
) -> Axes:
    """EVPI per patient (and per population when a population is set) against WTP."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 4.0))
    column = "evpi_population" if population else "evpi_per_patient"
    ax.plot(table.wtp, table[column], color="tab:purple")
    ax.set_xlabel(f"Willingness to pay ({currency} per {effect_unit})")
    ax.set_ylabel(f"EVPI ({currency}{', population' if population else ' per patient'})")
    _money_along_x(ax, currency)
    ax.yaxis.set_major_formatter(_money(currency))
    ax.set_title("Expected value of perfect information", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_convergence(inmb: np.ndarray, label: str, currency: str, ax: Axes | None = None) -> Axes:
    """Running mean of INMB over PSA samples with a 95% band (Monte Carlo error)."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 4.0))
    n = np.arange(1, inmb.size + 1)
    mean = np.cumsum(inmb) / n
    sq = np.cumsum(inmb**2) / n
    se = np.sqrt(np.maximum(sq - mean**2, 0) / n)
    ax.plot(n, mean, color="tab:blue", label=label)
    ax.fill_between(n, mean - 1.96 * se, mean + 1.96 * se, alpha=0.2, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("PSA samples")
    ax.set_ylabel(f"Mean INMB ({currency})")
    ax.yaxis.set_major_formatter(_money(currency))
    ax.legend(fontsize=7)
    ax.set_title("Convergence of mean incremental net monetary benefit", fontsize=10)
    ax.figure.tight_layout()
    return ax


def _value_text(value: float) -> str:
    """An input value for a label: 22,900 or 0.0141 (three significant digits)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _wrapped(text: str, width: int, lines: int) -> str:
    """``text`` on lines of at most ``width`` characters, ``lines`` at most (only a text
    longer than that loses its end, marked '…')."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder=" …"))


def plot_tornado(
    table,
    currency: str,
    top: int = 15,
    ax: Axes | None = None,
    labels: dict[str, str] | None = None,
    strategy_label: str | None = None,
    effect_unit: str = "QALY",
) -> Axes:
    """Tornado of INMB (one strategy vs the reference) from dsa_oneway rows: parameters by
    their labels (``labels``: name → description) with the low and high input values, bar
    ends marked so that a tiny range stays visible."""
    labels = labels or {}
    rows = table.head(top).iloc[::-1]
    names = [
        f"{_wrapped(labels.get(r.parameter) or r.parameter, 48, 3)}\n"
        f"low {_value_text(r.low_value)}, high {_value_text(r.high_value)}"
        for r in rows.itertuples()
    ]
    if ax is None:  # rows of up to 4 lines of 7 pt text
        per_row = 0.5 if max((n.count("\n") for n in names), default=0) < 2 else 0.68
        _, ax = _subplots(figsize=(8.0, per_row * len(rows) + 1.6))
    base = float(rows.inmb_base.iloc[0]) if len(rows) else 0.0
    y = np.arange(len(rows))
    ax.barh(y, rows.inmb_low - base, left=base, color="tab:blue", label="at the low value")
    ax.barh(y, rows.inmb_high - base, left=base, color="tab:orange", label="at the high value")
    ax.plot(rows.inmb_low, y, "|", color="tab:blue", ms=9)
    ax.plot(rows.inmb_high, y, "|", color="tab:orange", ms=9)
    ax.axvline(base, color="k", lw=0.8)
    ax.set_yticks(y, names, fontsize=7)
    span = max(float(np.nanmax(np.abs(rows[["inmb_low", "inmb_high"]].to_numpy() - base))), 1.0)
    ax.set_xlim(base - 1.1 * span, base + 1.1 * span)
    _money_along_x(ax, currency)
    strategy = strategy_label or (rows.strategy.iloc[0] if len(rows) else "")
    wtp = rows.wtp.iloc[0] if len(rows) else 0
    ax.set_xlabel(
        f"INMB of {strategy} vs reference at {currency} {wtp:,.0f}/{effect_unit}", fontsize=9
    )
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"One-way sensitivity analysis: the {len(rows)} largest ranges", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_two_way(
    table,
    currency: str,
    ax: Axes | None = None,
    labels: dict[str, str] | None = None,
    strategy_label: str | None = None,
) -> Axes:
    """Heat map of INMB over a two-way grid, diverging colours centred at INMB = 0 (blue:
    cost-effective, red: not), with the INMB = 0 contour."""
    from matplotlib.colors import CenteredNorm

    labels = labels or {}
    a, b = table.parameter_a.iloc[0], table.parameter_b.iloc[0]
    xs, ys = np.unique(table.value_a), np.unique(table.value_b)
    z = table.pivot(index="value_b", columns="value_a", values="inmb").to_numpy()
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 5.0))
    # symmetric about 0: white is INMB = 0 and equal shades are equal amounts either side
    norm = CenteredNorm(vcenter=0.0)
    mesh = ax.pcolormesh(xs, ys, z, shading="nearest", cmap="RdBu", norm=norm)
    bar = ax.figure.colorbar(mesh, ax=ax, label=f"INMB ({currency}); white = 0")
    bar.formatter = _money(currency)
    bar.update_ticks()
    if z.min() < 0 < z.max():
        ax.contour(xs, ys, z, levels=[0], colors="k", linewidths=1)
    ax.set_xlabel(_wrapped(labels.get(a) or a, 70, 2), fontsize=8)
    ax.set_ylabel(_wrapped(labels.get(b) or b, 55, 2), fontsize=8)
    strategy = strategy_label or table.strategy.iloc[0]
    ax.set_title(f"Two-way: {strategy} vs reference; line: INMB = 0", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_budget_impact(
    table, currency: str, ax: Axes | None = None, labels: dict[str, str] | None = None
) -> Axes:
    """Budget impact per year (bars) and cumulative (line) of the strategy versus its
    comparator (named by ``labels``: strategy key → label)."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 4.0))
    ax.bar(table.year, table.budget_impact, color="tab:blue", label="budget impact")
    ax.plot(table.year, table.cumulative_budget_impact, "o-", color="tab:red", label="cumulative")
    ax.set_xlabel("Year after adoption")
    ax.set_ylabel(f"{currency} (undiscounted)")
    ax.yaxis.set_major_formatter(_money(currency))
    ax.legend(fontsize=7)
    labels = labels or {}
    new, current = table.strategy.iloc[0], table.comparator.iloc[0]
    title = f"Budget impact of {labels.get(new, new)} instead of {labels.get(current, current)}"
    ax.set_title(_wrapped(title, 70, 2), fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_evppi(
    table, currency: str, ax: Axes | None = None, effect_unit: str = "unit of effect"
) -> Axes:
    """Bar chart of EVPPI per parameter group, one bar per WTP (population if set), the
    groups in order of their largest EVPPI."""
    estimated = table.dropna(subset=["evppi_per_patient"])  # a group may have been skipped
    column = (
        "evppi_population"
        if (estimated.evppi_population != estimated.evppi_per_patient).any()
        else "evppi_per_patient"
    )
    wide = estimated.pivot_table(index="group", columns="wtp", values=column, sort=False)
    wide = wide.loc[wide.max(axis=1).sort_values(kind="stable").index]
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 0.25 * wide.size + 0.3 * len(wide) + 1.5))
    height = 0.8 / wide.shape[1]
    rows = np.arange(len(wide))
    for k, wtp in enumerate(wide.columns):
        offset = (k - (wide.shape[1] - 1) / 2) * height
        label = f"at {currency} {wtp:,.0f} per {effect_unit}"
        ax.barh(rows - offset, wide[wtp], height, color=f"C{k}", label=label)  # as EVSI
    ax.set_yticks(rows, list(wide.index))
    _money_along_x(ax, currency)
    per = "population" if column == "evppi_population" else "per patient"
    ax.set_xlabel(f"EVPPI ({currency}, {per})")
    ax.set_title("Expected value of partial perfect information", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax


def plot_evsi(table, currency: str, ax: Axes | None = None) -> Axes:
    """Population EVSI (with 95% Monte Carlo band), trial cost and ENBS over the future
    trial's size, one colour per WTP."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 4.0))
    groups = list(table.groupby("wtp", sort=True)) if "wtp" in table else [(None, table)]
    for i, (wtp, rows) in enumerate(groups):
        colour = f"C{i}"
        at = "" if wtp is None else f" at {currency} {wtp:,.0f}"
        label = f"population EVSI{at}"
        ax.plot(rows.n_per_arm, rows.evsi_population, "o-", color=colour, label=label)
        if "se" in rows:
            per_patient = rows.evsi_per_patient.where(rows.evsi_per_patient > 0)
            band = (1.96 * rows.se * rows.evsi_population / per_patient).fillna(0)
            low, high = rows.evsi_population - band, rows.evsi_population + band
            ax.fill_between(rows.n_per_arm, low, high, color=colour, alpha=0.15, lw=0)
        ax.plot(rows.n_per_arm, rows.enbs, "^:", color=colour, label=f"ENBS{at}")
        best = rows[rows.optimal & (rows.enbs > 0)]
        if len(best):
            ax.axvline(best.n_per_arm.iloc[0], color=colour, ls=":", lw=1)
    first = groups[0][1]
    ax.plot(first.n_per_arm, first.trial_cost, "s--", color="0.4", label="trial cost")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(first.n_per_arm, [f"{n:,}" for n in first.n_per_arm])
    ax.minorticks_off()
    ax.set_xlabel("Patients per arm of the future trial")
    ax.set_ylabel(f"Population value ({currency})")
    ax.yaxis.set_major_formatter(_compact_money(currency))
    ax.legend(fontsize=7)
    ax.set_title("Value of a future trial (EVSI, ENBS)", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_voi_by_price(
    table,
    currency: str,
    ax: Axes | None = None,
    effect_unit: str = "unit of effect",
    labels: dict[str, str] | None = None,
) -> Axes:
    """Population EVPI (and ENBS of the best trial, when computed) against the product price
    (named by ``labels``: parameter → description), one colour per WTP; the base price is
    marked."""
    if ax is None:
        _, ax = _subplots(figsize=(6.5, 5.0))
    for i, (wtp, rows) in enumerate(table.groupby("wtp", sort=True)):
        colour = f"C{i}"
        at = f"{currency} {wtp:,.0f} per {effect_unit}"
        ax.plot(rows.price, rows.evpi_population, "o-", color=colour, label=f"EVPI at {at}")
        if "enbs" in rows:
            label = f"ENBS of the best trial at {at}"
            ax.plot(rows.price, rows.enbs, "^:", color=colour, label=label)
    base = table[table.is_base_price]
    if len(base):
        ax.axvline(base.price.iloc[0], color="0.5", ls="--", lw=1, label="price in the model")
    unit = table.parameter_unit.iloc[0] if "parameter_unit" in table else currency
    parameter = table.parameter.iloc[0]
    ax.set_xlabel(_wrapped(f"{(labels or {}).get(parameter, parameter)} ({unit})", 64, 2))
    ax.set_ylabel(f"Population value ({currency})")
    _money_along_x(ax, currency)
    ax.yaxis.set_major_formatter(_compact_money(currency))
    # below the plot: five entries inside would hide the curves
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    ax.set_title("Value of research by product price", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_trace_and_survival(
    trace,
    calibration,
    dead_states: list[str],
    reference: str,
    labels: dict[str, str] | None = None,
    state_labels: dict[str, str] | None = None,
) -> Axes:
    """Left: the Markov trace of the reference strategy in the first phase (share of the
    cohort in each state). Right: the share of the cohort dead over the same time for every
    strategy, with the calibration targets on deaths of the whole cohort (target and its
    tolerance) overlaid. ``trace`` as trace.csv, ``calibration`` as calibration.csv or None."""
    labels, state_labels = labels or {}, state_labels or {}
    first = trace[trace.phase == trace.phase.iloc[0]]
    days = first.time_years.max() * 365.25 <= 400
    unit, scale = ("days", 365.25) if days else ("years", 1.0)
    states = [c for c in trace.columns[4:] if first[c].abs().sum() > 0]
    fig, (left, right) = _subplots(1, 2, figsize=(11.0, 4.4))
    ref = first[first.strategy == reference]
    for state in states:
        left.plot(ref.time_years * scale, ref[state], label=state_labels.get(state, state))
    left.set_xlabel(f"Time ({unit})")
    left.set_ylabel("Share of the cohort")
    left.set_ylim(0, 1)
    left.legend(fontsize=7, ncol=2)
    left.set_title(f"Markov trace: {labels.get(reference, reference)}", fontsize=10)
    dead = [s for s in dead_states if s in first.columns]
    for strategy, group in first.groupby("strategy", sort=False):
        right.plot(
            group.time_years * scale, group[dead].sum(axis=1), label=labels.get(strategy, strategy)
        )
    title = "Mortality over time"
    if calibration is not None and len(calibration):
        whole = calibration[
            (calibration.entry == "initial")
            & calibration.relative_to.isna()
            & calibration.outcome.isin([", ".join(dead), dead[0] if len(dead) == 1 else ""])
        ]
        if len(whole):
            title += "; squares: calibration targets ± tolerance"
        for row in whole.itertuples():
            x = row.day if days else row.day / 365.25
            right.errorbar(x, row.target, yerr=row.tolerance, fmt="ks", ms=5, capsize=3, label=None)
            right.annotate(
                row.key, (x, row.target), xytext=(5, -10), textcoords="offset points", fontsize=6.5
            )
    right.set_xlabel(f"Time ({unit})")
    right.set_ylabel("Share dead (cumulative)")
    right.set_ylim(bottom=0)
    right.legend(fontsize=7)
    right.set_title(title, fontsize=10)
    fig.tight_layout()
    return left


def plot_calibration(
    calibration,
    state_labels: dict[str, str] | None = None,
    strategy_labels: dict[str, str] | None = None,
) -> Axes:
    """Every calibration target (square, with its tolerance) beside the model's value
    (cross), one row per target named in words: its states and day, its strategy (a ratio
    to another) and its cohort; a glance shows which targets the model meets."""
    rows = calibration.iloc[::-1]
    names = [
        _calibration_label(r, state_labels or {}, strategy_labels or {}) for r in rows.itertuples()
    ]
    lines = max((n.count("\n") + 1 for n in names), default=1)
    _, ax = _subplots(figsize=(8.0, (0.2 + 0.13 * lines) * len(rows) + 1.4))
    y = np.arange(len(rows))
    ax.errorbar(
        rows.target, y, xerr=rows.tolerance, fmt="ks", ms=5, capsize=3, label="target ± tolerance"
    )
    ax.plot(rows.model, y, "x", color="tab:red", ms=8, mew=2, label="model")
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlabel("Share of the cohort (a ratio for targets relative to another strategy)")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Calibration: targets and the fitted model", fontsize=10)
    ax.figure.tight_layout()
    return ax


def _calibration_label(row, state_labels: dict[str, str], strategy_labels: dict[str, str]) -> str:
    """'Dead by day 28' / 'Standard care + MSC ÷ Standard care' / 'cohort: Hospital,
    low-flow oxygen 933, ...': a Calibration row in words (its key if a field is missing)."""
    outcome = getattr(row, "outcome", "")
    if not isinstance(outcome, str) or not outcome.strip():
        return str(row.key)
    states = " or ".join(state_labels.get(k.strip(), k.strip()) for k in outcome.split(","))
    text = f"{states} by day {row.day:g}"
    strategy = getattr(row, "strategy", "")
    if isinstance(strategy, str) and strategy:
        text += f"; {strategy_labels.get(strategy, strategy)}"
        other = getattr(row, "relative_to", "")
        if isinstance(other, str) and other:
            text += f" ÷ {strategy_labels.get(other, other)}"
    entry = getattr(row, "entry", "")
    if isinstance(entry, str) and entry.strip() and entry.strip() != "initial":
        parts = [part.partition(":") for part in entry.split(",")]
        cohort = [
            f"{state_labels.get(key.strip(), key.strip())} {weight.strip()}".rstrip()
            if len(parts) > 1  # a mix: each state's weight; one state: its name alone
            else state_labels.get(key.strip(), key.strip())
            for key, _, weight in parts
        ]
        text += f"; cohort: {', '.join(cohort)}"
    return _wrapped(text, 60, 4)
