"""Tests for costmodel.cea: ICER tables and net monetary benefit."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel.cea import (
    STATUS_DOMINATED,
    STATUS_EXTENDED,
    STATUS_NON_DOMINATED,
    compute_icer_table,
    net_monetary_benefit,
)

DATA = Path(__file__).parent / "data"
ICER_COLUMNS = [
    "strategy",
    "cost",
    "effect",
    "inc_cost",
    "inc_effect",
    "icer",
    "status",
    "comparator",
]


@pytest.fixture(scope="module")
def cdiff() -> pd.DataFrame:
    """dampack's published ICER table for 11 C. difficile strategies."""
    return pd.read_csv(DATA / "dampack_cdiff_icers.csv")


def _random_strategies(seed: int, n: int = 30) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Continuous costs and effects around a convex frontier: a mix of nd, ed and d, no ties."""
    rng = np.random.default_rng(seed)
    effect = rng.uniform(0.0, 5.0, n)
    cost = 2000.0 * effect + 400.0 * effect**2 + rng.normal(0.0, 800.0, n)
    return [f"s{i}" for i in range(n)], cost, effect


def _oracle_status(cost: np.ndarray, effect: np.ndarray) -> list[str]:
    """Statuses from the definitions, with plain loops (O(n^3)); independent of cea's passes.

    d: another strategy is no worse on both axes and better on one, or is an exact duplicate
    declared earlier. ed: not d, and strictly above the chord between two other non-d
    strategies that bracket it in effect (so not on the lower-right convex hull).
    """
    n = len(cost)
    dominated = [False] * n
    for j in range(n):
        for i in range(n):
            if i == j:
                continue
            no_worse = cost[i] <= cost[j] and effect[i] >= effect[j]
            better = cost[i] < cost[j] or effect[i] > effect[j]
            duplicate_declared_earlier = cost[i] == cost[j] and effect[i] == effect[j] and i < j
            if (no_worse and better) or duplicate_declared_earlier:
                dominated[j] = True
    remaining = [k for k in range(n) if not dominated[k]]
    status = []
    for p in range(n):
        if dominated[p]:
            status.append(STATUS_DOMINATED)
            continue
        above_a_chord = any(
            effect[q] < effect[p] < effect[r]
            and (cost[p] - cost[q]) * (effect[r] - effect[q])
            > (cost[r] - cost[q]) * (effect[p] - effect[q])
            for q in remaining
            for r in remaining
        )
        status.append(STATUS_EXTENDED if above_a_chord else STATUS_NON_DOMINATED)
    return status


def _assert_row_order(table: pd.DataFrame, declared: list[str]) -> None:
    """Rows: nd, ed, d; within each, cost up, effect down, then declared order."""
    group = table["status"].map({"nd": 0, "ed": 1, "d": 2})
    declared_order = table["strategy"].map(declared.index)
    keys = list(zip(group, table["cost"], -table["effect"], declared_order, strict=True))
    assert keys == sorted(keys)


@pytest.mark.parametrize("shuffle_seed", [None, 0, 1, 2, 3, 4])
def test_reproduces_dampack_cdiff_vignette_icers(cdiff: pd.DataFrame, shuffle_seed: int | None):
    """dampack calculate_icers() on the C. difficile vignette (DARTH-git/dampack @ 0430fee,
    vignettes/cdiff_icers.csv): same row order, statuses, and nd increments/ICERs to 1e-9."""
    inputs = cdiff if shuffle_seed is None else cdiff.sample(frac=1.0, random_state=shuffle_seed)
    table = compute_icer_table(
        inputs["Strategy"].tolist(), inputs["Cost"].to_numpy(), inputs["Effect"].to_numpy()
    )

    assert table["strategy"].tolist() == cdiff["Strategy"].tolist()
    assert table["status"].tolist() == cdiff["Status"].str.lower().tolist()
    np.testing.assert_array_equal(table["cost"], cdiff["Cost"])
    np.testing.assert_array_equal(table["effect"], cdiff["Effect"])
    for ours, theirs in [("inc_cost", "Inc_Cost"), ("inc_effect", "Inc_Effect"), ("icer", "ICER")]:
        # NA rows are NaN on both sides; assert_allclose treats NaN == NaN by default.
        np.testing.assert_allclose(table[ours], cdiff[theirs], rtol=1e-9, atol=0.0)
    nd = cdiff[cdiff["Status"] == "ND"]["Strategy"].tolist()
    assert table["comparator"].tolist() == ["", *nd[:-1]] + [""] * (len(cdiff) - len(nd))


def test_hand_example_with_strict_and_extended_dominance():
    """A small example worked by hand.

    Sorted by cost: A (0, 0), B (100, 1), D (250, 1.1), C (300, 1.5), E (350, 1.2).
    Strict: E is dominated by C (300 <= 350 and 1.5 >= 1.2). Nothing costs <= 250 with
    effect >= 1.1, so D is not.
    Pass 1 on A, B, D, C: ICER B = 100/1 = 100; D = (250-100)/(1.1-1) = 1500;
    C = (300-250)/(1.5-1.1) = 125. D: 1500 > 125, so D is ed; B: 100 < 1500 stays.
    Pass 2 on A, B, C: ICER B = 100; C = (300-100)/(1.5-1) = 400. Increasing: done.
    """
    table = compute_icer_table(
        ["A", "B", "C", "D", "E"],
        [0.0, 100.0, 300.0, 250.0, 350.0],
        [0.0, 1.0, 1.5, 1.1, 1.2],
    )
    assert table.columns.tolist() == ICER_COLUMNS
    assert table["strategy"].tolist() == ["A", "B", "C", "D", "E"]
    assert table["status"].tolist() == ["nd", "nd", "nd", "ed", "d"]
    assert table["comparator"].tolist() == ["", "A", "B", "", ""]
    np.testing.assert_allclose(table["inc_cost"], [np.nan, 100, 200, np.nan, np.nan], rtol=1e-15)
    np.testing.assert_allclose(table["inc_effect"], [np.nan, 1, 0.5, np.nan, np.nan], rtol=1e-15)
    np.testing.assert_allclose(table["icer"], [np.nan, 100, 400, np.nan, np.nan], rtol=1e-15)


def test_hand_example_extended_dominance_needs_two_passes():
    """Removing one ed strategy can expose another.

    A (0, 0), B (100, 1), C (250, 1.5), D (280, 3); no strict dominance.
    Pass 1: ICER B = 100, C = 150/0.5 = 300, D = 30/1.5 = 20. C: 300 > 20, so C is ed.
    Pass 2 on A, B, D: B = 100, D = (280-100)/(3-1) = 90. B: 100 > 90, so B is ed.
    Pass 3 on A, D: D = 280/3.
    """
    table = compute_icer_table(["A", "B", "C", "D"], [0, 100, 250, 280], [0, 1, 1.5, 3])
    assert table["strategy"].tolist() == ["A", "D", "B", "C"]
    assert table["status"].tolist() == ["nd", "nd", "ed", "ed"]
    assert table["comparator"].tolist() == ["", "A", "", ""]
    assert table["icer"].iloc[1] == pytest.approx(280 / 3, rel=1e-15)


def test_equal_successive_icers_keep_both_non_dominated():
    # ICERs B = 100/1 = 100 and C = (200-100)/(2-1) = 100: collinear, not strictly greater.
    table = compute_icer_table(["A", "B", "C"], [0.0, 100.0, 200.0], [0.0, 1.0, 2.0])
    assert table["status"].tolist() == ["nd", "nd", "nd"]
    np.testing.assert_array_equal(table["icer"], [np.nan, 100.0, 100.0])


@pytest.mark.parametrize("seed", range(8))
def test_statuses_match_plain_loop_oracle_continuous(seed: int):
    names, cost, effect = _random_strategies(seed)
    table = compute_icer_table(names, cost, effect)
    expected = dict(zip(names, _oracle_status(cost, effect), strict=True))
    assert dict(zip(table["strategy"], table["status"], strict=True)) == expected
    assert {"nd", "ed", "d"} <= set(expected.values())  # the data exercise every rule
    _assert_row_order(table, names)

    nd = table[table["status"] == "nd"]
    assert np.all(np.diff(nd["icer"].to_numpy()[1:]) >= 0)
    np.testing.assert_array_equal(nd["inc_cost"].iloc[1:], np.diff(nd["cost"]))
    np.testing.assert_array_equal(nd["inc_effect"].iloc[1:], np.diff(nd["effect"]))
    assert nd["comparator"].tolist() == ["", *nd["strategy"].iloc[:-1]]
    off = table[table["status"] != "nd"]
    assert off[["inc_cost", "inc_effect", "icer"]].isna().all().all()
    assert (off["comparator"] == "").all()


@pytest.mark.parametrize("seed", range(8))
def test_statuses_match_plain_loop_oracle_integer_grid_with_ties(seed: int):
    """Small integers: many exact cost ties, duplicates and collinear strategies. Differences
    and quotients of such integers are exact or correctly rounded, so the float ICER
    comparisons agree with the oracle's exact cross-products."""
    rng = np.random.default_rng(100 + seed)
    n = 25
    effect = rng.integers(0, 8, n).astype(float)
    cost = (10 * effect + rng.integers(0, 4, n) * effect**2 // 4 + rng.integers(0, 12, n)) * 10.0
    names = [f"s{i}" for i in range(n)]
    table = compute_icer_table(names, cost, effect)
    expected = dict(zip(names, _oracle_status(cost, effect), strict=True))
    assert dict(zip(table["strategy"], table["status"], strict=True)) == expected
    assert {"nd", "ed", "d"} <= set(expected.values())
    _assert_row_order(table, names)


@pytest.mark.parametrize("source", ["cdiff", "random"])
def test_icer_table_independent_of_input_order(cdiff: pd.DataFrame, source: str):
    if source == "cdiff":
        names, cost, effect = cdiff["Strategy"].tolist(), cdiff["Cost"], cdiff["Effect"]
        cost, effect = cost.to_numpy(), effect.to_numpy()
    else:
        names, cost, effect = _random_strategies(seed=42)
    reference = compute_icer_table(names, cost, effect, wtp=[50_000])
    rng = np.random.default_rng(20240601)
    for _ in range(50):
        perm = rng.permutation(len(names))
        table = compute_icer_table([names[i] for i in perm], cost[perm], effect[perm], wtp=[50_000])
        pd.testing.assert_frame_equal(table, reference)


@pytest.mark.parametrize("k", [1e-3, 0.37, 3.0, 1e6])
@pytest.mark.parametrize("source", ["cdiff", "random"])
def test_scaling_costs_by_k_scales_icers_by_k(cdiff: pd.DataFrame, source: str, k: float):
    if source == "cdiff":
        names, cost, effect = cdiff["Strategy"].tolist(), cdiff["Cost"], cdiff["Effect"]
        cost, effect = cost.to_numpy(), effect.to_numpy()
    else:
        names, cost, effect = _random_strategies(seed=7)
    base = compute_icer_table(names, cost, effect)
    scaled = compute_icer_table(names, k * cost, effect)
    assert scaled["strategy"].tolist() == base["strategy"].tolist()
    assert scaled["status"].tolist() == base["status"].tolist()
    np.testing.assert_allclose(scaled["icer"], k * base["icer"], rtol=1e-12)
    np.testing.assert_allclose(scaled["inc_cost"], k * base["inc_cost"], rtol=1e-12)
    np.testing.assert_array_equal(scaled["inc_effect"], base["inc_effect"])


@pytest.mark.parametrize("shift", [-1e5, -123.25, 1e6])
@pytest.mark.parametrize("source", ["cdiff", "random"])
def test_adding_constant_to_costs_leaves_icers_unchanged(
    cdiff: pd.DataFrame, source: str, shift: float
):
    if source == "cdiff":
        names, cost, effect = cdiff["Strategy"].tolist(), cdiff["Cost"], cdiff["Effect"]
        cost, effect = cost.to_numpy(), effect.to_numpy()
    else:
        names, cost, effect = _random_strategies(seed=11)
    base = compute_icer_table(names, cost, effect)
    shifted = compute_icer_table(names, cost + shift, effect)
    assert shifted["strategy"].tolist() == base["strategy"].tolist()
    assert shifted["status"].tolist() == base["status"].tolist()
    # Shifting by up to 1e6 perturbs differences of costs near 6e4 by ~1e-10 absolute.
    np.testing.assert_allclose(shifted["icer"], base["icer"], rtol=1e-9)
    np.testing.assert_allclose(shifted["inc_cost"], base["inc_cost"], rtol=1e-9)


def test_single_strategy_is_non_dominated_with_nan_increments():
    table = compute_icer_table(["only"], [1234.5], [6.7], wtp=[100])
    assert table.columns.tolist() == [*ICER_COLUMNS, "nmb_100"]
    assert table["status"].tolist() == ["nd"]
    assert table["comparator"].tolist() == [""]
    assert table[["inc_cost", "inc_effect", "icer"]].isna().all().all()
    assert table["nmb_100"].iloc[0] == pytest.approx(100 * 6.7 - 1234.5, rel=1e-15)


@pytest.mark.parametrize("names", [["first", "second"], ["second", "first"]])
def test_identical_strategies_later_declared_is_dominated(names: list[str]):
    table = compute_icer_table(names, [500.0, 500.0], [2.0, 2.0])
    assert table["strategy"].tolist() == names
    assert table["status"].tolist() == ["nd", "d"]
    assert table[["inc_cost", "inc_effect", "icer"]].isna().all().all()


def test_cost_tie_lower_effect_is_dominated_and_effect_tie_higher_cost_is_dominated():
    # low_eff: same cost as hi_eff, less effect. dear: same effect as hi_eff, costs more.
    table = compute_icer_table(
        ["ref", "low_eff", "hi_eff", "dear"], [0.0, 100.0, 100.0, 150.0], [0.0, 1.0, 2.0, 2.0]
    )
    assert dict(zip(table["strategy"], table["status"], strict=True)) == {
        "ref": "nd",
        "hi_eff": "nd",
        "low_eff": "d",
        "dear": "d",
    }
    assert table["strategy"].tolist() == ["ref", "hi_eff", "low_eff", "dear"]
    assert table["icer"].iloc[1] == 50.0


def test_negative_increment_is_strictly_dominated_not_given_a_negative_icer():
    # B costs more than A and is less effective: "d", never an ICER of -100.
    table = compute_icer_table(["A", "B"], [0.0, 100.0], [1.0, 0.0])
    assert table["status"].tolist() == ["nd", "d"]
    assert np.isnan(table["icer"]).all()


def test_nmb_columns_named_ordered_and_valued():
    cost = np.array([0.0, 100.0, 300.0])
    effect = np.array([0.0, 1.0, 1.5])
    wtp = [20000, 2500.5, np.float64(0.25), 1e3]
    table = compute_icer_table(["A", "B", "C"], cost, effect, wtp=wtp)
    nmb_columns = ["nmb_20000", "nmb_2500.5", "nmb_0.25", "nmb_1000"]
    assert table.columns.tolist() == ICER_COLUMNS + nmb_columns
    for column, w in zip(nmb_columns, wtp, strict=True):
        np.testing.assert_allclose(table[column], w * effect - cost, rtol=1e-15)


def test_nmb_columns_follow_their_rows_after_sorting():
    table = compute_icer_table(["dear", "cheap"], [300.0, 0.0], [1.5, 0.0], wtp=[1000])
    assert table["strategy"].tolist() == ["cheap", "dear"]
    assert table["nmb_1000"].tolist() == [0.0, 1200.0]


@pytest.mark.parametrize(
    ("wtp", "match"),
    [
        ([20000, 20000.0], "distinct"),
        ([np.nan], "finite"),
        ([np.inf], "finite"),
        ([[1.0, 2.0]], "1-D"),
        (5.0, "1-D"),
    ],
)
def test_invalid_wtp_raises(wtp, match: str):
    with pytest.raises(ValueError, match=match):
        compute_icer_table(["A", "B"], [0.0, 1.0], [0.0, 1.0], wtp=wtp)


@pytest.mark.parametrize(
    ("strategies", "cost", "effect", "match"),
    [
        (["A", "B"], [0.0, 1.0, 2.0], [0.0, 1.0], "cost has 3 values but there are 2"),
        (["A", "B"], [0.0, 1.0], [0.0], "effect has 1 values but there are 2"),
        (["A", "B"], [0.0, np.nan], [0.0, 1.0], r"cost must be finite; got 'B' \(nan\)"),
        (["A", "B"], [0.0, 1.0], [np.inf, 1.0], r"effect must be finite; got 'A' \(inf\)"),
        (["A", "B", "A"], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0], "unique; repeated: A"),
        (["A", " "], [0.0, 1.0], [0.0, 1.0], "strategy name 1 is blank"),
        (["A", 2], [0.0, 1.0], [0.0, 1.0], "strategy name 1 must be a str"),
        ([], [], [], "at least one strategy"),
        (["A", "B"], [[0.0, 1.0]], [0.0, 1.0], "cost must be 1-D"),
        (["A", "B"], ["x", "y"], [0.0, 1.0], "cost must be numbers"),
        ("AB", [0.0, 1.0], [0.0, 1.0], "not a single string"),
    ],
)
def test_invalid_inputs_raise_value_error(strategies, cost, effect, match: str):
    with pytest.raises(ValueError, match=match):
        compute_icer_table(strategies, cost, effect)


def test_all_input_problems_reported_at_once():
    with pytest.raises(ValueError) as info:
        compute_icer_table(["A", "A"], [0.0, np.nan], [0.0, 1.0, 2.0])
    message = str(info.value)
    assert "repeated: A" in message
    assert "cost must be finite" in message
    assert "effect has 3 values" in message


@pytest.mark.parametrize("leading", [(), (7,), (4, 3)])
def test_net_monetary_benefit_shapes_and_values(leading: tuple[int, ...]):
    rng = np.random.default_rng(5)
    n_strategies, wtp = 3, np.array([0.0, 20000.0, 50000.0, 1234.5])
    cost = rng.uniform(1e3, 1e5, (*leading, n_strategies))
    effect = rng.uniform(0.0, 20.0, (*leading, n_strategies))
    nmb = net_monetary_benefit(cost, effect, wtp)
    assert nmb.shape == (*leading, wtp.size, n_strategies)
    for index in itertools.product(*(range(m) for m in leading)):
        for k, w in enumerate(wtp):
            for s in range(n_strategies):
                expected = w * effect[(*index, s)] - cost[(*index, s)]
                assert nmb[(*index, k, s)] == pytest.approx(expected, rel=1e-15, abs=1e-9)


def test_net_monetary_benefit_broadcasts_cost_against_effect():
    # One cost per strategy shared by all samples, effects per sample.
    cost = np.array([10.0, 20.0])
    effect = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    nmb = net_monetary_benefit(cost, effect, [100.0])
    np.testing.assert_array_equal(nmb[:, 0, :], 100.0 * effect - cost)
    assert nmb.shape == (3, 1, 2)


@pytest.mark.parametrize(
    ("cost", "effect", "wtp", "match"),
    [
        ([1.0, 2.0], [1.0, 2.0], [[1.0]], "wtp must be 1-D"),
        ([1.0, 2.0], [1.0, 2.0], 1.0, "wtp must be 1-D"),
        (1.0, [1.0, 2.0], [1.0], "last axis of strategies"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], [1.0], "do not broadcast"),
    ],
)
def test_net_monetary_benefit_rejects_bad_shapes(cost, effect, wtp, match: str):
    with pytest.raises(ValueError, match=match):
        net_monetary_benefit(cost, effect, wtp)


def test_an_icer_versus_the_reference_is_shown_only_for_a_trade_off():
    """Hand example, reference A (cost 1000, effect 1.0): B costs 500 more for 0.1 more
    (ICER 5,000); C saves 200 for 0.1 less (SW: 2,000 saved per unit lost); D costs 300
    more for 0.1 less (dominated: the ratio -3,000 was shown as an ICER); E saves 100 for
    0.2 more (dominant: -500); F costs 50 more for the same effect."""
    from costmodel.cea import compare_to_reference, comparison

    cost = np.array([[1000.0, 1500.0, 800.0, 1300.0, 900.0, 1050.0]])
    effect = np.array([[1.0, 1.1, 0.9, 0.9, 1.2, 1.0]])
    inc_cost, inc_effect, icer, inmb = compare_to_reference(cost, effect, 0, 20_000.0)
    np.testing.assert_allclose(icer[0, 1:3], [5000.0, 2000.0], rtol=1e-12)
    assert np.isnan(icer[0, [0, 3, 4, 5]]).all()
    np.testing.assert_allclose(inmb[0], [0.0, 1500.0, -1800.0, -2300.0, 4100.0, -50.0], atol=1e-9)
    assert list(comparison(inc_cost, inc_effect)[0, 1:]) == [
        "more costly, more effective",
        "less costly, less effective",
        "dominated",
        "dominant",
        "same effect",
    ]
    # the edges: no extra cost for more effect is dominant, no saving for less is dominated
    assert list(comparison([0.0, 0.0], [0.1, -0.1])) == ["dominant", "dominated"]
    assert list(comparison([np.nan, 100.0], [0.1, np.nan])) == ["", ""]  # unknown, not a word
