"""A later phase that no strategy and no entry stratum changes is run once per sample from
each of its states and shared (costmodel.model.sharing): the same outcomes as running every
cohort through it, to rounding."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from costmodel import kernel
from costmodel.formula import parse_expression
from costmodel.model import expand_phases, run_model
from costmodel.model import run as model_run
from costmodel.model.sharing import strategy_free_phases
from costmodel.parameters import evaluate_parameters, sample_parameters
from costmodel.validate import load_inputs
from tests.test_oracle import model_spec, workbook_sheets, write_workbook

ROOT = Path(__file__).resolve().parents[1]
COVID = ROOT / "inputs" / "msc_covid19.xlsx"
HIV = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
ARRAYS = (
    "cost",
    "cost_by_category",
    "cost_by_category_undiscounted",
    "qaly",
    "qaly_undiscounted",
    "ly",
    "ly_undiscounted",
    "state_time",
)

needs_numba = pytest.mark.skipif(not kernel.compiled_available(), reason="numba not installed")


@pytest.fixture(scope="module")
def covid():
    return load_inputs(COVID)


def _direct(monkeypatch):
    """Switch sharing off: every cohort runs through every phase."""
    monkeypatch.setattr(
        model_run.SharedPhases, "for_run", classmethod(lambda cls, *a: cls(frozenset()))
    )


def test_msc_long_term_phase_is_shared_and_the_acute_phase_is_not(covid):
    phases = expand_phases(covid)
    assert strategy_free_phases(covid, phases) == {"longterm"}
    # 4 strategies x 3 entry strata = 12 cohorts per sample > 7 long-term states
    assert model_run.SharedPhases.for_run(covid, 3, keep_trace=False).keys == {"longterm"}
    assert model_run.SharedPhases.for_run(covid, 1, keep_trace=False).keys == frozenset()
    assert model_run.SharedPhases.for_run(covid, 3, keep_trace=True).keys == frozenset()
    hiv = load_inputs(HIV)
    assert strategy_free_phases(hiv, expand_phases(hiv)) == frozenset()  # one phase


@pytest.mark.parametrize("compiled", [False, True])
def test_shared_phase_equals_running_every_cohort(covid, monkeypatch, compiled):
    # survivor costs are 0 in the NICE workbook: give post-IMV survivors a cost that varies
    # with time, so that shared costs are checked too
    inputs = _with_long_term_cost(covid, "1500 * exp(-0.1 * cycle) + c_survivor_year")
    assert strategy_free_phases(inputs, expand_phases(inputs)) == {"longterm"}
    values = evaluate_parameters(inputs, sample_parameters(inputs, 11, 0, 30), 30)
    shared = run_model(inputs, values, compiled=compiled)
    _direct(monkeypatch)
    direct = run_model(inputs, values, compiled=compiled)
    survivor = list(direct.categories).index("survivor")
    assert direct.cost_by_category[..., survivor].min() > 100  # long-term costs counted
    for name in ARRAYS:
        np.testing.assert_allclose(
            getattr(shared, name), getattr(direct, name), rtol=1e-12, atol=1e-12, err_msg=name
        )
    for entry in inputs.entry_states:
        np.testing.assert_allclose(shared.by_entry[entry].qaly, direct.by_entry[entry].qaly, 1e-12)


@needs_numba
def test_shared_phase_does_not_depend_on_chunking(covid):
    """Bit-identical whatever the chunking (the kernel computes each cohort on its own; the
    NumPy path's BLAS products may round differently with the batch size)."""
    values = evaluate_parameters(covid, sample_parameters(covid, 3, 0, 20), 20)
    whole = run_model(covid, values, compiled=True)
    pieces = run_model(covid, values, compiled=True, chunk_size=6)
    for name in ARRAYS:
        assert np.array_equal(getattr(whole, name), getattr(pieces, name)), name


def _with_long_term_cost(inputs, source: str):
    state = next(s for s in inputs.states if s.key == "post_imv")
    costs = {**state.costs, "survivor": parse_expression(source)}
    states = tuple(replace(s, costs=costs) if s is state else s for s in inputs.states)
    return replace(inputs, states=states)


@pytest.mark.parametrize(
    "source",
    [
        "c_survivor_year + c_course",  # a strategy variable
        "c_survivor_year * (1 + entry_imv)",  # an entry indicator
    ],
)
def test_a_phase_that_a_strategy_or_entry_changes_is_not_shared(covid, source):
    inputs = _with_long_term_cost(covid, source)
    assert strategy_free_phases(inputs, expand_phases(inputs)) == frozenset()


def test_a_dynamic_parameter_that_uses_an_entry_indicator_stops_sharing(covid):
    parameter = covid.parameter("u_norm")
    changed = replace(parameter, expression=parse_expression("0.8 + 0.01 * entry_o2"))
    parameters = tuple(changed if p is parameter else p for p in covid.parameters)
    inputs = replace(covid, parameters=parameters)
    assert strategy_free_phases(inputs, expand_phases(inputs)) == frozenset()


def test_strategy_specific_rows_or_one_off_rewards_stop_sharing(tmp_path):
    """The oracle model's chronic phase has a strategy-specific transition row, one-off
    transition rewards and strategy variables in its costs: it is run cohort by cohort."""
    spec = model_spec(n_acute=31, correction="half-cycle")
    path = tmp_path / "model.xlsx"
    write_workbook(path, workbook_sheets(spec))
    inputs = load_inputs(path)
    assert strategy_free_phases(inputs, expand_phases(inputs)) == frozenset()


@needs_numba
def test_identical_cohorts_are_propagated_once(covid, monkeypatch):
    """msc_early treats the oxygen and NIV strata, msc_late the ventilated one (Strategies
    sheet): in each stratum one of them is standard care and the other MSC for all; the
    kernel runs the distinct cohorts only and the results are bit-identical."""
    inputs = covid.decision_inputs()
    assert inputs.strategy_keys == ("standard_care", "msc_cells", "msc_early", "msc_late")
    found = []
    original = model_run.identical_strategies
    monkeypatch.setattr(
        model_run,
        "identical_strategies",
        lambda *a: found.append(original(*a)) or found[-1],
    )
    values = evaluate_parameters(inputs, sample_parameters(inputs, 5, 0, 16), 16)
    deduplicated = run_model(inputs, values, compiled=True)
    assert [list(f) for f in found if f is not None] == [[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]]
    monkeypatch.setattr(model_run, "identical_strategies", lambda *a: None)
    every_cohort = run_model(inputs, values, compiled=True)
    for name in ARRAYS:
        assert np.array_equal(getattr(deduplicated, name), getattr(every_cohort, name)), name


@needs_numba
@pytest.mark.parametrize("u_norm_extra", ["", " + 0.02 * entry_imv"])
def test_expressions_evaluated_once_for_strata_and_strategies_give_the_same_bits(
    tmp_path, monkeypatch, u_norm_extra
):
    """A chunk's entry strata and strategies share each expression they evaluate alike; the
    key holds the strategy and the stratum where the names depend on them: the strategy
    variables (treat_o2 ... depend on entry_<state> too) and, in the second case, u_norm made
    a dynamic parameter of the entry indicator. Switching the sharing off gives the same
    bits with more evaluations."""
    path = COVID
    if u_norm_extra:
        import openpyxl

        book = openpyxl.load_workbook(COVID)
        assert book["Parameters"]["A40"].value == "u_norm"
        book["Parameters"]["B40"].value += u_norm_extra
        path = tmp_path / "u_norm_by_entry.xlsx"
        book.save(path)
    inputs = load_inputs(path).decision_inputs()
    values = evaluate_parameters(inputs, sample_parameters(inputs, 7, 0, 12), 12)
    calls = []
    original = model_run.Chunk.evaluate
    monkeypatch.setattr(
        model_run.Chunk, "evaluate", lambda self, *a: calls.append(1) or original(self, *a)
    )
    shared = run_model(inputs, values, compiled=True)
    n_shared = len(calls)
    calls.clear()
    chunk_class = model_run.Chunk
    monkeypatch.setattr(model_run, "Chunk", lambda *a: chunk_class(*a[:7]))  # no sharing
    alone = run_model(inputs, values, compiled=True)
    assert n_shared < 0.7 * len(calls)
    for name in ARRAYS:
        assert np.array_equal(getattr(shared, name), getattr(alone, name)), name
    for entry in inputs.entry_states:
        assert np.array_equal(shared.by_entry[entry].qaly, alone.by_entry[entry].qaly), entry
    if u_norm_extra:  # the indicator changes the ventilated stratum's QALYs and no other
        base = load_inputs(COVID).decision_inputs()
        plain = run_model(base, evaluate_parameters(base, sample_parameters(base, 7, 0, 12), 12))
        assert np.all(shared.by_entry["imv"].qaly > plain.by_entry["imv"].qaly + 1e-3)
        np.testing.assert_allclose(shared.by_entry["o2"].qaly, plain.by_entry["o2"].qaly, 1e-12)


@pytest.mark.parametrize("model", ["covid", "tunnels", "segments by stratum"])
def test_the_chunk_memory_budget_counts_the_expressions_a_chunk_keeps(
    covid, tmp_path, monkeypatch, model
):
    """Chunk.shared_values keeps evaluated expressions for the whole chunk; the chunk size
    budget counts them (bytes_per_sample, an upper bound): what a chunk of 300 samples
    keeps at its fullest (just before a stratum's values are dropped) is within it. The
    tunnel model evaluates time_in_state expressions per tunnel position; in the third,
    the IMV stratum's hospital cost varies daily (90 segments, the others 2), so the
    strata keep values on different segments."""
    if model == "tunnels":
        path = tmp_path / "tunnels.xlsx"
        write_workbook(path, workbook_sheets(model_spec(n_acute=12)))
        inputs = load_inputs(path)
    elif model == "segments by stratum":
        state = next(s for s in covid.states if s.key == "o2")
        costs = {**state.costs}
        category = next(iter(costs))
        costs[category] = parse_expression(f"{costs[category].source} + entry_imv * time_days")
        states = tuple(replace(s, costs=costs) if s is state else s for s in covid.states)
        inputs = replace(covid, states=states)
    else:
        inputs = covid
    n = 300
    values = evaluate_parameters(inputs, sample_parameters(inputs, 5, 0, n), n)
    if model == "tunnels":  # no distributions: give every parameter 300 distinct values
        values = {k: np.asarray(v) * np.linspace(0.9, 1.1, n) for k, v in values.items()}
    fullest = []
    forget = model_run.forget_stratum

    def record(kept: dict) -> None:
        fullest.append(sum(v.nbytes for v in kept.values() if v.base is None))
        forget(kept)

    monkeypatch.setattr(model_run, "forget_stratum", record)
    run_model(inputs, values, compiled=False, chunk_size=n)
    _, kept = model_run.bytes_per_sample(inputs, expand_phases(inputs), compiled=False)
    assert 0 < max(fullest) <= n * kept
