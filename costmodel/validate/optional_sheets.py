"""Calibration, Scenarios and BudgetImpact sheets."""

from __future__ import annotations

import difflib

from costmodel import schema
from costmodel.inputs import (
    BudgetYear,
    CalibrationTarget,
    Phase,
    Scenario,
    Settings,
    State,
    Strategy,
    Subgroup,
)
from costmodel.validate.cells import _Problems, _read_integer, _read_number, _text
from costmodel.workbook import RawRow, RawSheet


def _read_calibration(
    sheet: RawSheet | None,
    states: list[State],
    phases: list[Phase],
    strategies: list[Strategy],
    settings: Settings | None,
    problems: _Problems,
) -> tuple[CalibrationTarget, ...]:
    if sheet is None or not phases:
        return ()
    name = sheet.name
    first = {s.key for s in states if s.phase == phases[0].key}
    all_states = {s.key for s in states}
    strategy_keys = [s.key for s in strategies]
    default_strategy = (settings.reference_strategy if settings else "") or (
        strategy_keys[0] if strategy_keys else ""
    )
    horizon_days = sum(p.n_cycles * p.cycle_years for p in phases) * 365.25
    targets = []
    for row in sheet.rows:
        target = _read_calibration_row(
            row, name, first, all_states, strategy_keys, default_strategy, horizon_days, problems
        )
        if target is not None:
            targets.append(target)
    return tuple(targets)


def _read_calibration_row(
    row: RawRow,
    name: str,
    first: set[str],
    all_states: set[str],
    strategy_keys: list[str],
    default_strategy: str,
    horizon_days: float,
    problems: _Problems,
) -> CalibrationTarget | None:
    """One Calibration row as a target, or None when a problem leaves it incomplete."""
    key = _text(row, "key")
    entry = _read_calibration_entry(row, name, first, problems)
    strategy = _text(row, "strategy") or default_strategy
    if strategy not in strategy_keys:
        problems.add(name, row.cell("strategy"), f"unknown strategy '{strategy}'.")
    relative_to = _text(row, "relative_to")
    if relative_to and relative_to not in strategy_keys:
        problems.add(name, row.cell("relative_to"), f"unknown strategy '{relative_to}'.")
    outcome = _read_calibration_outcome(row, name, all_states, problems)
    numbers = _read_calibration_numbers(row, name, problems)
    target = numbers["target"]
    if target is not None and relative_to and not target > 0.0:
        problems.add(name, row.cell("target"), f"a ratio target must be > 0; got {target:g}.")
    elif target is not None and not relative_to and not 0.0 <= target <= 1.0:
        problems.add(
            name, row.cell("target"), f"target must be a proportion in [0, 1]; got {target:g}."
        )
    day = numbers["day"]
    if day is not None and not 0.0 <= day <= horizon_days + 1e-9:
        problems.add(
            name,
            row.cell("day"),
            f"day must be within the model horizon (0-{horizon_days:g} days); got {day:g}.",
        )
    if None in (numbers["day"], numbers["target"], numbers["tolerance"]):
        return None
    return CalibrationTarget(
        key,
        tuple(entry),
        strategy,
        outcome,
        float(day),  # type: ignore[arg-type]
        float(target),  # type: ignore[arg-type]
        float(numbers["tolerance"]),  # type: ignore[arg-type]
        _text(row, "source"),
        f"{name}!{row.cell('target')}",
        relative_to,
    )


def _read_calibration_entry(
    row: RawRow, name: str, first: set[str], problems: _Problems
) -> list[tuple[str, float]]:
    """The 'entry' cell: (first-phase state, weight > 0) pairs from 'state:weight, ...'."""
    entry: list[tuple[str, float]] = []
    for part in _text(row, "entry").split(","):
        if not part.strip():
            continue
        state, _, weight = part.partition(":")
        state = state.strip()
        if state not in first:
            problems.add(
                name,
                row.cell("entry"),
                f"entry '{state}' is not a state of the first phase ({', '.join(sorted(first))}).",
            )
            continue
        w = _read_number(weight.strip() or 1.0, name, row.cell("entry"), "entry weight", problems)
        if w is not None and w <= 0:
            problems.add(
                name, row.cell("entry"), f"entry weight of '{state}' must be > 0; got {w:g}."
            )
        elif w is not None:
            entry.append((state, w))
    return entry


def _read_calibration_outcome(
    row: RawRow, name: str, all_states: set[str], problems: _Problems
) -> tuple[str, ...]:
    """The 'outcome' cell: the comma-separated state keys whose share is the target."""
    outcome = tuple(o.strip() for o in _text(row, "outcome").split(",") if o.strip())
    for o in outcome:
        if o not in all_states:
            problems.add(name, row.cell("outcome"), f"unknown state '{o}' in outcome.")
    if not outcome:
        problems.add(name, row.cell("outcome"), "outcome is blank; list state keys.")
    return outcome


def _read_calibration_numbers(
    row: RawRow, name: str, problems: _Problems
) -> dict[str, float | None]:
    """The day, target and tolerance cells (a blank tolerance is 0.01; None if unreadable)."""
    numbers: dict[str, float | None] = {}
    for column in ("day", "target", "tolerance"):
        value = row.get(column)
        if value is None:
            if column != "tolerance":
                problems.add(name, row.cell(column), f"{column} is blank.")
            numbers[column] = 0.01 if column == "tolerance" else None
            continue
        numbers[column] = _read_number(value, name, row.cell(column), column, problems)
    return numbers


# ----------------------------------------------------------------------------- PSA inputs


def _read_scenarios(
    sheet: RawSheet | None, parameter_names: list[str], problems: _Problems
) -> tuple[Scenario, ...]:
    if sheet is None:
        return ()
    settings = schema.settings_by_key()
    groups: dict[str, list] = {}
    descriptions: dict[str, str] = {}
    for row in sheet.rows:
        name = _text(row, "scenario")
        if not name:
            problems.add(sheet.name, row.cell("scenario"), "scenario name is blank.")
            continue
        target = _text(row, "target")
        if target not in parameter_names and target not in settings:
            close = difflib.get_close_matches(target, [*parameter_names, *settings], n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.add(
                sheet.name,
                row.cell("target"),
                f"target '{target}' is neither a parameter nor a setting.{hint}",
            )
            continue
        if row.get("value") is None:
            problems.add(sheet.name, row.cell("value"), "value is blank.")
            continue
        groups.setdefault(name, []).append(
            (target, row.get("value"), f"{sheet.name}!{row.cell('value')}")
        )
        if _text(row, "description"):
            descriptions.setdefault(name, _text(row, "description"))
    return tuple(Scenario(n, descriptions.get(n, ""), tuple(o)) for n, o in groups.items())


def _read_budget_impact(
    sheet: RawSheet | None, settings: Settings | None, problems: _Problems
) -> tuple[BudgetYear, ...]:
    if sheet is None:
        if settings is not None and settings.run_budget_impact:
            problems.add(
                "BudgetImpact",
                "",
                "run_budget_impact is yes but the workbook has no "
                "BudgetImpact sheet (year, eligible_patients, uptake, price).",
            )
        return ()
    years = []
    for row in sheet.rows:
        year = _read_integer(row.get("year"), sheet.name, row.cell("year"), "year", problems)
        eligible = _read_number(
            row.get("eligible_patients"),
            sheet.name,
            row.cell("eligible_patients"),
            "eligible_patients",
            problems,
        )
        uptake = _read_number(row.get("uptake"), sheet.name, row.cell("uptake"), "uptake", problems)
        price = (
            None
            if row.get("price") is None
            else _read_number(row.get("price"), sheet.name, row.cell("price"), "price", problems)
        )
        if eligible is not None and eligible < 0:
            problems.add(
                sheet.name,
                row.cell("eligible_patients"),
                f"eligible_patients must be >= 0; got {eligible:g}.",
            )
            continue
        if uptake is not None and not 0 <= uptake <= 1:
            hint = f" Enter {uptake / 100:g}, not a percentage." if 1 < uptake <= 100 else ""
            problems.add(
                sheet.name,
                row.cell("uptake"),
                f"uptake must be a proportion in [0, 1]; got {uptake:g}.{hint}",
            )
            continue
        if None in (year, eligible, uptake):
            continue
        years.append(BudgetYear(int(year), float(eligible), float(uptake), price))  # type: ignore[arg-type]
    if not years:
        problems.add(sheet.name, "A2", "the BudgetImpact sheet has no rows.")
    return tuple(sorted(years, key=lambda y: y.year))


def _read_subgroups(
    sheet: RawSheet | None, states: list[State], phases: list[Phase], problems: _Problems
) -> tuple[Subgroup, ...]:
    """Subgroups sheet: a name and a starting mix of first-phase states per row."""
    if sheet is None or not phases:
        return ()
    first = {s.key for s in states if s.phase == phases[0].key}
    subgroups: list[Subgroup] = []
    seen: set[str] = set()
    for row in sheet.rows:
        name = _text(row, "subgroup")
        if not name:
            problems.add(sheet.name, row.cell("subgroup"), "subgroup name is blank.")
            continue
        if name in seen:
            problems.add(sheet.name, row.cell("subgroup"), f"subgroup '{name}' is declared twice.")
            continue
        seen.add(name)
        entry = _read_calibration_entry(row, sheet.name, first, problems)
        if not entry and not _text(row, "entry"):
            problems.add(sheet.name, row.cell("entry"), f"subgroup '{name}' has no entry mix.")
        if entry:
            where = f"{sheet.name}!{row.cell('subgroup')}"
            subgroups.append(Subgroup(name, tuple(entry), _text(row, "description"), where))
    return tuple(subgroups)
