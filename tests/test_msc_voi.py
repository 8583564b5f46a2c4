"""Value of information, biomarker and budget impact on the default MSC workbook."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from costmodel.analyses.biomarker import biomarker_outcomes
from costmodel.analyses.budget import budget_impact
from costmodel.api import run_inputs, run_workbook
from costmodel.parameters import evaluate_parameters
from costmodel.validate import load_inputs
from tests.conftest import ROOT

COVID = ROOT / "inputs" / "msc_covid19.xlsx"


@pytest.fixture(scope="module")
def covid_psa():
    return run_workbook(COVID, psa_samples=800, seed=3, deterministic=False)


def test_evppi_groups_are_bounded_by_evpi(covid_psa):
    evppi, evpi = covid_psa.evppi, covid_psa.evpi
    main = evppi[~evppi.group.str.startswith("biomarker")]
    assert {"effect", "costs", "utilities"} <= set(main.group)
    assert "biomarker" not in set(main.group)  # its parameters never reach the model
    for row in main.itertuples():
        bound = evpi.loc[np.isclose(evpi.wtp, row.wtp), "evpi_per_patient"].iloc[0]
        assert 0 <= row.evppi_per_patient <= bound * 1.0001
    # the treatment effect dominates the decision uncertainty
    at_20k = main[main.wtp == 20000].set_index("group").evppi_per_patient
    assert at_20k.idxmax() == "effect"


def test_population_values_use_the_discounted_horizon(covid_psa):
    settings = covid_psa.inputs.settings
    multiplier = sum(
        settings.population_size / 1.035**t for t in range(settings.decision_horizon_years)
    )
    evpi = covid_psa.evpi
    np.testing.assert_allclose(evpi.evpi_population, evpi.evpi_per_patient * multiplier, rtol=1e-12)


def test_evsi_rises_with_trial_size_and_enbs_subtracts_trial_cost(covid_psa):
    """At the upper WTP, where the decision is uncertain (EVSI is reported at every WTP)."""
    evsi = covid_psa.evsi[covid_psa.evsi.wtp == 30000]
    values = evsi.evsi_per_patient.to_numpy()
    assert values[-1] > values[0]  # larger trials are worth more (Monte Carlo: not strictly)
    effect = covid_psa.evppi
    bound = effect[(effect.group == "effect") & (effect.wtp == 30000)].evppi_per_patient.iloc[0]
    assert values.max() <= bound * 1.05
    settings = covid_psa.inputs.settings
    cost = settings.trial_fixed_cost + 2 * evsi.n_per_arm * settings.trial_cost_per_patient
    np.testing.assert_allclose(evsi.enbs, evsi.evsi_population - cost, rtol=1e-12)
    for _, rows in covid_psa.evsi.groupby("wtp"):
        assert rows.optimal.sum() == (1 if rows.enbs.max() > 0 else 0)
        if rows.optimal.any():
            assert rows.loc[rows.optimal, "enbs"].iloc[0] == rows.enbs.max()


def test_biomarker_reduces_to_treat_all_with_a_perfect_universal_test():
    inputs = load_inputs(COVID)
    values = evaluate_parameters(
        inputs,
        {
            "biomarker_prevalence": 0.999999,
            "test_sensitivity": 1.0,
            "test_specificity": 1.0,
            "c_test": 0.0,
        },
    )
    cost, effect = biomarker_outcomes(inputs, values)
    # everyone positive and treated: test-and-treat equals treat-all
    assert cost[0, 2] == pytest.approx(cost[0, 1], rel=1e-5)
    assert effect[0, 2] == pytest.approx(effect[0, 1], rel=1e-5)


def test_biomarker_default_constraint_keeps_the_pooled_effect():
    inputs = load_inputs(COVID)
    v = evaluate_parameters(inputs)
    pi = v["biomarker_prevalence"][0]
    pooled = pi * v["rr_death_biomarker_pos"][0] + (1 - pi) * v["rr_death_biomarker_neg"][0]
    assert pooled == pytest.approx(v["rr_death_msc"][0], rel=1e-12)
    table = run_workbook(COVID, psa_samples=0, deterministic=False).biomarker
    assert {"standard_care", "treat_all", "test_and_treat"} == set(table.strategy)
    assert "max_test_cost_20000" in table.columns


def test_test_and_treat_can_be_left_out_of_the_decision(covid_psa, tmp_path):
    """Settings biomarker_in_decision no (an HTA reviewer's choice: its inputs are all
    assumptions): test-and-treat leaves the base case, the PSA and the CEAC, the other
    strategies' outcomes and the biomarker analysis are unchanged, and its EVPPI is still
    computed for the test-and-treat decision."""
    out = run_workbook(
        COVID,
        psa_samples=800,
        seed=3,
        deterministic=False,
        overrides={"biomarker_in_decision": False},
    )
    modelled = ["standard_care", "msc_cells", "msc_early", "msc_late"]
    assert sorted(out.base_case.strategy) == sorted(modelled)
    assert "test_and_treat" not in set(out.ceac.strategy) | set(out.psa_summary.strategy)
    with_tt = covid_psa.base_case.set_index("strategy").loc[modelled, ["cost", "qaly"]]
    without = out.base_case.set_index("strategy").loc[modelled, ["cost", "qaly"]]
    pd.testing.assert_frame_equal(with_tt, without, check_exact=True)
    pd.testing.assert_frame_equal(out.biomarker, covid_psa.biomarker, check_exact=True)
    assert out.evppi.group.str.startswith("biomarker").any()
    # the same draws: the modelled strategies' PSA outcomes are the same numbers
    assert out.psa.strategies == covid_psa.psa.strategies[:-1]
    np.testing.assert_array_equal(out.psa.cost, covid_psa.psa.cost[:, :-1])
    np.testing.assert_array_equal(out.psa.qaly, covid_psa.psa.qaly[:, :-1])
    out.write(tmp_path / "out")
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    summary = text[text.index("<section id='summary'") :]
    summary = summary[: summary.index("</section>")]
    assert "Test-and-treat with a responder biomarker is reported separately" in summary
    biomarker = text[text.index("<section id='biomarker'") :]
    biomarker = biomarker[: biomarker.index("</section>")]
    assert "<td>Test and treat (responder biomarker)</td>" in biomarker
    assert "<td>test_and_treat</td>" not in biomarker
    assert "place in the decision" not in biomarker


def test_costs_at_another_price_equal_a_psa_re_run_there_test_and_treat_included():
    """The value of information by price and threshold_psa.csv take each strategy's cost at
    another price from the PSA's own draws. Test-and-treat's runs at RR+ and RR- kept only
    the sampled draws and so the base price (its mean cost 28,388 where a re-run at price 0
    gives 22,623, an HTA review found); every strategy now equals a PSA re-run at that
    price with the same seed."""
    from costmodel.analyses import psa as psa_module
    from costmodel.analyses import test_and_treat
    from costmodel.analyses.voi_by_price import costs_at_prices
    from costmodel.api import load_workbook_inputs, with_overrides

    raw, inputs = load_workbook_inputs(COVID)
    decision = inputs.decision_inputs()
    base = test_and_treat.extend_psa(decision, psa_module.run_psa(decision, 200, 11))
    for price in (0.0, 2000.0):
        moved = with_overrides(raw, inputs, {"c_msc_infusion": price}).decision_inputs()
        rerun = test_and_treat.extend_psa(moved, psa_module.run_psa(moved, 200, 11))
        shortcut = costs_at_prices(decision, base, np.array([price]))[0]
        np.testing.assert_allclose(shortcut, rerun.cost, rtol=1e-12)


def test_optimal_price_range_by_hand():
    """Expected NMB lines a - b x price: A 100 - 0p, B 150 - 10p, C 130 - 4p, D 90 - 5p.
    B is highest on [0, 20/6], C on [20/6, 7.5], A from 7.5 on, D never."""
    from costmodel.analyses.threshold_psa import optimal_price_range

    a, b = np.array([100.0, 150.0, 130.0, 90.0]), np.array([0.0, 10.0, 4.0, 5.0])
    assert optimal_price_range(a, b, 1) == pytest.approx((0.0, 20 / 6), rel=1e-12)
    assert optimal_price_range(a, b, 2) == pytest.approx((20 / 6, 7.5), rel=1e-12)
    assert optimal_price_range(a, b, 0) == (7.5, np.inf)
    assert np.isnan(optimal_price_range(a, b, 3)).all()
    # parallel lines: the higher is best everywhere, the lower nowhere; a tie counts as best
    assert optimal_price_range(np.array([100.0, 80.0]), np.array([1.0, 1.0]), 0) == (0, np.inf)
    assert np.isnan(optimal_price_range(np.array([100.0, 80.0]), np.ones(2), 1)).all()
    assert optimal_price_range(np.array([100.0, 100.0]), np.ones(2), 1) == (0, np.inf)


def test_threshold_notes_say_what_unusual_rows_mean():
    """Where the comparator's cost rises faster with the price, a strategy is cost-effective
    above the threshold, or at every price when it is negative; where the price does not
    change the difference there is no threshold."""
    from costmodel.analyses.threshold_psa import _note

    def row(threshold, low=0.0, high=10.0):
        return {"threshold_value": threshold, "optimal_from": low, "optimal_up_to": high}

    args = ("price", "new", "old")
    assert _note(row(5.0), 2.0, 10.0, *args) == ""
    assert _note(row(-5.0), 2.0, -10.0, *args) == "new is not cost-effective versus old even free"
    assert (
        _note(row(5.0), -2.0, -10.0, *args) == "new is cost-effective versus old above this price"
    )
    assert _note(row(-5.0), -2.0, 10.0, *args) == "new is cost-effective versus old at every price"
    assert _note(row(np.nan), 0.0, 10.0, *args).startswith(
        "price does not change the cost difference: new is cost-effective versus old at any"
    )
    assert _note(row(5.0, np.nan, np.nan), 2.0, 10.0, *args) == (
        "new has the highest expected net benefit at no price"
    )


def test_threshold_price_at_the_psa_means(covid_psa):
    """threshold_psa.csv on the default model, checked against the PSA's own costs at each
    price (costs_at_prices), independently of the closed form: at threshold_value the mean
    INMB of MSC cells versus standard care is zero, and MSC cells has the highest expected
    net benefit just below optimal_up_to and not just above it. An HTA review computed
    about 2,170 and 3,680 from psa_summary.csv at 1,000 samples (deterministic: 2,766 and
    4,649)."""
    from costmodel.analyses.voi_by_price import costs_at_prices

    table = covid_psa.threshold_psa
    inputs, psa = covid_psa.inputs, covid_psa.psa
    keys = list(psa.strategies)
    s, r = keys.index("msc_cells"), keys.index("standard_care")
    qaly = psa.qaly.mean(axis=0)
    for row in table.itertuples():
        prices = np.array([row.threshold_value, row.optimal_up_to - 1, row.optimal_up_to + 1])
        cost = costs_at_prices(inputs, psa, prices).mean(axis=1)
        nmb = row.wtp * qaly - cost  # (3 prices, n_strategies)
        assert nmb[0, s] - nmb[0, r] == pytest.approx(0.0, abs=1e-6 * row.wtp)
        assert nmb[1].argmax() == s and nmb[2].argmax() != s
        assert row.optimal_from == 0.0
    assert table.threshold_value.tolist() == pytest.approx([2170, 3680], rel=0.1)
    assert (table.threshold_value.to_numpy() < [2766, 4649]).all()  # the base case's


def test_budget_impact_matches_hand_calculation():
    inputs = load_inputs(COVID)
    table = budget_impact(inputs)
    undiscounted = replace(inputs, settings=replace(inputs.settings, discount_rate_costs=0.0))
    base = run_inputs(undiscounted, psa_samples=0, deterministic=False).base_case
    base = base.set_index("strategy").cost
    per_patient = base["msc_cells"] - base["standard_care"]
    year1 = table.iloc[0]
    assert year1.budget_impact == pytest.approx(20000 * 0.1 * per_patient, rel=1e-12)
    assert table.cumulative_budget_impact.iloc[-1] == pytest.approx(
        20000 * (0.1 + 0.2 + 0.3 + 0.4 + 0.5) * per_patient, rel=1e-12
    )
    # no price per year in the sheet: each year ran at the model's price, and says so
    from costmodel.parameters import evaluate_parameters

    price = evaluate_parameters(inputs)[inputs.settings.threshold_parameter][0]
    assert (table.price == price).all()


def test_voi_by_price_when_the_price_is_computed_from_sampled_inputs(tmp_path):
    """The PSA's own costs are not at the base price when the price follows a sampled input
    (here lamivudine's price scaled by the sampled relative risk): EVPI at every grid price,
    the base price included, equals a PSA re-run with the price fixed there."""
    from openpyxl import load_workbook

    from costmodel import cea
    from costmodel.api import run_workbook
    from costmodel.model import run_model
    from costmodel.parameters import evaluate_parameters
    from costmodel.validate import load_inputs
    from tests.conftest import HIV_WORKBOOK, edit_workbook

    path = edit_workbook(
        HIV_WORKBOOK,
        tmp_path / "derived_price.xlsx",
        {("Parameters", "c_lamivudine", "value"): "2086.5 * rr_combination / 0.509"},
    )
    wb = load_workbook(path)
    wb["Settings"].append(["run_voi_by_price", "yes", ""])
    wb.save(path)
    result = run_workbook(path, psa_samples=200, seed=3, deterministic=True, voi=True)
    table = result.voi_by_price
    inputs = load_inputs(path)
    psa = result.psa
    for _, row in table[table.wtp == table.wtp.iloc[0]].iterrows():
        values = evaluate_parameters(
            inputs, {**psa.parameters, "c_lamivudine": np.full(200, row.price)}, 200
        )
        cost = run_model(inputs, values).cost
        evpi = cea.evpi(cost, psa.ly, [row.wtp])[0]
        assert row.evpi_per_patient == pytest.approx(evpi, rel=1e-9, abs=1e-6), row.price


def test_voi_by_price_costs_from_start_costs_equal_a_rerun_at_each_price():
    """The MSC price enters only the course cost at the start of treatment (a start cost),
    so the costs at a grid price come from the change in start costs without running the
    model; they equal a PSA re-run with the price fixed there (every strategy, the derived
    test-and-treat column included)."""
    from costmodel.analyses import test_and_treat, voi_by_price
    from costmodel.analyses.psa import run_psa
    from costmodel.model import run_model
    from costmodel.model.dependence import dependent_names, only_in_start_costs

    inputs = load_inputs(COVID).decision_inputs()
    name = inputs.settings.threshold_parameter
    assert name == "c_msc_infusion"
    assert {"c_msc_course", "c_course"} <= dependent_names(inputs, name)
    assert only_in_start_costs(inputs, name)
    assert not only_in_start_costs(inputs, "p_o2_death")  # a transition probability
    assert not only_in_start_costs(inputs, "c_day_icu")  # a state cost per cycle
    psa = run_psa(inputs, 60, 5)
    psa = test_and_treat.extend_psa(inputs, psa)
    prices = np.array([1500.0, 9000.0])
    costs = voi_by_price.costs_at_prices(inputs, psa, prices)
    for price, cost in zip(prices, costs, strict=True):
        values = evaluate_parameters(inputs, {**psa.parameters, name: np.full(60, price)}, 60)
        rerun = run_model(inputs, values).cost
        rerun = np.column_stack([rerun, test_and_treat.cost_column(inputs, values, rerun)])
        np.testing.assert_allclose(cost, rerun, rtol=1e-11)
    assert not np.allclose(costs[0], costs[1])  # the price matters


def test_voi_by_price_start_costs_of_all_prices_at_once_equal_one_price_at_a_time(monkeypatch):
    from costmodel.analyses import test_and_treat, voi_by_price
    from costmodel.analyses.psa import run_psa

    inputs = load_inputs(COVID).decision_inputs()
    psa = test_and_treat.extend_psa(inputs, run_psa(inputs, 60, 5))
    prices = np.array([1500.0, 4000.0, 9000.0])
    together = voi_by_price.costs_at_prices(inputs, psa, prices)  # 4 x 60 samples in one call
    monkeypatch.setattr(voi_by_price, "STACKED_SAMPLES", 60)  # one price per call
    assert np.array_equal(together, voi_by_price.costs_at_prices(inputs, psa, prices))


def test_evppi_and_evsi_regressions_use_at_most_the_first_samples(monkeypatch):
    """Above VOI_REGRESSION_MAX_SAMPLES the EVPPI and EVSI regressions use the first samples
    only (and say how many); the estimate equals the one computed on those samples alone."""
    from costmodel import voi
    from costmodel.analyses import evppi, evsi
    from costmodel.analyses import psa as psa_step
    from costmodel.analyses.psa import run_psa

    inputs = load_inputs(COVID).decision_inputs()
    result = run_psa(inputs, 900, 4)
    assert psa_step.VOI_REGRESSION_MAX_SAMPLES == 100_000
    monkeypatch.setattr(psa_step, "VOI_REGRESSION_MAX_SAMPLES", 600)  # regression_rows reads it
    with pytest.warns(RuntimeWarning):  # flagged estimates of the small sample
        table = evppi.evppi_table(inputs, result, extra_groups=(("rr_death_msc",),))
    row = table[table.group == "rr_death_msc"]
    assert set(row.samples_used) == {600}
    wtp = np.asarray(inputs.settings.wtp, dtype=float)
    effect = result.effect(inputs.settings.effect_measure)
    x = result.parameters["rr_death_msc"][:600, None]
    direct = voi.evppi(result.cost[:600], effect[:600], wtp, x, names=["rr_death_msc"])
    np.testing.assert_allclose(row.evppi_per_patient, direct.evppi, rtol=1e-12)
    assert set(evsi.evsi_table(inputs, result).samples_used) == {600}


def test_evsi_table_with_the_se_of_the_best_size_only_has_the_full_tables_numbers(covid_psa):
    """The value of information by price needs the SE of each WTP's ENBS-maximising trial
    only: those rows' SEs (each size's SE comes from its own streams) and every EVSI equal
    the full table's bit for bit, the other SEs are NaN."""
    from costmodel.analyses import evsi

    result = covid_psa.psa
    full = evsi.evsi_table(covid_psa.inputs, result)
    best = evsi.evsi_table(covid_psa.inputs, result, se_of_best_only=True)
    top = full.groupby("wtp")["enbs"].idxmax()
    assert len(top) == len(covid_psa.inputs.settings.wtp) and full.se.notna().all()
    assert best.drop(columns=["se", "enbs_se"]).equals(full.drop(columns=["se", "enbs_se"]))
    assert best.loc[top, "se"].equals(full.loc[top, "se"])
    assert best.drop(index=top).se.isna().all()


def test_evsi_above_the_evppi_of_the_trials_parameters_is_flagged():
    """No trial can be worth more than perfect information on what it measures: an EVSI
    estimate above the EVPPI of the group of exactly the effect and control-risk parameters
    is flagged as Monte Carlo noise (hand-made tables; the default model's 200-sample run
    has such a row at n = 3,200 and GBP 30,000)."""
    import warnings

    from costmodel.analyses.evsi import flag_above_evppi

    inputs = load_inputs(COVID)
    s = inputs.settings
    evppi = pd.DataFrame(
        {
            "group": ["effect", "effect", "costs", "costs"],
            "parameters": [f"{s.effect_parameter}+{s.trial_control_risk_parameter}"] * 2
            + ["c_day_ward+c_day_icu"] * 2,
            "wtp": [20000.0, 30000.0, 20000.0, 30000.0],
            "evppi_per_patient": [4.4, 241.8, 0.0, 0.0],
        }
    )
    evsi = pd.DataFrame({"wtp": [20000.0, 20000.0, 30000.0], "evsi_per_patient": [4.3, 4.5, 244.7]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flagged = flag_above_evppi(inputs, evsi, evppi)
    assert flagged.flag.iloc[0] == ""
    assert flagged.flag.iloc[1].startswith("above the EVPPI of 'effect' (4.40 per patient)")
    assert flagged.flag.iloc[2].startswith("above the EVPPI of 'effect' (241.80 per patient)")
    assert "2 estimate(s) above the EVPPI" in str(caught[0].message)
    assert (flag_above_evppi(inputs, evsi, None).flag == "").all()  # no EVPPI: no flag


def test_runs_whose_evppi_groups_repeat_or_are_all_skipped_still_write(tmp_path):
    """From a review: --evppi naming the trial's own parameters (the workbook's 'effect'
    group again) made the EVSI flag fail on a repeated WTP, and a run whose every EVPPI
    group was skipped (10 parameters on 20 samples) failed drawing an empty EVPPI chart."""
    from costmodel.cli import main

    out = tmp_path / "repeat"
    args = ["run", str(COVID), "--psa-samples", "100", "--evppi", "rr_death_msc,p28_death_control"]
    assert main([*args, "--out", str(out), "-q"]) == 0
    assert "flag" in pd.read_csv(out / "evsi.csv").columns
    skipped = tmp_path / "skipped"
    group = "n_aa,n_ab,n_ac,n_ad,n_bb,n_bc,n_bd,n_cc,n_cd,rr_combination"
    hiv = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
    args = ["run", str(hiv), "--psa-samples", "20", "--evppi", group, "--out", str(skipped)]
    assert main([*args, "-q"]) == 0
    assert pd.read_csv(skipped / "evppi.csv").evppi_per_patient.isna().all()
    assert not (skipped / "figures" / "evppi.png").exists()
