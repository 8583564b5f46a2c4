"""Settings sheet: typed settings, and their cross-references to other sheets."""

from __future__ import annotations

import difflib
import re

from costmodel import schema
from costmodel.inputs import (
    Parameter,
    Phase,
    Settings,
    Strategy,
)
from costmodel.validate.cells import (
    _describe,
    _is_number,
    _Problems,
    _read_bool,
    _read_choice,
    _read_integer,
    _read_number,
)
from costmodel.workbook import RawSheet


def _setting_key(row, specs, values, cells, sheet: str, problems: _Problems) -> str | None:
    """The row's setting key, or None (with a problem) when blank, unknown or repeated."""
    if row.get("setting") is None:
        problems.add(sheet, row.cell("setting"), "setting name is blank.")
        return None
    key = str(row.get("setting")).strip().lower().replace(" ", "_")
    if key not in specs:
        close = difflib.get_close_matches(key, specs, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.add(sheet, row.cell("setting"), f"unknown setting '{key}'.{hint}")
        return None
    if key in values:
        message = f"setting '{key}' is given twice ({cells[key]})."
        problems.add(sheet, row.cell("setting"), message)
        return None
    return key


def _read_settings(sheet: RawSheet, problems: _Problems) -> tuple[Settings | None, dict]:
    specs = schema.settings_by_key()
    values: dict[str, object] = {}
    cells: dict[str, str] = {}
    for row in sheet.rows:
        key = _setting_key(row, specs, values, cells, sheet.name, problems)
        if key is not None:
            cells[key] = row.cell("value")
            values[key] = row.get("value")

    parsed: dict[str, object] = {}
    for spec in schema.SETTINGS:
        value = values.get(spec.key)
        cell = cells.get(spec.key, "")
        if value is None:
            if spec.required:
                problems.add(
                    sheet.name,
                    cell,
                    f"setting '{spec.key}' is required: {spec.description}",
                )
            parsed[spec.key] = spec.default
            continue
        parsed[spec.key] = _parse_setting(spec, value, sheet.name, cell, problems)

    single_phase = {
        k: parsed.get(k)
        for k in ("cycle_length", "cycle_unit", "n_cycles")
        if parsed.get(k) is not None
    }
    single_phase["_cells"] = cells
    if any(parsed[s.key] is None for s in schema.SETTINGS if s.required):
        return None, single_phase
    try:
        settings = Settings(
            name=str(parsed["name"]),
            description=str(parsed["description"] or ""),
            perspective=str(parsed["perspective"] or ""),
            currency=str(parsed["currency"]),
            price_year=int(parsed["price_year"]),  # type: ignore[arg-type]
            discount_rate_costs=float(parsed["discount_rate_costs"]),  # type: ignore[arg-type]
            discount_rate_outcomes=float(parsed["discount_rate_outcomes"]),  # type: ignore[arg-type]
            within_cycle_correction=str(parsed["within_cycle_correction"]),
            discount_timing=str(parsed["discount_timing"] or "method"),
            start_age=float(parsed["start_age"]),  # type: ignore[arg-type]
            prop_female=float(parsed["prop_female"]),  # type: ignore[arg-type]
            wtp=tuple(parsed["wtp"]),  # type: ignore[arg-type]
            effect_measure=str(parsed["effect_measure"]),
            psa_samples=int(parsed["psa_samples"]),  # type: ignore[arg-type]
            seed=int(parsed["seed"]),  # type: ignore[arg-type]
            reference_strategy=str(parsed["reference_strategy"] or ""),
            population_size=float(parsed["population_size"] or 0.0),  # type: ignore[arg-type]
            decision_horizon_years=int(parsed["decision_horizon_years"] or 1),  # type: ignore[arg-type]
            dsa_strategy=str(parsed["dsa_strategy"] or ""),
            twoway=str(parsed["twoway"] or ""),
            threshold_parameter=str(parsed["threshold_parameter"] or ""),
            run_evppi=bool(parsed["run_evppi"]),
            run_evsi=bool(parsed["run_evsi"]),
            run_biomarker=bool(parsed["run_biomarker"]),
            biomarker_in_decision=bool(parsed["biomarker_in_decision"]),
            life_table_source=str(parsed["life_table_source"] or ""),
            run_budget_impact=bool(parsed["run_budget_impact"]),
            evsi_sample_sizes=tuple(parsed["evsi_sample_sizes"] or ()),  # type: ignore[arg-type]
            trial_fixed_cost=float(parsed["trial_fixed_cost"] or 0.0),  # type: ignore[arg-type]
            trial_cost_per_patient=float(parsed["trial_cost_per_patient"] or 0.0),  # type: ignore[arg-type]
            trial_control_risk_parameter=str(parsed["trial_control_risk_parameter"] or ""),
            biomarker_strategy=str(parsed["biomarker_strategy"] or ""),
            budget_strategy=str(parsed["budget_strategy"] or ""),
            run_voi_by_price=bool(parsed["run_voi_by_price"]),
            voi_prices=tuple(parsed["voi_prices"] or ()),  # type: ignore[arg-type]
            synthesis_tau2=str(parsed["synthesis_tau2"] or "DL").upper(),
            synthesis_interval=str(parsed["synthesis_interval"] or "auto").lower(),
            synthesis_exclude_high_risk_of_bias=bool(parsed["synthesis_exclude_high_risk_of_bias"]),
            synthesis_exclude_derived_counts=bool(parsed["synthesis_exclude_derived_counts"]),
            synthesis_trials=str(parsed["synthesis_trials"] or "all"),
            effect_start_day=float(parsed["effect_start_day"] or 0.0),  # type: ignore[arg-type]
            effect_end_day=_optional_float(parsed["effect_end_day"]),
            effect_waning=str(parsed["effect_waning"] or "none"),
            effect_waning_end_day=_optional_float(parsed["effect_waning_end_day"]),
            threshold_max=(
                None if parsed["threshold_max"] is None else float(parsed["threshold_max"])  # type: ignore[arg-type]
            ),
            outcome_days=tuple(parsed["outcome_days"] or ()),  # type: ignore[arg-type]
            effect_parameter=str(parsed["effect_parameter"] or ""),
            synthesis_virus=str(parsed["synthesis_virus"] or "all"),
            synthesis_products=str(parsed["synthesis_products"] or "all"),
            synthesis_randomized_only=bool(parsed["synthesis_randomized_only"]),
            synthesis_effect=str(parsed["synthesis_effect"] or "confidence"),
        )
    except (TypeError, ValueError):  # a setting failed to parse; already reported
        return None, single_phase
    return settings, single_phase


LIST_SEPARATOR = r"\s*;\s*|,\s+|\s+"


def _parse_setting(
    spec: schema.Setting, value: object, sheet: str, cell: str, problems: _Problems
) -> object:
    what = f"setting '{spec.key}'"
    if spec.kind == schema.TEXT:
        return str(value).strip()
    if spec.kind == schema.BOOL:
        return _read_bool(value, sheet, cell, what, problems)
    if spec.kind == schema.ENUM:
        return _read_choice(value, spec.choices, sheet, cell, what, problems)
    if spec.kind == schema.NUMBER_LIST:
        # items separated by ';' or by a comma and a space: '20000, 30000'; a comma between
        # digits is a thousands separator (or refused), never a list separator
        parts = [value] if _is_number(value) else re.split(LIST_SEPARATOR, str(value).strip())
        numbers = [_read_number(p, sheet, cell, what, problems) for p in parts if p != ""]
        if not numbers:
            problems.add(sheet, cell, f"{what} needs at least one number, e.g. 20000, 30000.")
            return None
        if any(n is None for n in numbers):
            return None
        if any(n < 0 for n in numbers):  # type: ignore[operator]
            problems.add(sheet, cell, f"{what} values must be >= 0; got {_describe(value)}.")
            return None
        if len(set(numbers)) != len(numbers):
            problems.add(sheet, cell, f"{what} values must be distinct; got {_describe(value)}.")
            return None
        return tuple(numbers)
    reader = _read_integer if spec.kind == schema.INTEGER else _read_number
    number = reader(value, sheet, cell, what, problems)
    if number is None:
        return None
    if spec.minimum is not None and number < spec.minimum:
        problems.add(sheet, cell, f"{what} must be >= {spec.minimum:g}; got {_describe(value)}.")
        return None
    if spec.maximum is not None and number > spec.maximum:
        hint = " Enter rates as proportions: 0.035 for 3.5%." if spec.maximum <= 1 else ""
        problems.add(
            sheet, cell, f"{what} must be <= {spec.maximum:g}; got {_describe(value)}.{hint}"
        )
        return None
    return number


def _check_settings_references(
    settings: Settings,
    strategies: list[Strategy],
    parameters: list[Parameter],
    sheet: RawSheet,
    problems: _Problems,
) -> None:
    cells = {str(r.get("setting")).strip().lower(): r.cell("value") for r in sheet.rows}
    keys = [s.key for s in strategies]
    if settings.reference_strategy and settings.reference_strategy not in keys:
        problems.add(
            sheet.name,
            cells.get("reference_strategy", ""),
            f"reference_strategy '{settings.reference_strategy}' is not a strategy; "
            f"strategies are {', '.join(keys)}.",
        )
    for key in ("dsa_strategy", "budget_strategy", "biomarker_strategy"):
        value = getattr(settings, key)
        if value and value not in keys:
            problems.add(
                sheet.name,
                cells.get(key, ""),
                f"{key} '{value}' is not a strategy; strategies are {', '.join(keys)}.",
            )
    names = {p.name for p in parameters}
    _check_effect_duration(settings, sheet, problems)
    _check_strategy_roles(settings, strategies, names, cells, sheet, problems)
    missing = [n for n in schema.BIOMARKER_PARAMETERS if n not in names]
    if settings.run_biomarker and (missing or not settings.effect_parameter):
        problems.add(
            sheet.name,
            cells.get("run_biomarker", ""),
            "run_biomarker needs the parameters "
            + ", ".join(schema.BIOMARKER_PARAMETERS)
            + f" (missing: {', '.join(missing) or 'none'}) and the setting effect_parameter.",
        )
    if settings.run_voi_by_price and not settings.threshold_parameter:
        problems.add(
            sheet.name,
            cells.get("run_voi_by_price", ""),
            "run_voi_by_price needs the setting threshold_parameter (the price to vary).",
        )
    if settings.run_evsi and not (
        settings.effect_parameter and settings.trial_control_risk_parameter
    ):
        problems.add(
            sheet.name,
            cells.get("run_evsi", ""),
            "run_evsi needs the settings effect_parameter (the risk ratio the trial measures) "
            "and trial_control_risk_parameter (the control-arm risk).",
        )
    for key in ("threshold_parameter", "trial_control_risk_parameter"):
        value = getattr(settings, key)
        if value and value not in names:
            close = difflib.get_close_matches(value, names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.add(
                sheet.name, cells.get(key, ""), f"{key} '{value}' is not a parameter.{hint}"
            )
    if settings.effect_parameter and settings.effect_parameter not in names:
        problems.add(
            sheet.name,
            cells.get("effect_parameter", ""),
            f"effect_parameter '{settings.effect_parameter}' is not a parameter; add a "
            "Parameters row for the treatment's risk ratio of death.",
        )
    if any(d <= 0 for d in settings.outcome_days):
        problems.add(sheet.name, cells.get("outcome_days", ""), "outcome_days must be > 0.")


def _check_twoway(
    settings: Settings, parameters: list[Parameter], sheet: RawSheet, problems: _Problems
) -> None:
    """Settings twoway: 'a, b; c, d' naming parameters that have a range."""
    cell = next(
        (r.cell("value") for r in sheet.rows if str(r.get("setting")).strip().lower() == "twoway"),
        "",
    )
    by_name = {p.name: p for p in parameters}
    for part in settings.twoway.split(";"):
        names = [n.strip() for n in part.split(",") if n.strip()]
        if not names:
            continue
        if len(names) != 2:
            problems.add(
                sheet.name,
                cell,
                f"twoway: '{part.strip()}' must name two parameters "
                "separated by a comma (pairs separated by ';').",
            )
            continue
        for name in names:
            p = by_name.get(name)
            if p is None:
                problems.add(sheet.name, cell, f"twoway: unknown parameter '{name}'.")
            elif (p.low is None or p.high is None) and p.dist is None:
                problems.add(
                    sheet.name,
                    cell,
                    f"twoway: '{name}' has no range; give it low/high "
                    "values or a distribution in Parameters.",
                )


def _check_outcome_days(
    settings: Settings, phases: list[Phase], sheet: RawSheet, problems: _Problems
) -> None:
    """Every outcome day lies within the model horizon."""
    horizon_days = sum(p.n_cycles * p.cycle_years for p in phases) * 365.25
    late = [d for d in settings.outcome_days if d > horizon_days + 1e-9]
    if late:
        cell = next(
            (
                r.cell("value")
                for r in sheet.rows
                if str(r.get("setting")).strip().lower() == "outcome_days"
            ),
            "",
        )
        problems.add(
            "Settings",
            cell,
            f"outcome_days {late[0]:g} is beyond the model horizon ({horizon_days:g} days).",
        )


def _check_strategy_roles(
    settings: Settings,
    strategies: list[Strategy],
    names: set[str],
    cells: dict[str, str],
    sheet: RawSheet,
    problems: _Problems,
) -> None:
    """Hypothetical strategies stay out of every decision: the reference and the strategies
    named in Settings must be comparators; their price/effect parameters must exist."""
    comparators = [s.key for s in strategies if not s.is_hypothetical]
    hypothetical = {s.key for s in strategies if s.is_hypothetical}
    if strategies and not comparators:
        message = "every strategy is hypothetical; make at least one (the reference) a comparator."
        problems.add("Strategies", "A2", message)
    reference = settings.reference_strategy or (strategies[0].key if strategies else "")
    for key in ("reference_strategy", "dsa_strategy", "budget_strategy", "biomarker_strategy"):
        value = reference if key == "reference_strategy" else getattr(settings, key)
        if value in hypothetical:
            where = cells.get(key, "") if getattr(settings, key) else ""
            problems.add(
                sheet.name if where else "Strategies",
                where or "A2",
                f"{key} '{value}' has role 'hypothetical'; a hypothetical strategy never enters "
                "the decision. Name a comparator, or set its role to comparator.",
            )
    for s in strategies:
        for column in ("price_parameter", "effect_parameter"):
            value = getattr(s, column)
            if value and value not in names:
                sheet_name, _, cell = s.where[column].partition("!")
                problems.add(
                    sheet_name,
                    cell,
                    f"{column} '{value}' of strategy '{s.key}' is not a parameter.",
                )


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _check_effect_duration(settings: Settings, sheet: RawSheet, problems: _Problems) -> None:
    """effect_start_day <= effect_end_day < effect_waning_end_day when they are given."""
    cells = {str(r.get("setting")).strip().lower(): r.cell("value") for r in sheet.rows}
    start, end = settings.effect_start_day, settings.effect_end_day
    if end is not None and end < start:
        message = f"effect_end_day {end:g} is before effect_start_day {start:g}."
        problems.add(sheet.name, cells.get("effect_end_day", ""), message)
    if settings.effect_waning == "none":
        return
    waning_end = settings.effect_waning_end_day
    if end is None or waning_end is None or waning_end <= end:
        problems.add(
            sheet.name,
            cells.get("effect_waning_end_day", cells.get("effect_waning", "")),
            f"effect_waning '{settings.effect_waning}' needs effect_end_day and a later "
            "effect_waning_end_day (the day by which the effect has gone).",
        )
