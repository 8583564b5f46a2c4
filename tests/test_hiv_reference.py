"""Chancellor et al. 1997 HIV model as published in Briggs, Claxton & Sculpher (2006),
Decision Modelling for Health Economic Evaluation, exercise 2.5 — and model invariants on it.
"""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.api import run_workbook
from tests.conftest import HIV_WORKBOOK


@pytest.fixture(scope="module")
def hiv():
    return run_workbook(HIV_WORKBOOK, psa_samples=0, deterministic=False)


def _row(result, strategy):
    table = result.base_case
    return table[table.strategy == strategy].iloc[0]


def test_chancellor_1997_published_life_years_costs_and_icer(hiv):
    """Briggs et al. ex. 2.5 prints 7.991 and 8.937 LY, GBP 44,663 and 50,602, ICER 6,276."""
    mono, combo = _row(hiv, "monotherapy"), _row(hiv, "combination")
    assert mono.ly == pytest.approx(7.991, abs=5e-4)
    assert combo.ly == pytest.approx(8.937, abs=5e-4)
    assert mono.cost == pytest.approx(44_663, abs=0.5)
    assert combo.cost == pytest.approx(50_602, abs=0.5)
    assert combo.icer == pytest.approx(6_276, abs=0.5)
    assert combo.status == "nd" and combo.comparator == "monotherapy"


def test_hiv_cost_categories_add_up_to_total(hiv):
    table = hiv.base_case
    categories = table[["cost_community", "cost_drug", "cost_medical"]].sum(axis=1)
    np.testing.assert_allclose(categories, table.cost, rtol=1e-12)
    # Drug costs: AZT 2278 per alive year (+ lamivudine 2086.5 in years 1-2), discounted at 6%.
    mono = _row(hiv, "monotherapy")
    trace = hiv.trace[hiv.trace.strategy == "monotherapy"]
    alive = trace[["state_a", "state_b", "state_c"]].sum(axis=1).to_numpy()[1:]
    expected = sum(2278 * a / 1.06**t for t, a in enumerate(alive, start=1))
    assert mono.cost_drug == pytest.approx(expected, rel=1e-12)


def test_cohort_mass_is_conserved_every_cycle(hiv):
    shares = hiv.trace[["state_a", "state_b", "state_c", "death"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, atol=1e-12)


def test_first_cycle_matches_hand_calculation(hiv):
    """After one year on monotherapy, state A keeps 1251/1734 of the cohort (Table 2.2)."""
    trace = hiv.trace[(hiv.trace.strategy == "monotherapy") & (hiv.trace.cycle == 1)]
    assert trace.state_a.iloc[0] == pytest.approx(1251 / 1734, rel=1e-14)
    assert trace.death.iloc[0] == pytest.approx(17 / 1734, rel=1e-14)


def test_zero_effect_and_zero_added_cost_give_zero_increments(hiv_variant):
    path = hiv_variant(
        {("Parameters", "rr_combination", "value"): 1, ("Parameters", "c_lamivudine", "value"): 0}
    )
    table = run_workbook(path, psa_samples=0, deterministic=False).base_case
    costs = table.set_index("strategy").cost
    lys = table.set_index("strategy").ly
    assert costs["combination"] == pytest.approx(costs["monotherapy"], rel=1e-14)
    assert lys["combination"] == pytest.approx(lys["monotherapy"], rel=1e-14)
    # identical strategies: the later-declared one is reported as dominated
    assert set(table.status) == {"nd", "d"}


def test_zero_discount_equals_undiscounted_sum(hiv, hiv_variant):
    path = hiv_variant({("Settings", "discount_rate_costs", "value"): 0})
    undiscounted = run_workbook(path, psa_samples=0, deterministic=False)
    mono_trace = hiv.trace[hiv.trace.strategy == "monotherapy"]
    states = mono_trace[["state_a", "state_b", "state_c"]].to_numpy()[1:]
    per_year = np.array([1701 + 1055 + 2278, 1774 + 1278 + 2278, 6948 + 2059 + 2278])
    expected = float((states @ per_year).sum())
    assert _row(undiscounted, "monotherapy").cost == pytest.approx(expected, rel=1e-12)
    assert _row(undiscounted, "monotherapy").cost > _row(hiv, "monotherapy").cost


def test_scaling_all_costs_scales_icer(hiv, hiv_variant):
    edits = {
        ("Parameters", name, "value"): 2 * value
        for name, value in {
            "c_dmed_a": 1701,
            "c_dmed_b": 1774,
            "c_dmed_c": 6948,
            "c_ccare_a": 1055,
            "c_ccare_b": 1278,
            "c_ccare_c": 2059,
            "c_zidovudine": 2278,
            "c_lamivudine": 2086.5,
        }.items()
    }
    doubled = run_workbook(hiv_variant(edits), psa_samples=0, deterministic=False)
    assert _row(doubled, "combination").icer == pytest.approx(
        2 * _row(hiv, "combination").icer, rel=1e-12
    )


def test_summary_records_provenance(hiv):
    import hashlib

    summary = hiv.summary
    assert summary["input_sha256"] == hashlib.sha256(HIV_WORKBOOK.read_bytes()).hexdigest()
    assert summary["seed"] == 1997
    assert summary["costmodel_version"]
    assert summary["icer_table"][1]["strategy"] == "combination"
