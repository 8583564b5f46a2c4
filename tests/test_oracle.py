"""The Markov cohort engine agrees with an independent, loop-based oracle (tests/oracle.py).

One model definition (plain Python data with expression text) is written as a workbook and run
by ``costmodel.api.run_workbook``, and is also turned into an :class:`oracle.Model` whose
expressions Python evaluates itself. The model has two phases (1-day cycles, then yearly cycles
to age 100), tunnel states whose probabilities and rewards depend on time_in_state,
time-dependent transitions and rewards, strategy variables, a strategy-specific transition
row, life-table background mortality, one-off transition costs and QALYs, two cost categories
and different discount rates for costs and outcomes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from costmodel.api import run_workbook
from costmodel.template import write_workbook
from tests import oracle

RTOL = 1e-12
ATOL = 1e-12
CATEGORIES = ["hospital", "drug"]

PARAMETERS = [
    ("p_die_acute", 0.004),
    ("p_recover", "0.06"),
    ("p_relapse", 0.003),
    ("p_disable", 0.04),
    ("smr_disabled", 2.5),
    ("rr_treatment", 0.75),
    ("c_day", 1200),
    ("c_treat_day", 150),
    ("c_treat_year", "c_treat_day * 10"),  # an expression of another parameter
    ("u_well", 0.82),
]

# Phase 1: acute, 1-day cycles. Phase 2: chronic, yearly cycles until age 100.
# (key, alive, utility, cost_hospital, cost_drug, tunnel_length, initial, next_state)
ACUTE_STATES = [
    (
        "event",
        "yes",
        "0.5 + 0.02 * time_in_state",
        "c_day * where(time_in_state <= 2, 2, 1)",
        "c_drug_day",
        7,
        0.85,
        "disabled",
    ),
    (
        "recovering",
        "yes",
        "0.7 + 0.001 * cycle",
        "c_day * 0.1 + 0.5 * time_days",
        "c_drug_day * 0.5",
        None,
        0.15,
        "well",
    ),
    ("dead_acute", "no", 0, 0, 0, None, None, "dead"),
]
CHRONIC_STATES = [
    ("well", "yes", "u_well - 0.002 * (age - 60)", "200 + 10 * cycle", "c_drug_year", None),
    (
        "disabled",
        "yes",
        "0.55 + 0.05 * (time_in_state >= 3) + 0.01 * log(time_in_state)",
        "3000 / time_in_state",
        "c_drug_year * 2",
        3,
    ),
    ("dead", "no", 0, 0, 0, None),
]
# (from, to, strategy, probability, cost_hospital, cost_drug, qaly)
TRANSITIONS = [
    (
        "event",
        "dead_acute",
        None,
        "p_die_acute * rr * exp(-0.2 * (time_in_state - 1))",
        5000,
        None,
        None,
    ),
    (
        "event",
        "recovering",
        None,
        "where(time_in_state >= 3, p_recover, 0)",
        None,
        None,
        "-0.002 * time_in_state",
    ),
    (
        "event",
        "recovering",
        "treatment",
        "where(time_in_state >= 2, p_recover * 1.5, 0)",
        None,
        40,
        "-0.002 * time_in_state",
    ),
    ("event", "event", None, "C", None, None, None),
    (
        "recovering",
        "dead_acute",
        None,
        "rate_to_prob(0.365 * (1 + 0.05 * cycle), cycle_years)",
        800,
        None,
        None,
    ),
    ("recovering", "event", None, "p_relapse", 250, "10", -0.01),
    ("recovering", "recovering", None, "C", None, None, None),
    ("dead_acute", "dead_acute", None, 1, None, None, None),
    (
        "well",
        "disabled",
        None,
        "rescale_prob(p_disable * (1 + 0.03 * (age - 60)), 1, cycle_years)",
        2500,
        None,
        -0.05,
    ),
    ("well", "dead", None, "p_background_death(1)", 1000, None, None),
    ("well", "well", None, "C", None, None, None),
    (
        "disabled",
        "well",
        None,
        "where(time_years < 10, 0.1, 0.05) / time_in_state",
        None,
        None,
        0.02,
    ),
    ("disabled", "well", "treatment", "0.15 * where(time_years < 10, 1, 0.5)", None, 300, 0.02),
    (
        "disabled",
        "dead",
        None,
        "max(p_background_death(smr_disabled), 0.02 * cycle_years)",
        1500,
        None,
        None,
    ),
    ("disabled", "disabled", None, "complement", None, None, None),
    ("dead", "dead", None, 1, None, None, None),
]
# (key, rr, c_drug_day, c_drug_year): strategy variables, themselves expressions.
STRATEGIES = [
    ("usual_care", "1", "0", "0"),
    (
        "treatment",
        "min(1, where(cycle <= 10, rr_treatment, 2))",
        "c_treat_day * (cycle_days <= 1)",
        "c_treat_year * where(time_years < 5, 1, 0.25)",
    ),
]


def life_table() -> list[tuple[int, float, float]]:
    rows = []
    for age in range(40, 111):
        q_male = min(1.0, 0.0009 * 1.095 ** (age - 40))
        q_female = min(1.0, 0.0006 * 1.1 ** (age - 40))
        rows.append((age, q_male, q_female))
    return rows


def model_spec(
    *,
    n_acute: int = 30,
    start_age: float = 60.3,
    correction: str = "half-cycle",
    rate_costs: float = 0.035,
    rate_outcomes: float = 0.015,
    prop_female: float = 0.4,
) -> dict:
    return {
        "n_acute": n_acute,
        "start_age": start_age,
        "correction": correction,
        "rate_costs": rate_costs,
        "rate_outcomes": rate_outcomes,
        "prop_female": prop_female,
    }


# ---------------------------------------------------------------------------------------------
# The same model twice: as a workbook and as an oracle.Model
# ---------------------------------------------------------------------------------------------


def workbook_sheets(spec: dict) -> dict:
    settings = [
        ["name", "Oracle test model", ""],
        ["currency", "GBP", ""],
        ["price_year", 2024, ""],
        ["discount_rate_costs", spec["rate_costs"], ""],
        ["discount_rate_outcomes", spec["rate_outcomes"], ""],
        ["within_cycle_correction", spec["correction"], ""],
        ["start_age", spec["start_age"], ""],
        ["prop_female", spec["prop_female"], ""],
        ["wtp", "20000, 30000", ""],
        ["effect_measure", "qaly", ""],
        ["psa_samples", 0, ""],
        ["seed", 1, ""],
    ]
    state_rows = []
    for key, alive, utility, c_hosp, c_drug, tunnel, initial, next_state in ACUTE_STATES:
        state_rows.append(
            [key, key, "acute", alive, utility, c_hosp, c_drug, tunnel, initial, next_state]
        )
    for key, alive, utility, c_hosp, c_drug, tunnel in CHRONIC_STATES:
        state_rows.append([key, key, "chronic", alive, utility, c_hosp, c_drug, tunnel, None, None])
    return {
        "Settings": (["setting", "value", "description"], settings),
        "Parameters": (["name", "value"], [list(p) for p in PARAMETERS]),
        "Phases": (
            ["key", "label", "cycle_length", "cycle_unit", "n_cycles", "until_age"],
            [
                ["acute", "Acute", 1, "day", spec["n_acute"], None],
                ["chronic", "Chronic", 1, "year", None, 100],
            ],
        ),
        "States": (
            [
                "key",
                "label",
                "phase",
                "alive",
                "utility",
                "cost_hospital",
                "cost_drug",
                "tunnel_length",
                "initial",
                "next_state",
            ],
            state_rows,
        ),
        "Transitions": (
            ["from", "to", "strategy", "probability", "cost_hospital", "cost_drug", "qaly"],
            [list(t) for t in TRANSITIONS],
        ),
        "Strategies": (
            ["key", "label", "description", "rr", "c_drug_day", "c_drug_year"],
            [[key, key, "", rr, cdd, cdy] for key, rr, cdd, cdy in STRATEGIES],
        ),
        "LifeTable": (["age", "qx_male", "qx_female"], [list(r) for r in life_table()]),
    }


def resolve_parameters() -> dict[str, float]:
    """Parameter values, resolving expressions of other parameters in any order."""
    pending = dict(PARAMETERS)
    values: dict[str, float] = {}
    while pending:
        progressed = False
        for name, value in list(pending.items()):
            try:
                values[name] = oracle.evaluate(oracle.expression(value), dict(values))
            except NameError:
                continue
            del pending[name]
            progressed = True
        assert progressed, f"unresolvable parameters: {sorted(pending)}"
    return values


def oracle_model(spec: dict) -> oracle.Model:
    ex = oracle.expression

    def transitions(keys: set[str]) -> list[oracle.Transition]:
        return [
            oracle.Transition(
                source=src,
                target=dst,
                probability=prob if prob in ("C", "complement") else ex(prob),
                strategies=oracle.strategies_for(strategy),
                costs={"hospital": ex(c_hosp), "drug": ex(c_drug)},
                qaly=ex(qaly),
            )
            for src, dst, strategy, prob, c_hosp, c_drug, qaly in TRANSITIONS
            if src in keys
        ]

    acute_states = [
        oracle.State(
            key=key,
            alive=alive == "yes",
            utility=ex(utility),
            costs={"hospital": ex(c_hosp), "drug": ex(c_drug)},
            tunnel_length=tunnel or 1,
            initial=initial or 0.0,
            next_state=next_state,
        )
        for key, alive, utility, c_hosp, c_drug, tunnel, initial, next_state in ACUTE_STATES
    ]
    chronic_states = [
        oracle.State(
            key=key,
            alive=alive == "yes",
            utility=ex(utility),
            costs={"hospital": ex(c_hosp), "drug": ex(c_drug)},
            tunnel_length=tunnel or 1,
        )
        for key, alive, utility, c_hosp, c_drug, tunnel in CHRONIC_STATES
    ]
    return oracle.Model(
        phases=[
            oracle.Phase(
                "acute",
                1,
                "day",
                acute_states,
                transitions({s.key for s in acute_states}),
                n_cycles=spec["n_acute"],
            ),
            oracle.Phase(
                "chronic",
                1,
                "year",
                chronic_states,
                transitions({s.key for s in chronic_states}),
                until_age=100,
            ),
        ],
        strategies=[
            oracle.Strategy(key, {"rr": ex(rr), "c_drug_day": ex(cdd), "c_drug_year": ex(cdy)})
            for key, rr, cdd, cdy in STRATEGIES
        ],
        categories=CATEGORIES,
        start_age=spec["start_age"],
        prop_female=spec["prop_female"],
        discount_rate_costs=spec["rate_costs"],
        discount_rate_outcomes=spec["rate_outcomes"],
        correction=spec["correction"],
        parameters=resolve_parameters(),
        life_table={age: (m, f) for age, m, f in life_table()},
    )


def run_both(tmp_path: Path, spec: dict):
    path = tmp_path / f"model_{spec['correction']}_{spec['n_acute']}.xlsx"
    write_workbook(path, workbook_sheets(spec))
    return run_workbook(path, psa_samples=0, deterministic=False), oracle.run(oracle_model(spec))


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=RTOL, abs_tol=ATOL)


def assert_agrees(result, expected: dict[str, oracle.StrategyResult]) -> None:
    out = result.outcomes
    assert list(out.strategies) == [s[0] for s in STRATEGIES]
    mismatches = []

    def check(what: str, actual: float, wanted: float) -> None:
        if not close(float(actual), wanted):
            mismatches.append(f"{what}: engine {float(actual)!r} oracle {wanted!r}")

    for s, key in enumerate(out.strategies):
        want = expected[key]
        check(f"{key} cost", out.cost[0, s], want.cost)
        for z, category in enumerate(out.categories):
            check(
                f"{key} cost_{category}",
                out.cost_by_category[0, s, z],
                want.cost_by_category[category],
            )
        check(f"{key} qaly", out.qaly[0, s], want.qaly)
        check(f"{key} qaly_undiscounted", out.qaly_undiscounted[0, s], want.qaly_undiscounted)
        check(f"{key} ly", out.ly[0, s], want.ly)
        check(f"{key} ly_undiscounted", out.ly_undiscounted[0, s], want.ly_undiscounted)
        for j, state in enumerate(out.state_keys):
            check(f"{key} state_time[{state}]", out.state_time[0, s, j], want.state_time[state])
        trace = result.trace[result.trace["strategy"] == key].reset_index(drop=True)
        assert len(trace) == len(want.trace)
        for r, (phase, cycle, time_years, shares) in enumerate(want.trace):
            row = trace.iloc[r]
            assert (row["phase"], int(row["cycle"])) == (phase, cycle)
            check(f"{key} {phase} t[{cycle}]", row["time_years"], time_years)
            for state, share in shares.items():
                check(f"{key} {phase} x[{cycle}][{state}]", row[state], share)
    assert sorted(out.categories) == sorted(CATEGORIES)
    assert not mismatches, f"{len(mismatches)} mismatches, first: " + "; ".join(mismatches[:8])


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

# (n_acute, start_age, n_chronic): both phases run with an even and an odd number of cycles;
# the chronic phase runs to age 100 (until_age), counted from the end of the acute phase.
CYCLE_COUNTS = [(30, 60.3, 40), (31, 61.3, 39)]


@pytest.mark.parametrize("n_acute, start_age, n_chronic", CYCLE_COUNTS)
@pytest.mark.parametrize("correction", oracle.METHODS)
def test_engine_matches_oracle(
    tmp_path: Path, correction: str, n_acute: int, start_age: float, n_chronic: int
):
    spec = model_spec(n_acute=n_acute, start_age=start_age, correction=correction)
    result, expected = run_both(tmp_path, spec)
    assert oracle.phase_timing(oracle_model(spec))[1][2] == n_chronic
    chronic = result.trace[result.trace["phase"] == "chronic"]
    assert chronic["cycle"].max() == n_chronic
    assert_agrees(result, expected)


@pytest.mark.parametrize("n_acute", [1, 2, 3, 5])
@pytest.mark.parametrize("correction", ["simpson", "half-cycle"])
def test_short_phases(tmp_path: Path, correction: str, n_acute: int):
    """Special cases: one cycle (half-cycle gives 1/2, 1/2), Simpson's pure 3/8 rule (3) and
    1/3 plus 3/8 (5)."""
    spec = model_spec(n_acute=n_acute, correction=correction)
    assert_agrees(*run_both(tmp_path, spec))


@pytest.mark.parametrize("correction", ["half-cycle", "simpson", "none-start"])
def test_zero_discount_rates(tmp_path: Path, correction: str):
    spec = model_spec(correction=correction, rate_costs=0.0, rate_outcomes=0.0)
    result, expected = run_both(tmp_path, spec)
    assert_agrees(result, expected)
    out = result.outcomes
    np.testing.assert_allclose(out.qaly, out.qaly_undiscounted, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out.ly, out.ly_undiscounted, rtol=RTOL, atol=ATOL)
    for want in expected.values():
        assert close(want.qaly, want.qaly_undiscounted)
        assert close(want.ly, want.ly_undiscounted)


def test_phase_mapping_moves_cohorts(tmp_path: Path):
    spec = model_spec(correction="trapezoid")
    result, expected = run_both(tmp_path, spec)
    trace = result.trace
    n = spec["n_acute"]
    mapping = {"event": "disabled", "recovering": "well", "dead_acute": "dead"}
    for key in expected:
        rows = trace[trace["strategy"] == key]
        end = rows[(rows["phase"] == "acute") & (rows["cycle"] == n)].iloc[0]
        start = rows[(rows["phase"] == "chronic") & (rows["cycle"] == 0)].iloc[0]
        assert close(start["time_years"], n / 365.25)
        for source, target in mapping.items():
            assert end[source] > 1e-3
            assert close(start[target], end[source])
            assert start[source] == 0.0
        assert math.isclose(start[list(mapping.values())].sum(), 1.0, rel_tol=1e-12)


def test_oracle_simpson_weights_integrate_polynomials():
    """Sanity check of the oracle: Simpson weights are exact for cubics on any n."""
    for n in range(1, 12):
        w = oracle.simpson_point_weights(n)
        degree = 1 if n == 1 else 3
        for power in range(degree + 1):
            approx = sum(w[j] * j**power for j in range(n + 1))
            assert math.isclose(approx, n ** (power + 1) / (power + 1), rel_tol=1e-12)
        a, b = oracle.correction_weights("simpson", n)
        assert math.isclose(sum(a) + sum(b), n, rel_tol=1e-12)
    for method in oracle.METHODS:
        for n in (1, 2, 7):
            a, b = oracle.correction_weights(method, n)
            assert math.isclose(sum(a) + sum(b), n, rel_tol=1e-12)


class _Result:
    """run_workbook's result shape (outcomes + trace table) from a direct model run."""

    def __init__(self, outcomes, trace):
        self.outcomes, self.trace = outcomes, trace


@pytest.mark.parametrize("correction", ["half-cycle", "simpson", "none-end"])
def test_compiled_kernel_matches_oracle(tmp_path: Path, correction: str):
    """The numba kernel (forced on for a one-sample run) agrees with the plain oracle to
    1e-12, trace included: the same semantics as the NumPy path, checked independently."""
    from costmodel import kernel
    from costmodel.model import run_model
    from costmodel.results import trace_table
    from costmodel.validate import load_inputs

    if not kernel.compiled_available():
        pytest.skip("numba is not installed")
    spec = model_spec(n_acute=31, correction=correction)
    path = tmp_path / "model.xlsx"
    write_workbook(path, workbook_sheets(spec))
    inputs = load_inputs(path)
    outcomes = run_model(inputs, keep_trace=True, compiled=True)
    assert_agrees(_Result(outcomes, trace_table(inputs, outcomes)), oracle.run(oracle_model(spec)))


@pytest.mark.parametrize("correction", ["half-cycle", "none-start", "simpson"])
def test_undiscounted_costs_equal_the_oracle_without_discounting(tmp_path: Path, correction: str):
    """cost_by_category_undiscounted of a discounted run = the oracle's costs at 0% (one-off
    transition costs and start costs included)."""
    spec = model_spec(correction=correction)
    result, _ = run_both(tmp_path, spec)
    zero = oracle.run(oracle_model({**spec, "rate_costs": 0.0}))
    out = result.outcomes
    for s, key in enumerate(out.strategies):
        for z, category in enumerate(out.categories):
            assert close(
                out.cost_by_category_undiscounted[0, s, z], zero[key].cost_by_category[category]
            ), (key, category)
        assert close(out.cost_undiscounted[0, s], zero[key].cost)
        assert out.cost_undiscounted[0, s] > out.cost[0, s]  # 3.5% discounting lowers costs
    base = result.base_case.set_index("strategy")
    assert base.loc[out.strategies[0], "cost_undiscounted"] == pytest.approx(
        out.cost_undiscounted[0, 0], rel=1e-12
    )
