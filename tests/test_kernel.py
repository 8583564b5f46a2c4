"""The compiled kernel against the NumPy path (the oracle of the engine), and the time
segments found before evaluation against evaluating every cycle."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from costmodel import kernel
from costmodel.formula import BUILTIN_FUNCTIONS, parse_expression
from costmodel.model import expand_phases, run_model
from costmodel.model.expressions import Chunk
from costmodel.model.segments import TimeDependence
from costmodel.parameters import evaluate_parameters, sample_parameters
from costmodel.validate import load_inputs

ROOT = Path(__file__).resolve().parents[1]
COVID = ROOT / "inputs" / "msc_covid19.xlsx"
HIV = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
ARRAYS = ("cost", "cost_by_category", "qaly", "ly", "ly_undiscounted", "qaly_undiscounted")

needs_numba = pytest.mark.skipif(not kernel.compiled_available(), reason="numba not installed")


@pytest.fixture(scope="module")
def covid():
    return load_inputs(COVID)


def _psa_values(inputs, n, seed=5):
    return evaluate_parameters(inputs, sample_parameters(inputs, seed, 0, n), n)


def _assert_same(a, b, rtol):
    for name in (*ARRAYS, "state_time"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("path", [COVID, HIV])
def test_kernel_equals_numpy_path(path):
    inputs = load_inputs(path)
    values = _psa_values(inputs, 40)
    compiled = run_model(inputs, values, keep_trace=True, compiled=True)
    numpy = run_model(inputs, values, keep_trace=True, compiled=False)
    _assert_same(compiled, numpy, rtol=1e-12)
    for a, b in zip(compiled.traces, numpy.traces, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert compiled.cost.shape == (40, len(inputs.strategies))


@needs_numba
def test_kernel_results_do_not_depend_on_chunking(covid):
    values = _psa_values(covid, 30)
    whole = run_model(covid, values, compiled=True)
    pieces = run_model(covid, values, compiled=True, chunk_size=7)
    for name in ARRAYS:
        assert np.array_equal(getattr(whole, name), getattr(pieces, name)), name


def test_numpy_fallback_when_switched_off(monkeypatch, covid):
    """COSTMODEL_ENGINE=numpy (or numba missing) runs the NumPy path."""
    kernel._compiled.cache_clear()
    monkeypatch.setenv(kernel.ENGINE_ENV, "numpy")
    try:
        assert not kernel.compiled_available()
        assert not kernel.worth_compiling(10**12)
        values = _psa_values(covid, 3)
        out = run_model(covid, values, compiled=True)  # asks for the kernel, gets NumPy
        assert np.isfinite(out.cost).all()
    finally:
        kernel._compiled.cache_clear()


def test_small_runs_stay_on_the_numpy_path(covid):
    """The base case of a model is far below the kernel's threshold (no numba import for
    small commands); a 10,000-sample PSA of the MSC model is far above it."""
    from costmodel.model.run import model_work

    assert model_work(covid, 1) < kernel.KERNEL_MIN_WORK
    assert model_work(covid, 10_000) > kernel.KERNEL_MIN_WORK
    # 5 strategies x 3 entry strata x (90 acute cycles x 7 states + 37 years x 3 states)
    assert model_work(covid, 1) == 5 * 3 * (90 * 7 + 37 * 3)


# -- time segments ------------------------------------------------------------------------------


def _dependence(n=10, **time):
    cycles = np.arange(1, n + 1, dtype=float).reshape(1, -1)
    values = {"cycle": cycles, "age": 40.5 + (cycles - 1) * 0.25, **time}
    return TimeDependence(n, values, {"cycle_years": 0.25}, {}, BUILTIN_FUNCTIONS, {})


def _starts(dependence, *texts):
    dependence.add(parse_expression(t) for t in texts)
    return dependence.segments()[0].tolist()


def test_segments_from_time_only_parts():
    # age 40.5, 40.75, 41.0, ... : floor(age) changes at cycles 3 (41.0), 7 (42.0)
    assert _starts(_dependence(), "p_a * floor(age)") == [0, 2, 6]
    assert _starts(_dependence(), "p_a + p_b") == [0]
    assert _starts(_dependence(), "where(cycle <= 4, p_a, p_b)") == [0, 4]
    # a parameter compared with time: the change point depends on the sample -> every cycle
    assert _starts(_dependence(), "where(cycle > p_a, 1, 0)") == list(range(10))
    # constants do not split: the whole expression is time-only and constant
    assert _starts(_dependence(), "cycle_years * 2") == [0]


def test_segments_follow_names_defined_by_expressions():
    dependence = _dependence()
    dependence.derived = {"u_age": [parse_expression("u0 - 0.01 * floor(age)")]}
    assert _starts(dependence, "u_age * p_a") == [0, 2, 6]


def test_segments_of_implicit_age_functions():
    """p_background_death reads the life-table row at floor(age) without an argument."""
    n = 10
    age = 40.5 + np.arange(n).reshape(1, -1) * 0.25
    dependence = _dependence(n)
    dependence.implicit = {"p_background_death": np.floor(age)}
    spec = {"p_background_death": BUILTIN_FUNCTIONS["exp"]}  # arity 1, enough to parse
    dependence.functions = {**BUILTIN_FUNCTIONS, **spec}
    dependence.add([parse_expression("p_background_death(smr)", dependence.functions)])
    assert dependence.segments()[0].tolist() == [0, 2, 6]


def test_msc_acute_phase_has_two_segments(covid):
    """The effect is in force to day 28 (cycles 1-29 start on days 0-28), then not."""
    acute = expand_phases(covid)[0]
    chunk = Chunk(covid, expand_phases(covid), {}, 1, 0, 1, "o2")
    assert chunk.segments(acute)[0].tolist() == [0, 29]


@pytest.mark.parametrize("waning", ["linear", "exponential"])
def test_segments_equal_evaluating_every_cycle(covid, monkeypatch, waning):
    """Exactness: the run on segments equals the run with one segment per cycle, with a
    waning effect (a different weight every day from day 28 to 90)."""
    settings = replace(
        covid.settings, effect_waning=waning, effect_end_day=28.0, effect_waning_end_day=90.0
    )
    inputs = replace(covid, settings=settings)
    values = _psa_values(inputs, 6)
    segmented = run_model(inputs, values, compiled=False)
    acute = expand_phases(inputs)[0]
    assert Chunk(inputs, expand_phases(inputs), {}, 1, 0, 1, "o2").segments(acute)[0].size > 60

    def every_cycle(self, phase):
        n = phase.phase.n_cycles
        return np.arange(n), np.arange(n)

    monkeypatch.setattr(Chunk, "segments", every_cycle)
    full = run_model(inputs, values, compiled=False)
    _assert_same(segmented, full, rtol=1e-12)


def test_few_states_stay_on_the_numpy_path(covid):
    """A 4-state model (HIV) never uses the kernel; the 23-state MSC PSA does."""
    from costmodel.model import use_compiled

    assert not use_compiled(load_inputs(HIV), 1_000_000)
    assert use_compiled(covid, 10_000) == kernel.compiled_available()
    assert not use_compiled(covid, 1)


def test_clinical_day_measures_only_where_the_cycles_resolve_them(covid):
    """Day 28 and day 90 deaths are reported by the daily MSC model, not by the yearly HIV
    model (where they would interpolate within the first year)."""
    from costmodel.clinical import clinical_measures
    from costmodel.outcomes import resolves_day

    hiv = load_inputs(HIV)
    assert not resolves_day(hiv, 28) and not resolves_day(hiv, 90)
    assert resolves_day(hiv, 365.25)  # a cycle boundary
    assert resolves_day(covid, 28) and resolves_day(covid, 90)
    hiv_table = clinical_measures(hiv, run_model(hiv, keep_trace=True))
    assert not [c for c in hiv_table.columns if "day_" in c]
    covid_table = clinical_measures(covid, run_model(covid, keep_trace=True))
    assert {"deaths_day_28", "nnt_day_90"} <= set(covid_table.columns)


@needs_numba
def test_parallel_and_serial_psa_are_identical(covid):
    """The kernel spreads cohorts over threads; one thread or all give the same bits."""
    import numba

    from costmodel.analyses.psa import run_psa
    from costmodel.model import use_compiled

    assert use_compiled(covid.decision_inputs(), 300)  # the kernel path, not NumPy
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = run_psa(covid.decision_inputs(), 300, 11)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        parallel = run_psa(covid.decision_inputs(), 300, 11)
    finally:
        numba.set_num_threads(threads)
    for name in ("cost", "qaly", "ly"):
        assert np.array_equal(getattr(serial, name), getattr(parallel, name)), name


def test_a_time_dependent_parameter_is_evaluated_per_segment(covid):
    """u_norm (general-population utility by age) uses floor(age): it is time-dependent and
    takes, in each yearly segment of the long-term phase, the value of its formula at that
    segment's age (hand formula from the workbook's expression)."""
    assert covid.dynamic_parameters == ("u_norm",)
    base = evaluate_parameters(covid)
    phases = expand_phases(covid)
    chunk = Chunk(covid, phases, base, 1, 0, 1, "o2")
    longterm = phases[1]
    starts, _ = chunk.segments(longterm)
    namespace = chunk.namespace(longterm, 0).values
    age = covid.settings.start_age + longterm.start_years + starts * longterm.phase.cycle_years
    years = np.floor(age)
    value = {k: float(base[k][0]) for k in ("un_const", "un_male", "un_age", "un_age2")}
    expected = (
        value["un_const"]
        + value["un_male"] * (1 - covid.settings.prop_female)
        + value["un_age"] * years
        + value["un_age2"] * years**2
    )
    np.testing.assert_allclose(namespace["u_norm"][0], expected, rtol=1e-12)


def _same(a, b, exact: bool) -> None:
    assert (a is None) == (b is None)
    if a is None:
        return
    if exact:
        assert np.array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_serial_and_threaded_kernels_give_the_same_bits(covid):
    """The serial kernel (the one a forked process calls) and the kernel on numba's threads
    do the same arithmetic per cohort: equal bits, also with a stored trace, cohorts that
    share a row of transition values (group > 1) and reward rates that change over the
    segments; both equal the NumPy oracle to rounding."""
    from costmodel import engine

    if not kernel.compiled_available():
        pytest.skip("numba not available")
    rng = np.random.default_rng(5)
    batch, k, n = 135, 6, 12  # three blocks of lanes, the last one partial
    assert 2 * kernel.MAX_LANES < batch < 3 * kernel.MAX_LANES
    rows = np.repeat(np.arange(k), 2)
    cols = np.concatenate([[i, (i + 1) % k] for i in range(k)])  # no repeated cell
    raw = rng.random((batch // 1, 2, rows.size))
    raw /= np.add.reduceat(raw, np.arange(0, rows.size, 2), axis=2).repeat(2, axis=2)
    segment = np.repeat([0, 1], n // 2)
    weights = rng.random((3, 2, n + 1))
    x0 = rng.dirichlet(np.ones(k), size=batch)
    for group in (1, 27):
        values = raw[: batch // group]
        rates = kernel.RewardRates(rng.random((batch // group, 2, k, 3)), group, batch // group)
        sparse = engine.SparseTransitions(rows, cols, values, k, segment)
        args = (x0, sparse, weights, True, group, rates)
        threaded = kernel._phase_sums_compiled(kernel._compiled(), *args)
        serial = kernel._phase_sums_compiled(kernel._compiled_serial(), *args)
        for a, b in zip(threaded, serial, strict=True):
            _same(a, b, exact=True)
        # and both equal the NumPy oracle (rows of the group repeated) to rounding
        repeated = engine.SparseTransitions(rows, cols, np.repeat(values, group, 0), k, segment)
        oracle = kernel.phase_sums_numpy(x0, repeated, weights, True, rates)
        for a, b in zip(threaded, oracle, strict=True):
            _same(a, b, exact=False)
        # the sums over segments are the occupancy summed by hand, segment by segment
        by_hand = threaded.occupied[:, :, 0].copy()
        for u in range(1, threaded.occupied.shape[2]):
            by_hand += threaded.occupied[:, :, u]
        assert np.array_equal(threaded.over_segments, by_hand)
        # occupancy × rates by hand: cohort b takes the row of its group
        expected = np.zeros_like(threaded.rewarded)
        for b in range(batch):
            row = rates.values[b // group]
            expected[:, b] = np.einsum("muk,ukr->mr", threaded.occupied[:, b], row)
        np.testing.assert_allclose(threaded.rewarded, expected, rtol=1e-13)
        # without the occupancy per segment: the same sums, no occupancy returned
        lean = kernel._phase_sums_compiled(kernel._compiled_serial(), *args, keep_occupied=False)
        assert lean.occupied is None
        for name in ("final", "over_segments", "rewarded"):
            assert np.array_equal(getattr(lean, name), getattr(threaded, name)), name


def test_reward_rates_rows_per_strategy_or_per_sample():
    """Cohort b takes row (b // divisor) % modulus: rows per strategy repeat for every
    sample, rows per sample and strategy are taken in order (3 samples × 2 strategies)."""
    per_strategy = kernel.RewardRates(np.arange(2.0).reshape(2, 1, 1, 1), 1, 2)
    assert per_strategy.per_cohort(6).ravel().tolist() == [0, 1, 0, 1, 0, 1]
    grouped = kernel.RewardRates(np.arange(6.0).reshape(6, 1, 1, 1), 2, 6)
    assert grouped.per_cohort(12).ravel().tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


@needs_numba
def test_rewards_that_change_by_sample_and_over_time_match_sample_by_sample_runs(covid):
    """A long-term cost that depends on a sampled parameter and on age: the propagation sums
    it per sample and segment (a row of rates per sample); each sample's outcomes equal a
    run of that sample alone (one row of rates), to rounding."""
    from tests.test_sharing import _with_long_term_cost

    inputs = _with_long_term_cost(covid, "c_day_ward * (1 + 0.01 * (age - 60))")
    values = _psa_values(inputs, 12)
    together = run_model(inputs, values, compiled=True)
    for i in (0, 5, 11):
        alone = run_model(inputs, {k: v[i : i + 1] for k, v in values.items()}, compiled=True)
        for name in (*ARRAYS, "state_time"):
            np.testing.assert_allclose(
                getattr(together, name)[i], getattr(alone, name)[0], rtol=1e-12, err_msg=name
            )
    # and the cost is really there: it differs from the model without it
    plain = run_model(covid, _psa_values(covid, 12), compiled=True)
    assert not np.allclose(plain.cost, together.cost)


@needs_numba
def test_identical_weight_sets_are_summed_once_with_the_same_bits():
    """Costs and outcomes discounted at one rate give two identical weight sets: the kernel
    sums one and copies it; every output equals the run over all the sets, bit for bit."""
    from costmodel import engine

    rng = np.random.default_rng(8)
    batch, k, n = 19, 5, 10
    rows = np.repeat(np.arange(k), 2)
    cols = np.concatenate([[i, (i + 2) % k] for i in range(k)])
    raw = rng.random((batch, 2, rows.size))
    raw /= np.add.reduceat(raw, np.arange(0, rows.size, 2), axis=2).repeat(2, axis=2)
    sparse = engine.SparseTransitions(rows, cols, raw, k, np.repeat([0, 1], n // 2))
    base = rng.random((3, 2, n + 1))
    weights = base[[0, 0, 1, 2, 1]]  # sets 1 and 4 repeat sets 0 and 2
    x0 = rng.dirichlet(np.ones(k), size=batch)
    rates = kernel.RewardRates(rng.random((batch, 2, k, 2)), 1, batch)
    once = kernel.phase_sums(x0, sparse, weights, True, True, rates=rates)
    every = kernel._phase_sums_compiled(kernel._compiled(), x0, sparse, weights, True, 1, rates)
    for a, b in zip(once, every, strict=True):
        _same(a, b, exact=True)
    assert np.array_equal(once.over_segments[1], once.over_segments[0])


def test_lanes_per_block_fall_to_eight_for_large_blocks_and_give_the_same_bits(covid, monkeypatch):
    """64 lanes where a block's scratch fits in BLOCK_BYTES (the MSC phases: 330 and 1,000
    values per lane), halved down to 8 where it does not (600 segments × 30 states × 6 weight
    sets); each lane does one cohort's arithmetic, so the results do not depend on it."""
    assert kernel.lanes_per_block(4 * 2 * 23 + 2 * 67) == 64
    assert kernel.lanes_per_block(2 * 37 * 7 + 37 * 13) == 64
    assert kernel.lanes_per_block(6 * 600 * 30 + 600 * 60) == 8
    assert kernel.lanes_per_block(20_000) == 16  # 16 x 20,000 x 8 B = 2.6 MB <= 4 MiB
    if not kernel.compiled_available():
        pytest.skip("numba not available")
    inputs = covid.decision_inputs()
    values = evaluate_parameters(inputs, sample_parameters(inputs, 2, 0, 150), 150)
    wide = run_model(inputs, values, compiled=True)
    monkeypatch.setattr(kernel, "MAX_LANES", 8)
    narrow = run_model(inputs, values, compiled=True)
    for name in ("cost_by_category", "qaly", "ly", "state_time", "qaly_undiscounted"):
        assert np.array_equal(getattr(wide, name), getattr(narrow, name)), name
