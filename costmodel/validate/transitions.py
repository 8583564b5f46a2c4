"""Transitions sheet: rows, references, row completeness, life-table use."""

from __future__ import annotations

import difflib
import math

import numpy as np

from costmodel import schema
from costmodel.formula import Expression, ExpressionError
from costmodel.inputs import (
    LifeTable,
    Parameter,
    Phase,
    Settings,
    State,
    Strategy,
    Transition,
    transitions_for,
)
from costmodel.lifetable import LIFE_TABLE_FUNCTION_SPECS
from costmodel.validate.cells import _Problems, _read_expression
from costmodel.validate.parameter_sheets import _split_where
from costmodel.validate.states import _category
from costmodel.workbook import RawRow, RawSheet


def _read_transitions(
    sheet: RawSheet,
    states: list[State],
    strategies: list[Strategy],
    problems: _Problems,
) -> list[Transition]:
    state_phase = {s.key: s.phase for s in states}
    strategy_keys = [s.key for s in strategies]
    cost_columns = [h for h in sheet.headers if h == "cost" or h.startswith("cost_")]
    transitions: list[Transition] = []
    for row in sheet.rows:
        transition = _read_transition_row(
            row, sheet.name, state_phase, strategy_keys, cost_columns, problems
        )
        if transition is not None:
            transitions.append(transition)
    accepted = {t.from_state for t in transitions}
    problems.broken_from -= accepted
    return transitions


def _read_transition_row(
    row: RawRow,
    name: str,
    state_phase: dict[str, str],
    strategy_keys: list[str],
    cost_columns: list[str],
    problems: _Problems,
) -> Transition | None:
    """One Transitions row, or None when a problem makes it unusable."""
    if row.get("from") is not None:  # until the row is accepted, it counts as broken
        problems.broken_from.add(str(row.get("from")).strip())
    ends = _read_transition_ends(row, name, state_phase, problems)
    strategies_here = _read_transition_strategies(row, name, strategy_keys, problems)
    usable, probability = _read_transition_probability(row, name, problems)
    if not usable:
        return None
    costs: dict[str, Expression] = {}
    for column in cost_columns:
        if row.get(column) is None:
            continue
        expr = _read_expression(row.get(column), name, row.cell(column), column, problems)
        if expr is not None:
            costs[_category(column)] = expr
    qaly = None
    if row.get("qaly") is not None:
        qaly = _read_expression(row.get("qaly"), name, row.cell("qaly"), "qaly", problems)
    if len(ends) != 2:
        return None
    if state_phase[ends[0]] != state_phase[ends[1]]:
        problems.add(
            name,
            row.cell("to"),
            f"'{ends[0]}' (phase '{state_phase[ends[0]]}') and '{ends[1]}' (phase "
            f"'{state_phase[ends[1]]}') are in different phases; cohorts move between "
            "phases through the States column next_state.",
        )
        return None
    where = {c: f"{name}!{row.cell(c)}" for c in row.cells}
    where["row"] = str(row.row)
    return Transition(ends[0], ends[1], strategies_here, probability, costs, qaly, where)


def _read_transition_ends(
    row: RawRow, name: str, state_phase: dict[str, str], problems: _Problems
) -> list[str]:
    """The known 'from' and 'to' state keys of the row (fewer than two if any is bad)."""
    ends = []
    for column in ("from", "to"):
        value = row.get(column)
        if value is None:
            problems.add(name, row.cell(column), f"'{column}' state is blank.")
        elif str(value).strip() not in state_phase:
            close = difflib.get_close_matches(str(value).strip(), state_phase, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.add(name, row.cell(column), f"unknown state '{value}'.{hint}")
        else:
            ends.append(str(value).strip())
    return ends


def _read_transition_strategies(
    row: RawRow, name: str, strategy_keys: list[str], problems: _Problems
) -> tuple[str, ...] | None:
    """The known strategies the row is limited to, or None for all strategies."""
    if row.get("strategy") is None or str(row.get("strategy")).strip().lower() == "all":
        return None
    listed = tuple(k.strip() for k in str(row.get("strategy")).split(",") if k.strip())
    unknown = [k for k in listed if k not in strategy_keys]
    if unknown:
        problems.add(
            name,
            row.cell("strategy"),
            f"unknown strategy '{unknown[0]}'; strategies are {', '.join(strategy_keys)}.",
        )
    return tuple(k for k in listed if k in strategy_keys)


def _read_transition_probability(
    row: RawRow, name: str, problems: _Problems
) -> tuple[bool, Expression | None]:
    """(usable, probability): probability None is the complement C; usable False skips the row."""
    raw_p = row.get("probability")
    if raw_p is None:
        problems.add(
            name,
            row.cell("probability"),
            "probability is blank; enter a number, an expression, or C for the rest of the row.",
        )
        return False, None
    if isinstance(raw_p, str) and raw_p.strip() in schema.COMPLEMENT_MARKERS:
        return True, None
    probability = _read_expression(raw_p, name, row.cell("probability"), "probability", problems)
    if probability is None:
        return False, None
    if probability.is_constant:
        try:
            value = float(np.asarray(probability.evaluate({})))
        except ExpressionError as exc:
            problems.add(name, row.cell("probability"), f"probability: {exc}")
            return False, None
        if not 0.0 <= value <= 1.0:
            hint = f" Enter {value / 100:g}, not a percentage." if 1 < value <= 100 else ""
            problems.add(
                name,
                row.cell("probability"),
                f"probability must be in [0, 1]; got {value:g}.{hint}",
            )
    return True, probability


def _check_transition_rows(
    states: list[State],
    transitions: list[Transition],
    strategies: list[Strategy],
    problems: _Problems,
) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    all_keys = [s.key for s in strategies]
    for t in transitions:
        for strategy in t.strategies if t.strategies is not None else ("*",):
            key = (t.from_state, t.to_state, strategy)
            if key in seen:
                sheet, cell = _split_where(t.where["from"])
                scope = "all strategies" if strategy == "*" else f"strategy '{strategy}'"
                problems.add(
                    sheet,
                    cell,
                    f"transition {t.from_state} -> {t.to_state} for {scope} is given twice "
                    f"(also row {seen[key]}).",
                )
            seen[key] = t.where["row"]
    for strategy in all_keys:
        rows = transitions_for(transitions, strategy)
        for s in states:
            out = [t for (f, _), t in rows.items() if f == s.key]
            if not out and s.key not in problems.broken_from:
                problems.add(
                    "Transitions",
                    "",
                    f"state '{s.key}' has no transitions for strategy '{strategy}'; for an "
                    f"absorbing state add a row {s.key} -> {s.key} with probability 1.",
                )
            complements = [t for t in out if t.probability is None]
            if len(complements) > 1:
                sheet, cell = _split_where(complements[1].where["probability"])
                problems.add(
                    sheet,
                    cell,
                    f"state '{s.key}' has more than one C (complement) for strategy "
                    f"'{strategy}'; only one transition per row can take the rest.",
                )


def _check_references(
    states: list[State], transitions: list[Transition], known: set[str], problems: _Problems
) -> None:
    def check(expr: Expression | None, where: str, what: str) -> None:
        if expr is None:
            return
        for name in sorted(expr.names - known):
            sheet, cell = _split_where(where)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.add(sheet, cell, f"{what} refers to unknown name '{name}'.{hint}")

    for s in states:
        check(s.utility, s.where.get("utility", ""), f"utility of '{s.key}'")
        for category, expr in s.costs.items():
            column = "cost" if category == "other" else f"cost_{category}"
            check(expr, s.where.get(column, ""), f"{column} of '{s.key}'")
        for category, expr in s.start_costs.items():
            column = "start_cost" if category == "other" else f"start_cost_{category}"
            check(expr, s.where.get(column, ""), f"{column} of '{s.key}'")
    for t in transitions:
        label = f"transition {t.from_state} -> {t.to_state}"
        check(t.probability, t.where.get("probability", ""), label)
        check(t.qaly, t.where.get("qaly", ""), f"qaly of {label}")
        for category, expr in t.costs.items():
            column = "cost" if category == "other" else f"cost_{category}"
            check(expr, t.where.get(column, ""), f"{column} of {label}")


def _check_life_table(
    states: list[State],
    transitions: list[Transition],
    strategies: list[Strategy],
    parameters: list[Parameter],
    settings: Settings,
    phases: list[Phase],
    life_table: LifeTable | None,
    problems: _Problems,
) -> None:
    expressions = [t.probability for t in transitions] + [s.utility for s in states]
    expressions += [p.expression for p in parameters]
    expressions += [e for s in states for e in s.costs.values()]
    expressions += [e for s in strategies for e in s.variables.values()]
    used = {f for e in expressions if e is not None for f in e.functions}
    used &= set(LIFE_TABLE_FUNCTION_SPECS)
    if not used:
        return
    if life_table is None:
        problems.add(
            "LifeTable",
            "",
            f"expressions call {', '.join(sorted(used))}() but the workbook has no LifeTable "
            "sheet; add one with columns age and qx_male + qx_female (or qx, mx_male + "
            "mx_female, mx).",
        )
        return
    total_years = sum(p.n_cycles * p.cycle_years for p in phases)
    last_cycle_start = settings.start_age + total_years - phases[-1].cycle_years
    low, high = math.floor(settings.start_age), math.floor(last_cycle_start + 1e-9)
    if low < life_table.ages[0] or high > life_table.max_age:
        problems.add(
            "LifeTable",
            "A2",
            f"the life table covers ages {life_table.ages[0]}-{life_table.max_age} but the "
            f"model reaches ages {low}-{high}; extend the table or shorten the horizon.",
        )
