"""What an assessment committee needs from the MSC evaluation (issue #13).

Reference numbers: the trials' own counts (Bowdish 2023: 42/112 vs 47/110; Chen 2020:
3/17 vs 24/44), the pooled DerSimonian-Laird point estimate (0.7558, evidence note), Qin 2024's
day-90 RR (0.91), RECOVERY usual-care counts (tocilizumab 729/2094 = 580/1800 + 149/294;
baricitinib 546/4008) and hand calculations given in each test.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from costmodel.analyses.subgroups import by_entry_state, mix
from costmodel.api import run_workbook
from costmodel.cli import main
from costmodel.model import run_model
from costmodel.model.effect import effect_after, effect_weight
from costmodel.outcomes import share_at_day
from costmodel.parameters import evaluate_parameters, sample_parameters
from costmodel.validate import load_inputs
from tests.conftest import ROOT

COVID = ROOT / "inputs" / "msc_covid19.xlsx"
FLU = ROOT / "inputs" / "msc_influenza_ards.xlsx"
US = ROOT / "inputs" / "msc_covid19_us.xlsx"


@pytest.fixture(scope="module")
def covid_inputs():
    return load_inputs(COVID)


@pytest.fixture(scope="module")
def covid_run(tmp_path_factory):
    """The default NHS workbook through the CLI with a small PSA (every analysis on)."""
    out = tmp_path_factory.mktemp("covid") / "out"
    assert main(["run", str(COVID), "--out", str(out), "--psa-samples", "300"]) == 0
    return out


def _death_rr(inputs, day: float, values=None) -> float:
    """Risk ratio of death by ``day``, MSC cells vs standard care, whole cohort."""
    decision = inputs.decision_inputs()
    out = run_model(decision, values, keep_trace=True)
    dead = share_at_day(decision, out, ("dead",), day)[0]
    keys = list(decision.strategy_keys)
    return float(dead[keys.index("msc_cells")] / dead[keys.index("standard_care")])


# --- 2. how long the effect lasts ---------------------------------------------------------


def test_day_28_rr_is_the_pooled_rr_and_day_90_rr_is_qin_2024(covid_inputs):
    """Day 28: the pooled DL estimate 0.7558; day 90: Qin 2024's 0.91 (± 0.02, issue)."""
    assert _death_rr(covid_inputs, 28) == pytest.approx(0.7558, abs=0.005)
    assert _death_rr(covid_inputs, 90) == pytest.approx(0.91, abs=0.02)


def test_permanent_effect_scenario_keeps_more_deaths_averted_at_day_90(covid_inputs):
    """Without delayed deaths the day-90 RR is well below 0.91 (the first release's 0.85)."""
    scenario = [s.name for s in covid_inputs.scenarios].index("effect_ends_day_28")
    variant = covid_inputs.scenario_variants[scenario]
    assert _death_rr(variant, 28) == pytest.approx(0.7558, abs=0.005)
    assert _death_rr(variant, 90) < 0.88


def test_influenza_day_28_rr_reproduces_the_source_rr():
    """Chen 2020: 3/17 vs 24/44 = 0.3235; the first release delivered 0.279."""
    source = (3 / 17) / (24 / 44)
    assert _death_rr(load_inputs(FLU), 28) == pytest.approx(source, abs=0.005)


@pytest.mark.parametrize(
    ("waning", "day", "expected"),
    [
        ("none", 27.0, 1.0),
        ("none", 29.0, 0.0),
        ("linear", 59.0, 0.5),  # halfway from day 28 to day 90
        ("exponential", 59.0, 0.1),  # 0.01 ** 0.5
        ("exponential", 90.0, 0.0),
    ],
)
def test_effect_weight_follows_the_declared_waning(covid_inputs, waning, day, expected):
    settings = replace(
        covid_inputs.settings,
        effect_start_day=0.0,
        effect_end_day=28.0,
        effect_waning=waning,
        effect_waning_end_day=90.0,
    )
    assert effect_weight(np.array([day]), settings)[0] == pytest.approx(expected, abs=1e-12)
    assert effect_after(np.array([95.0]), settings)[0] == 1.0


# --- 1. hypothetical strategies -------------------------------------------------------------


def test_hypothetical_strategy_is_in_no_decision_output(covid_run):
    for name in ("base_case", "psa_summary", "ceac", "psa_samples", "outcomes", "subgroups"):
        table = pd.read_csv(covid_run / f"{name}.csv")
        assert "msc_secretome" not in set(table.strategy), name
    assert "msc_secretome" not in set(pd.read_csv(covid_run / "scenarios.csv").strategy)
    assert "msc_secretome" not in set(pd.read_csv(covid_run / "voi_by_price.csv").best_strategy)
    hypothetical = pd.read_csv(covid_run / "hypothetical.csv")
    assert set(hypothetical.strategy) == {"msc_secretome"}
    assert hypothetical.threshold_price.notna().all()


def test_removing_the_hypothetical_strategy_changes_no_decision_output(tmp_path, covid_run):
    """The decision tables are the same with the secretome row deleted from the workbook."""
    wb = load_workbook(COVID)
    ws = wb["Strategies"]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "msc_secretome")
    ws.delete_rows(row)
    path = tmp_path / "no_secretome.xlsx"
    wb.save(path)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--psa-samples", "300"]) == 0
    for name in ("base_case", "ceac", "evpi", "evsi"):
        pd.testing.assert_frame_equal(
            pd.read_csv(covid_run / f"{name}.csv"), pd.read_csv(out / f"{name}.csv")
        )
    assert not (out / "hypothetical.csv").exists()


def test_hypothetical_threshold_price_makes_its_inmb_zero(covid_inputs, covid_run):
    """At its threshold price per dose, the secretome's INMB versus standard care is 0."""
    table = pd.read_csv(covid_run / "hypothetical.csv")
    row = table.iloc[0]
    strategies = tuple(
        s for s in covid_inputs.strategies if s.key in ("standard_care", "msc_secretome")
    )
    pair = replace(covid_inputs, strategies=strategies, scenario_variants=())
    values = evaluate_parameters(pair, {"c_secretome_dose": np.array([row.threshold_price])})
    out = run_model(pair, values)
    inmb = row.wtp * (out.qaly[0, 1] - out.qaly[0, 0]) - (out.cost[0, 1] - out.cost[0, 0])
    assert inmb == pytest.approx(0.0, abs=1e-3)


# --- 3. evidence synthesis ----------------------------------------------------------------


def test_largest_trial_alone_is_bowdish(covid_run):
    """Bowdish 2023: 42/112 vs 47/110, RR (42/112)/(47/110) = 0.8777 (published 0.88)."""
    table = pd.read_csv(covid_run / "evidence_sensitivity.csv").set_index("analysis")
    alone = table.loc["largest trial alone (BOWDISH2023)"]
    assert alone.rr == pytest.approx((42 / 112) / (47 / 110), rel=1e-9)
    assert int(alone.k) == 1
    assert table.loc["as selected"].icer < alone.icer  # the big sham-controlled trial: worse


# --- 4. baseline uncertainty ----------------------------------------------------------------


def test_baseline_probabilities_vary_in_the_psa_with_the_targets_uncertainty(covid_inputs):
    """The standard-care day-28 mortality over PSA draws has the SD of the calibration
    counts: deaths (580/1800 non-IMV, 149/294 IMV) binomial, SD = sqrt(1800 p1 q1 +
    294 p2 q2) / 2094 = 0.0103 (hand calculation); 15% tolerance (Monte Carlo and the
    linearization)."""
    decision = replace(
        covid_inputs.decision_inputs(),
        strategies=covid_inputs.strategies[:1],
        scenario_variants=(),
    )
    n = 2000
    draws = sample_parameters(decision, 11, 0, n)
    assert draws["p_o2_death"].std() > 0 and draws["p_imv_death"].std() > 0
    values = evaluate_parameters(decision, draws, n)
    out = run_model(decision, values, keep_trace=True)
    mortality = share_at_day(decision, out, ("dead",), 28)[:, 0]
    p1, p2 = 580 / 1800, 149 / 294
    expected = math.sqrt(1800 * p1 * (1 - p1) + 294 * p2 * (1 - p2)) / 2094
    assert mortality.std() == pytest.approx(expected, rel=0.15)
    assert mortality.mean() == pytest.approx(729 / 2094, abs=0.005)


def test_psa_samples_carry_the_calibrated_probabilities(covid_run):
    samples = pd.read_csv(covid_run / "psa_samples.csv")
    for name in ("p_o2_death", "p_o2_disch", "p_niv_imv", "p_imv_death", "p_imv_lib"):
        assert samples[name].std() > 0, name


def test_current_era_scenario_matches_its_cohort_and_keeps_the_trial_rrs(covid_inputs):
    """RECOVERY-baricitinib usual care: 546/4008 died by day 28."""
    names = [s.name for s in covid_inputs.scenarios]
    era = covid_inputs.scenario_variants[names.index("current_era_baseline")].decision_inputs()
    out = run_model(era, keep_trace=True)
    reference = era.strategy_keys.index("standard_care")
    assert share_at_day(era, out, ("dead",), 28)[0, reference] == pytest.approx(
        546 / 4008, abs=0.001
    )
    assert _death_rr(era, 28) == pytest.approx(0.7558, abs=0.005)
    assert _death_rr(era, 90) == pytest.approx(0.91, abs=0.02)


# --- 5. subgroups ---------------------------------------------------------------------------


def test_whole_cohort_equals_entry_weighted_subgroups(covid_inputs):
    """RECOVERY entry mix 933 : 867 : 294 (O2 : HFNO/NIV : IMV)."""
    decision = covid_inputs.decision_inputs()
    whole = run_model(decision)
    runs = by_entry_state(decision, {"o2", "niv", "imv"})
    shares = {"o2": 933 / 2094, "niv": 867 / 2094, "imv": 294 / 2094}
    groups = {g.name: g for g in covid_inputs.subgroups}
    single = {next(iter(g.weights)): g for g in groups.values() if len(g.weights) == 1}
    for field in ("cost", "qaly", "ly"):
        combined = sum(shares[s] * getattr(mix(single[s], runs), field) for s in shares)
        np.testing.assert_allclose(combined, getattr(whole, field), rtol=1e-12)


def test_subgroups_table_has_threshold_price_and_evpi(covid_run):
    table = pd.read_csv(covid_run / "subgroups.csv")
    assert set(table.subgroup) >= {"Low-flow oxygen at entry", "IMV at entry"}
    for column in ("threshold_price_20000", "evpi_per_patient_20000"):
        assert table[column].notna().all()
        assert (table["evpi_per_patient_20000"] >= 0).all()


# --- 6. value of research by price -----------------------------------------------------------


def test_voi_by_price_evpi_equals_a_psa_rerun_at_that_price(covid_run, covid_inputs):
    """Costs at another price follow the PSA's draws exactly (cost linear in price)."""
    from costmodel import cea
    from costmodel.analyses import test_and_treat
    from costmodel.analyses.psa import run_psa

    table = pd.read_csv(covid_run / "voi_by_price.csv")
    row = table[~table.is_base_price].iloc[0]
    decision = covid_inputs.decision_inputs()
    psa = run_psa(decision, 300, decision.settings.seed)
    values = evaluate_parameters(
        decision, {**psa.parameters, row.parameter: np.full(300, row.price)}, 300
    )
    cost = run_model(decision, values).cost
    cost = np.column_stack([cost, test_and_treat.cost_column(decision, values, cost)])
    psa = test_and_treat.extend_psa(decision, psa)
    evpi = cea.evpi(cost, psa.qaly, [row.wtp])[0]
    assert row.evpi_per_patient == pytest.approx(evpi, rel=1e-9, abs=1e-6)


def test_evsi_is_reported_at_every_wtp_with_its_standard_error(covid_run):
    evsi = pd.read_csv(covid_run / "evsi.csv")
    assert sorted(evsi.wtp.unique()) == [20000, 30000]
    assert (evsi.se >= 0).all()
    assert not evsi[evsi.enbs <= 0].optimal.any()  # no size is "optimal" at a loss


# --- 7. test-and-treat -----------------------------------------------------------------------


def test_test_and_treat_is_a_strategy_of_the_decision(covid_run):
    for name in ("base_case", "psa_summary", "ceac"):
        assert "test_and_treat" in set(pd.read_csv(covid_run / f"{name}.csv").strategy), name


def test_test_and_treat_mixes_the_arms_as_its_shares_say(covid_inputs):
    """Hand calculation of the mixture at the base case: shares pi se, (1 - pi)(1 - sp) and
    the rest untreated, plus the test cost."""
    from costmodel.analyses.test_and_treat import extend_outcomes

    decision = covid_inputs.decision_inputs()
    values = evaluate_parameters(decision)
    base = run_model(decision)
    extended = extend_outcomes(decision, base, values)
    pi, se, sp = (values[k][0] for k in ("biomarker_prevalence", "test_sensitivity",
                                         "test_specificity"))  # fmt: skip
    keys = list(decision.strategy_keys)
    s, r = keys.index("msc_cells"), keys.index("standard_care")

    def cost_with(rr: float) -> float:
        overrides = {"rr_death_msc": np.array([rr])}
        return run_model(decision, evaluate_parameters(decision, overrides)).cost[0, s]

    expected = (
        pi * se * cost_with(values["rr_death_biomarker_pos"][0])
        + (1 - pi) * (1 - sp) * cost_with(values["rr_death_biomarker_neg"][0])
        + (1 - pi * se - (1 - pi) * (1 - sp)) * base.cost[0, r]
        + values["c_test"][0]
    )
    assert extended.cost[0, -1] == pytest.approx(expected, rel=1e-12)


# --- 8. corrections ---------------------------------------------------------------------------


def test_dose_is_continuous_by_default_and_whole_bags_in_the_scenario(covid_inputs):
    """2e6 cells/kg x 80 kg / 135e6 cells per bag = 1.185 bags; whole bags: 2."""
    values = evaluate_parameters(covid_inputs)
    assert values["bags_per_infusion"][0] == pytest.approx(2 * 80 / 135, rel=1e-12)
    names = [s.name for s in covid_inputs.scenarios]
    whole = covid_inputs.scenario_variants[names.index("whole_bags")]
    assert evaluate_parameters(whole)["bags_per_infusion"][0] == 2


def test_us_survivors_carry_ongoing_health_care_costs():
    """Kelton/Whittington: $12,073 a year at 45-64, $20,071 at 65-84; UK excludes them."""
    us = run_workbook(US, psa_samples=0, deterministic=False)
    uk = run_workbook(COVID, psa_samples=0, deterministic=False)
    us_cost = us.base_case.set_index("strategy").loc["standard_care", "cost_survivor"]
    assert us_cost > 12073  # more than one year of survivor costs per patient
    assert uk.base_case.set_index("strategy").loc["standard_care", "cost_survivor"] == 0


def test_report_has_the_committee_sections(covid_run):
    text = (covid_run / "report.html").read_text()
    for title in (
        "Hypothetical strategies: what they would be worth",
        "Subgroups",
        "Value of research by product price",
        "Limitations",
        "How much the effect leans on each trial",
    ):
        assert title in text, title


def test_the_summary_says_what_the_threshold_price_compares_and_what_is_assumed(covid_run):
    """From an HTA review: the threshold price (GBP 2,766 at GBP 20,000) only makes MSC's
    ICER versus standard care equal the WTP, and test-and-treat, on the frontier, rests on
    assumed biomarker inputs only; the summary says both."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    summary = text[text.index("<section id='summary'") : text.index("<section id='problem'")]
    assert "At that price, Standard care + MSC's ICER versus Standard care equals the" in summary
    assert "Test and treat (responder biomarker) rests on assumed inputs" in summary
    assert "biomarker test cost are [A]" in summary


def test_report_tables_name_strategies_by_their_labels(covid_run):
    """From an HTA review: strategy keys (msc_cells, standard_care) filled the base-case,
    DSA, threshold, scenario, PSA and biomarker tables of report.html; they show labels now
    (the CSVs keep the keys)."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    text = text[: text.index("<section id='provenance'")]  # settings as written stay there
    for key in ("msc_cells", "standard_care", "test_and_treat", "msc_early"):
        assert f"<td>{key}</td>" not in text, key
    assert "<td>Standard care + MSC</td>" in text
    assert "msc_cells" in set(pd.read_csv(covid_run / "dsa_oneway.csv").strategy)


def test_voi_by_price_reports_no_sample_information_where_no_trial_is_worth_running(covid_run):
    """Where no trial size has a positive ENBS (the base price at GBP 30,000 in an HTA
    review), the best choice is no trial: n = 0, ENBS 0 and EVSI 0 (it showed the n = 200
    trial's EVSI of 84 per patient beside n = 0); elsewhere the EVSI is the chosen trial's."""
    table = pd.read_csv(covid_run / "voi_by_price.csv")
    none = table[table.optimal_n_per_arm == 0]
    assert len(none) and (none[["evsi_per_patient", "evsi_population", "enbs"]] == 0).all().all()
    chosen = table[table.optimal_n_per_arm > 0]
    assert len(chosen) and (chosen.evsi_per_patient > 0).all() and (chosen.enbs > 0).all()


def test_limitations_name_the_gap_between_deterministic_and_probabilistic_icers(covid_run):
    """From an HTA review: MSC's ICER versus standard care is about 20% higher at the PSA
    means than in the base case; Limitations states both numbers, read here from
    base_case.csv and psa_summary.csv."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    section = text[text.index("<section id='limitations'") :]
    section = section[: section.index("</section>")]
    det = pd.read_csv(covid_run / "base_case.csv").set_index("strategy")
    det = det.loc["msc_cells", "icer_per_qaly_vs_reference"]
    prob = pd.read_csv(covid_run / "psa_summary.csv").set_index("strategy")
    prob = prob.loc["msc_cells", "icer_of_means"]
    assert prob > 1.1 * det
    assert f"Standard care + MSC GBP {det:,.0f} deterministic, GBP {prob:,.0f} probabilistic" in (
        section
    )


def test_subgroup_threshold_prices_and_evpi_are_shown_once_per_subgroup(covid_run):
    """From an HTA review: each subgroup's threshold price and EVPI were repeated on every
    strategy row, the EVPI to 3 decimals and without a unit. They are now one row per
    subgroup, headed with their units, the prices as in subgroups.csv."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    section = text[text.index("<section id='subgroups'") :]
    section = section[: section.index("</section>")]
    table = pd.read_csv(covid_run / "subgroups.csv").drop_duplicates("subgroup")
    header = "Threshold price (GBP per infusion) at GBP 20,000 per QALY"
    assert section.count(header) == 1 and "EVPI per patient (GBP) at GBP 20,000 per QALY" in section
    for row in table.itertuples():
        assert f"<td class='num'>{row.threshold_price_20000:,.0f}</td>" in section


def test_a_test_cost_that_cannot_help_is_said_in_words(covid_run):
    """biomarker.csv's negative largest test cost means test-and-treat is not optimal even
    with a free test; the report says so instead of showing a negative price."""
    table = pd.read_csv(covid_run / "biomarker.csv")
    assert (table.max_test_cost_20000.dropna() < 0).any()
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    section = text[text.index("<section id='biomarker'") :]
    section = section[: section.index("</section>")]
    assert "none: not optimal even with a free test" in section


def test_biomarker_deaths_by_day_agree_with_the_base_case(covid_run):
    """biomarker.csv's deaths by day: the reference's and test-and-treat's equal the base
    case's (base_case.csv, the same strategies run on another path: test_and_treat's traces
    mixed into the base case); the treat-all arm is a mix of runs at RR+ and RR-."""
    biomarker = pd.read_csv(covid_run / "biomarker.csv").set_index("strategy")
    base = pd.read_csv(covid_run / "base_case.csv").set_index("strategy")
    for day in (28, 90):
        column = f"deaths_day_{day}"
        for key in ("standard_care", "test_and_treat"):
            assert biomarker.loc[key, column] == pytest.approx(base.loc[key, column], rel=1e-9)
    # treat-all by hand: the whole cohort run at RR+ and at RR- (the model's own runs, with
    # the effect set here), mixed 0.4 : 0.6 (prevalence); deaths read off the traces
    inputs = load_inputs(COVID)
    values = evaluate_parameters(inputs)
    arm = inputs.decision_inputs().with_strategies(["msc_cells"])
    draws = {n: v for n, v in values.items() if n not in ("hr_death_msc", "rr_death_biomarker_neg")}
    deaths = {}
    for rr in (values["rr_death_biomarker_pos"][0], values["rr_death_biomarker_neg"][0]):
        at = evaluate_parameters(arm, {**draws, "rr_death_msc": rr})
        out = run_model(arm, at, keep_trace=True)
        deaths[rr] = [share_at_day(arm, out, ("dead",), d)[0, 0] for d in (28, 90)]
    pi = values["biomarker_prevalence"][0]
    assert pi == 0.4
    pos, neg = deaths.values()
    for i, day in enumerate((28, 90)):
        by_hand = pi * pos[i] + (1 - pi) * neg[i]
        assert biomarker.loc["treat_all", f"deaths_day_{day}"] == pytest.approx(by_hand, rel=1e-6)


def test_report_says_where_the_biomarker_treat_all_arm_departs_from_the_base_case(covid_run):
    """From the last review: biomarker.csv's treat-all arm (6.314 QALYs) is not the base
    case's MSC cells (6.357) although both give everyone MSC, because the effect is split
    between RR+ and RR- on a model not linear in it. The biomarker section and Limitations
    say so with both numbers, read here from the CSVs."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    biomarker = pd.read_csv(covid_run / "biomarker.csv").set_index("strategy")
    base = pd.read_csv(covid_run / "base_case.csv").set_index("strategy")
    arm, same = biomarker.loc["treat_all", "effect"], base.loc["msc_cells", "qaly"]
    share = (same - arm) / (same - base.loc["standard_care", "qaly"])
    assert 0.05 < share < 0.2  # 0.043 of 0.376 QALYs
    section = text[text.index("<section id='biomarker'") :]
    section = section[: section.index("</section>")]
    assert f"{arm:.3f} against {same:.3f} QALYs ({share:.0%} of the base case" in section
    d90 = biomarker.loc["treat_all", "deaths_day_90"], base.loc["msc_cells", "deaths_day_90"]
    assert f"deaths by day 90: {1000 * d90[0]:.0f} against {1000 * d90[1]:.0f} per 1,000" in section
    assert "Deaths by day 90 (per 1,000)" in section
    limitations = text[text.index("<section id='limitations'") :]
    limitations = limitations[: limitations.index("</section>")]
    assert f"differs from the base case by {share:.0%} of its QALY gain" in limitations


def test_summary_reports_the_frontier_at_the_psa_means(covid_run):
    """From an HTA review: MSC's frontier ICER at the PSA means (about 78,000 after
    test-and-treat at 1,000 samples) is far above the deterministic 49,354 the summary
    showed alone. psa_summary.csv has the fully incremental analysis of the means; the
    summary shows it beside the deterministic one and Limitations names the gap. Each
    ICER is checked here against the PSA means it comes from."""
    psa = pd.read_csv(covid_run / "psa_summary.csv").set_index("strategy")
    mean = psa.loc["msc_cells"]
    before = psa.loc[mean.comparator_of_means]
    expected = (mean.cost_mean - before.cost_mean) / (mean.qaly_mean - before.qaly_mean)
    assert mean.status_of_means == "nd"
    assert mean.frontier_icer_of_means == pytest.approx(expected, rel=1e-6)  # CSV digits
    assert psa.loc["standard_care", "status_of_means"] == "nd"
    assert np.isnan(psa.loc["standard_care", "frontier_icer_of_means"])
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    summary = text[text.index("<section id='summary'") : text.index("<section id='problem'")]
    assert f"Standard care + MSC GBP {expected:,.0f} per QALY" in summary
    assert "ICER along the frontier, PSA means (GBP per QALY)" in summary
    base = pd.read_csv(covid_run / "base_case.csv").set_index("strategy")
    det = base.loc["msc_cells", "icer"]
    if abs(expected - det) > 0.1 * det:
        limitations = text[text.index("<section id='limitations'") :]
        limitations = limitations[: limitations.index("</section>")]
        assert f"Standard care + MSC GBP {det:,.0f} versus" in limitations
        assert f"GBP {expected:,.0f} versus" in limitations


def test_summary_states_the_population_and_what_nnt_counts(covid_run):
    """The population EVPI's multiplier in words: 20,000 patients a year for 5 years, each
    year discounted at 3.5% to its start, 20,000 x (1 + 1/1.035 + ... + 1/1.035^4) = 93,462
    (hand calculation); NNT counts every patient a strategy is adopted for, treated or not
    (MSC late treats only those on IMV at entry); test-and-treat's assumed inputs include
    the effect in biomarker-positive patients, which drives its gain."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    summary = text[text.index("<section id='summary'") : text.index("<section id='problem'")]
    patients = 20000 * sum(1.035**-t for t in range(5))
    assert round(patients) == 93462
    assert (
        "Population: 93,462 patients (20,000 a year for 5 years, each year discounted at 3.5% "
        "to its start)" in summary
    )
    assert "NNT: patients managed with the strategy per death averted" in summary
    assert "risk ratio of death with MSC in biomarker-positive patients" in summary
    outcomes = pd.read_csv(covid_run / "outcomes.csv")
    units = set(outcomes[outcomes.measure.str.startswith("nnt")].unit)
    assert units == {"patients managed with the strategy per death averted"}


def test_report_discloses_the_life_table_behind_background_mortality(covid_run):
    """From an HTA review: the NHS England workbook's background mortality is the US 2018
    life table (the ONS table was not transcribed), said only in the README. Settings
    life_table_source now carries it with its [A] flag; Inputs and Limitations show it."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    source = "US SSA period life table, 2018 data year, standing in for England [A]"
    inputs = text[text.index("<section id='inputs'") :]
    assert f"Background mortality (LifeTable): {source}" in inputs[: inputs.index("</section>")]
    limitations = text[text.index("<section id='limitations'") :]
    assert f"Background mortality: {source}" in limitations[: limitations.index("</section>")]


def test_scenarios_name_the_optimal_strategy_and_the_frontier_at_each_wtp(covid_run):
    """From an HTA review: scenarios compared each strategy with standard care at the first
    WTP only, so a reader could not tell which strategy a scenario makes optimal. Each
    scenario now has its frontier (status, comparator, ICER) and the optimal strategy at
    every WTP; checked here against the scenario's own costs and QALYs."""
    table = pd.read_csv(covid_run / "scenarios.csv")
    for _, rows in table.groupby("scenario", sort=False):
        rows = rows.set_index("strategy")
        for w in (20000, 30000):
            nmb = w * rows.qaly - rows.cost
            assert rows[f"optimal_{w}"].sum() == 1
            assert rows[f"optimal_{w}"].idxmax() == nmb.idxmax()
            assert rows.loc[nmb.idxmax(), "status"] == "nd"
        for strategy, row in rows[rows.frontier_icer.notna()].iterrows():
            before = rows.loc[row.frontier_comparator]
            icer = (row.cost - before.cost) / (row.qaly - before.qaly)
            assert row.frontier_icer == pytest.approx(icer, rel=1e-6), strategy
    # the scenarios' base case is the ICER table: the same strategies, test-and-treat
    # included (it was left out, so the two frontiers disagreed), costs, QALYs and frontier
    base = pd.read_csv(covid_run / "base_case.csv").set_index("strategy")
    rows = table[table.scenario == "base case"].set_index("strategy")
    assert set(rows.index) == set(base.index)
    for strategy in rows.index:
        for column in ("cost", "qaly"):
            assert rows.loc[strategy, column] == pytest.approx(base.loc[strategy, column], rel=1e-9)
        assert rows.loc[strategy, "status"] == base.loc[strategy, "status"]
    on = rows.frontier_icer.notna()
    np.testing.assert_allclose(rows.frontier_icer[on], base.icer[rows.index[on]], rtol=1e-9)


def test_every_figure_has_a_caption_in_words(covid_run):
    """report.html captioned the value-of-research figure 'voi by price' (its file name);
    every figure the default run draws has a caption in words."""
    from costmodel.reports.html_elements import FIGURE_TEXT, figure_text

    names = {p.stem for p in (covid_run / "figures").glob("*.svg")}
    assert "voi_by_price" in names
    assert names <= set(FIGURE_TEXT), names - set(FIGURE_TEXT)
    assert figure_text("twoway_2") == FIGURE_TEXT["twoway"]


def test_value_of_research_states_its_uncertainty_and_no_trial_in_words(covid_run):
    """From an HTA review: 'no trial is worth running' rested on ENBS estimates within their
    Monte Carlo error (-0.16m against an SE of about 1.8m), and voi_by_price printed EVSI 0
    where no trial is worth running. evsi.csv now has enbs_se (the EVSI's SE times the
    population, 93,462 by hand) and flags ENBS within 2 SE of 0; the report shows 'none
    worth running' and '—' for those rows (the CSV keeps 0)."""
    evsi = pd.read_csv(covid_run / "evsi.csv")
    patients = 20000 * sum(1.035**-t for t in range(5))
    np.testing.assert_allclose(evsi.enbs_se, evsi.se * patients, rtol=1e-6)
    close = (evsi.enbs.abs() < 2 * evsi.enbs_se) & (evsi.enbs_se > 0)
    flags = evsi.flag.fillna("")
    assert close.any()
    assert flags[close].str.contains("ENBS within 2 SE of 0").all()
    assert not flags[~close].str.contains("ENBS within 2 SE").any()
    prices = pd.read_csv(covid_run / "voi_by_price.csv")
    none = int((prices.optimal_n_per_arm == 0).sum())
    assert none > 0 and (prices.loc[prices.optimal_n_per_arm == 0, "enbs"] == 0).all()
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    section = text[text.index("<section id='voi_by_price'") :]
    section = section[: section.index("</section>")]
    assert section.count("<td>none worth running</td>") == none
    assert section.count("<td>—</td>") == 4 * none


def test_psa_intervals_are_named_as_percentiles(covid_run):
    """From an HTA review: psa_summary's low and high columns did not say they are the 2.5th
    and 97.5th percentiles over the samples; the report's headers now do."""
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    section = text[text.index("<section id='psa'") :]
    section = section[: section.index("</section>")]
    for header in ("Cost, 2.5th percentile", "Incremental cost, 97.5th percentile"):
        assert f"<th scope='col'>{header}</th>" in section
    assert "<th scope='col'>Cost low</th>" not in section


def test_report_lists_every_scenario_once_with_all_its_rows(covid_run):
    """The scenarios table repeated each long description on every strategy's row and showed
    the first 60 of its rows; each scenario's name now heads its rows once, and all rows are
    shown."""
    table = pd.read_csv(covid_run / "scenarios.csv")
    text = (covid_run / "report.html").read_text(encoding="utf-8")
    section = text[text.index("<h3>Scenarios</h3>") :]
    section = section[: section.index("</section>")].replace("<wbr>", "")  # break points
    assert len(table) > 60 and "First 60 of" not in section
    for name in set(table.scenario):
        assert section.count(f"<td>{name}</td>") == 1, name
