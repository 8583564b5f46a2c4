"""Strategies and Parameters sheets: keys, expressions, dependency order, base values."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping

import numpy as np

from costmodel import schema
from costmodel.formula import Expression, ExpressionError, parse_expression
from costmodel.inputs import (
    Parameter,
    Strategy,
)
from costmodel.lifetable import LIFE_TABLE_FUNCTION_SPECS
from costmodel.validate.cells import (
    MAX_MAGNITUDE,
    RESERVED_NAMES,
    _Problems,
    _read_choice,
    _read_expression,
    _read_key,
    _read_number,
    _text,
    _unique_key,
)
from costmodel.workbook import RawSheet


def _read_strategies(sheet: RawSheet, problems: _Problems) -> list[Strategy]:
    fixed = {c.name for c in schema.STRATEGIES_SHEET.columns}
    variable_columns = [h for h in sheet.headers if h not in fixed]
    strategies: list[Strategy] = []
    seen: dict[str, str] = {}
    for column in variable_columns:
        _read_key(column, sheet.name, sheet.header_cell(column), "strategy variable", problems)
    for row in sheet.rows:
        key = _unique_key(row, "key", sheet.name, "strategy", seen, problems)
        if key is None:
            continue
        variables: dict[str, Expression] = {}
        where = {"key": f"{sheet.name}!{row.cell('key')}"}
        for column in variable_columns:
            value = row.get(column)
            if value is None:
                problems.add(
                    sheet.name,
                    row.cell(column),
                    f"strategy variable '{column}' is blank for strategy '{key}'; give every "
                    "strategy a value or expression.",
                )
                continue
            expr = _read_expression(value, sheet.name, row.cell(column), column, problems)
            if expr is not None:
                variables[column] = expr
                where[column] = f"{sheet.name}!{row.cell(column)}"
        role = "comparator"
        if row.get("role") is not None:
            role = (
                _read_choice(
                    row.get("role"),
                    schema.STRATEGY_ROLES,
                    sheet.name,
                    row.cell("role"),
                    "role",
                    problems,
                )
                or "comparator"
            )
        for column in ("price_parameter", "effect_parameter"):
            if row.get(column) is not None:
                where[column] = f"{sheet.name}!{row.cell(column)}"
        strategies.append(
            Strategy(
                key,
                _text(row, "label") or key,
                _text(row, "description"),
                variables,
                where,
                role=role,
                price_parameter=_text(row, "price_parameter"),
                effect_parameter=_text(row, "effect_parameter"),
            )
        )
    if not strategies:
        problems.add(sheet.name, "A2", "no strategies declared; a model needs at least one.")
    return strategies


# ----------------------------------------------------------------------------- Parameters


def _read_parameters(sheet: RawSheet, problems: _Problems) -> list[Parameter]:
    parameters: list[Parameter] = []
    seen: dict[str, str] = {}
    for row in sheet.rows:
        name = _unique_key(row, "name", sheet.name, "parameter", seen, problems, verb="defined")
        if name is None:
            continue
        if row.get("value") is None:
            problems.add(sheet.name, row.cell("value"), f"parameter '{name}' has no value.")
            continue
        expr = _read_expression(row.get("value"), sheet.name, row.cell("value"), name, problems)
        distribution = "fixed"
        if row.get("distribution") is not None:
            distribution = (
                _read_choice(
                    row.get("distribution"),
                    schema.DISTRIBUTIONS,
                    sheet.name,
                    row.cell("distribution"),
                    f"distribution of '{name}'",
                    problems,
                )
                or "fixed"
            )
        numbers = {}
        for column in ("param1", "param2", "param3", "param4", "low", "high"):
            value = row.get(column)
            numbers[column] = (
                None
                if value is None
                else _read_number(
                    value, sheet.name, row.cell(column), f"{column} of '{name}'", problems
                )
            )
        if expr is None:
            problems.broken.add(name)
            expr = parse_expression(0)
        parameters.append(
            Parameter(
                name=name,
                expression=expr,
                distribution=distribution,
                dist_params=tuple(numbers[f"param{i}"] for i in range(1, 5)),
                low=numbers["low"],
                high=numbers["high"],
                unit=_text(row, "unit"),
                group=_text(row, "group"),
                description=_text(row, "description"),
                source=_text(row, "source"),
                where=f"{sheet.name}!{row.cell('value')}",
                param_type=(
                    _read_choice(
                        row.get("param_type"),
                        schema.PARAM_TYPES,
                        sheet.name,
                        row.cell("param_type"),
                        "param_type",
                        problems,
                    )
                    or "native"
                    if row.get("param_type") is not None
                    else "native"
                ),
                dirichlet=_text(row, "dirichlet"),
            )
        )
    return parameters


def _split_where(where: str) -> tuple[str, str]:
    sheet, _, cell = where.partition("!")
    return sheet, cell


def _order_parameters(
    parameters: list[Parameter], entry_names: set[str], problems: _Problems
) -> tuple[list[Parameter], tuple[str, ...]] | None:
    """Topological order of parameters and the names of the time-dependent ones.

    A parameter that uses a time variable, a life-table function, an entry indicator or
    another time-dependent parameter is itself time-dependent: it is evaluated inside the
    model once per time segment and cannot carry a distribution (put it on its inputs).
    """
    by_name = {p.name: p for p in parameters}
    time_names = (set(schema.TIME_VARIABLES) - {"time_in_state"}) | entry_names
    ok = True
    for p in parameters:
        sheet, cell = _split_where(p.where)
        for name in sorted(p.expression.names - set(by_name) - time_names):
            ok = False
            if name == "time_in_state":
                problems.add(
                    sheet,
                    cell,
                    f"parameter '{p.name}' uses time_in_state, which only exists inside a "
                    "state's own expressions; use it in the States or Transitions cell.",
                )
            else:
                close = difflib.get_close_matches(name, by_name, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.add(
                    sheet,
                    cell,
                    f"parameter '{p.name}' refers to unknown parameter '{name}'.{hint}",
                )
    dependencies = {p.name: set(p.expression.names) & set(by_name) for p in parameters}
    order = _topological_order(dependencies)
    if order is None:
        cycle = _find_cycle(dependencies)
        first = by_name[cycle[0]]
        sheet, cell = _split_where(first.where)
        problems.add(
            sheet,
            cell,
            "circular parameter references: " + " -> ".join([*cycle, cycle[0]]) + ". Break "
            "the loop by giving one of them a number.",
        )
        return None
    dynamic: list[str] = []
    for name in order:
        expr = by_name[name].expression
        if expr.names & (time_names | set(dynamic)) or expr.functions & set(
            LIFE_TABLE_FUNCTION_SPECS
        ):
            dynamic.append(name)
            p = by_name[name]
            if p.distribution != "fixed" or p.low is not None or p.high is not None:
                ok = False
                sheet, cell = _split_where(p.where)
                problems.add(
                    sheet,
                    cell,
                    f"parameter '{name}' changes over time (it uses time, age, the life "
                    "table or entry indicators), so it cannot have a distribution or low/high "
                    "values; put them on the parameters it is computed from.",
                )
    return ([by_name[n] for n in order], tuple(dynamic)) if ok else None


def _topological_order(dependencies: Mapping[str, set[str]]) -> list[str] | None:
    """Kahn's algorithm keeping declared order among ready nodes; None if there is a cycle."""
    remaining = {k: set(v) for k, v in dependencies.items()}
    order: list[str] = []
    while remaining:
        ready = [k for k, deps in remaining.items() if not deps]
        if not ready:
            return None
        for k in ready:
            order.append(k)
            del remaining[k]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def _find_cycle(dependencies: Mapping[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(dependencies.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in dependencies:
        if node not in state and (found := visit(node)):
            return found
    return []


def _evaluate_base_parameters(parameters: list[Parameter], problems: _Problems) -> dict[str, float]:
    """Evaluate base-case values once so errors such as division by zero name their cell."""
    values: dict[str, float] = {}
    for p in parameters:
        sheet, cell = _split_where(p.where)
        try:
            value = float(np.asarray(p.expression.evaluate(values)))
        except ExpressionError as exc:
            problems.add(sheet, cell, f"parameter '{p.name}': {exc}")
            return values
        if not math.isfinite(value):
            problems.add(sheet, cell, f"parameter '{p.name}' evaluates to {value}.")
            return values
        if abs(value) > MAX_MAGNITUDE:
            problems.add(
                sheet,
                cell,
                f"parameter '{p.name}' is {value:g}, beyond the "
                f"plausible range (|value| <= {MAX_MAGNITUDE:g}); check its units.",
            )
            return values
        if p.distribution in ("beta",) and not 0.0 <= value <= 1.0:
            problems.add(
                sheet,
                cell,
                f"parameter '{p.name}' has a beta distribution, so it is a probability, but "
                f"its value is {value:g}.{percentage_hint(value)}",
            )
        values[p.name] = value
    return values


def _order_strategy_variables(
    strategies: list[Strategy], parameters: set[str], problems: _Problems
) -> list[str]:
    names = sorted({v for s in strategies for v in s.variables})
    allowed = parameters | set(schema.TIME_VARIABLES) | set(names)
    dependencies: dict[str, set[str]] = {n: set() for n in names}
    for s in strategies:
        for var, expr in s.variables.items():
            sheet, cell = _split_where(s.where[var])
            for name in sorted(expr.names - allowed):
                problems.add(
                    sheet,
                    cell,
                    f"strategy variable '{var}' of '{s.key}' refers to unknown name '{name}' "
                    "(not a parameter, strategy variable or time variable).",
                )
            if "time_in_state" in expr.names:
                problems.add(
                    sheet,
                    cell,
                    f"strategy variable '{var}' uses time_in_state, which is only defined "
                    "inside a state's own expressions; use it in the States or Transitions "
                    "cell instead.",
                )
            dependencies[var] |= expr.names & set(names)
    order = _topological_order(dependencies)
    if order is None:
        cycle = _find_cycle(dependencies)
        problems.add(
            "Strategies",
            "1",
            "circular references between strategy variables: " + " -> ".join([*cycle, cycle[0]]),
        )
        return names
    return order


def _check_names(
    parameters: list[Parameter], strategies: list[Strategy], problems: _Problems
) -> None:
    parameter_names = {p.name for p in parameters}
    for p in parameters:
        if p.name in RESERVED_NAMES:
            sheet, cell = _split_where(p.where)
            problems.add(
                sheet,
                cell,
                f"'{p.name}' is a reserved name (time variable or function); rename the parameter.",
            )
    variables = {v for s in strategies for v in s.variables}
    for var in sorted(variables & (parameter_names | RESERVED_NAMES)):
        problems.add(
            "Strategies",
            "1",
            f"strategy variable '{var}' clashes with a parameter or reserved name; rename the "
            "column.",
        )


def percentage_hint(value: float) -> str:
    """The fix for a probability typed as ``value``: ' Enter 0.17, not 17.' for a whole
    percentage, the percentage reading as a question otherwise (1.7 may be a typo)."""
    if 1.0 < value <= 100.0 and float(value).is_integer():
        return f" Enter {value / 100:g}, not {value:g}."
    if 1.0 < value <= 100.0:
        return (
            f" Enter a probability between 0 and 1 (if {value:g} is a percentage: {value / 100:g})."
        )
    return " Enter a probability between 0 and 1."
