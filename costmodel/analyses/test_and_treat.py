"""Test-and-treat with a responder biomarker as a strategy of the decision.

With Settings run_biomarker (and biomarker_in_decision, the default), a strategy
``test_and_treat`` joins the comparators in the base case, the PSA, the CEAC/CEAF and the
value of information. The cohort model is linear in the
groups it mixes, so the strategy's outcomes are the share-weighted sum of whole-cohort runs of
the biomarker strategy with the effect set to RR+ and to RR−, and of the reference strategy
(see :mod:`costmodel.analyses.biomarker`), plus the test cost c_test per patient at time 0
(in its own cost category, ``biomarker_test``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from costmodel.analyses.biomarker import (
    check_biomarker_inputs,
    effect_runs,
    effect_values,
    test_and_treat_shares,
)
from costmodel.inputs import ModelInputs
from costmodel.model import start_cost_totals
from costmodel.outcomes import ModelOutcomes, PsaResult
from costmodel.parameters import evaluate_parameters

KEY = "test_and_treat"
LABEL = "Test and treat (responder biomarker)"
TEST_CATEGORY = "biomarker_test"
_PER_STRATEGY = ("cost", "qaly", "ly", "ly_undiscounted", "qaly_undiscounted")


def in_decision(inputs: ModelInputs) -> bool:
    """Whether test-and-treat is a strategy of the decision (Settings run_biomarker and
    biomarker_in_decision)."""
    return inputs.settings.run_biomarker and inputs.settings.biomarker_in_decision


def _reference(inputs: ModelInputs) -> int:
    """Column of the reference strategy."""
    return list(inputs.strategy_keys).index(inputs.reference_strategy)


def _column(pos, neg, reference: np.ndarray, values, name: str) -> np.ndarray:
    """The test-and-treat column of one outcome array (n_samples, ...); ``pos``/``neg`` are
    the biomarker strategy's runs (:func:`effect_runs`), ``reference`` the reference
    strategy's column of that array."""
    a, b, c = test_and_treat_shares(values)
    pos_v, neg_v = getattr(pos, name)[:, 0], getattr(neg, name)[:, 0]
    shape = (-1,) + (1,) * (pos_v.ndim - 1)
    return a.reshape(shape) * pos_v + b.reshape(shape) * neg_v + c.reshape(shape) * reference


def extend_outcomes(
    inputs: ModelInputs, base: ModelOutcomes, values: dict[str, np.ndarray]
) -> ModelOutcomes:
    """``base`` with a test_and_treat column in every array (and a biomarker_test cost
    category, zero for the other strategies)."""
    check_biomarker_inputs(inputs)
    pos, neg = effect_runs(inputs, values, keep_trace=base.traces is not None)
    r = _reference(inputs)
    test = values["c_test"]

    def extended(name: str) -> np.ndarray:
        array = getattr(base, name)
        column = _column(pos, neg, array[:, r], values, name)
        return np.concatenate([array, column[:, None]], axis=1)

    arrays = {name: extended(name) for name in (*_PER_STRATEGY, "state_time")}
    arrays["cost"][:, -1] += test
    by_category = extended("cost_by_category")
    by_category_u = extended("cost_by_category_undiscounted")
    test_column = np.zeros((*by_category.shape[:2], 1))
    test_column[:, -1, 0] = test  # paid at time 0: the same discounted or not
    traces = None
    if base.traces is not None:
        traces = tuple(
            np.concatenate([t, _trace_column(inputs, pos, neg, base, values, i)[:, None]], axis=1)
            for i, t in enumerate(base.traces)
        )
    return replace(
        base,
        strategies=(*base.strategies, KEY),
        categories=(*base.categories, TEST_CATEGORY),
        cost_by_category=np.concatenate([by_category, test_column], axis=2),
        cost_by_category_undiscounted=np.concatenate([by_category_u, test_column], axis=2),
        traces=traces,
        by_entry=None,
        entry_shares=None,
        **arrays,
    )


def _trace_column(inputs, pos, neg, base, values, phase: int) -> np.ndarray:
    """Test-and-treat trace of one phase, (n_samples, n_cycles + 1, n_states)."""
    r = _reference(inputs)
    a, b, c = (w[:, None, None] for w in test_and_treat_shares(values))
    return a * pos.traces[phase][:, 0] + b * neg.traces[phase][:, 0] + c * base.traces[phase][:, r]


def psa_runs(inputs: ModelInputs, psa: PsaResult) -> tuple[ModelOutcomes, ModelOutcomes]:
    """Runs of the biomarker strategy at RR+ and RR- for the PSA's parameter draws (shared
    by the test-and-treat strategy and the biomarker EVPPI)."""
    values = evaluate_parameters(inputs, psa.parameters, psa.n_samples)
    return effect_runs(inputs, values)


def extend_psa(inputs: ModelInputs, psa: PsaResult, runs: tuple | None = None) -> PsaResult:
    """The PSA sample with a test_and_treat column (from the same parameter draws); ``runs``
    as :func:`psa_runs` when already computed."""
    values = evaluate_parameters(inputs, psa.parameters, psa.n_samples)
    pos, neg = runs if runs is not None else effect_runs(inputs, values)
    r = _reference(inputs)
    columns = {
        name: _column(pos, neg, getattr(psa, name)[:, r], values, name)
        for name in ("cost", "qaly", "ly")
    }
    columns["cost"] = columns["cost"] + values["c_test"]
    undiscounted = None
    if psa.undiscounted is not None:
        names = {"cost": "cost_undiscounted", "qaly": "qaly_undiscounted", "ly": "ly_undiscounted"}
        undiscounted = {}
        for key, array in psa.undiscounted.items():
            column = _column(pos, neg, array[:, r], values, names[key])
            if key == "cost":
                column = column + values["c_test"]  # paid at time 0
            undiscounted[key] = np.column_stack([array, column])
    return replace(
        psa,
        strategies=(*psa.strategies, KEY),
        cost=np.column_stack([psa.cost, columns["cost"]]),
        qaly=np.column_stack([psa.qaly, columns["qaly"]]),
        ly=np.column_stack([psa.ly, columns["ly"]]),
        undiscounted=undiscounted,
    )


def cost_column(inputs: ModelInputs, values: dict[str, np.ndarray], cost: np.ndarray) -> np.ndarray:
    """Test-and-treat cost per sample for parameter samples ``values``, given the modelled
    strategies' costs ``cost`` (n_samples, n_strategies) for the same samples."""
    pos, neg = effect_runs(inputs, values)
    return _column(pos, neg, cost[:, _reference(inputs)], values, "cost") + values["c_test"]


def start_cost_column(
    inputs: ModelInputs, values: dict[str, np.ndarray], start: np.ndarray
) -> np.ndarray:
    """Test-and-treat start costs per sample (the test included), given the modelled
    strategies' start costs ``start`` (n_samples, n_strategies) for the same samples, as
    :func:`cost_column` combines whole costs (start costs are linear in the groups too)."""
    a, b, c = test_and_treat_shares(values)
    arm, pos, neg = effect_values(inputs, values)
    pos_start, neg_start = start_cost_totals(arm, pos)[:, 0], start_cost_totals(arm, neg)[:, 0]
    return a * pos_start + b * neg_start + c * start[:, _reference(inputs)] + values["c_test"]
