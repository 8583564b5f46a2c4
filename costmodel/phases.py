"""Phases with tunnel states expanded into one state per cycle spent in the tunnel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel.inputs import ModelInputs, Phase, State


@dataclass(frozen=True)
class ExpandedPhase:
    """A phase with tunnel states expanded into one state per cycle in the tunnel."""

    phase: Phase
    states: tuple[State, ...]
    labels: tuple[str, ...]  # expanded labels, e.g. "imv[3]"
    state_of: np.ndarray  # (K,) index of the declared state within this phase
    position: np.ndarray  # (K,) time_in_state, 1-based
    start_years: float  # model time at the start of the phase

    @property
    def n_states(self) -> int:
        return int(self.state_of.size)

    def index(self, state: str, position: int = 1) -> int:
        return self._lookup[(state, position)]

    @property
    def _lookup(self) -> dict[tuple[str, int], int]:
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            cached = {
                (self.states[s].key, int(q)): k
                for k, (s, q) in enumerate(zip(self.state_of, self.position, strict=True))
            }
            object.__setattr__(self, "_lookup_cache", cached)
        return cached

    def aggregation(self) -> np.ndarray:
        """(K, n_declared) 0/1 matrix summing tunnel positions back to declared states."""
        agg = np.zeros((self.n_states, len(self.states)))
        agg[np.arange(self.n_states), self.state_of] = 1.0
        return agg

    def time_points(self) -> np.ndarray:
        """Model time [years] at the n_cycles + 1 boundaries of the phase's cycles."""
        return self.start_years + self.phase.cycle_years * np.arange(self.phase.n_cycles + 1)

    def target(self, state: State, to: str, k: int) -> int:
        """Expanded index reached from tunnel position k (0-based) of ``state`` going to
        ``to``: staying advances the tunnel, leaving enters position 1."""
        if to == state.key:
            return self.index(state.key, min(k + 2, state.tunnel_length))
        return self.index(to)


def expand_phases(inputs: ModelInputs) -> tuple[ExpandedPhase, ...]:
    """Every phase of the model, in order, with its start time [years]."""
    phases = []
    start = 0.0
    for phase in inputs.phases:
        states = inputs.states_in(phase.key)
        labels, state_of, position = [], [], []
        for i, s in enumerate(states):
            for k in range(1, s.tunnel_length + 1):
                labels.append(s.key if s.tunnel_length == 1 else f"{s.key}[{k}]")
                state_of.append(i)
                position.append(k)
        phases.append(
            ExpandedPhase(
                phase, states, tuple(labels), np.array(state_of), np.array(position), start
            )
        )
        start += phase.n_cycles * phase.cycle_years
    return tuple(phases)


def phase_map(phase: ExpandedPhase, next_phase: ExpandedPhase) -> np.ndarray:
    """(K_p, K_next) matrix moving each expanded state's cohort to its next_state."""
    mapping = np.zeros((phase.n_states, next_phase.n_states))
    for i, s in enumerate(phase.state_of):
        target = phase.states[s].next_state
        mapping[i, next_phase.index(target)] = 1.0  # type: ignore[arg-type]
    return mapping
