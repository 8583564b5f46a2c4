"""Trials sheet and the synthesis that replaces the effect parameter."""

from __future__ import annotations

import numpy as np

from costmodel import schema
from costmodel.evidence import (
    Pooled,
    Selection,
    Synthesis,
    Trial,
    describe_method,
    pool_studies,
    synthesize,
)
from costmodel.formula import parse_expression
from costmodel.inputs import (
    Parameter,
    Settings,
)
from costmodel.validate.cells import (
    _describe,
    _is_number,
    _Problems,
    _read_bool,
    _read_choice,
    _read_integer,
    _text,
)
from costmodel.workbook import RawRow, RawSheet

AUTO_HKSJ_BELOW = 10  # synthesis_interval auto: HKSJ for fewer trials than this
Z95 = 1.959963984540054


def _read_trials(sheet: RawSheet | None, problems: _Problems) -> list[Trial] | None:
    if sheet is None:
        return None
    trials: list[Trial] = []
    for row in sheet.rows:
        name = sheet.name
        trial_id = _text(row, "trial_id")
        if not trial_id:
            problems.add(name, row.cell("trial_id"), "trial_id is blank.")
            continue
        flags = {}
        for column in ("include", "randomized"):
            value = row.get(column)
            if value is None:
                problems.add(name, row.cell(column), f"{column} is blank (yes or no).")
            flags[column] = bool(
                value is not None and _read_bool(value, name, row.cell(column), column, problems)
            )
        product = _text(row, "product_type").lower()
        if product not in schema.PRODUCT_TYPES:
            problems.add(
                name,
                row.cell("product_type"),
                f"product_type must be one of {', '.join(schema.PRODUCT_TYPES)}; got "
                f"{_describe(row.get('product_type'))}.",
            )
        counts: dict[str, int | None] = {}
        for column in ("n_msc", "deaths_msc", "n_control", "deaths_control"):
            value = row.get(column)
            number = (
                None
                if value is None
                else _read_integer(value, name, row.cell(column), column, problems)
            )
            if number is not None and number < 0:
                problems.add(name, row.cell(column), f"{column} must be >= 0; got {number}.")
                number = None
            counts[column] = number
        for deaths, n in (("deaths_msc", "n_msc"), ("deaths_control", "n_control")):
            if counts[deaths] is not None and counts[n] is not None and counts[deaths] > counts[n]:
                problems.add(
                    name,
                    row.cell(deaths),
                    f"{deaths} ({counts[deaths]}) is larger than {n} ({counts[n]}) for trial "
                    f"{trial_id}.",
                )
                counts[deaths] = None
            if (counts[n] == 0) and counts[deaths] is not None:
                problems.add(name, row.cell(n), f"{n} must be > 0 when deaths are given.")
                counts[n] = None
        timepoint = row.get("timepoint_days")
        risk_of_bias, derived = _read_trial_quality(row, name, problems)
        trials.append(
            Trial(
                trial_id=trial_id,
                arm=_text(row, "arm"),
                include=flags["include"],
                virus=_text(row, "virus"),
                randomized=flags["randomized"],
                product_type=product,
                n_msc=counts["n_msc"],
                deaths_msc=counts["deaths_msc"],
                n_control=counts["n_control"],
                deaths_control=counts["deaths_control"],
                timepoint_days=float(timepoint) if _is_number(timepoint) else None,
                source=_text(row, "source"),
                where=f"{name}!{row.cell('trial_id')}",
                risk_of_bias=risk_of_bias,
                counts_derived=derived,
            )
        )
    lacking = sorted({t.trial_id for t in trials if not t.has_counts})
    if lacking:
        problems.warn(
            sheet.name,
            "",
            f"{len(lacking)} trial(s) without complete death counts are left out of the "
            f"synthesis: {', '.join(lacking)}.",
        )
    return trials


def _read_trial_quality(row: RawRow, name: str, problems: _Problems) -> tuple[str, bool]:
    """risk_of_bias (low / some concerns / high, "" when blank) and counts_derived."""
    risk = ""
    if row.get("risk_of_bias") is not None:
        cell = row.cell("risk_of_bias")
        risk = (
            _read_choice(
                row.get("risk_of_bias"), schema.RISK_OF_BIAS, name, cell, "risk_of_bias", problems
            )
            or ""
        )
    derived = False
    if row.get("counts_derived") is not None:
        cell = row.cell("counts_derived")
        derived = bool(
            _read_bool(row.get("counts_derived"), name, cell, "counts_derived", problems)
        )
    return risk, derived


def trial_selection(settings: Settings, products: tuple[str, ...]) -> Selection:
    """The Settings synthesis_* choices as a trial selection."""
    ids = tuple(t.strip() for t in settings.synthesis_trials.split(",") if t.strip())
    return Selection(
        settings.synthesis_virus.strip().lower() or "all",
        products,
        settings.synthesis_randomized_only,
        exclude_high_risk_of_bias=settings.synthesis_exclude_high_risk_of_bias,
        exclude_derived_counts=settings.synthesis_exclude_derived_counts,
        trial_ids=() if ids in ((), ("all",)) else ids,
    )


def synthesis_interval(settings: Settings, k: int) -> str:
    """The interval setting resolved: auto is HKSJ for 2 to 9 trials, Wald for one trial (HKSJ
    has no degrees of freedom) or 10 and more."""
    if settings.synthesis_interval == "auto":
        return "HKSJ" if 2 <= k < AUTO_HKSJ_BELOW else "wald"
    return "HKSJ" if settings.synthesis_interval == "hksj" else "wald"


def run_synthesis(trials: list[Trial], settings: Settings, selection: Selection) -> Synthesis:
    """Pool the selected trials with the Settings' tau² estimator and interval."""
    k = len(pool_studies(trials, selection))
    interval = synthesis_interval(settings, k)
    return synthesize(trials, selection, tau2_method=settings.synthesis_tau2, interval=interval)


def _apply_synthesis(
    trials: list[Trial],
    settings: Settings,
    parameters: list[Parameter],
    sheets: dict[str, RawSheet | None],
    problems: _Problems,
) -> tuple[Synthesis | None, list[Parameter]]:
    """Pool the selected trials and, unless synthesis_effect is manual, make the pooled RR
    the base value and lognormal(ln RR, SE) distribution of effect_parameter."""
    settings_sheet = sheets["Settings"]
    cells = {str(r.get("setting")).strip().lower(): r.cell("value") for r in settings_sheet.rows}
    products = tuple(p.strip().lower() for p in settings.synthesis_products.split(",") if p.strip())
    if products == ("all",):
        products = ()
    unknown = [p for p in products if p not in schema.PRODUCT_TYPES]
    if unknown:
        problems.add(
            "Settings",
            cells.get("synthesis_products", ""),
            f"synthesis_products: unknown product '{unknown[0]}'; use 'all' or some of "
            f"{', '.join(schema.PRODUCT_TYPES)}.",
        )
        return None, parameters
    selection = trial_selection(settings, products)
    try:
        synthesis = run_synthesis(trials, settings, selection)
    except ValueError as exc:
        problems.add(
            "Settings",
            cells.get("synthesis_virus", ""),
            f"evidence synthesis: {exc}. Change the synthesis_* settings or the Trials "
            "include column.",
        )
        return None, parameters
    if not settings.effect_parameter:
        problems.add(
            "Settings",
            "",
            "the workbook has a Trials sheet but no effect_parameter setting naming the "
            "parameter that receives the pooled risk ratio.",
        )
        return synthesis, parameters
    if settings.synthesis_effect == "manual":
        return synthesis, parameters
    dl = synthesis.dl
    sd = effect_sd(dl, settings.synthesis_effect)
    if settings.synthesis_effect == "prediction" and dl.k < 3:
        problems.add(
            "Settings",
            cells.get("synthesis_effect", ""),
            f"a prediction distribution needs at least 3 trials; the selection has {dl.k}. "
            "Use 'confidence' or widen the selection.",
        )
        return synthesis, parameters
    replaced = []
    for p in parameters:
        if p.name == settings.effect_parameter:
            p = Parameter(
                name=p.name,
                expression=parse_expression(dl.rr),
                distribution="lognormal",
                dist_params=(dl.log_rr, sd, None),
                low=float(np.exp(dl.log_rr - Z95 * sd)),
                high=float(np.exp(dl.log_rr + Z95 * sd)),
                unit=p.unit or "risk ratio",
                group=p.group,
                description=p.description,
                source=(
                    f"Trials sheet: random-effects pooled RR of death ({describe_method(dl)}), "
                    f"k={dl.k} ({selection.describe()}); {settings.synthesis_effect} "
                    "distribution"
                ),
                where=p.where,
            )
        replaced.append(p)
    return synthesis, replaced


def effect_sd(pooled: Pooled, kind: str) -> float:
    """SD of the log RR whose normal 95% interval is the pooled CI (kind 'confidence') or
    prediction interval ('prediction'): for HKSJ the t-based interval, so the PSA carries its
    width."""
    high = pooled.ci_high if kind == "confidence" else pooled.pi_high
    if pooled.interval == "wald" and kind == "confidence":
        return pooled.se_log
    if pooled.interval == "wald":
        return pooled.se_pred
    return float((np.log(high) - pooled.log_rr) / Z95)
