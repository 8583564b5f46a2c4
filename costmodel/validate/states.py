"""States sheet: states, their phase mapping, initial proportions, state-space size."""

from __future__ import annotations

from costmodel.formula import Expression
from costmodel.inputs import (
    Phase,
    State,
)
from costmodel.validate.cells import (
    _Problems,
    _read_bool,
    _read_expression,
    _read_integer,
    _read_key,
    _text,
    _unique_key,
)
from costmodel.validate.parameter_sheets import _split_where
from costmodel.workbook import RawRow, RawSheet


def _read_states(sheet: RawSheet, phases: list[Phase], problems: _Problems) -> list[State]:
    phase_keys = [p.key for p in phases]
    states: list[State] = []
    seen: dict[str, str] = {}
    cost_columns = [h for h in sheet.headers if h == "cost" or h.startswith("cost_")]
    start_cost_columns = [
        h for h in sheet.headers if h == "start_cost" or h.startswith("start_cost_")
    ]
    for row in sheet.rows:
        state = _read_state_row(
            row, sheet.name, phase_keys, cost_columns, start_cost_columns, seen, problems
        )
        if state is not None:
            states.append(state)
    if not states:
        problems.add(sheet.name, "A2", "no states declared.")
    _check_phase_mapping(states, phases, problems)
    return states


def _read_state_row(
    row: RawRow,
    name: str,
    phase_keys: list[str],
    cost_columns: list[str],
    start_cost_columns: list[str],
    seen: dict[str, str],
    problems: _Problems,
) -> State | None:
    """One States row, or None when its key or phase is unusable."""
    key = _unique_key(row, "key", name, "state", seen, problems)
    if key is None:
        return None
    where = {c: f"{name}!{row.cell(c)}" for c in row.cells}
    where["key"] = f"{name}!{row.cell('key')}"
    phase = _read_state_phase(row, name, key, phase_keys, problems)
    if phase is None:
        return None
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
    costs = _read_state_costs(row, name, key, cost_columns, "", problems)
    start_costs = _read_state_costs(row, name, key, start_cost_columns, "start_", problems)
    tunnel = _read_tunnel_length(row, name, problems)
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
    return State(  # an invalid 'alive' was reported; keep the state so references resolve
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


def _read_state_phase(
    row: RawRow, name: str, key: str, phase_keys: list[str], problems: _Problems
) -> str | None:
    """The state's phase (blank means the only phase), or None when missing or unknown."""
    phase = _text(row, "phase")
    if not phase:
        if len(phase_keys) > 1:
            problems.add(
                name,
                row.cell("phase"),
                f"state '{key}': phase is blank; give one of {', '.join(phase_keys)}.",
            )
            return None
        return phase_keys[0] if phase_keys else ""
    if phase_keys and phase not in phase_keys:
        problems.add(
            name,
            row.cell("phase"),
            f"state '{key}': unknown phase '{phase}'; phases are {', '.join(phase_keys)}.",
        )
        return None
    return phase


def _read_state_costs(
    row: RawRow, name: str, key: str, columns: list[str], prefix: str, problems: _Problems
) -> dict[str, Expression]:
    """Cost expressions of the non-blank `columns`, by category (after removing `prefix`)."""
    costs: dict[str, Expression] = {}
    for column in columns:
        if row.get(column) is None:
            continue
        expr = _read_expression(
            row.get(column), name, row.cell(column), f"{column} of '{key}'", problems
        )
        if expr is not None:
            costs[_category(column.removeprefix(prefix))] = expr
    return costs


def _read_tunnel_length(row: RawRow, name: str, problems: _Problems) -> int:
    """The tunnel_length (1 when blank or invalid; must be 1-10000)."""
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
    return tunnel


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
