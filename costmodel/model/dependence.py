"""Where a parameter enters the model, decided from the workbook alone.

A parameter reaches the model's expressions directly, through the parameters computed from
it, through strategy variables and through time-dependent parameters. When every expression
it reaches is a one-off start cost (cost at time 0 of the cohort starting in a state), the
parameter changes no transition, no cohort occupancy and no other reward: the model's cost
at another value of it is the run's cost plus the change in start costs, computed without
propagating the cohort (the MSC model's product price enters only as the course cost at
the start of treatment).
"""

from __future__ import annotations

from costmodel.inputs import ModelInputs


def dependent_names(inputs: ModelInputs, name: str) -> frozenset[str]:
    """``name`` and every parameter, strategy variable and time-dependent parameter whose
    value changes with it (directly or through others)."""
    definitions: dict[str, list] = {}
    for p in inputs.parameters:
        if p.expression is not None:
            definitions.setdefault(p.name, []).append(p.expression)
    for s in inputs.strategies:
        for variable, expr in s.variables.items():
            definitions.setdefault(variable, []).append(expr)
    found = {name}
    changed = True
    while changed:
        changed = False
        for defined, expressions in definitions.items():
            if defined not in found and any(e is not None and e.names & found for e in expressions):
                found.add(defined)
                changed = True
    return frozenset(found)


def only_in_start_costs(inputs: ModelInputs, name: str) -> bool:
    """True when ``name`` (with what depends on it) appears in start-cost cells only: in no
    transition, initial proportion, state cost, utility or transition reward of any phase."""
    names = dependent_names(inputs, name)
    others = []
    for s in inputs.states:
        others += [s.utility, s.initial, *s.costs.values()]
    for t in inputs.transitions:
        others += [t.probability, t.qaly, *t.costs.values()]
    return not any(e is not None and e.names & names for e in others)
