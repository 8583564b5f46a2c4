"""Raw workbook tables → validated :class:`ModelInputs`, collecting every problem at once.

Each problem names file, sheet and cell, says what is wrong and what was found, and how to
fix it. Nothing downstream re-checks what is checked here. One module per sheet family; this
orchestrator calls them in dependency order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from costmodel import schema
from costmodel.errors import InputError, Problem
from costmodel.inputs import Correlation, ModelInputs
from costmodel.validate.cells import _check_sheets, _Problems
from costmodel.validate.optional_sheets import (
    _read_budget_impact,
    _read_calibration,
    _read_scenarios,
    _read_subgroups,
)
from costmodel.validate.parameter_sheets import (
    _check_names,
    _evaluate_base_parameters,
    _order_parameters,
    _order_strategy_variables,
    _read_parameters,
    _read_strategies,
)
from costmodel.validate.phases import _read_life_table, _read_phases
from costmodel.validate.psa_inputs import _build_distributions, _read_correlations
from costmodel.validate.scenarios import patched_workbook, relabel
from costmodel.validate.settings import (
    _check_outcome_days,
    _check_settings_references,
    _check_twoway,
    _read_settings,
)
from costmodel.validate.states import _check_initial, _check_state_space, _read_states
from costmodel.validate.transitions import (
    _check_life_table,
    _check_references,
    _check_transition_rows,
    _read_transitions,
)
from costmodel.validate.trials import _apply_synthesis, _read_trials
from costmodel.workbook import RawWorkbook, read_workbook

__all__ = ["load_inputs", "load_model", "validate_workbook"]


def load_inputs(path: str | Path) -> ModelInputs:
    """Read and validate a workbook; raise InputError listing every problem."""
    return validate_workbook(read_workbook(path))


load_model = load_inputs  # the first release's name (it returns inputs, not a model)


# Columns without which a sheet's rows cannot stand in for the sheets that refer to them.
IDENTITY_COLUMNS = {
    "Settings": ("setting", "value"),
    "Strategies": ("key",),
    "Phases": ("key",),
    "States": ("key",),  # and 'phase' when there is a Phases sheet
}


def _read_intact_sheets(sheets: dict, problems: _Problems) -> None:
    """With some sheet unreadable (a missing column), still read the other sheets so that one
    missing column does not hide every other problem. A broken sheet whose identity columns
    (its keys) are there is read into a scratch list (its own follow-on problems dropped) and
    stands in for the sheets that refer to it: a States sheet without its 'alive' column
    still lets Transitions be checked."""
    broken = {p.sheet for p in problems.items}
    scratch = _Problems(problems.file)

    def usable(name: str) -> bool:
        sheet = sheets.get(name)
        if sheet is None or name not in broken:
            return True
        needed = IDENTITY_COLUMNS.get(name, ())
        if name == "States" and sheets.get("Phases") is not None:
            needed += ("phase",)
        return all(c in sheet.headers for c in needed)

    def target(name: str) -> _Problems:
        return scratch if name in broken else problems

    settings, single_phase = _read_settings(sheets["Settings"], target("Settings"))
    strategies = _read_strategies(sheets["Strategies"], target("Strategies"))
    parameters = _read_parameters(sheets["Parameters"], target("Parameters"))
    if "Parameters" not in broken:
        _check_names(parameters, (), problems)
    if not (usable("Settings") and usable("Phases")):
        return
    phases = _read_phases(sheets.get("Phases"), single_phase, settings, target("Phases"))
    states = _read_states(sheets["States"], phases, target("States"))
    if usable("States") and usable("Strategies"):
        _read_transitions(sheets["Transitions"], states, strategies, target("Transitions"))


def validate_workbook(raw: RawWorkbook, *, check_scenarios: bool = True) -> ModelInputs:
    """Turn raw tables into ModelInputs; raise InputError with all problems found.

    Each scenario is validated too (the workbook with its values in place), so a scenario
    that would break the model is reported now, at its Scenarios cell; the validated variants
    are kept in ``scenario_variants`` for the scenario analysis.
    """
    problems = _Problems(raw.file)
    problems.warnings.extend(raw.notes)
    sheets = _check_sheets(raw, problems)
    if any(sheets.get(s.name) is None for s in schema.ALL_SHEETS if s.required):
        raise InputError(problems.items)
    if problems.items:  # missing required columns or duplicate headers: rows cannot be read
        _read_intact_sheets(sheets, problems)  # ...but the other sheets' problems are listed too
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
    unreadable_table = sheets.get("LifeTable") is not None and life_table is None
    if settings is not None and phases and not unreadable_table:  # else reported at the sheet
        _check_life_table(
            states, transitions, strategies, parameters, settings, phases, life_table, problems
        )

    if settings is not None and phases:
        _check_outcome_days(settings, phases, sheets["Settings"], problems)
    synthesis = None
    trials = None
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
    subgroups = _read_subgroups(sheets.get("Subgroups"), states, phases, problems)

    if problems.items:
        raise InputError(problems.items)
    assert settings is not None and ordered is not None  # guaranteed when no problems
    inputs = ModelInputs(
        source=raw.path,
        source_data=raw.data,
        file=raw.file,
        sha256=raw.sha256,
        settings=settings,
        phases=tuple(phases),
        parameters=tuple(ordered),
        states=tuple(states),
        transitions=tuple(transitions),
        strategies=tuple(strategies),
        life_table=life_table,
        cost_categories=_cost_categories(states, transitions),
        strategy_variables=tuple(variable_order),
        dynamic_parameters=dynamic,
        synthesis=synthesis,
        trials=tuple(trials or ()),
        calibration=calibration,
        correlations=correlations,
        scenarios=scenarios,
        budget_impact=budget,
        subgroups=subgroups,
        warnings=tuple(problems.warnings),
    )
    if check_scenarios and inputs.scenarios:
        inputs = replace(inputs, scenario_variants=_validate_scenarios(raw, inputs))
    return inputs


def _cost_categories(states, transitions) -> tuple[str, ...]:
    """Every cost category any state or transition uses, sorted."""
    used = {c for s in states for c in (*s.costs, *s.start_costs)}
    return tuple(sorted(used | {c for t in transitions for c in t.costs}))


def _validate_scenarios(raw: RawWorkbook, inputs: ModelInputs) -> tuple[ModelInputs, ...]:
    """Each scenario validated once, as the workbook with its values in place; all problems of
    all scenarios are raised together, at their Scenarios cells."""
    parameters = {p.name for p in inputs.parameters}
    variants: list[ModelInputs] = []
    problems: list[Problem] = []
    for scenario in inputs.scenarios:
        patched = patched_workbook(raw, scenario, parameters)
        try:
            variants.append(validate_workbook(patched, check_scenarios=False))
        except InputError as exc:
            problems += [relabel(p, scenario.name) for p in exc.problems]
    if problems:
        raise InputError(problems)
    return tuple(variants)
