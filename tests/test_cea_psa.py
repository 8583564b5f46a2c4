"""Tests for the PSA decision maths in costmodel.cea: CEAC, CEAF, EVPI and summaries.

Evidence, as in STYLE.md section 8: published references (voi's EVPI for its chemotherapy
sample, BCEA's summary of its Vaccine sample), invariants (CEAC rows sum to 1, EVPI >= 0,
scaling), and oracles written independently of the vectorized code (plain loops, pandas).
The fixtures are read with pandas here, not with costmodel.tables, so these tests do not
depend on the reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel import cea
from costmodel.cea import (
    ceac,
    ceac_table,
    ceaf,
    evpi,
    evpi_table,
    on_frontier,
    population_multiplier,
    psa_summary,
)

DATA = Path(__file__).parent / "data"
FIXTURES = ["voi_chemo_cea.csv", "bcea_vaccine_ce.csv", "bcea_smoking_ce.csv"]
# Thresholds spanning each sample's decision switches [currency per unit effect].
GRIDS = {
    "voi_chemo_cea.csv": np.linspace(0.0, 100_000.0, 41),
    "bcea_vaccine_ce.csv": np.linspace(0.0, 50_000.0, 51),
    "bcea_smoking_ce.csv": np.linspace(0.0, 500.0, 51),
}


def _load(name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Wide fixture (e_<s>..., c_<s>...) -> names, cost, effect (n_samples, n_strategies)."""
    frame = pd.read_csv(DATA / name)
    names = [column[2:] for column in frame.columns if column.startswith("e_")]
    cost = frame[[f"c_{s}" for s in names]].to_numpy()
    effect = frame[[f"e_{s}" for s in names]].to_numpy()
    return names, cost, effect


@pytest.fixture(scope="module", params=FIXTURES)
def sample(request) -> tuple[str, list[str], np.ndarray, np.ndarray]:
    return (request.param, *_load(request.param))


def _nmb_loop_evpi(cost: np.ndarray, effect: np.ndarray, wtp: np.ndarray) -> np.ndarray:
    """Oracle: the textbook E[max_s NMB] - max_s E[NMB], one threshold at a time."""
    out = []
    for w in wtp:
        nmb = w * effect - cost
        out.append(np.max(nmb, axis=1).mean() - np.max(nmb.mean(axis=0)))
    return np.array(out)


# --- Published references ---------------------------------------------------------------------


def test_evpi_reproduces_voi_published_chemotherapy_values():
    """voi (cran/voi @ 03959c4, tests/testthat/test_evpi.R): evpi(chemo_cea)$evpi.

    The five published values are at voi's chemo_cea thresholds 10,000..50,000. Our copy of
    the sample has 10 significant digits, so each net benefit may differ from voi's by up to
    5e-10 of |wtp * e| + |c|; the EVPI (a difference of two means) by at most twice that.
    """
    _, cost, effect = _load("voi_chemo_cea.csv")
    wtp = np.array([10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0])
    published = np.array(
        [8.76486716445652, 368.605096225918, 206.468704777362, 150.472904023947, 126.983450042782]
    )
    bound = 2 * 5e-10 * (wtp[:, None] * np.abs(effect).max() + np.abs(cost).max()).ravel()
    assert np.all(np.abs(evpi(cost, effect, wtp) - published) <= bound)


@pytest.mark.parametrize("wtp", [20_000.0, 30_000.0])
def test_evpi_voi_chemotherapy_matches_independent_pandas_computation(wtp: float):
    """Independent computation with pandas of E[max NMB] - max E[NMB] on the voi sample."""
    frame = pd.read_csv(DATA / "voi_chemo_cea.csv")
    nmb = pd.DataFrame({s: wtp * frame[f"e_{s}"] - frame[f"c_{s}"] for s in ("SoC", "Novel")})
    expected = nmb.max(axis=1).mean() - nmb.mean().max()
    _, cost, effect = _load("voi_chemo_cea.csv")
    np.testing.assert_allclose(evpi(cost, effect, [wtp]), [expected], rtol=1e-9)


def test_bcea_vaccine_summary_at_25000_reproduced():
    """BCEA's documented summary(bcea(eff, cost, ref = 2)) of data(Vaccine) at k = 25000.

    BCEA reference manual, summary.bcea example: expected net benefit -36.054 (Status Quo)
    and -34.826 (Vaccination), CEAC 0.529, ICER 20098, EVPI 2.4145, and "choose Status Quo
    for k < 20100 and Vaccination for k >= 20100" on its grid of step 100. Tolerances are
    half a unit of the last printed digit; the CEAC is a count out of 1,000 samples.
    """
    names, cost, effect = _load("bcea_vaccine_ce.csv")
    assert names == ["status_quo", "vaccination"]
    table = ceac_table(names, cost, effect, [25_000.0])
    np.testing.assert_allclose(table["expected_nmb"], [-36.054, -34.826], rtol=0, atol=5e-4)
    assert table["prob_ce"].tolist()[1] * 1000 == pytest.approx(529, abs=1e-9)
    assert table["on_frontier"].tolist() == [False, True]
    np.testing.assert_allclose(evpi(cost, effect, [25_000.0]), [2.4145], rtol=0, atol=5e-5)
    # expected loss: the optimal option's is the EVPI; status quo's adds the gap in expected
    # net benefit, 2.4145 + (-34.826 - -36.054) = 3.6425 (from BCEA's printed figures)
    np.testing.assert_allclose(table["expected_loss"], [3.6425, 2.4145], rtol=0, atol=1e-3)
    icer = psa_summary(names, cost, effect)["icer_of_means"].iloc[1]
    assert icer == pytest.approx(20098, abs=0.5)
    assert ceaf(cost, effect, [20_000.0, 20_100.0]).tolist() == [0, 1]


def test_bcea_vaccine_ceac_equals_share_of_positive_incremental_nmb():
    """With two strategies the CEAC of vaccination is P(incremental NMB > 0); ties go to the
    status quo (declared first), hence the strict inequality."""
    _, cost, effect = _load("bcea_vaccine_ce.csv")
    wtp = 25_000.0
    inc_nmb = wtp * (effect[:, 1] - effect[:, 0]) - (cost[:, 1] - cost[:, 0])
    share = np.count_nonzero(inc_nmb > 0) / inc_nmb.size
    prob = ceac(cost, effect, [wtp])[0, 1]
    assert 0 < prob < 1
    assert prob == share


# --- Invariants -------------------------------------------------------------------------------


def test_ceac_rows_are_whole_sample_counts_summing_to_one(sample):
    name, _, cost, effect = sample
    prob = ceac(cost, effect, GRIDS[name])
    n_samples = cost.shape[0]
    assert prob.shape == (GRIDS[name].size, cost.shape[1])
    counts = prob * n_samples
    np.testing.assert_allclose(counts, np.round(counts), rtol=0, atol=1e-9)
    assert np.all(np.round(counts).sum(axis=1) == n_samples)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all((prob >= 0) & (prob <= 1))


def test_evpi_is_non_negative_and_positive_somewhere(sample):
    name, _, cost, effect = sample
    value = evpi(cost, effect, GRIDS[name])
    assert value.shape == GRIDS[name].shape
    assert np.all(value >= 0)
    assert value.max() > 0


@pytest.mark.parametrize("column", [0, 1])
def test_evpi_is_exactly_zero_with_one_strategy(column: int):
    _, cost, effect = _load("voi_chemo_cea.csv")
    wtp = GRIDS["voi_chemo_cea.csv"]
    single = evpi(cost[:, [column]], effect[:, [column]], wtp)
    assert np.all(single == 0.0)
    assert np.all(ceac(cost[:, [column]], effect[:, [column]], wtp) == 1.0)


def test_evpi_is_exactly_zero_when_one_strategy_is_best_in_every_sample():
    """Smoking at wtp 0: strategy 1 costs 0 in every sample and the others cost more."""
    _, cost, effect = _load("bcea_smoking_ce.csv")
    assert ceac(cost, effect, [0.0]).tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert evpi(cost, effect, [0.0]).tolist() == [0.0]


@pytest.mark.parametrize("k", [0.25, 3.0, 1000.0 / 7.0])
def test_scaling_costs_and_wtp_by_k_scales_evpi_by_k(sample, k: float):
    name, _, cost, effect = sample
    wtp = GRIDS[name]
    base = evpi(cost, effect, wtp)
    scaled = evpi(k * cost, effect, k * wtp)
    np.testing.assert_allclose(scaled, k * base, rtol=1e-9, atol=1e-12 * k * np.abs(cost).max())
    np.testing.assert_array_equal(ceaf(k * cost, effect, k * wtp), ceaf(cost, effect, wtp))


def test_permuting_strategies_permutes_ceac_and_keeps_evpi(sample):
    name, _, cost, effect = sample
    wtp = GRIDS[name]
    order = np.arange(cost.shape[1])[::-1]
    # The fixtures' net benefits have no within-sample ties except at wtp 0 in the smoking
    # sample, where strategy 1 wins outright, so the CEAC does not depend on the tie-break.
    np.testing.assert_array_equal(
        ceac(cost[:, order], effect[:, order], wtp), ceac(cost, effect, wtp)[:, order]
    )
    np.testing.assert_allclose(
        evpi(cost[:, order], effect[:, order], wtp),
        evpi(cost, effect, wtp),
        rtol=1e-9,
        atol=1e-12 * np.abs(cost).max(),
    )


@pytest.mark.parametrize("block", [1, 7, 10**9])
def test_results_do_not_depend_on_threshold_block_size(monkeypatch, block: int):
    _, cost, effect = _load("bcea_smoking_ce.csv")
    wtp = GRIDS["bcea_smoking_ce.csv"]
    reference = (ceac(cost, effect, wtp), evpi(cost, effect, wtp))
    monkeypatch.setattr(cea, "_BLOCK_ELEMENTS", block * cost.size)
    np.testing.assert_array_equal(ceac(cost, effect, wtp), reference[0])
    np.testing.assert_array_equal(evpi(cost, effect, wtp), reference[1])


# --- Oracles ----------------------------------------------------------------------------------


def test_evpi_equals_textbook_formula_loop(sample):
    """Relative 1e-9; the oracle subtracts two means of size ~max|NMB|, so near-zero EVPIs
    are compared to 1e-12 of that scale instead."""
    name, _, cost, effect = sample
    wtp = GRIDS[name][::5]
    scale = np.abs(wtp[:, None] * effect.max() - cost.min()).max()
    np.testing.assert_allclose(
        evpi(cost, effect, wtp), _nmb_loop_evpi(cost, effect, wtp), rtol=1e-9, atol=1e-12 * scale
    )


def test_ceac_equals_plain_loop_with_declared_order_tie_break():
    """Oracle: for each threshold and sample, the first strategy with the highest NMB."""
    _, cost, effect = _load("bcea_smoking_ce.csv")
    wtp = GRIDS["bcea_smoking_ce.csv"][::10]
    n_samples, n_strategies = cost.shape
    expected = np.zeros((wtp.size, n_strategies))
    for i, w in enumerate(wtp):
        for row in range(n_samples):
            best = 0
            for s in range(1, n_strategies):
                if w * effect[row, s] - cost[row, s] > w * effect[row, best] - cost[row, best]:
                    best = s
            expected[i, best] += 1
    np.testing.assert_array_equal(ceac(cost, effect, wtp), expected / n_samples)


def test_ceaf_is_argmax_of_mean_nmb(sample):
    name, _, cost, effect = sample
    wtp = GRIDS[name]
    mean_nmb = (wtp[:, None, None] * effect[None] - cost[None]).mean(axis=1)
    best = ceaf(cost, effect, wtp)
    np.testing.assert_array_equal(best, np.argmax(mean_nmb, axis=1))
    assert best.dtype.kind == "i"
    frontier = on_frontier(cost, effect, wtp)
    assert frontier.dtype == bool
    np.testing.assert_array_equal(frontier, np.eye(cost.shape[1], dtype=bool)[best])


def test_ceaf_can_differ_from_the_strategy_most_likely_cost_effective():
    """voi chemotherapy at 20,000: SoC is optimal in more samples (CEAC 0.5077) but Novel has
    the higher expected net benefit, so Novel is on the frontier (Fenwick et al. 2001)."""
    _, cost, effect = _load("voi_chemo_cea.csv")
    prob = ceac(cost, effect, [20_000.0])[0]
    assert prob[0] > prob[1]
    assert ceaf(cost, effect, [20_000.0]).tolist() == [1]


# --- Hand examples: ties ----------------------------------------------------------------------


def test_hand_example_ties_go_to_the_first_declared_strategy():
    # NMB at wtp 20 by sample: [0, 10, 10] -> 1 (tie 1/2); [0, -10, -10] -> 0; [0, 0, -5] -> 0
    # (tie 0/1). Expected NMB [0, 0, -5/3]: tie 0/1 -> 0. EVPI = mean(10, 0, 0) - 0.
    cost = np.array([[0.0, 10.0, 10.0], [0.0, 30.0, 30.0], [0.0, 0.0, 5.0]])
    effect = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(ceac(cost, effect, [20.0]), [[2 / 3, 1 / 3, 0.0]])
    assert ceaf(cost, effect, [20.0]).tolist() == [0]
    assert on_frontier(cost, effect, [20.0]).tolist() == [[True, False, False]]
    np.testing.assert_allclose(evpi(cost, effect, [20.0]), [10 / 3], rtol=1e-15)


def test_identical_strategies_all_samples_go_to_the_first():
    rng = np.random.default_rng(20240601)
    cost = np.repeat(rng.gamma(2.0, 500.0, (50, 1)), 3, axis=1)
    effect = np.repeat(rng.normal(1.0, 0.2, (50, 1)), 3, axis=1)
    wtp = np.array([0.0, 1000.0, 50_000.0])
    np.testing.assert_array_equal(ceac(cost, effect, wtp), np.tile([1.0, 0.0, 0.0], (3, 1)))
    np.testing.assert_array_equal(ceaf(cost, effect, wtp), [0, 0, 0])
    np.testing.assert_array_equal(evpi(cost, effect, wtp), [0.0, 0.0, 0.0])


def test_empty_threshold_grid_gives_empty_results():
    _, cost, effect = _load("bcea_smoking_ce.csv")
    assert ceac(cost, effect, []).shape == (0, 4)
    assert ceaf(cost, effect, []).shape == (0,)
    assert evpi(cost, effect, []).shape == (0,)


# --- psa_summary ------------------------------------------------------------------------------

SUMMARY_COLUMNS = [
    "strategy",
    "cost_mean",
    "cost_low",
    "cost_high",
    "qaly_mean",
    "qaly_low",
    "qaly_high",
    "inc_cost_mean",
    "inc_cost_low",
    "inc_cost_high",
    "inc_qaly_mean",
    "inc_qaly_low",
    "inc_qaly_high",
    "icer_of_means",
    "prob_cost_saving",
    "prob_more_effective",
    "comparison_of_means",
]


def test_psa_summary_statistics_equal_pandas_column_statistics(sample):
    _, names, cost, effect = sample
    table = psa_summary(names, cost, effect)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert table["strategy"].tolist() == names
    frame_c, frame_e = pd.DataFrame(cost), pd.DataFrame(effect)
    np.testing.assert_allclose(table["cost_mean"], frame_c.mean(), rtol=1e-12)
    np.testing.assert_allclose(table["qaly_mean"], frame_e.mean(), rtol=1e-12)
    # pandas' default quantile interpolation is linear, as documented for psa_summary.
    np.testing.assert_allclose(table["cost_low"], frame_c.quantile(0.025), rtol=1e-12)
    np.testing.assert_allclose(table["qaly_high"], frame_e.quantile(0.975), rtol=1e-12)
    inc_c = frame_c.sub(frame_c[0], axis=0).iloc[:, 1:]
    inc_e = frame_e.sub(frame_e[0], axis=0).iloc[:, 1:]
    np.testing.assert_allclose(
        table["inc_cost_mean"].iloc[1:], frame_c.mean()[1:] - frame_c.mean()[0], rtol=1e-9
    )
    np.testing.assert_allclose(table["inc_qaly_low"].iloc[1:], inc_e.quantile(0.025), rtol=1e-12)
    np.testing.assert_allclose(table["inc_cost_high"].iloc[1:], inc_c.quantile(0.975), rtol=1e-12)
    # the ratio of mean increments where it prices a trade-off (both positive or both
    # negative), else no ICER and the comparison says why
    ratio = inc_c.mean() / inc_e.mean()
    trade_off = (inc_c.mean() > 0) == (inc_e.mean() > 0)
    np.testing.assert_allclose(table["icer_of_means"].iloc[1:], ratio.where(trade_off), rtol=1e-12)
    assert set(table["comparison_of_means"].iloc[1:]) <= {
        "more costly, more effective",
        "less costly, less effective",
        "dominant",
        "dominated",
    }
    np.testing.assert_allclose(table["prob_cost_saving"].iloc[1:], (inc_c < 0).mean(), rtol=0)
    np.testing.assert_allclose(table["prob_more_effective"].iloc[1:], (inc_e > 0).mean(), rtol=0)
    comparison = [c for c in SUMMARY_COLUMNS if c.startswith(("inc_", "icer", "prob"))]
    assert table.loc[0, comparison].isna().all() and table.loc[0, "comparison_of_means"] == ""
    assert table.loc[1:, [c for c in comparison if c != "icer_of_means"]].notna().all().all()


def test_psa_summary_reference_and_effect_name():
    names, cost, effect = _load("voi_chemo_cea.csv")
    table = psa_summary(names, cost, effect, reference=1, effect_name="ly")
    assert "ly_mean" in table.columns and "inc_ly_high" in table.columns
    assert "qaly_mean" not in table.columns
    assert table.loc[1, ["inc_cost_mean", "icer_of_means"]].isna().all()
    forward = psa_summary(names, cost, effect)
    np.testing.assert_allclose(table.loc[0, "inc_cost_mean"], -forward.loc[1, "inc_cost_mean"])
    np.testing.assert_allclose(table.loc[0, "inc_ly_low"], -forward.loc[1, "inc_qaly_high"])
    np.testing.assert_allclose(table.loc[0, "icer_of_means"], forward.loc[1, "icer_of_means"])
    # Novel costs more in every sample: SoC versus Novel is always cost saving.
    assert table.loc[0, "prob_cost_saving"] == 1.0
    assert forward.loc[1, "prob_cost_saving"] == 0.0


def test_psa_summary_hand_example_zero_mean_increment_gives_nan_icer():
    cost = np.array([[100.0, 150.0], [100.0, 50.0], [100.0, 130.0], [100.0, 70.0], [100.0, 100.0]])
    effect = np.array([[1.0, 1.5], [1.0, 0.5], [1.0, 1.2], [1.0, 0.8], [1.0, 1.0]])
    table = psa_summary(["a", "b"], cost, effect)
    row = table.iloc[1]
    assert row["inc_cost_mean"] == 0.0 and row["inc_qaly_mean"] == 0.0
    assert np.isnan(row["icer_of_means"])
    # Strict inequalities: the sample with equal cost and effect counts for neither.
    assert row["prob_cost_saving"] == 0.4 and row["prob_more_effective"] == 0.4
    # Linear interpolation: increments -50, -30, 0, 30, 50; 2.5th percentile at rank 0.1.
    assert row["inc_cost_low"] == pytest.approx(-50 + 0.1 * 20)
    assert row["inc_cost_high"] == pytest.approx(50 - 0.1 * 20)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reference": 2}, "reference must be in 0..1"),
        ({"reference": -1}, "reference must be in 0..1"),
        ({"reference": True}, "reference must be a column index"),
        ({"effect_name": "QALY"}, "effect_name must be a lower-case identifier"),
        ({"effect_name": "cost"}, "effect_name"),
        ({"effect_name": "life years"}, "effect_name"),
    ],
)
def test_psa_summary_rejects_bad_options(kwargs, match: str):
    names, cost, effect = _load("voi_chemo_cea.csv")
    with pytest.raises(ValueError, match=match):
        psa_summary(names, cost, effect, **kwargs)


@pytest.mark.parametrize(
    "names, match",
    [
        (["a"], "1 strategy names for 2 columns"),
        (["a", "a"], "repeated: a"),
        (["a", " "], "strategy name 1 is blank"),
        ("ab", "not a single string"),
    ],
)
def test_table_functions_reject_bad_names(names, match: str):
    _, cost, effect = _load("voi_chemo_cea.csv")
    with pytest.raises(ValueError, match=match):
        psa_summary(names, cost, effect)
    with pytest.raises(ValueError, match=match):
        ceac_table(names, cost, effect, [1.0])


# --- population_multiplier, ceac_table, evpi_table --------------------------------------------


def test_population_multiplier_hand_value():
    # 1000 a year for 3 years at 3.5%, discounted at the start of each year.
    expected = 1000 * (1 + 1 / 1.035 + 1 / 1.035**2)
    assert expected == pytest.approx(2899.6942752456, abs=1e-9)
    assert population_multiplier(1000.0, 3, 0.035) == pytest.approx(expected, rel=1e-14)


def test_population_multiplier_limiting_cases():
    assert population_multiplier(1234.5, 1, 0.05) == 1234.5
    assert population_multiplier(1000.0, 10, 0.0) == 10_000.0
    assert population_multiplier(0.0, 5, 0.035) == 0.0
    # Closed form of the geometric series.
    r, n = 0.03, 20
    closed = 500.0 * (1 - (1 + r) ** -n) / (1 - 1 / (1 + r))
    assert population_multiplier(500.0, np.int64(n), r) == pytest.approx(closed, rel=1e-13)


@pytest.mark.parametrize(
    "args, match",
    [
        ((1000.0, 3, 3.5), r"Enter 0.035, not a percentage"),
        ((1000.0, 3, -0.01), "discount_rate must be a fraction"),
        ((1000.0, 3, float("nan")), "discount_rate must be a finite number"),
        ((1000.0, 0, 0.035), "horizon_years must be at least 1"),
        ((1000.0, 2.5, 0.035), "horizon_years must be a whole number"),
        ((1000.0, True, 0.035), "horizon_years must be a whole number"),
        ((-1.0, 3, 0.035), "population_per_year must be a finite number >= 0"),
        ((float("inf"), 3, 0.035), "population_per_year must be a finite number >= 0"),
        (("1000", 3, 0.035), "population_per_year"),
    ],
)
def test_population_multiplier_rejects_bad_arguments(args, match: str):
    with pytest.raises(ValueError, match=match):
        population_multiplier(*args)


def test_ceac_table_is_long_form_of_ceac_ceaf_and_expected_nmb():
    _, cost, effect = _load("bcea_smoking_ce.csv")
    names = ["none", "self_help", "individual", "group"]  # declared order, not sorted
    wtp = np.array([0.0, 150.0, 400.0])
    table = ceac_table(names, cost, effect, wtp)
    assert list(table.columns) == [
        "wtp",
        "strategy",
        "prob_ce",
        "on_frontier",
        "expected_nmb",
        "expected_loss",
    ]
    assert len(table) == wtp.size * len(names)
    assert table["wtp"].tolist() == np.repeat(wtp, 4).tolist()
    assert table["strategy"].tolist() == names * 3
    np.testing.assert_array_equal(table["prob_ce"], ceac(cost, effect, wtp).ravel())
    np.testing.assert_array_equal(table["on_frontier"], on_frontier(cost, effect, wtp).ravel())
    assert table.groupby("wtp")["on_frontier"].sum().tolist() == [1, 1, 1]
    mean_nmb = (wtp[:, None, None] * effect[None] - cost[None]).mean(axis=1)
    np.testing.assert_allclose(table["expected_nmb"], mean_nmb.ravel(), rtol=1e-12, atol=1e-9)


def test_evpi_table_population_column():
    _, cost, effect = _load("voi_chemo_cea.csv")
    wtp = [20_000.0, 30_000.0]
    multiplier = population_multiplier(1000.0, 3, 0.035)
    table = evpi_table(cost, effect, wtp, population_multiplier=multiplier)
    assert list(table.columns) == ["wtp", "evpi_per_patient", "evpi_population"]
    assert table["wtp"].tolist() == wtp
    np.testing.assert_array_equal(table["evpi_per_patient"], evpi(cost, effect, wtp))
    np.testing.assert_allclose(
        table["evpi_population"], table["evpi_per_patient"] * multiplier, rtol=1e-15
    )
    default = evpi_table(cost, effect, wtp)
    np.testing.assert_array_equal(default["evpi_population"], default["evpi_per_patient"])


@pytest.mark.parametrize("multiplier", [-1.0, float("nan"), "1000", True])
def test_evpi_table_rejects_bad_multiplier(multiplier):
    _, cost, effect = _load("voi_chemo_cea.csv")
    with pytest.raises(ValueError, match="population_multiplier must be a finite number >= 0"):
        evpi_table(cost, effect, [1.0], population_multiplier=multiplier)


# --- Input validation -------------------------------------------------------------------------

GOOD = np.ones((3, 2))


@pytest.mark.parametrize(
    "cost, effect, wtp, match",
    [
        (np.ones(3), np.ones(3), [1.0], r"cost must be 2-D .* got shape \(3,\)"),
        (GOOD, np.ones((3, 3)), [1.0], r"cost shape \(3, 2\) and effect shape \(3, 3\) differ"),
        (np.ones((0, 2)), np.ones((0, 2)), [1.0], "at least one sample and one strategy"),
        (np.ones((3, 0)), np.ones((3, 0)), [1.0], "at least one sample and one strategy"),
        (
            [[1.0, 2.0], [1.0, np.nan]],
            np.ones((2, 2)),
            [1.0],
            r"cost must be finite; 1 value\(s\) are not, the first at sample 1, strategy 1",
        ),
        (GOOD, [[1.0, np.inf]] * 3, [1.0], "effect must be finite; 3 value"),
        ([["a", "b"]], [[1.0, 2.0]], [1.0], "cost must be numbers"),
        (GOOD, GOOD, [[1.0]], r"wtp must be 1-D"),
        (GOOD, GOOD, 20000.0, r"wtp must be 1-D .* Wrap a single threshold"),
        (GOOD, GOOD, [1.0, np.nan], "wtp must be finite"),
    ],
)
@pytest.mark.parametrize("function", [ceac, ceaf, evpi, on_frontier])
def test_invalid_inputs_raise_value_error(function, cost, effect, wtp, match: str):
    with pytest.raises(ValueError, match=match):
        function(cost, effect, wtp)


def test_inputs_are_not_modified():
    _, cost, effect = _load("bcea_vaccine_ce.csv")
    cost_copy, effect_copy = cost.copy(), effect.copy()
    ceac_table(["a", "b"], cost, effect, [25_000.0])
    evpi_table(cost, effect, [25_000.0])
    psa_summary(["a", "b"], cost, effect, reference=1)
    np.testing.assert_array_equal(cost, cost_copy)
    np.testing.assert_array_equal(effect, effect_copy)


def test_cea_command_on_voi_net_benefit_matrix_reproduces_the_published_evpi(tmp_path, capsys):
    """voi's chemo_nb (net benefit at 20,000): EVPI 368.605096225918, the value voi publishes
    for chemo_cea at 20,000 (tests/testthat/test_evpi.R); 10 significant digits in our copy
    bound the difference by 2 * 5e-10 * max|NB|."""
    from costmodel.cli import main

    out = tmp_path / "nb"
    path = DATA / "voi_chemo_nb.csv"
    assert main(["cea", str(path), "--net-benefit", "--wtp", "20000", "--out", str(out)]) == 0
    evpi_row = pd.read_csv(out / "evpi.csv").iloc[0]
    bound = 2 * 5e-10 * pd.read_csv(path).abs().to_numpy().max()
    assert abs(evpi_row.evpi_per_patient - 368.605096225918) <= bound
    ceac = pd.read_csv(out / "ceac.csv").set_index("strategy")
    assert ceac.loc["Novel", "expected_loss"] == pytest.approx(evpi_row.evpi_per_patient)
    assert main(["cea", str(path), "--net-benefit", "--wtp", "1", "2"]) == 2


def test_frontier_of_the_psa_means_by_hand():
    """psa_summary's fully incremental analysis of the means: A (0, 0), B (1,000, 0.1) and
    C (3,000, 0.15) on average over two samples give B at 10,000 vs A and C at 40,000 vs B;
    D (2,500, 0.05) is dominated by B."""
    from costmodel.analyses.psa import with_frontier_of_means
    from costmodel.cea import psa_summary

    cost = np.array([[0.0, 500.0, 2000.0, 2000.0], [0.0, 1500.0, 4000.0, 3000.0]])
    effect = np.array([[0.0, 0.05, 0.1, 0.0], [0.0, 0.15, 0.2, 0.1]])
    keys = ["A", "B", "C", "D"]
    table = with_frontier_of_means(psa_summary(keys, cost, effect), cost, effect)
    table = table.set_index("strategy")
    assert list(table.status_of_means) == ["nd", "nd", "nd", "d"]
    assert table.loc["B", "frontier_icer_of_means"] == pytest.approx(10_000, rel=1e-12)
    assert table.loc["C", "frontier_icer_of_means"] == pytest.approx(40_000, rel=1e-12)
    assert table.loc["C", "comparator_of_means"] == "B"
    assert np.isnan(table.loc["A", "frontier_icer_of_means"])
    assert np.isnan(table.loc["D", "frontier_icer_of_means"])
