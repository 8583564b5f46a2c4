"""report.html building blocks: the inline style sheet, HTML tables with numbers formatted for
reading, and figures embedded as base64 images with alt text."""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import numpy as np
import pandas as pd

CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.7rem}h2{border-bottom:2px solid #ccd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.82rem;font-family:Arial,sans-serif}
th,td{border:1px solid #bbb;padding:.2rem .45rem;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}th{background:#eef1f6}
td{max-width:22rem;overflow-wrap:break-word}.long{overflow-wrap:anywhere}
tr.weak td{background:#fff4d6}.note{color:#555;font-size:.9rem}
figure{margin:1rem 0;page-break-inside:avoid}figure img{max-width:100%}
figcaption{font-size:.85rem;color:#444}
nav ol{columns:2;font-size:.9rem}
@media screen{table{display:block;overflow-x:auto;width:max-content;
max-width:min(calc(50vw + 29rem),calc(100vw - 3rem))}}
@media print{@page{margin:14mm 12mm}nav{display:none}h2{page-break-before:auto}
h2,h3{page-break-after:avoid}table{page-break-inside:auto;font-size:.66rem;max-width:100%}
thead{display:table-header-group}tr{page-break-inside:avoid}th,td{padding:.1rem .25rem}
td{max-width:14rem}td.num{white-space:normal}figure img{max-height:23cm}
body{max-width:none;margin:0;font-size:.9rem}}
"""

FIGURE_TEXT = {
    "state_diagram": "State diagram: the model's health states by phase with the possible "
    "transitions between them.",
    "forest": "Forest plot of the risk ratio of death in each trial with the pooled "
    "random-effects estimate, its prediction interval and the Mantel-Haenszel estimate.",
    "tornado": "Tornado diagram: incremental net monetary benefit when each parameter is set "
    "to its low and high value, largest effects at the top.",
    "twoway": "Two-way sensitivity analysis: incremental net monetary benefit over a grid of "
    "two parameters, with the line where it is zero.",
    "ce_plane": "Cost-effectiveness plane: incremental costs and effects of each strategy "
    "versus the reference in every PSA sample, with willingness-to-pay lines.",
    "ceac": "Cost-effectiveness acceptability curves of each strategy and the acceptability "
    "frontier over willingness to pay.",
    "expected_loss": "Expected-loss curves: the net benefit per patient expected to be forgone "
    "by choosing each strategy, over willingness to pay; the lowest curve is the optimal "
    "choice and its height the EVPI.",
    "evpi": "Expected value of perfect information over willingness to pay.",
    "trace": "Markov trace of the reference strategy in the first phase, and the share of the "
    "cohort dead over time in every strategy with the calibration targets.",
    "calibration": "Calibration targets with their tolerance beside the fitted model's values.",
    "convergence": "Running mean of incremental net monetary benefit over PSA samples with "
    "its 95% Monte Carlo band.",
    "evppi": "Expected value of partial perfect information of parameter groups.",
    "evsi": "Expected value of sample information and expected net benefit of sampling over "
    "the size of a future trial.",
    "voi_by_price": "Value of research by product price: population EVPI and the ENBS of the "
    "best trial at each price and willingness to pay, with the price in the model marked.",
    "budget_impact": "Budget impact per year (bars) and its running total (line): the extra "
    "cost of the strategy at the BudgetImpact sheet's uptake, undiscounted, each patient's "
    "lifetime costs counted in the year of treatment.",
}


# Words spelled out or capitalised in report headers: a column name a reader sees is never a
# snake_case key (issue #15); the CSV files keep their column names.
HEADER_WORDS = {
    "icer": "ICER", "nmb": "NMB", "nhb": "NHB", "inmb": "INMB", "evpi": "EVPI",
    "evppi": "EVPPI", "evsi": "EVSI", "enbs": "ENBS", "qaly": "QALY", "qalys": "QALYs",
    "ly": "LY", "lys": "LYs", "ci": "CI", "pi": "PI", "se": "SE", "rr": "RR", "wtp": "WTP",
    "dl": "DL", "inc": "incremental", "prob": "probability", "msc": "MSC", "imv": "IMV",
    "niv": "NIV", "icu": "ICU", "nnt": "NNT", "id": "ID", "tau2": "τ²", "i2": "I²",
    "psa": "PSA", "dsa": "DSA", "n": "n", "log": "log", "hfno": "HFNO", "o2": "O2",
    "hr": "HR", "mh": "MH", "gp": "GP",
}  # fmt: skip


def header_label(name: object) -> str:
    """A table header as a reader sees it: ``inc_cost`` -> 'Incremental cost', ``nmb_20000``
    -> 'NMB 20,000', ``ci_low`` -> 'CI low'; headers already written for readers (with
    spaces or capitals) are kept."""
    text = str(name)
    if not re.fullmatch(r"[a-z0-9_]+", text):
        return text
    words = []
    for word in text.split("_"):
        if word.isdigit() and len(word) > 3:
            words.append(f"{int(word):,}")
        else:
            words.append(HEADER_WORDS.get(word, word))
    label = " ".join(w for w in words if w)
    if words[0] in ("n", "τ²") or not ("a" <= label[:1] <= "z"):
        return label  # n per arm, τ²: symbols keep their case
    return label[:1].upper() + label[1:]


def _table(frame: pd.DataFrame, *, max_rows: int = 60, weak_column: str | None = None) -> str:
    shown = frame.head(max_rows)
    header = "".join(f"<th scope='col'>{html.escape(header_label(c))}</th>" for c in shown.columns)
    formats = [_column_format(shown[c]) for c in shown.columns]
    body = []
    for _, row in shown.iterrows():
        weak = weak_column is not None and bool(row.get(weak_column))
        cells = "".join(
            f"<td class='num'>{html.escape(fmt(v))}</td>"
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            else f"<td>{_breakable(_format(v))}</td>"
            for v, fmt in zip(row.to_numpy(), formats, strict=True)
        )
        body.append(f"<tr class='weak'>{cells}</tr>" if weak else f"<tr>{cells}</tr>")
    note = (
        f"<p class='note'>First {max_rows} of {len(frame)} rows; all rows are in the CSV.</p>"
        if len(frame) > max_rows
        else ""
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


# Where a token (text between spaces) may wrap: a URL, a path, a distribution's parameters
# or a group of parameters (a+b+c) after / + , & ? = once longer than 16 characters; an
# identifier (msc_cells, smr_post_discharge_early) or a word is kept whole up to 30
# characters, then wraps after _ . -; a longer token without separators (a hash), anywhere.
# The pieces between / + , & ? = joins are treated like tokens of their own.
_TOKEN = re.compile(r"\S{17,}")
_JOINS = re.compile(r"([/+,&?=]+)")
_WORD_JOINS = re.compile(r"([_.-]+)")
_LONGEST_WORD = 30


def _breakable(text: str) -> str:
    """``text`` escaped for HTML, with line-break opportunities (<wbr>) inside its long
    tokens as above: a table column is never narrower than an identifier and no identifier
    is cut, yet URLs and long lists do not widen their column."""
    out, end = [], 0
    for match in _TOKEN.finditer(text):
        out.append(html.escape(text[end : match.start()]))
        token = match.group(0)
        if _JOINS.search(token):  # a piece between joins longer than a word wraps too
            out.append(_after_joins(token, _JOINS, _long_word))
        else:
            out.append(_long_word(token))
        end = match.end()
    out.append(html.escape(text[end:]))
    return "".join(out)


def _long_word(token: str) -> str:
    """A token without / + , & ? = escaped: whole up to _LONGEST_WORD characters, else with
    <wbr> after its _ . - or, without any, breakable anywhere."""
    if len(token) <= _LONGEST_WORD:
        return html.escape(token)
    if _WORD_JOINS.search(token):
        return _after_joins(token, _WORD_JOINS, _anywhere)
    return _anywhere(token)


def _anywhere(token: str) -> str:
    """A token escaped, breakable anywhere if longer than _LONGEST_WORD (a hash)."""
    if len(token) <= _LONGEST_WORD:
        return html.escape(token)
    return f"<span class='long'>{html.escape(token)}</span>"


def _after_joins(token: str, joins: re.Pattern, piece: Callable[[str], str]) -> str:
    """``token`` with <wbr> after each run of ``joins``; the pieces between, by ``piece``."""
    parts = joins.split(token)  # a capturing group: the joins are the odd parts
    return "".join(
        html.escape(part) + "<wbr>" if i % 2 else piece(part) for i, part in enumerate(parts)
    )


def _column_format(column: pd.Series) -> Callable[[object], str]:
    """One number format for a whole column, so that its decimals line up (5.981 and 6.580,
    0.980 and 0.011): whole numbers with thousands separators for columns of large values,
    3 decimals below 100; a column mixing very different sizes keeps one format per value."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0 or column.dtype == bool:
        return _format
    smallest = finite[finite > 0].min() if finite.any() else 0.0
    if np.all(finite == np.round(finite)):
        decimals = 0
    elif np.all(np.abs(finite - np.round(finite, 1)) < 1e-9 * np.maximum(finite, 1.0)):
        decimals = 1  # values already rounded to one decimal (per 1,000, NNT) keep one
    elif finite.max() >= 100 and smallest >= 10:
        decimals = 0
    elif finite.max() < 100 and smallest >= 0.001:
        decimals = 3
    else:  # values of very different sizes (an inputs table): each by its own size
        return _format

    def format_number(value: object) -> str:
        if not _is_number(value):
            return _format(value)
        return fixed(float(value), decimals)

    return format_number


def fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals and thousands separators, a half rounded away
    from zero as Excel shows it (Python's format rounds half to even: 2,086.5 gave '2,086'
    here and '2,087' in results.xlsx). Values of 1e15 and more, where a float has no
    decimals left to round, and non-finite ones are formatted as Python does."""
    number = float(value)
    if not math.isfinite(number) or abs(number) >= 1e15:
        return f"{number:,.{decimals}f}"
    step = Decimal(1).scaleb(-decimals)
    with localcontext() as context:
        context.prec = 40
        exact = Decimal(repr(number)).quantize(step, rounding=ROUND_HALF_UP)
    return f"{exact:,.{decimals}f}"


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and bool(np.isfinite(float(value)))
    )


def _format(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        magnitude = abs(float(value))
        if float(value).is_integer() and magnitude < 1e15:
            return f"{value:,.0f}"
        if magnitude >= 1000:
            return fixed(float(value), 0)
        if magnitude >= 1 or magnitude == 0:
            if magnitude >= 100:
                return fixed(float(value), 1)
            return fixed(float(value), 3).rstrip("0").rstrip(".")
        return f"{value:.4g}"
    return str(value)


def figure_text(name: str) -> str:
    """A figure's caption and alt text (``twoway_2`` has ``twoway``'s)."""
    numbered = re.fullmatch(r"(.+)_\d+", name)
    base = numbered.group(1) if numbered and numbered.group(1) in FIGURE_TEXT else name
    return FIGURE_TEXT.get(base, name.replace("_", " "))


RASTER_FIGURES = ("ce_plane", "convergence")  # thousands of points: PNG keeps the file small


def _figure(folder: Path, name: str) -> str:
    kind = "png" if name in RASTER_FIGURES else "svg"
    path = folder / "figures" / f"{name}.{kind}"
    if not path.exists():
        return ""
    mime = "image/png" if kind == "png" else "image/svg+xml"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = figure_text(name)
    return (
        f"<figure><img src='data:{mime};base64,{data}' alt='{html.escape(alt)}'>"
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )
