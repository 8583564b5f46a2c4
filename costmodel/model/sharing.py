"""Which later phases no strategy and no entry stratum changes, so that they can be run once.

A phase after the first whose expressions (with the dynamic parameters they use) reference no
strategy variable and no ``entry_<state>`` indicator, and whose transitions are shared by all
strategies and carry no one-off rewards, maps a cohort's start distribution to outcomes by the
same linear map for every strategy and entry stratum. The model can then run it once per
sample from each of its K states ("unit cohorts") and combine: outcomes = x0 · unit outcomes.
With more than K cohorts per sample this is less work (the MSC model: 12 cohorts per sample,
7 long-term states). The decision depends on the workbook only, never on parameter values.
"""

from __future__ import annotations

from costmodel.inputs import ModelInputs
from costmodel.model.expressions import phase_expressions
from costmodel.phases import ExpandedPhase


def strategy_free_phases(inputs: ModelInputs, phases: tuple[ExpandedPhase, ...]) -> frozenset[str]:
    """Keys of the phases after the first whose inputs depend on neither the strategy nor
    the entry state (see the module docstring)."""
    first_states = inputs.states_in(inputs.phases[0].key)
    varying = set(inputs.strategy_variables) | {f"entry_{s.key}" for s in first_states}
    dynamic = {n: inputs.parameter(n).expression.names for n in inputs.dynamic_parameters}
    free = set()
    for phase in phases[1:]:
        keys = {s.key for s in phase.states}
        if any(
            t.from_state in keys and (t.strategies is not None or t.costs or t.qaly is not None)
            for t in inputs.transitions
        ):
            continue
        names = _closure(phase_expressions(inputs, phase), dynamic)
        if not names & varying:
            free.add(phase.phase.key)
    return frozenset(free)


def _closure(expressions: list, dynamic: dict[str, frozenset[str]]) -> set[str]:
    """Names the expressions reference, directly or through dynamic parameters."""
    names: set[str] = set()
    for e in expressions:
        if e is not None:
            names |= e.names
    frontier = [n for n in names if n in dynamic]
    while frontier:
        for m in dynamic[frontier.pop()]:
            if m not in names:
                names.add(m)
                if m in dynamic:
                    frontier.append(m)
    return names
