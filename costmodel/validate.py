"""Raw workbook tables → validated :class:`ModelInputs`, collecting every problem at once.

Each problem names file, sheet and cell, says what is wrong and what was found, and how to
fix it. Nothing downstream re-checks what is checked here.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from costmodel import schema
from costmodel.distributions import DistributionError, check_use, make_distribution
from costmodel.errors import InputError, Problem
from costmodel.evidence import Selection, Synthesis, Trial, synthesize
from costmodel.formula import BUILTIN_FUNCTIONS, Expression, ExpressionError, parse_expression
from costmodel.inputs import (
    BudgetYear,
    CalibrationTarget,
    Correlation,
    LifeTable,
    ModelInputs,
    Parameter,
    Phase,
    Scenario,
    Settings,
    State,
    Strategy,
    Transition,
)
from costmodel.lifetable import LIFE_TABLE_FUNCTION_SPECS
from costmodel.workbook import RawRow, RawSheet, RawWorkbook, read_workbook

MAX_CYCLES = 100_000  # per phase
MAX_MAGNITUDE = 1e15  # larger parameter values are unit errors and overflow cost sums
KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MODEL_FUNCTIONS = {**BUILTIN_FUNCTIONS, **LIFE_TABLE_FUNCTION_SPECS}
RESERVED_NAMES = frozenset(schema.TIME_VARIABLES) | frozenset(MODEL_FUNCTIONS) | {"C"}


def load_model(path: str | Path) -> ModelInputs:
    """Read and validate a workbook; raise InputError listing every problem."""
    return validate_workbook(read_workbook(path))


class _Problems:
    """Collects problems for one file."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []
        self.warnings: list[str] = []
        self.broken: set[str] = set()  # names whose definition failed (no follow-on errors)
        self.broken_from: set[str] = set()  # 'from' states of Transitions rows with problems

    def add(self, sheet: str, cell: str, message: str) -> None:
        self.items.append(Problem.at(self.file, sheet, cell, message))

    def warn(self, sheet: str, cell: str, message: str) -> None:
        self.warnings.append(str(Problem.at(self.file, sheet, cell, message)))


def validate_workbook(raw: RawWorkbook, *, check_scenarios: bool = True) -> ModelInputs:
    """Turn raw tables into ModelInputs; raise InputError with all problems found.

    Each scenario is validated too (the workbook with its values in place), so a scenario
    that would break the model is reported now, at its Scenarios cell.
    """
    problems = _Problems(raw.file)
    sheets = _check_sheets(raw, problems)
    if any(sheets.get(s.name) is None for s in schema.ALL_SHEETS if s.required):
        raise InputError(problems.items)
    if problems.items:  # missing required columns or duplicate headers: rows cannot be read
        raise InputError(problems.items)

    settings, single_phase = _read_settings(sheets["Settings"], problems)
    strategies = _read_strategies(sheets["Strategies"], problems)
    parameters = _read_parameters(sheets["Parameters"], problems)
    phases = _read_phases(sheets.get("Phases"), single_phase, settings, problems)
    life_table = _read_life_table(sheets.get("LifeTable"), problems)
    states = _read_states(sheets["States"], phases, problems)
    _check_state_space(sheets["States"], states, phases, problems)
    transitions = _read_transitions(sheets["Transitions"], states, strategies, problems)

    parameter_names = [p.name for p in parameters]
    entry_names = {f"entry_{s.key}" for s in states if phases and s.phase == phases[0].key}
    _check_names(parameters, strategies, problems)
    order = _order_parameters(parameters, entry_names, problems)
    ordered, dynamic = order if order is not None else (None, ())
    variable_order = _order_strategy_variables(
        strategies, set(parameter_names) | entry_names, problems
    )
    known = set(parameter_names) | set(variable_order) | set(schema.TIME_VARIABLES) | entry_names
    _check_references(states, transitions, known, problems)
    _check_initial(states, phases, set(parameter_names) | set(variable_order), dynamic, problems)
    _check_transition_rows(states, transitions, strategies, problems)
    base_values: dict[str, float] = {}
    if ordered is not None and not problems.broken:
        base_values = _evaluate_base_parameters(
            [p for p in ordered if p.name not in dynamic], problems
        )
    if settings is not None and phases:
        _check_life_table(
            states, transitions, strategies, parameters, settings, phases, life_table, problems
        )

    if settings is not None and phases:
        horizon_days = sum(p.n_cycles * p.cycle_years for p in phases) * 365.25
        late = [d for d in settings.outcome_days if d > horizon_days + 1e-9]
        if late:
            cell = next(
                (
                    r.cell("value")
                    for r in sheets["Settings"].rows
                    if str(r.get("setting")).strip().lower() == "outcome_days"
                ),
                "",
            )
            problems.add(
                "Settings",
                cell,
                f"outcome_days {late[0]:g} is beyond the model horizon ({horizon_days:g} days).",
            )
    synthesis = None
    if settings is not None:
        _check_settings_references(settings, strategies, parameters, sheets["Settings"], problems)
        trials = _read_trials(sheets.get("Trials"), problems)
        if trials is not None and ordered is not None:
            synthesis, ordered = _apply_synthesis(trials, settings, ordered, sheets, problems)
    calibration = _read_calibration(
        sheets.get("Calibration"), states, phases, strategies, settings, problems
    )
    correlations: tuple[Correlation, ...] = ()
    if ordered is not None:
        ordered = _build_distributions(ordered, base_values, problems)
        correlations = _read_correlations(sheets.get("Correlations"), ordered, problems)
        if settings is not None:
            _check_twoway(settings, ordered, sheets["Settings"], problems)
    scenarios = _read_scenarios(sheets.get("Scenarios"), parameter_names, problems)
    budget = _read_budget_impact(sheets.get("BudgetImpact"), settings, problems)

    if problems.items:
        raise InputError(problems.items)
    assert settings is not None and ordered is not None  # guaranteed when no problems
    categories = sorted(
        {c for s in states for c in (*s.costs, *s.start_costs)}
        | {c for t in transitions for c in t.costs}
    )
    inputs = ModelInputs(
        source=raw.path,
        file=raw.file,
        sha256=raw.sha256,
        settings=settings,
        phases=tuple(phases),
        parameters=tuple(ordered),
        states=tuple(states),
        transitions=tuple(transitions),
        strategies=tuple(strategies),
        life_table=life_table,
        cost_categories=tuple(categories),
        strategy_variables=tuple(variable_order),
        dynamic_parameters=dynamic,
        synthesis=synthesis,
        calibration=calibration,
        correlations=correlations,
        scenarios=scenarios,
        budget_impact=budget,
        warnings=tuple(problems.warnings),
    )
    if check_scenarios and inputs.scenarios:
        from costmodel.scenarios import scenario_inputs

        scenario_problems: list[Problem] = []
        for scenario in inputs.scenarios:
            try:
                scenario_inputs(raw, scenario, inputs)
            except InputError as exc:
                scenario_problems += exc.problems
        if scenario_problems:
            raise InputError(scenario_problems)
    return inputs


# ----------------------------------------------------------------------------- sheets


def _check_sheets(raw: RawWorkbook, problems: _Problems) -> dict[str, RawSheet | None]:
    found: dict[str, RawSheet | None] = {}
    for spec in schema.ALL_SHEETS:
        sheet = raw.sheet(spec.name)
        found[spec.name] = sheet
        if sheet is None:
            if spec.required:
                problems.add(
                    spec.name,
                    "",
                    f"required sheet '{spec.name}' is missing (sheets found: "
                    f"{', '.join(raw.sheets) or 'none'}). Add it; `costmodel template` shows "
                    "the layout.",
                )
            continue
        for cell in sheet.duplicate_headers:
            problems.add(sheet.name, cell, "duplicate column header; keep one of the columns.")
        for column in spec.columns:
            if column.required and column.name not in sheet.headers:
                problems.add(
                    sheet.name,
                    "1",
                    f"required column '{column.name}' is missing from the header row "
                    f"(found: {', '.join(sheet.header_text.values()) or 'none'}).",
                )
        if spec.extra_columns:
            continue
        known = {c.name for c in spec.columns}
        prefixes = tuple(c.name + "_" for c in spec.columns if c.prefix)
        for header in sheet.headers:
            if header not in known and not header.startswith(prefixes):
                close = difflib.get_close_matches(header, known, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else " It is ignored."
                problems.warn(
                    sheet.name, sheet.header_cell(header), f"unknown column '{header}'.{hint}"
                )
    return found


# ----------------------------------------------------------------------------- cell readers


def _describe(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read_number(
    value: object, sheet: str, cell: str, what: str, problems: _Problems
) -> float | None:
    if _is_number(value):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", "")) if not value.endswith("%") else math.nan
        except ValueError:
            problems.add(sheet, cell, f"{what} must be a number; got {_describe(value)}.")
            return None
        if value.endswith("%"):
            problems.add(
                sheet, cell, f"{what} must be a number; got {value!r}. Write 0.17, not 17%."
            )
            return None
    else:
        problems.add(sheet, cell, f"{what} must be a number; got {_describe(value)}.")
        return None
    if not math.isfinite(number):
        problems.add(sheet, cell, f"{what} must be a finite number; got {_describe(value)}.")
        return None
    return number


def _read_integer(
    value: object, sheet: str, cell: str, what: str, problems: _Problems
) -> int | None:
    number = _read_number(value, sheet, cell, what, problems)
    if number is None:
        return None
    if number != int(number):
        problems.add(sheet, cell, f"{what} must be a whole number; got {_describe(value)}.")
        return None
    return int(number)


def _read_expression(
    value: object, sheet: str, cell: str, what: str, problems: _Problems
) -> Expression | None:
    if isinstance(value, (bool, _dt.date | _dt.datetime | _dt.time)):
        problems.add(
            sheet, cell, f"{what} must be a number or an expression; got {_describe(value)}."
        )
        return None
    try:
        return parse_expression(value, MODEL_FUNCTIONS)  # type: ignore[arg-type]
    except ExpressionError as exc:
        problems.add(sheet, cell, f"{what}: {exc}")
        return None


def _read_key(value: object, sheet: str, cell: str, what: str, problems: _Problems) -> str | None:
    text = str(value).strip()
    if not KEY_PATTERN.match(text):
        problems.add(
            sheet,
            cell,
            f"{what} must be a name of letters, digits and underscores starting with a "
            f"letter; got {_describe(value)}. Example: p_death_icu.",
        )
        return None
    return text


def _read_bool(value: object, sheet: str, cell: str, what: str, problems: _Problems) -> bool | None:
    text = str(value).strip().lower()
    if isinstance(value, bool):
        return value
    if text in ("yes", "y", "true", "1", "1.0"):
        return True
    if text in ("no", "n", "false", "0", "0.0"):
        return False
    problems.add(sheet, cell, f"{what} must be yes or no; got {_describe(value)}.")
    return None


def _read_choice(
    value: object,
    choices: Iterable[str],
    sheet: str,
    cell: str,
    what: str,
    problems: _Problems,
) -> str | None:
    text = str(value).strip().lower()
    choices = tuple(choices)
    if text in choices:
        return text
    close = difflib.get_close_matches(text, choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    problems.add(
        sheet,
        cell,
        f"{what} must be one of {', '.join(choices)}; got {_describe(value)}.{hint}",
    )
    return None


def _unique_key(
    row: RawRow,
    column: str,
    sheet: str,
    what: str,
    seen: dict[str, str],
    problems: _Problems,
    *,
    verb: str = "declared",
) -> str | None:
    """The row's key if present, well formed and not seen before (then recorded in
    ``seen``); otherwise the problem is reported and None returned."""
    if row.get(column) is None:
        problems.add(sheet, row.cell(column), f"{what} {column} is blank.")
        return None
    key = _read_key(row.get(column), sheet, row.cell(column), f"{what} {column}", problems)
    if key is None:
        return None
    if key in seen:
        problems.add(sheet, row.cell(column), f"{what} '{key}' is {verb} twice ({seen[key]}).")
        return None
    seen[key] = row.cell(column)
    return key


def _text(row: RawRow, column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# ----------------------------------------------------------------------------- Settings


def _read_settings(sheet: RawSheet, problems: _Problems) -> tuple[Settings | None, dict]:
    specs = schema.settings_by_key()
    values: dict[str, object] = {}
    cells: dict[str, str] = {}
    for row in sheet.rows:
        if row.get("setting") is None:
            problems.add(sheet.name, row.cell("setting"), "setting name is blank.")
            continue
        key = str(row.get("setting")).strip().lower().replace(" ", "_")
        if key not in specs:
            close = difflib.get_close_matches(key, specs, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.add(sheet.name, row.cell("setting"), f"unknown setting '{key}'.{hint}")
            continue
        if key in values:
            problems.add(
                sheet.name, row.cell("setting"), f"setting '{key}' is given twice ({cells[key]})."
            )
            continue
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
            run_budget_impact=bool(parsed["run_budget_impact"]),
            evsi_sample_sizes=tuple(parsed["evsi_sample_sizes"] or ()),  # type: ignore[arg-type]
            trial_fixed_cost=float(parsed["trial_fixed_cost"] or 0.0),  # type: ignore[arg-type]
            trial_cost_per_patient=float(parsed["trial_cost_per_patient"] or 0.0),  # type: ignore[arg-type]
            trial_control_risk_parameter=str(parsed["trial_control_risk_parameter"] or ""),
            biomarker_strategy=str(parsed["biomarker_strategy"] or ""),
            budget_strategy=str(parsed["budget_strategy"] or ""),
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
        parts = [value] if _is_number(value) else re.split(r"[;,\s]+", str(value).strip())
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


# ----------------------------------------------------------------------------- Strategies


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
        strategies.append(
            Strategy(key, _text(row, "label") or key, _text(row, "description"), variables, where)
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
    model for every cycle and cannot carry a distribution (put it on its inputs).
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
                f"its value is {value:g}. Enter 0.17, not 17.",
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


# ----------------------------------------------------------------------------- Phases


def _read_phases(
    sheet: RawSheet | None,
    single_phase: dict,
    settings: Settings | None,
    problems: _Problems,
) -> list[Phase]:
    start_age = settings.start_age if settings is not None else None
    if sheet is None:
        cells = single_phase.get("_cells", {})
        missing = [k for k in ("cycle_length", "cycle_unit", "n_cycles") if k not in single_phase]
        if missing:
            problems.add(
                "Settings",
                "",
                "the cycle structure is missing: add a Phases sheet, or the settings "
                f"{', '.join(missing)} for a single-phase model.",
            )
            return []
        length = float(single_phase["cycle_length"])
        if length <= 0:
            problems.add("Settings", cells.get("cycle_length", ""), "cycle_length must be > 0.")
            return []
        unit = str(single_phase["cycle_unit"])
        if int(single_phase["n_cycles"]) > MAX_CYCLES:
            problems.add(
                "Settings",
                cells.get("n_cycles", ""),
                f"n_cycles is {single_phase['n_cycles']}; the limit is {MAX_CYCLES} per phase.",
            )
            return []
        return [
            Phase(
                "main",
                "Main",
                length * schema.CYCLE_UNITS[unit],
                int(single_phase["n_cycles"]),
                length,
                unit,
                f"Settings!{cells.get('n_cycles', '')}",
            )
        ]

    phases: list[Phase] = []
    elapsed = 0.0
    seen: set[str] = set()
    for row in sheet.rows:
        key = (
            _read_key(row.get("key"), sheet.name, row.cell("key"), "phase key", problems)
            if row.get("key") is not None
            else None
        )
        if row.get("key") is None:
            problems.add(sheet.name, row.cell("key"), "phase key is blank.")
        if key in seen:
            problems.add(sheet.name, row.cell("key"), f"phase '{key}' is declared twice.")
            key = None
        length = (
            _read_number(
                row.get("cycle_length"),
                sheet.name,
                row.cell("cycle_length"),
                "cycle_length",
                problems,
            )
            if row.get("cycle_length") is not None
            else None
        )
        if row.get("cycle_length") is None:
            problems.add(sheet.name, row.cell("cycle_length"), "cycle_length is blank.")
        elif length is not None and length <= 0:
            problems.add(
                sheet.name, row.cell("cycle_length"), f"cycle_length must be > 0; got {length:g}."
            )
            length = None
        unit = None
        if row.get("cycle_unit") is None:
            problems.add(sheet.name, row.cell("cycle_unit"), "cycle_unit is blank.")
        else:
            unit = _read_choice(
                row.get("cycle_unit"),
                schema.CYCLE_UNITS,
                sheet.name,
                row.cell("cycle_unit"),
                "cycle_unit",
                problems,
            )
        n_given, age_given = row.get("n_cycles") is not None, row.get("until_age") is not None
        if n_given == age_given:
            problems.add(
                sheet.name,
                row.cell("n_cycles"),
                "give exactly one of n_cycles and until_age for each phase.",
            )
            continue
        if key is None or length is None or unit is None:
            continue
        cycle_years = length * schema.CYCLE_UNITS[unit]
        if n_given:
            n = _read_integer(
                row.get("n_cycles"), sheet.name, row.cell("n_cycles"), "n_cycles", problems
            )
            where = row.cell("n_cycles")
        else:
            until = _read_number(
                row.get("until_age"), sheet.name, row.cell("until_age"), "until_age", problems
            )
            where = row.cell("until_age")
            n = None
            if until is not None and start_age is not None:
                n = math.ceil((until - start_age - elapsed) / cycle_years - 1e-9)
        if n is None:
            continue
        if n < 1:
            problems.add(
                sheet.name,
                where,
                f"phase '{key}' has {n} cycles; it needs at least 1 (check until_age against "
                "start_age and the earlier phases).",
            )
            continue
        if n > MAX_CYCLES:
            problems.add(
                sheet.name, where, f"phase '{key}' has {n} cycles; the limit is {MAX_CYCLES}."
            )
            continue
        seen.add(key)
        elapsed += n * cycle_years
        phases.append(
            Phase(
                key,
                _text(row, "label") or key,
                cycle_years,
                n,
                length,
                unit,
                f"{sheet.name}!{where}",
            )
        )
    if not phases and not problems.items:
        problems.add(sheet.name, "A2", "no phases declared.")
    return phases


# ----------------------------------------------------------------------------- LifeTable


def _read_life_table(sheet: RawSheet | None, problems: _Problems) -> LifeTable | None:
    if sheet is None:
        return None
    ages, male, female = [], [], []
    for row in sheet.rows:
        age = _read_integer(row.get("age"), sheet.name, row.cell("age"), "age", problems)
        qm = _read_number(row.get("qx_male"), sheet.name, row.cell("qx_male"), "qx_male", problems)
        qf = _read_number(
            row.get("qx_female"), sheet.name, row.cell("qx_female"), "qx_female", problems
        )
        for q, column in ((qm, "qx_male"), (qf, "qx_female")):
            if q is not None and not 0.0 <= q <= 1.0:
                problems.add(
                    sheet.name,
                    row.cell(column),
                    f"{column} must be a probability in [0, 1]; got {q:g}.",
                )
        if None in (age, qm, qf):
            continue
        if ages and age != ages[-1] + 1:
            problems.add(
                sheet.name,
                row.cell("age"),
                f"ages must be consecutive whole years in increasing order; got {age} after "
                f"{ages[-1]}.",
            )
        ages.append(age)
        male.append(qm)
        female.append(qf)
    if not ages:
        problems.add(sheet.name, "A2", "the life table has no rows.")
        return None
    return LifeTable(np.array(ages), np.array(male, float), np.array(female, float))


# ----------------------------------------------------------------------------- States


def _read_states(sheet: RawSheet, phases: list[Phase], problems: _Problems) -> list[State]:
    phase_keys = [p.key for p in phases]
    states: list[State] = []
    seen: dict[str, str] = {}
    cost_columns = [h for h in sheet.headers if h == "cost" or h.startswith("cost_")]
    for row in sheet.rows:
        name = sheet.name
        key = _unique_key(row, "key", name, "state", seen, problems)
        if key is None:
            continue
        where = {c: f"{name}!{row.cell(c)}" for c in row.cells}
        where["key"] = f"{name}!{row.cell('key')}"
        phase = _text(row, "phase")
        if not phase:
            if len(phase_keys) > 1:
                problems.add(
                    name,
                    row.cell("phase"),
                    f"state '{key}': phase is blank; give one of {', '.join(phase_keys)}.",
                )
                continue
            phase = phase_keys[0] if phase_keys else ""
        elif phase_keys and phase not in phase_keys:
            problems.add(
                name,
                row.cell("phase"),
                f"state '{key}': unknown phase '{phase}'; phases are {', '.join(phase_keys)}.",
            )
            continue
        alive = None
        if row.get("alive") is None:
            problems.add(name, row.cell("alive"), f"state '{key}': alive is blank (yes or no).")
        else:
            alive = _read_bool(row.get("alive"), name, row.cell("alive"), "alive", problems)
        utility = None
        if row.get("utility") is not None:
            utility = _read_expression(
                row.get("utility"), name, row.cell("utility"), f"utility of '{key}'", problems
            )
        costs: dict[str, Expression] = {}
        for column in cost_columns:
            if row.get(column) is None:
                continue
            expr = _read_expression(
                row.get(column), name, row.cell(column), f"{column} of '{key}'", problems
            )
            if expr is not None:
                costs[_category(column)] = expr
        start_costs: dict[str, Expression] = {}
        for column in [h for h in sheet.headers if h == "start_cost" or h.startswith("start_")]:
            if not (column == "start_cost" or column.startswith("start_cost_")):
                continue
            if row.get(column) is None:
                continue
            expr = _read_expression(
                row.get(column), name, row.cell(column), f"{column} of '{key}'", problems
            )
            if expr is not None:
                start_costs[_category(column.removeprefix("start_"))] = expr
        tunnel = 1
        if row.get("tunnel_length") is not None:
            read = _read_integer(
                row.get("tunnel_length"), name, row.cell("tunnel_length"), "tunnel_length", problems
            )
            tunnel = 1 if read is None else read
            if tunnel < 1 or tunnel > 10_000:
                problems.add(
                    name,
                    row.cell("tunnel_length"),
                    f"tunnel_length must be between 1 and 10000; got {tunnel}.",
                )
                tunnel = 1
        initial = None
        if row.get("initial") is not None:
            initial = _read_expression(
                row.get("initial"),
                name,
                row.cell("initial"),
                f"initial proportion of '{key}'",
                problems,
            )
        next_state = _text(row, "next_state") or None
        tags = tuple(t.strip().lower() for t in _text(row, "tags").split(",") if t.strip())
        for tag in tags:
            _read_key(tag, name, row.cell("tags"), "tag", problems)
        states.append(  # an invalid 'alive' was reported; keep the state so references resolve
            State(
                key,
                _text(row, "label") or key,
                phase,
                bool(alive),
                utility,
                costs,
                tunnel,
                initial,
                next_state,
                where,
                tags,
                start_costs,
            )
        )
    if not states:
        problems.add(sheet.name, "A2", "no states declared.")
    _check_phase_mapping(states, phases, problems)
    return states


def _category(column: str) -> str:
    """'cost' -> 'other'; 'cost_hospital' -> 'hospital'."""
    return column[len("cost_") :] if column.startswith("cost_") else "other"


def _check_phase_mapping(states: list[State], phases: list[Phase], problems: _Problems) -> None:
    phase_index = {p.key: i for i, p in enumerate(phases)}
    by_key = {s.key: s for s in states}
    for s in states:
        sheet, cell = _split_where(s.where.get("next_state", s.where["key"]))
        i = phase_index.get(s.phase)
        if i is None:
            continue
        last = i == len(phases) - 1
        if last and s.next_state:
            problems.add(
                sheet, cell, f"state '{s.key}' is in the last phase; next_state must be blank."
            )
        elif not last and not s.next_state:
            problems.add(
                sheet,
                cell,
                f"state '{s.key}' (phase '{s.phase}') needs a next_state: the state of phase "
                f"'{phases[i + 1].key}' its cohort moves to when phase '{s.phase}' ends.",
            )
        elif not last:
            target = by_key.get(s.next_state)  # type: ignore[arg-type]
            if target is None or target.phase != phases[i + 1].key:
                problems.add(
                    sheet,
                    cell,
                    f"next_state of '{s.key}' must be a state of phase '{phases[i + 1].key}'; "
                    f"got '{s.next_state}'.",
                )


def _check_initial(
    states: list[State],
    phases: list[Phase],
    allowed: set[str],
    dynamic: tuple[str, ...],
    problems: _Problems,
) -> None:
    if not phases:
        return
    first = phases[0].key
    if not any(s.initial is not None for s in states if s.phase == first):
        problems.add(
            "States",
            "1",
            "no state has an initial proportion; put 1 in the "
            "'initial' column of the starting state.",
        )
    for s in states:
        if s.initial is None:
            continue
        sheet, cell = _split_where(s.where["initial"])
        if s.phase != first:
            problems.add(
                sheet,
                cell,
                f"state '{s.key}' is not in the first phase "
                f"('{first}'); only first-phase states take an initial proportion.",
            )
        for name in sorted(s.initial.names - (allowed - set(dynamic))):
            problems.add(
                sheet,
                cell,
                f"initial proportion of '{s.key}' refers to '{name}'; "
                "only parameters and strategy variables may be used here.",
            )


# ----------------------------------------------------------------------------- Transitions


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
        name = sheet.name
        if row.get("from") is not None:  # until the row is accepted, it counts as broken
            problems.broken_from.add(str(row.get("from")).strip())
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
        strategies_here: tuple[str, ...] | None = None
        if row.get("strategy") is not None and str(row.get("strategy")).strip().lower() != "all":
            listed = tuple(k.strip() for k in str(row.get("strategy")).split(",") if k.strip())
            unknown = [k for k in listed if k not in strategy_keys]
            if unknown:
                problems.add(
                    name,
                    row.cell("strategy"),
                    f"unknown strategy '{unknown[0]}'; strategies are {', '.join(strategy_keys)}.",
                )
            strategies_here = tuple(k for k in listed if k in strategy_keys)
        probability = None
        raw_p = row.get("probability")
        if raw_p is None:
            problems.add(
                name,
                row.cell("probability"),
                "probability is blank; enter a number, "
                "an expression, or C for the rest of the row.",
            )
            continue
        complement = isinstance(raw_p, str) and raw_p.strip() in schema.COMPLEMENT_MARKERS
        if not complement:
            probability = _read_expression(
                raw_p, name, row.cell("probability"), "probability", problems
            )
            if probability is None:
                continue
            if probability.is_constant:
                try:
                    value = float(np.asarray(probability.evaluate({})))
                except ExpressionError as exc:
                    problems.add(name, row.cell("probability"), f"probability: {exc}")
                    continue
                if not 0.0 <= value <= 1.0:
                    hint = f" Enter {value / 100:g}, not a percentage." if 1 < value <= 100 else ""
                    problems.add(
                        name,
                        row.cell("probability"),
                        f"probability must be in [0, 1]; got {value:g}.{hint}",
                    )
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
            continue
        if state_phase[ends[0]] != state_phase[ends[1]]:
            problems.add(
                name,
                row.cell("to"),
                f"'{ends[0]}' (phase '{state_phase[ends[0]]}') and '{ends[1]}' (phase "
                f"'{state_phase[ends[1]]}') are in different phases; cohorts move between "
                "phases through the States column next_state.",
            )
            continue
        where = {c: f"{name}!{row.cell(c)}" for c in row.cells}
        where["row"] = str(row.row)
        transitions.append(
            Transition(ends[0], ends[1], strategies_here, probability, costs, qaly, where)
        )
    accepted = {t.from_state for t in transitions}
    problems.broken_from -= accepted
    return transitions


def transitions_for(
    transitions: Iterable[Transition], strategy: str
) -> dict[tuple[str, str], Transition]:
    """Rows that apply to ``strategy``: strategy-specific rows override shared ones."""
    rows: dict[tuple[str, str], Transition] = {}
    for t in transitions:
        if t.strategies is None:
            rows.setdefault((t.from_state, t.to_state), t)
    for t in transitions:
        if t.strategies is not None and strategy in t.strategies:
            rows[(t.from_state, t.to_state)] = t
    return rows


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
            "sheet; add one with columns age, qx_male, qx_female.",
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


# ----------------------------------------------------------------------------- cross-checks


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
    missing = [n for n in schema.BIOMARKER_PARAMETERS if n not in names]
    if settings.run_biomarker and (missing or not settings.effect_parameter):
        problems.add(
            sheet.name,
            cells.get("run_biomarker", ""),
            "run_biomarker needs the parameters "
            + ", ".join(schema.BIOMARKER_PARAMETERS)
            + f" (missing: {', '.join(missing) or 'none'}) and the setting effect_parameter.",
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


# ----------------------------------------------------------------------------- Trials


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
    selection = Selection(
        settings.synthesis_virus.strip().lower() or "all",
        products,
        settings.synthesis_randomized_only,
    )
    try:
        synthesis = synthesize(trials, selection)
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
    sd = dl.se_log if settings.synthesis_effect == "confidence" else dl.se_pred
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
                low=float(np.exp(dl.log_rr - 1.959963984540054 * sd)),
                high=float(np.exp(dl.log_rr + 1.959963984540054 * sd)),
                unit=p.unit or "risk ratio",
                group=p.group,
                description=p.description,
                source=(
                    f"Trials sheet: DerSimonian-Laird pooled RR of death, k={dl.k} "
                    f"({selection.describe()}); {settings.synthesis_effect} distribution"
                ),
                where=p.where,
            )
        replaced.append(p)
    return synthesis, replaced


# ----------------------------------------------------------------------------- Calibration


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
        key = _text(row, "key")
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
                    f"entry '{state}' is not a state of the first phase "
                    f"({', '.join(sorted(first))}).",
                )
                continue
            w = _read_number(
                weight.strip() or 1.0, name, row.cell("entry"), "entry weight", problems
            )
            if w is not None and w <= 0:
                problems.add(
                    name, row.cell("entry"), f"entry weight of '{state}' must be > 0; got {w:g}."
                )
            elif w is not None:
                entry.append((state, w))
        strategy = _text(row, "strategy") or default_strategy
        if strategy not in strategy_keys:
            problems.add(name, row.cell("strategy"), f"unknown strategy '{strategy}'.")
        outcome = tuple(o.strip() for o in _text(row, "outcome").split(",") if o.strip())
        for o in outcome:
            if o not in all_states:
                problems.add(name, row.cell("outcome"), f"unknown state '{o}' in outcome.")
        if not outcome:
            problems.add(name, row.cell("outcome"), "outcome is blank; list state keys.")
        numbers = {}
        for column in ("day", "target", "tolerance"):
            value = row.get(column)
            if value is None:
                if column != "tolerance":
                    problems.add(name, row.cell(column), f"{column} is blank.")
                numbers[column] = 0.01 if column == "tolerance" else None
                continue
            numbers[column] = _read_number(value, name, row.cell(column), column, problems)
        target = numbers["target"]
        if target is not None and not 0.0 <= target <= 1.0:
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
            continue
        targets.append(
            CalibrationTarget(
                key,
                tuple(entry),
                strategy,
                outcome,
                float(day),
                float(target),  # type: ignore[arg-type]
                float(numbers["tolerance"]),
                _text(row, "source"),  # type: ignore[arg-type]
                f"{name}!{row.cell('target')}",
            )
        )
    return tuple(targets)


# ----------------------------------------------------------------------------- PSA inputs


def _is_probability(p: Parameter) -> bool:
    return p.name.startswith("p_") or "probability" in p.unit.lower()


def _build_distributions(
    parameters: list[Parameter], base_values: dict[str, float], problems: _Problems
) -> list[Parameter]:
    """Attach a validated Distribution to every parameter with one; check Dirichlet sets."""
    out = []
    sets: dict[str, list[Parameter]] = {}
    for p in parameters:
        sheet, cell = _split_where(p.where)
        if p.distribution == "fixed":
            out.append(p)
            continue
        if p.distribution == "dirichlet":
            if not p.dirichlet:
                problems.add(
                    sheet,
                    cell,
                    f"'{p.name}' has a dirichlet distribution but no "
                    "set name in the 'dirichlet' column.",
                )
            elif p.dist_params[0] is None or p.dist_params[0] <= 0:
                problems.add(
                    sheet,
                    cell,
                    f"dirichlet '{p.name}': param1 must be the count "
                    f"alpha > 0; got {p.dist_params[0]}.",
                )
            sets.setdefault(p.dirichlet, []).append(p)
            out.append(p)
            continue
        try:
            dist = make_distribution(
                p.distribution, p.dist_params, p.param_type, base_value=base_values.get(p.name)
            )
            check_use(dist, is_probability=_is_probability(p), name=p.name)
        except DistributionError as exc:
            problems.add(sheet, cell, f"distribution of '{p.name}': {exc}")
            out.append(p)
            continue
        out.append(replace(p, dist=dist))
    for name, members in sets.items():
        if len(members) < 2:
            sheet, cell = _split_where(members[0].where)
            problems.add(
                sheet,
                cell,
                f"dirichlet set '{name}' has one parameter; a set needs "
                "two or more (e.g. the probabilities of one transition row).",
            )
    return out


def _read_correlations(
    sheet: RawSheet | None, parameters: list[Parameter], problems: _Problems
) -> tuple[Correlation, ...]:
    if sheet is None:
        return ()
    by_name = {p.name: p for p in parameters}
    found: list[Correlation] = []
    seen: set[frozenset[str]] = set()
    for row in sheet.rows:
        names = []
        for column in ("parameter_a", "parameter_b"):
            name = _text(row, column)
            p = by_name.get(name)
            if p is None:
                problems.add(sheet.name, row.cell(column), f"unknown parameter '{name}'.")
            elif p.dist is None:
                problems.add(
                    sheet.name,
                    row.cell(column),
                    f"'{name}' has no continuous distribution to correlate (fixed or dirichlet).",
                )
            else:
                names.append(name)
        rho = (
            _read_number(
                row.get("correlation"), sheet.name, row.cell("correlation"), "correlation", problems
            )
            if row.get("correlation") is not None
            else None
        )
        if row.get("correlation") is None:
            problems.add(sheet.name, row.cell("correlation"), "correlation is blank.")
        kind = _text(row, "type").lower() or "rank"
        if kind not in schema.CORRELATION_TYPES:
            problems.add(
                sheet.name, row.cell("type"), f"type must be rank or pearson; got '{kind}'."
            )
            continue
        if rho is None or len(names) != 2:
            continue
        if names[0] == names[1]:
            problems.add(
                sheet.name, row.cell("parameter_b"), "a parameter cannot be correlated with itself."
            )
            continue
        if not -1.0 < rho < 1.0:
            problems.add(
                sheet.name,
                row.cell("correlation"),
                f"correlation must be strictly between -1 and 1; got {rho:g}.",
            )
            continue
        pair = frozenset(names)
        if pair in seen:
            problems.add(
                sheet.name,
                row.cell("parameter_a"),
                f"correlation of {names[0]} and {names[1]} is given twice.",
            )
            continue
        seen.add(pair)
        pearson = 2.0 * math.sin(math.pi * rho / 6.0) if kind == "rank" else rho
        found.append(
            Correlation(names[0], names[1], pearson, f"{sheet.name}!{row.cell('correlation')}")
        )
    if found:
        members = sorted({n for c in found for n in (c.parameter_a, c.parameter_b)})
        matrix = np.eye(len(members))
        for c in found:
            i, j = members.index(c.parameter_a), members.index(c.parameter_b)
            matrix[i, j] = matrix[j, i] = c.correlation
        if np.linalg.eigvalsh(matrix).min() <= 1e-10:
            problems.add(
                sheet.name,
                "",
                "the correlation matrix of " + ", ".join(members) + " is not positive "
                "definite (the correlations contradict each other); weaken some of them.",
            )
    return tuple(found)


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


MAX_EXPANDED_STATES = 1500  # per phase, after tunnel expansion (dense K x K matrices)


def _check_state_space(
    sheet: RawSheet, states: list[State], phases: list[Phase], problems: _Problems
) -> None:
    """A state space (after tunnel expansion) the engine can hold in memory."""
    for phase in phases:
        members = [s for s in states if s.phase == phase.key]
        total = sum(s.tunnel_length for s in members)
        if total > MAX_EXPANDED_STATES:
            biggest = max(members, key=lambda s: s.tunnel_length)
            sheet_name, cell = _split_where(
                biggest.where.get("tunnel_length", biggest.where["key"])
            )
            problems.add(
                sheet_name,
                cell,
                f"phase '{phase.key}' expands to {total} states with "
                f"its tunnels (limit {MAX_EXPANDED_STATES}); shorten tunnel_length.",
            )
