"""Validated, immutable model inputs: the hand-off from validation to everything else.

Every object remembers where it came from (``where``: sheet and cell) so later stages can
point a user at the cell behind a numerical problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from costmodel.distributions import Distribution
from costmodel.evidence import Synthesis, Trial
from costmodel.formula import Expression, parse_expression

# strategies the analyses derive from the modelled ones (not rows of the Strategies sheet)
DERIVED_STRATEGY_LABELS = {"test_and_treat": "Test and treat (responder biomarker)"}


@dataclass(frozen=True)
class Settings:
    name: str
    description: str
    perspective: str
    currency: str
    price_year: int
    discount_rate_costs: float  # per year
    discount_rate_outcomes: float  # per year
    within_cycle_correction: str
    start_age: float  # years
    prop_female: float  # proportion at start
    wtp: tuple[float, ...]  # currency per effect unit
    effect_measure: str  # "qaly" or "ly"
    psa_samples: int
    seed: int
    reference_strategy: str = ""  # "" = first declared
    outcome_days: tuple[float, ...] = (28.0, 90.0)
    effect_parameter: str = ""
    synthesis_virus: str = "all"
    synthesis_products: str = "all"
    synthesis_randomized_only: bool = False
    synthesis_effect: str = "confidence"
    population_size: float = 0.0
    decision_horizon_years: int = 1
    dsa_strategy: str = ""
    twoway: str = ""
    threshold_parameter: str = ""
    threshold_max: float | None = None
    run_evppi: bool = False
    run_evsi: bool = False
    run_biomarker: bool = False
    biomarker_in_decision: bool = True  # with run_biomarker: test_and_treat is a strategy
    life_table_source: str = ""  # where the LifeTable comes from, with its evidence flag
    run_budget_impact: bool = False
    evsi_sample_sizes: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
    trial_fixed_cost: float = 0.0
    trial_cost_per_patient: float = 0.0
    trial_control_risk_parameter: str = ""
    biomarker_strategy: str = ""
    discount_timing: str = "method"  # see costmodel.engine.discount_timing
    budget_strategy: str = ""
    run_voi_by_price: bool = False
    voi_prices: tuple[float, ...] = ()
    synthesis_tau2: str = "DL"
    synthesis_interval: str = "auto"
    synthesis_exclude_high_risk_of_bias: bool = False
    synthesis_exclude_derived_counts: bool = False
    synthesis_trials: str = "all"
    effect_start_day: float = 0.0  # days
    effect_end_day: float | None = None  # days; None = no end
    effect_waning: str = "none"  # none | linear | exponential
    effect_waning_end_day: float | None = None  # days

    def as_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    cycle_years: float  # length of one cycle in years
    n_cycles: int
    cycle_length: float  # in cycle_unit, as entered
    cycle_unit: str
    where: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    expression: Expression
    distribution: str  # "fixed" when blank
    dist_params: tuple[float | None, ...]  # param1..param4 as entered (or set by synthesis)
    low: float | None
    high: float | None
    unit: str
    group: str
    description: str
    source: str
    where: str  # "Parameters!B5" (the value cell)
    param_type: str = "native"
    dirichlet: str = ""  # Dirichlet set name
    dist: Distribution | None = None  # validated PSA distribution (not for fixed/dirichlet)

    @property
    def is_stochastic(self) -> bool:
        return self.distribution not in ("fixed",)


@dataclass(frozen=True)
class State:
    key: str
    label: str
    phase: str
    alive: bool
    utility: Expression | None  # QALY weight per year in state
    costs: dict[str, Expression]  # category -> cost per cycle
    tunnel_length: int  # 1 = ordinary state
    initial: Expression | None
    next_state: str | None
    where: dict[str, str] = field(default_factory=dict)  # column -> "States!E4"
    tags: tuple[str, ...] = ()  # reporting labels, e.g. ("hospital", "icu")
    start_costs: dict[str, Expression] = field(default_factory=dict)  # one-off at time 0


@dataclass(frozen=True)
class Transition:
    from_state: str
    to_state: str
    strategies: tuple[str, ...] | None  # None = shared by all strategies
    probability: Expression | None  # None = complement ("the rest of the row")
    costs: dict[str, Expression]  # one-off cost per transition, by category
    qaly: Expression | None  # one-off QALY change per transition
    where: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Strategy:
    key: str
    label: str
    description: str
    variables: dict[str, Expression]  # strategy-specific variables
    where: dict[str, str] = field(default_factory=dict)
    role: str = "comparator"  # or "hypothetical": never part of the decision
    price_parameter: str = ""  # hypothetical strategies: their price (threshold price)
    effect_parameter: str = ""  # hypothetical strategies: their risk ratio (threshold effect)

    @property
    def is_hypothetical(self) -> bool:
        return self.role == "hypothetical"


@dataclass(frozen=True)
class LifeTable:
    ages: np.ndarray  # consecutive whole years
    qx_male: np.ndarray  # probability of death within the year
    qx_female: np.ndarray

    @property
    def max_age(self) -> int:
        return int(self.ages[-1])


@dataclass(frozen=True)
class Correlation:
    parameter_a: str
    parameter_b: str
    correlation: float  # Pearson correlation of the normal scores (rank input converted)
    where: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    overrides: tuple[tuple[str, object, str], ...]  # (target, value, cell)


@dataclass(frozen=True)
class BudgetYear:
    year: int
    eligible_patients: float
    uptake: float  # proportion
    price: float | None  # overrides threshold_parameter when given


@dataclass(frozen=True)
class CalibrationTarget:
    """Share of the cohort in ``outcome`` states at ``day`` for a starting mix."""

    key: str
    entry: tuple[tuple[str, float], ...]  # (state, weight); empty = initial distribution
    strategy: str
    outcome: tuple[str, ...]
    day: float
    target: float
    tolerance: float
    source: str
    where: str = ""
    relative_to: str = ""  # strategy: the target is share(strategy) / share(relative_to)


@dataclass(frozen=True)
class Subgroup:
    """A subgroup: the cohort started in a weighted mix of first-phase states."""

    name: str
    entry: tuple[tuple[str, float], ...]  # (state, weight)
    description: str = ""
    where: str = ""

    @property
    def weights(self) -> dict[str, float]:
        """Entry state -> share of the subgroup (weights normalized to sum to 1)."""
        total = sum(w for _, w in self.entry)
        return {state: w / total for state, w in self.entry}


@dataclass(frozen=True)
class ModelInputs:
    """Everything a model run needs, validated; parameters are in dependency order."""

    source: Path
    file: str
    sha256: str
    settings: Settings
    phases: tuple[Phase, ...]
    parameters: tuple[Parameter, ...]
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    strategies: tuple[Strategy, ...]
    life_table: LifeTable | None
    cost_categories: tuple[str, ...]
    strategy_variables: tuple[str, ...]  # in dependency order
    dynamic_parameters: tuple[str, ...] = ()  # time-dependent parameters, in dependency order
    synthesis: Synthesis | None = None  # pooled trial evidence behind effect_parameter
    trials: tuple[Trial, ...] = ()  # the Trials sheet (all rows)
    calibration: tuple[CalibrationTarget, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
    budget_impact: tuple[BudgetYear, ...] = ()
    subgroups: tuple[Subgroup, ...] = ()
    warnings: tuple[str, ...] = ()
    # the validated inputs of each scenario, in Scenarios order (scenarios are validated once,
    # with the workbook; a scenario's own variants are empty)
    scenario_variants: tuple[ModelInputs, ...] = field(default=(), repr=False, compare=False)
    # the workbook's bytes as hashed and validated (copied into the output folder, so that
    # reports echo exactly what was modelled, never a file read again later)
    source_data: bytes = field(default=b"", repr=False, compare=False)
    # what model runs derive from these inputs alone (time segments of each phase and entry
    # state), kept for the next run; a copy made with ``replace`` starts empty
    run_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def hypothetical_strategies(self) -> tuple[Strategy, ...]:
        """Strategies with role 'hypothetical' (reported only as what they would be worth)."""
        return tuple(s for s in self.strategies if s.is_hypothetical)

    def decision_inputs(self) -> ModelInputs:
        """These inputs with the comparators only: what every decision output is computed
        on (ICER table, CE plane, CEAC/CEAF, EVPI/EVPPI/EVSI, DSA, scenarios)."""
        if not self.hypothetical_strategies:
            return self
        variants = tuple(v.decision_inputs() for v in self.scenario_variants)
        comparators = tuple(s for s in self.strategies if not s.is_hypothetical)
        return replace(self, strategies=comparators, scenario_variants=variants)

    def strategy_label(self, key: str) -> str:
        """Display label of a strategy, including the derived test_and_treat strategy."""
        labels = {s.key: s.label for s in self.strategies}
        return labels.get(key, DERIVED_STRATEGY_LABELS.get(key, key))

    def transitions_for(self, strategy: str) -> dict[tuple[str, str], Transition]:
        """Transitions rows that apply to ``strategy`` (see :func:`transitions_for`)."""
        return transitions_for(self.transitions, strategy)

    def with_settings(self, **changes: object) -> ModelInputs:
        """The same model with some Settings values replaced, in every scenario too (a
        command-line override such as ``--wtp`` applies to the whole run)."""
        variants = tuple(v.with_settings(**changes) for v in self.scenario_variants)
        settings = replace(self.settings, **changes)
        return replace(self, settings=settings, scenario_variants=variants)

    def with_parameter_values(self, values: Mapping[str, float]) -> ModelInputs:
        """The same model with some parameters fixed at a number: the base case, the PSA
        (no distribution, no correlation) and every scenario that does not set the
        parameter itself; the DSA range is kept. Names must be parameters (KeyError)."""
        known = {p.name: p for p in self.parameters}
        for name in values:
            if name not in known:
                raise KeyError(name)
        changed = {
            name: replace(
                known[name],
                expression=parse_expression(repr(float(v))),
                distribution="fixed",
                dist_params=(None, None, None, None),
                dist=None,
            )
            for name, v in values.items()
        }

        def fixed(inputs: ModelInputs) -> ModelInputs:
            parameters = tuple(
                changed[p.name] if p.name in changed and p == known[p.name] else p
                for p in inputs.parameters
            )
            correlations = tuple(
                c
                for c in inputs.correlations
                if c.parameter_a not in changed and c.parameter_b not in changed
            )
            return replace(inputs, parameters=parameters, correlations=correlations)

        variants = tuple(fixed(v) for v in self.scenario_variants)
        return replace(fixed(self), scenario_variants=variants)

    def scenario_inputs(self, name: str) -> ModelInputs:
        """The validated inputs of the scenario called ``name`` (KeyError if none)."""
        for scenario, variant in zip(self.scenarios, self.scenario_variants, strict=True):
            if scenario.name == name:
                return variant
        raise KeyError(name)

    def with_strategies(self, keys: Iterable[str]) -> ModelInputs:
        """The same model with only the strategies ``keys`` (in workbook order), for analyses
        that need a few arms; outcomes then have one column per kept strategy."""
        wanted = set(keys)
        return replace(self, strategies=tuple(s for s in self.strategies if s.key in wanted))

    @property
    def strategy_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.strategies)

    @property
    def reference_strategy(self) -> str:
        return self.settings.reference_strategy or self.strategies[0].key

    @property
    def dsa_strategy(self) -> str:
        """Strategy compared with the reference in tornado/two-way/threshold analyses."""
        if self.settings.dsa_strategy:
            return self.settings.dsa_strategy
        others = [k for k in self.strategy_keys if k != self.reference_strategy]
        return others[0] if others else self.reference_strategy

    def model_parameters(self) -> frozenset[str]:
        """Parameters the model's states, transitions and strategies use, directly or
        through other parameters (others only feed separate analyses, e.g. a biomarker)."""
        expressions = [e for s in self.strategies for e in s.variables.values()]
        for s in self.states:
            expressions += [s.utility, s.initial, *s.costs.values(), *s.start_costs.values()]
        for t in self.transitions:
            expressions += [t.probability, t.qaly, *t.costs.values()]
        names = {n for e in expressions if e is not None for n in e.names}
        by_name = {p.name: p for p in self.parameters}
        pending = [n for n in names if n in by_name]
        used: set[str] = set()
        while pending:
            name = pending.pop()
            if name in used:
                continue
            used.add(name)
            pending += [n for n in by_name[name].expression.names if n in by_name]
        return frozenset(used)

    @property
    def stochastic_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.is_stochastic)

    @property
    def tags(self) -> tuple[str, ...]:
        """Reporting tags in first-use order."""
        return tuple(dict.fromkeys(t for s in self.states for t in s.tags))

    def states_in(self, phase: str) -> tuple[State, ...]:
        return tuple(s for s in self.states if s.phase == phase)

    def setting_names(self) -> tuple[str, ...]:
        return tuple(self.settings.as_dict())

    def parameter(self, name: str) -> Parameter:
        return next(p for p in self.parameters if p.name == name)

    @property
    def entry_states(self) -> tuple[str, ...]:
        """First-phase states with an initial share (the cohort's entry strata)."""
        first = self.phases[0].key
        return tuple(s.key for s in self.states if s.phase == first and s.initial is not None)

    def uses_entry_indicators(self) -> bool:
        """True if any expression refers to an entry_<state> indicator."""
        names = {f"entry_{s.key}" for s in self.states if s.phase == self.phases[0].key}
        expressions = [p.expression for p in self.parameters]
        expressions += [e for s in self.strategies for e in s.variables.values()]
        for s in self.states:
            expressions += [s.utility, *s.costs.values(), *s.start_costs.values()]
        for t in self.transitions:
            expressions += [t.probability, t.qaly, *t.costs.values()]
        return any(e is not None and e.names & names for e in expressions)


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
