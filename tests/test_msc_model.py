"""The default MSC workbooks: calibration, evidence synthesis, effect conversion, strategies.

Reference values for the synthesis are the hand-computed pooled estimates in the project's
evidence note (msc_trials.md, section 3: DL and MH on the same trial counts).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from openpyxl import load_workbook

from costmodel.api import run_workbook
from costmodel.evidence import Selection, synthesize
from costmodel.validate import load_inputs
from tests.conftest import ROOT, edit_workbook

WORKBOOKS = ["msc_covid19.xlsx", "msc_covid19_us.xlsx", "msc_influenza_ards.xlsx"]
COVID = ROOT / "inputs" / "msc_covid19.xlsx"


@pytest.fixture(scope="module")
def covid():
    return run_workbook(COVID, psa_samples=0, deterministic=False)


@pytest.mark.parametrize("name", WORKBOOKS)
def test_standard_care_meets_every_calibration_target_within_one_point(name):
    result = run_workbook(ROOT / "inputs" / name, psa_samples=0, deterministic=False)
    table = result.calibration
    assert len(table) >= 2
    for row in table.itertuples():
        assert abs(row.model - row.target) <= 0.01, row.key
    # nobody is left in hospital at the end of the 90-day acute phase (< 1%)
    trace = result.trace
    last = trace[(trace.phase == "acute") & (trace.cycle == 90)]
    in_hospital = last[["o2", "niv", "imv", "ward_post_imv"]].sum(axis=1)
    assert in_hospital.max() < 0.01


def test_overall_28_day_mortality_matches_recovery_usual_care(covid):
    """Not a target itself: 729/2094 died by day 28 in RECOVERY-tocilizumab usual care."""
    soc = covid.base_case.set_index("strategy").loc["standard_care"]
    assert soc.deaths_day_28 == pytest.approx(729 / 2094, abs=0.01)


def _trials(path=COVID):
    return load_inputs(path)


def test_synthesis_of_randomized_covid_trials_matches_hand_computed_pool(covid):
    """Evidence note, set (b): MH 0.78 (0.61-1.01); DL 0.76 (0.55-1.05), tau2 0.031,
    I2 16%, 95% PI 0.40-1.41, k = 7 (DerSimonian-Laird with a Wald interval)."""
    inputs = covid.inputs
    wald = synthesize(list(inputs.trials), inputs.synthesis.selection)  # DL + Wald
    dl, mh = wald.dl, wald.mh
    assert dl.k == 7
    assert (round(dl.rr, 2), round(dl.ci_low, 2), round(dl.ci_high, 2)) == (0.76, 0.55, 1.05)
    assert round(dl.tau2, 3) == 0.031 and round(100 * dl.i2) == 16
    assert (round(dl.pi_low, 2), round(dl.pi_high, 2)) == (0.40, 1.41)
    assert (round(mh.rr, 2), round(mh.ci_low, 2), round(mh.ci_high, 2)) == (0.78, 0.61, 1.01)


def test_default_synthesis_is_dl_with_the_hksj_interval_for_seven_trials(covid):
    """Fewer than 10 trials: Hartung-Knapp-Sidik-Jonkman interval by default. The external
    appraisal's independent re-analysis (shared/reviews/msc_appraisal.md, section 1.3) gives
    DL + HKSJ (t6) 0.756 (0.500-1.143); the PSA lognormal has the SD whose 95% interval is
    that CI."""
    dl = covid.inputs.synthesis.dl
    assert (dl.method, dl.interval, dl.k) == ("DL", "HKSJ", 7)
    assert (round(dl.rr, 3), round(dl.ci_low, 3), round(dl.ci_high, 3)) == (0.756, 0.500, 1.143)
    effect = covid.inputs.parameter("rr_death_msc")
    assert effect.distribution == "lognormal"
    assert effect.dist_params[0] == pytest.approx(math.log(dl.rr), rel=1e-12)
    assert effect.dist_params[1] == pytest.approx(
        (math.log(dl.ci_high) - math.log(dl.rr)) / 1.959963984540054, rel=1e-12
    )
    evidence = covid.evidence
    assert list(evidence.columns[:10]) == [
        "subgroup",
        "method",
        "k",
        "rr",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "i2",
    ]


def _trial_list():
    from costmodel.validate import _Problems, _read_trials
    from costmodel.workbook import read_workbook

    raw = read_workbook(COVID)
    return _read_trials(raw.sheet("Trials"), _Problems("x"))


@pytest.mark.parametrize(
    ("selection", "k", "mh", "dl", "tau2", "i2", "pi"),
    [
        # (a) all comparative COVID-19 studies with counts: Zarrabi's arms combined 3/19 vs 8/24
        (Selection("covid19"), 11, (0.70, 0.55, 0.89), (0.67, 0.49, 0.91), 0.038, 15, (0.38, 1.19)),
        # (c) cell-based only: Zarrabi's MSC-alone arm 3/11 vs 8/24
        (
            Selection("covid19", ("cells",)),
            11,
            (0.72, 0.57, 0.91),
            (0.70, 0.52, 0.94),
            0.027,
            11,
            (0.42, 1.16),
        ),
    ],
)
def test_subgroup_syntheses_match_hand_computed_pools(selection, k, mh, dl, tau2, i2, pi):
    result = synthesize(_trial_list(), selection)
    d, m = result.dl, result.mh
    assert d.k == k
    assert (round(m.rr, 2), round(m.ci_low, 2), round(m.ci_high, 2)) == mh
    assert (round(d.rr, 2), round(d.ci_low, 2), round(d.ci_high, 2)) == dl
    assert round(d.tau2, 3) == tau2 and round(100 * d.i2) == i2
    assert (round(d.pi_low, 2), round(d.pi_high, 2)) == pi


def test_shared_control_is_counted_once():
    studies = synthesize(_trial_list(), Selection("covid19")).studies
    zarrabi = next(s for s in studies if s.trial_id == "ZARRABI2023")
    assert (zarrabi.deaths_msc, zarrabi.n_msc, zarrabi.deaths_control, zarrabi.n_control) == (
        3,
        19,
        8,
        24,
    )


def test_continuity_correction_for_a_zero_cell():
    """Shu 2020, 0/12 vs 3/29: with 0.5 added, RR = (0.5/13)/(3.5/30) = 0.32967."""
    studies = synthesize(_trial_list(), Selection("covid19")).studies
    shu = next(s for s in studies if s.trial_id == "SHU2020")
    assert math.exp(shu.log_rr) == pytest.approx((0.5 / 13) / (3.5 / 30), rel=1e-12)
    assert shu.variance == pytest.approx(1 / 0.5 - 1 / 13 + 1 / 3.5 - 1 / 30, rel=1e-12)


def test_adding_a_trial_row_changes_the_effect(tmp_path):
    target = tmp_path / "more_trials.xlsx"
    wb = load_workbook(COVID)
    ws = wb["Trials"]
    ws.append(
        [
            "NEWTRIAL",
            "MSC",
            "yes",
            "covid19",
            "yes",
            "RCT",
            "cells",
            "",
            300,
            60,
            300,
            90,
            28,
            "low",
            "no",
            "hypothetical",
        ]
    )
    wb.save(target)
    before = load_inputs(COVID).parameter("rr_death_msc").expression.evaluate({})
    after = load_inputs(target).parameter("rr_death_msc").expression.evaluate({})
    assert after < before  # a large trial with RR 0.67 pulls the pool down


def test_hazard_ratio_conversion_reproduces_the_risk_ratio(covid):
    """HR = (ln(1 - RR p0)/ln(1 - p0)) ** scale with p0 = 729/2094, the modelled population's
    standard-care day-28 risk (RECOVERY-tocilizumab usual care), not the trials' 86/225."""
    from costmodel.parameters import evaluate_parameters

    p = evaluate_parameters(covid.inputs)
    rr, p0, scale = p["rr_death_msc"][0], 729 / 2094, p["effect_log_hr_scale"][0]
    assert p["p28_death_control"][0] == pytest.approx(p0, abs=5e-7)  # stored to 6 dp
    hr = math.log(1 - rr * p["p28_death_control"][0]) / math.log(1 - p["p28_death_control"][0])
    assert p["hr_death_msc"][0] == pytest.approx(hr**scale, rel=1e-12)


def test_no_effect_and_no_cost_gives_no_increments(tmp_path):
    path = edit_workbook(
        COVID,
        tmp_path / "null.xlsx",
        {
            ("Settings", "synthesis_effect", "value"): "manual",
            ("Parameters", "rr_death_msc", "value"): 1,
            ("Parameters", "c_msc_infusion", "value"): 0,
            ("Parameters", "c_admin_infusion", "value"): 0,
            ("Parameters", "c_monitor_infusion", "value"): 0,
            ("Parameters", "p_ae_excess", "value"): 0,
        },
    )
    table = run_workbook(path, psa_samples=0, deterministic=False).base_case.set_index("strategy")
    for strategy in ("msc_cells", "msc_early", "msc_late"):
        assert table.loc[strategy, "qaly"] == pytest.approx(
            table.loc["standard_care", "qaly"], rel=1e-13
        )
        assert table.loc[strategy, "cost"] == pytest.approx(
            table.loc["standard_care", "cost"], rel=1e-13
        )


def test_early_and_late_treatment_add_up_to_treating_everyone(covid):
    """Entry strata are independent cohorts, so the gains of treating the O2/NIV stratum and
    the IMV stratum sum to the gain of treating all."""
    table = covid.base_case.set_index("strategy")
    for column in ("qaly", "cost", "ly"):
        gain = table[column] - table.loc["standard_care", column]
        assert gain["msc_early"] + gain["msc_late"] == pytest.approx(gain["msc_cells"], rel=1e-12)


def test_outcomes_table_per_1000_and_nnt(covid):
    outcomes = covid.clinical
    cells = outcomes[outcomes.strategy == "msc_cells"].set_index("measure")
    averted = cells.loc["deaths_averted_day_28", "per_patient"]
    assert averted > 0
    assert cells.loc["nnt_day_28", "per_patient"] == pytest.approx(1 / averted, rel=1e-12)
    assert cells.loc["deaths_day_28", "per_1000_patients"] == pytest.approx(
        1000 * cells.loc["deaths_day_28", "per_patient"], rel=1e-12
    )
    assert np.isnan(cells.loc["nnt_day_28", "per_1000_patients"])
    units = cells["unit"]  # one spelling of the effect units, as in the ICER tables
    assert units["icer_per_qaly_vs_reference"] == "GBP per QALY"
    assert units["icer_per_ly_vs_reference"] == "GBP per LY"
    assert (units["qaly"], units["ly"]) == ("QALYs (discounted)", "LYs (discounted)")
    assert units["ly_undiscounted"] == "LYs"
    categories = {"cost_hospital", "cost_drugs", "cost_msc", "cost_post_discharge"}
    assert categories <= set(cells.index)
    total = sum(cells.loc[c, "per_patient"] for c in categories)
    assert total == pytest.approx(cells.loc["cost", "per_patient"], rel=1e-12)
    base = covid.base_case
    assert {
        "deaths_day_28",
        "deaths_day_90",
        "days_icu",
        "days_hospital",
        "days_imv",
        "nnt_day_28",
        "cost_per_death_averted_day_28",
    } <= set(base.columns)


def test_run_writes_evidence_calibration_outcomes_and_forest_plot(tmp_path):
    from costmodel.cli import main

    out = tmp_path / "covid"
    assert main(["run", str(COVID), "--out", str(out), "--psa-samples", "0"]) == 0
    for name in (
        "base_case.csv",
        "outcomes.csv",
        "evidence.csv",
        "evidence_studies.csv",
        "calibration.csv",
        "figures/forest.png",
        "figures/forest.svg",
    ):
        assert (out / name).exists(), name
