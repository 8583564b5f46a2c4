"""Deterministic and probabilistic sensitivity analyses on the HIV and MSC workbooks.

Deterministic results are checked against separate runs of edited workbooks (each a plain
base case), PSA draws against their target distributions (moments within 4 standard errors),
and reproducibility: same seed, same numbers, whatever the chunk size.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from scipy import stats

from costmodel.analyses import dsa, threshold
from costmodel.analyses.psa import run_psa
from costmodel.api import run_workbook
from costmodel.cli import main
from costmodel.errors import InputError
from costmodel.parameters import sample_parameters
from costmodel.validate import load_inputs
from tests.conftest import HIV_WORKBOOK, ROOT, edit_workbook

COVID = ROOT / "inputs" / "msc_covid19.xlsx"


@pytest.fixture(scope="module")
def hiv_inputs():
    return load_inputs(HIV_WORKBOOK)


def _inmb(path, wtp=20000.0, strategy="combination", reference="monotherapy", effect="ly"):
    table = run_workbook(path, psa_samples=0, deterministic=False).base_case.set_index("strategy")
    return wtp * (table.loc[strategy, effect] - table.loc[reference, effect]) - (
        table.loc[strategy, "cost"] - table.loc[reference, "cost"]
    )


def test_one_way_low_value_equals_a_separate_run(hiv_inputs, tmp_path):
    table = dsa.one_way(hiv_inputs).set_index("parameter")
    row = table.loc["rr_combination"]
    assert (row.low_value, row.high_value, row.range_source) == (0.365, 0.710, "low/high")
    edited = edit_workbook(
        HIV_WORKBOOK, tmp_path / "low.xlsx", {("Parameters", "rr_combination", "value"): 0.365}
    )
    assert row.inmb_low == pytest.approx(_inmb(edited), rel=1e-12)
    assert row.inmb_base == pytest.approx(_inmb(HIV_WORKBOOK), rel=1e-12)
    # the tornado order is by INMB range
    assert list(table.inmb_range) == sorted(table.inmb_range, reverse=True)


def test_one_way_uses_distribution_percentiles_without_low_high(tmp_path):
    inputs = load_inputs(COVID)
    table = dsa.one_way(inputs)
    row = table[(table.parameter == "c_day_icu") & (table.strategy == "msc_cells")].iloc[0]
    assert row.range_source == "95% interval"
    assert row.low_value == pytest.approx(stats.gamma.ppf(0.025, 100, scale=18.81), rel=1e-9)
    assert row.high_value == pytest.approx(stats.gamma.ppf(0.975, 100, scale=18.81), rel=1e-9)


def test_varying_an_input_moves_the_parameters_derived_from_it():
    """c_msc_infusion is computed from c_bag_eur: a one-way run of c_bag_eur must move it."""
    inputs = load_inputs(COVID)
    out = dsa.run_overrides(inputs, [{}, {"c_bag_eur": 2 * 6647}])
    s = inputs.strategy_keys.index("msc_cells")
    assert out.cost[1, s] > out.cost[0, s] + 1000


def test_threshold_price_makes_the_icer_equal_the_wtp(hiv_inputs, tmp_path):
    low, high = threshold.threshold_range(hiv_inputs, "c_lamivudine")
    table = threshold.threshold(hiv_inputs, "c_lamivudine", low=low, high=high)
    for row in table.itertuples():
        assert row.found
        edits = {("Parameters", "c_lamivudine", "value"): row.threshold_value}
        edited = edit_workbook(HIV_WORKBOOK, tmp_path / f"t{row.wtp:.0f}.xlsx", edits)
        assert _inmb(edited, wtp=row.wtp) == pytest.approx(0.0, abs=1e-6)


def test_threshold_reports_when_no_root_is_in_range(hiv_inputs):
    table = threshold.threshold(hiv_inputs, "c_lamivudine", low=0.0, high=100.0)
    assert not table.found.any()
    assert "no threshold in range" in table.note.iloc[0]


def test_two_way_grid_corners_match_separate_runs(hiv_inputs, tmp_path):
    grid = dsa.two_way(hiv_inputs, "rr_combination", "c_lamivudine")
    assert len(grid) == 121
    corner = grid[(grid.value_a == 0.365) & (grid.value_b == 3129.75)].iloc[0]
    edited = edit_workbook(
        HIV_WORKBOOK,
        tmp_path / "corner.xlsx",
        {
            ("Parameters", "rr_combination", "value"): 0.365,
            ("Parameters", "c_lamivudine", "value"): 3129.75,
        },
    )
    assert corner.inmb == pytest.approx(_inmb(edited), rel=1e-12)


def test_scenario_equals_the_edited_workbook(tmp_path):
    result = run_workbook(COVID, deterministic=True, psa_samples=0)
    scenarios = result.scenarios
    row = scenarios[(scenarios.scenario == "discount_1_5") & (scenarios.strategy == "msc_cells")]
    edited = edit_workbook(
        COVID,
        tmp_path / "d15.xlsx",
        {
            ("Settings", "discount_rate_costs", "value"): 0.015,
            ("Settings", "discount_rate_outcomes", "value"): 0.015,
        },
    )
    direct = run_workbook(edited, psa_samples=0, deterministic=False).base_case.set_index(
        "strategy"
    )
    assert row.cost.iloc[0] == pytest.approx(direct.loc["msc_cells", "cost"], rel=1e-12)
    assert row.qaly.iloc[0] == pytest.approx(direct.loc["msc_cells", "qaly"], rel=1e-12)
    # a settings scenario re-runs the synthesis: all comparative trials give DL RR 0.67
    allc = load_inputs(COVID)
    assert {s.name for s in allc.scenarios} >= {"all_comparative_trials", "conservative_effect"}


def test_same_seed_same_draws_whatever_the_chunking(hiv_inputs):
    a = run_psa(hiv_inputs, 5000, 11, chunk_size=5000)
    b = run_psa(hiv_inputs, 5000, 11, chunk_size=777)
    c = run_psa(hiv_inputs, 5000, 12)
    assert np.array_equal(a.cost, b.cost) and np.array_equal(a.ly, b.ly)
    assert not np.array_equal(a.cost, c.cost)
    draws = sample_parameters(hiv_inputs, 11, 1234, 1300)
    assert np.array_equal(draws["rr_combination"], a.parameters["rr_combination"][1234:1300])


def test_sample_moments_match_their_distributions(hiv_inputs):
    n = 40_000
    draws = sample_parameters(hiv_inputs, 3, 0, n)
    # lognormal from the 95% CI 0.365-0.710: meanlog = ln sqrt(0.365 * 0.710)
    log_rr = np.log(draws["rr_combination"])
    meanlog, sdlog = math.log(math.sqrt(0.365 * 0.710)), (math.log(0.710) - math.log(0.365)) / 3.92
    assert abs(log_rr.mean() - meanlog) < 4 * sdlog / math.sqrt(n)
    assert log_rr.std() == pytest.approx(sdlog, rel=0.02)
    # Dirichlet(1251, 350, 116, 17): means alpha/sum; the set sums to 1
    alphas = np.array([1251, 350, 116, 17.0])
    a = np.stack([draws[k] for k in ("n_aa", "n_ab", "n_ac", "n_ad")], axis=1)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-12)
    mean = alphas / alphas.sum()
    sd = np.sqrt(mean * (1 - mean) / (alphas.sum() + 1))
    assert np.all(np.abs(a.mean(axis=0) - mean) < 4 * sd / math.sqrt(n))


def _correlations_sheet(wb):
    """The workbook's Correlations sheet, created with its header when missing."""
    if "Correlations" in wb.sheetnames:
        return wb["Correlations"]
    ws = wb.create_sheet("Correlations")
    ws.append(["parameter_a", "parameter_b", "correlation", "type"])
    return ws


def test_correlations_follow_the_correlations_sheet(tmp_path):
    target = tmp_path / "corr.xlsx"
    wb = load_workbook(COVID)
    ws = _correlations_sheet(wb)  # the default workbook already correlates its calibration
    ws.append(["c_day_ward", "c_day_icu", 0.6, "rank"])
    wb.save(target)
    inputs = load_inputs(target)
    draws = sample_parameters(inputs, 5, 0, 20_000)
    rho = stats.spearmanr(draws["c_day_ward"], draws["c_day_icu"]).statistic
    assert rho == pytest.approx(0.6, abs=0.02)
    # marginals are untouched by the copula
    assert draws["c_day_icu"].mean() == pytest.approx(1881, rel=0.005)


def test_contradictory_correlations_are_refused(tmp_path):
    target = tmp_path / "bad_corr.xlsx"
    wb = load_workbook(COVID)
    ws = _correlations_sheet(wb)
    ws.append(["c_day_ward", "c_day_icu", 0.9, "pearson"])
    ws.append(["c_day_ward", "u_decr_hosp", 0.9, "pearson"])
    ws.append(["c_day_icu", "u_decr_hosp", -0.9, "pearson"])
    wb.save(target)
    with pytest.raises(InputError, match="not positive definite"):
        load_inputs(target)


def test_psa_outputs_and_invariants(tmp_path):
    out = tmp_path / "hiv"
    assert (
        main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "500", "--seed", "7"])
        == 0
    )
    ceac = pd.read_csv(out / "ceac.csv")
    np.testing.assert_allclose(ceac.groupby("wtp").prob_ce.sum(), 1.0, atol=1e-12)
    assert ceac.groupby("wtp").on_frontier.sum().eq(1).all()
    evpi = pd.read_csv(out / "evpi.csv")
    assert (evpi.evpi_per_patient >= 0).all()
    samples = pd.read_csv(out / "psa_samples.csv")
    assert len(samples) == 1000 and {
        "sample",
        "strategy",
        "cost",
        "qaly",
        "ly",
        "rr_combination",
    } <= set(samples.columns)
    summary = pd.read_csv(out / "psa_summary.csv").set_index("strategy")
    mono = samples[samples.strategy == "monotherapy"]
    # both read back from CSVs, which carry 10 significant digits (files.CSV_DIGITS)
    assert summary.loc["monotherapy", "cost_mean"] == pytest.approx(mono.cost.mean(), rel=1e-9)
    for name in ("ce_plane", "ceac", "evpi", "convergence", "tornado", "twoway"):
        assert (out / "figures" / f"{name}.png").exists(), name
    # reproducible: same seed gives byte-identical tables
    again = tmp_path / "again"
    assert (
        main(["run", str(HIV_WORKBOOK), "--out", str(again), "--psa-samples", "500", "--seed", "7"])
        == 0
    )
    for name in ("psa_samples.csv", "ceac.csv", "evpi.csv", "dsa_oneway.csv", "base_case.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_zero_psa_samples_disables_psa(tmp_path):
    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    assert not (out / "ceac.csv").exists()
    assert (out / "dsa_oneway.csv").exists()


def test_evpi_is_zero_with_one_strategy(tmp_path):
    target = tmp_path / "one.xlsx"
    wb = load_workbook(HIV_WORKBOOK)
    wb["Strategies"].delete_rows(3)
    wb.save(target)
    result = run_workbook(target, psa_samples=200, deterministic=False)
    assert (result.evpi.evpi_per_patient == 0).all()


def test_icers_command_reproduces_dampack(capsys):
    assert main(["icers", str(ROOT / "tests" / "data" / "dampack_cdiff_icers.csv")]) == 0
    printed = capsys.readouterr().out
    assert "s44" in printed and "38362" in printed.replace(",", "")


def test_cea_command_on_a_published_psa_sample(tmp_path):
    sample = ROOT / "tests" / "data" / "bcea_smoking_ce.csv"
    out = tmp_path / "smoking"
    assert main(["cea", str(sample), "--wtp", "100", "250", "--out", str(out)]) == 0
    ceac = pd.read_csv(out / "ceac.csv")
    np.testing.assert_allclose(ceac.groupby("wtp").prob_ce.sum(), 1.0, atol=1e-12)
    assert (pd.read_csv(out / "evpi.csv").evpi_per_patient >= 0).all()


@pytest.mark.parametrize(
    "name", ["msc_covid19.xlsx", "msc_covid19_us.xlsx", "msc_influenza_ards.xlsx"]
)
def test_default_workbooks_survive_their_psa(name):
    """Extreme draws (e.g. a secretome RR whose treated risk would exceed 1) must not break
    the model: every sample gives finite outcomes, and the CEAC sums to 1."""
    result = run_workbook(ROOT / "inputs" / name, psa_samples=1500, voi=False, deterministic=False)
    assert np.isfinite(result.psa.cost).all() and np.isfinite(result.psa.qaly).all()
    np.testing.assert_allclose(result.ceac.groupby("wtp").prob_ce.sum(), 1.0, atol=1e-12)


def test_cea_command_evppi_on_the_voi_chemotherapy_sample(tmp_path, capsys):
    """voi's published EVPPI of p_side_effects_t2 at WTP 20,000 is 262.11 (chjackson/voi
    tests/testthat/test_evppi.R); the regression estimate must be within 3%."""
    out = tmp_path / "chemo"
    code = main(
        [
            "cea",
            str(ROOT / "tests" / "data" / "voi_chemo_cea.csv"),
            "--wtp",
            "20000",
            "--parameters",
            str(ROOT / "tests" / "data" / "voi_chemo_pars.csv"),
            "--evppi",
            "p_side_effects_t2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    evppi = pd.read_csv(out / "evppi.csv")
    assert evppi.evppi_per_patient.iloc[0] == pytest.approx(262.11, rel=0.03)
    assert (
        main(
            [
                "cea",
                str(ROOT / "tests" / "data" / "voi_chemo_cea.csv"),
                "--wtp",
                "20000",
                "--evppi",
                "p_side_effects_t2",
            ]
        )
        == 2
    )


def test_scenarios_run_together_give_what_each_gives_alone():
    # parameter-value scenarios (and evidence-synthesis ones) run as samples of one model run;
    # each must equal its own validated workbook run alone (samples are computed on their own)
    from costmodel.analyses.scenarios import run_scenarios, runs_as_a_sample
    from costmodel.model import run_model

    inputs = load_inputs(COVID)
    together = {
        s.name
        for s, v in zip(inputs.scenarios, inputs.scenario_variants, strict=True)
        if runs_as_a_sample(inputs, v)
    }
    # the ones that change the model's time course or discounting cannot
    assert {"discount_1_5", "permanent_effect", "waning_to_day_90"}.isdisjoint(together)
    assert {"ryoncil_price", "whole_bags", "all_comparative_trials", "reml_hksj"} <= together
    table = run_scenarios(inputs).set_index(["scenario", "strategy"])
    for name in sorted(together):
        alone = run_model(inputs.scenario_inputs(name))
        for s, key in enumerate(inputs.strategy_keys):  # the same bits
            assert table.loc[(name, key), "cost"] == alone.cost[0, s]
            assert table.loc[(name, key), "qaly"] == alone.qaly[0, s]
            assert table.loc[(name, key), "ly"] == alone.ly[0, s]


def test_a_scenario_with_its_own_time_dependent_parameter_runs_alone():
    from dataclasses import replace

    from costmodel.analyses.scenarios import runs_as_a_sample
    from costmodel.formula import parse_expression

    inputs = load_inputs(COVID)
    dynamic = inputs.dynamic_parameters[0]
    changed = tuple(
        replace(p, expression=parse_expression("0.5")) if p.name == dynamic else p
        for p in inputs.parameters
    )
    assert runs_as_a_sample(inputs, inputs)
    assert not runs_as_a_sample(inputs, replace(inputs, parameters=changed))
    assert not runs_as_a_sample(inputs, inputs.with_settings(discount_rate_costs=0.0))


def test_a_failing_scenario_run_with_others_is_named():
    from dataclasses import replace

    from costmodel.analyses.scenarios import run_scenarios, runs_as_a_sample
    from costmodel.errors import ModelCheckError

    inputs = load_inputs(COVID)
    broken = inputs.with_parameter_values({"hr_recovery_msc": 50.0})
    first = inputs.scenarios[0]
    model = replace(
        inputs,
        scenarios=(first, replace(first, name="broken")),
        scenario_variants=(inputs.scenario_variants[0], broken),
    )
    # both run in one batch first, which fails; then one by one, which names the scenario
    assert all(runs_as_a_sample(model, v) for v in model.scenario_variants)
    with pytest.raises(ModelCheckError, match="scenario 'broken': strategy 'msc_cells'"):
        run_scenarios(model)


def test_threshold_searches_run_together_give_what_each_gives_alone():
    from costmodel.analyses.threshold import Search, threshold, threshold_range, thresholds

    inputs = load_inputs(COVID)
    name = inputs.settings.threshold_parameter
    price = Search(name, *threshold_range(inputs, name))
    effect = Search(inputs.settings.effect_parameter, 0.01, 1.0)
    together = thresholds(inputs, [price, effect])
    alone = pd.concat(
        [threshold(inputs, s.parameter, low=s.low, high=s.high) for s in (price, effect)],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(together, alone, check_exact=True)
    assert together.found.sum() >= 2


def test_subgroup_threshold_prices_found_together_equal_each_alone():
    from costmodel.analyses.subgroups import subgroup_threshold, subgroup_thresholds

    inputs = load_inputs(COVID)
    price = inputs.settings.threshold_parameter
    together = subgroup_thresholds(inputs, list(inputs.subgroups), price)
    assert len(together) == len(inputs.subgroups) * len(inputs.settings.wtp)
    for g in inputs.subgroups:
        for wtp in inputs.settings.wtp:
            alone = subgroup_threshold(inputs, g, price, wtp)
            assert together[g.name, wtp] == alone or (
                np.isnan(alone) and np.isnan(together[g.name, wtp])
            )
    assert sum(np.isfinite(v) for v in together.values()) >= 2


def test_threshold_searches_together_use_the_engine_each_would_alone(monkeypatch):
    """The kernel and the NumPy path agree to 1e-12, not to the bit, and the kernel is chosen
    by a run's size: with the kernel's floor between one grid (41 samples) and two (82), the
    searches run together must still use the NumPy path each uses alone (the same bits)."""
    from costmodel import kernel
    from costmodel.analyses.threshold import Search, threshold, threshold_range, thresholds
    from costmodel.model import use_compiled
    from costmodel.model.run import model_work

    inputs = load_inputs(COVID).decision_inputs()
    if not kernel.compiled_available():
        pytest.skip("numba is not installed")
    monkeypatch.setattr(kernel, "KERNEL_MIN_WORK", model_work(inputs, 60))
    assert not use_compiled(inputs, 41) and use_compiled(inputs, 82)
    name = inputs.settings.threshold_parameter
    searches = [Search(name, *threshold_range(inputs, name)), Search("rr_death_msc", 0.01, 1.0)]
    together = thresholds(inputs, searches)
    alone = pd.concat(
        [threshold(inputs, s.parameter, low=s.low, high=s.high) for s in searches],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(together, alone, check_exact=True)


def test_one_way_and_two_way_name_dominance_instead_of_a_negative_icer():
    """The default model's one-way DSA at the high risk ratio of death (1.14): MSC costs more
    and gives fewer QALYs than standard care. Its ICER is empty and the row says
    'dominated' (it read -43,676 per QALY); no ICER of the DSA tables is negative, and each
    empty one is explained by its comparison."""
    from costmodel.analyses.dsa import one_way, two_way, two_way_pairs

    inputs = load_inputs(ROOT / "inputs" / "msc_covid19.xlsx")
    table = one_way(inputs)
    row = table[(table.parameter == "rr_death_msc") & (table.strategy == "msc_cells")].iloc[0]
    assert row.inc_cost_high > 0 and row.inc_effect_high < 0
    assert np.isnan(row.icer_high) and row.comparison_high == "dominated"
    assert row.comparison_low == "more costly, more effective" and row.icer_low > 0
    for end in ("base", "low", "high"):
        icer, why = table[f"icer_{end}"], table[f"comparison_{end}"]
        assert (icer.dropna() > 0).all()
        trade_offs = ("more costly, more effective", "less costly, less effective")
        assert (icer.isna() == ~why.isin(trade_offs)).all()
    grid = two_way(inputs, *two_way_pairs(inputs)[0])
    assert (grid.icer.dropna() > 0).all() and (grid.comparison == "dominated").any()
