"""The hand-off every later stage imports: model outcomes per sample and strategy.

:class:`ModelOutcomes` is what a model run returns (base case = one sample);
:class:`PsaResult` is the PSA's sample of outcomes with the parameters drawn. Measures read
off a run (the share in some states on a given day) live here too, so analyses and tables
depend on these types, never on the orchestrator that produced them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel.inputs import ModelInputs
from costmodel.phases import expand_phases

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class ModelOutcomes:
    """Per-patient outcomes, each (n_samples, n_strategies) unless stated.

    Costs in the workbook currency, discounted; QALYs and LYs discounted at the outcome rate;
    the ``*_undiscounted`` arrays the same sums without discounting (life expectancy checks,
    heemod's undiscounted category costs); ``state_time`` undiscounted years in each declared
    state (n_samples, n_strategies, n_states); ``traces`` per phase (n_samples, n_strategies,
    n_cycles + 1, n_phase_states) when kept.
    """

    strategies: tuple[str, ...]
    categories: tuple[str, ...]
    state_keys: tuple[str, ...]
    cost: np.ndarray
    cost_by_category: np.ndarray  # (n_samples, n_strategies, n_categories)
    qaly: np.ndarray
    ly: np.ndarray
    ly_undiscounted: np.ndarray
    qaly_undiscounted: np.ndarray
    state_time: np.ndarray
    cost_by_category_undiscounted: np.ndarray  # (n_samples, n_strategies, n_categories)
    traces: tuple[np.ndarray, ...] | None = None
    by_entry: dict[str, ModelOutcomes] | None = None  # per entry state, when stratified
    entry_shares: np.ndarray | None = None  # (n_samples, n_strategies, n_entry_states)

    def effect(self, measure: str) -> np.ndarray:
        """QALYs for measure 'qaly', else life-years, (n_samples, n_strategies)."""
        return self.qaly if measure == "qaly" else self.ly

    @property
    def cost_undiscounted(self) -> np.ndarray:
        """Undiscounted cost per patient, (n_samples, n_strategies)."""
        return self.cost_by_category_undiscounted.sum(axis=2)


@dataclass(frozen=True)
class PsaResult:
    """Per-sample outcomes (n_samples, n_strategies) and the sampled parameters (n_samples,)."""

    seed: int
    strategies: tuple[str, ...]
    parameters: dict[str, np.ndarray]
    cost: np.ndarray
    qaly: np.ndarray
    ly: np.ndarray
    # per entry state (models run by entry stratum): (cost, qaly, ly) of the cohort started
    # entirely in that state, each (n_samples, n_strategies) over the modelled strategies
    by_entry: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    # the same sums undiscounted: {"cost": ..., "qaly": ..., "ly": ...} (n_samples, n_strategies)
    undiscounted: dict[str, np.ndarray] | None = None

    @property
    def n_samples(self) -> int:
        return int(self.cost.shape[0])

    def effect(self, measure: str) -> np.ndarray:
        """QALYs for measure 'qaly', else life-years, (n_samples, n_strategies)."""
        return self.qaly if measure == "qaly" else self.ly


_SUMMED = (
    "cost",
    "cost_by_category",
    "qaly",
    "ly",
    "ly_undiscounted",
    "qaly_undiscounted",
    "state_time",
    "cost_by_category_undiscounted",
)


def concatenate_outcomes(parts: list[ModelOutcomes]) -> ModelOutcomes:
    """Outcomes of consecutive sample chunks joined along the sample axis."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    arrays = {name: np.concatenate([getattr(p, name) for p in parts], axis=0) for name in _SUMMED}
    traces = None
    if first.traces is not None:
        traces = tuple(
            np.concatenate([p.traces[i] for p in parts], axis=0)  # type: ignore[index]
            for i in range(len(first.traces))
        )
    return ModelOutcomes(
        first.strategies, first.categories, first.state_keys, **arrays, traces=traces
    )


def combine_entries(by_entry: dict[str, ModelOutcomes], shares: np.ndarray) -> ModelOutcomes:
    """Share-weighted sum of per-entry-state outcomes; ``shares`` (n_samples, n_strategies,
    n_entry_states) in the order of ``by_entry``."""
    parts = list(by_entry.values())
    first = parts[0]

    def weighted(name: str) -> np.ndarray:
        total = 0.0
        for e, part in enumerate(parts):
            value = getattr(part, name)
            w = shares[:, :, e].reshape(shares.shape[:2] + (1,) * (value.ndim - 2))
            total = total + w * value
        return total  # type: ignore[return-value]

    traces = None
    if first.traces is not None:
        traces = tuple(
            sum(
                shares[:, :, e, None, None] * part.traces[i]  # type: ignore[index]
                for e, part in enumerate(parts)
            )
            for i in range(len(first.traces))
        )
    arrays = {name: weighted(name) for name in _SUMMED}
    return ModelOutcomes(
        first.strategies,
        first.categories,
        first.state_keys,
        **arrays,
        traces=traces,  # type: ignore[arg-type]
        by_entry=by_entry,
        entry_shares=shares,
    )


def resolves_day(inputs: ModelInputs, day: float) -> bool:
    """Whether the model's cycles resolve model time ``day`` [days]: the day is a cycle
    boundary, or its phase's cycles are at most half as long as the day (so that a share at
    that day is not an interpolation across most of one long cycle, as day 28 in a yearly
    model would be)."""
    years = day / DAYS_PER_YEAR
    for phase in expand_phases(inputs):
        length = phase.phase.cycle_years
        end = phase.start_years + phase.phase.n_cycles * length
        if years <= end + 1e-12:
            position = (years - phase.start_years) / length
            on_boundary = abs(position - round(position)) < 1e-9
            return on_boundary or length * DAYS_PER_YEAR <= day / 2.0
    return False


def share_at_day(
    inputs: ModelInputs, outcomes: ModelOutcomes, states: tuple[str, ...], day: float
) -> np.ndarray:
    """Share of the cohort in ``states`` at model time ``day`` [days], (n_samples,
    n_strategies); linear between cycle boundaries. Needs traces."""
    if outcomes.traces is None:
        raise ValueError("the model was run without keep_trace=True")
    years = day / DAYS_PER_YEAR
    for phase, trace in zip(expand_phases(inputs), outcomes.traces, strict=True):
        end = phase.start_years + phase.phase.n_cycles * phase.phase.cycle_years
        if years <= end + 1e-12:
            position = (years - phase.start_years) / phase.phase.cycle_years
            position = min(max(position, 0.0), float(phase.phase.n_cycles))
            columns = [i for i, s in enumerate(phase.states) if s.key in states]
            shares = trace[:, :, :, columns].sum(axis=3)
            low = int(np.floor(position + 1e-9))
            high = min(low + 1, phase.phase.n_cycles)
            fraction = position - low if position - low > 1e-9 else 0.0
            return (1 - fraction) * shares[:, :, low] + fraction * shares[:, :, high]
    raise ValueError(f"day {day} is beyond the model horizon")
