"""Definitions of the default MSC workbooks (COVID-19 NHS, COVID-19 US, influenza ARDS NHS).

One structure, three evidence sets. Every parameter row names its source and evidence flag:
[V] seen in the source text, [R] recalled (verify), [A] assumption, [D] derived here from
[V] numbers (the derivation is in the value expression or the description). The evidence is
in scripts/data/ (copied from the project's evidence folder); see README "The MSC model".
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from costmodel.template import PARAMETER_HEADERS

DATA = Path(__file__).resolve().parent / "data"

RECOVERY_TOCI = (
    "RECOVERY tocilizumab, Lancet 2021;397:1637, usual-care arm, Table 2 "
    "(https://pmc.ncbi.nlm.nih.gov/articles/PMC8084355/table/tbl2)"
)
RAFIA = "Rafia et al. Value Health 2022;25:761 (NICE remdesivir model)"
KELTON = "Kelton et al. Clin Ther 2021 (baricitinib CEA), Table III (PMC8487786)"
AYOUBKHANI = "Ayoubkhani et al. BMJ 2021;372:n693"
CMAJ = "CMAJ Open 2022 model inputs (PMC9259387), general mechanically ventilated cohort"
ARA_BRAZIER = "Ara & Brazier 2010 (HEDS DP 10/11) EQ-5D population norm regression"
BOWDISH = "Bowdish et al. 2023 remestemcel-L COVID-ARDS RCT (PMC9896641)"
GMP_COST = "Academic GMP MSC manufacturing cost, PMC8227789 Table 6"


def param(name, value, unit, group, description, source, dist=None, p1=None, p2=None, low=None,
      high=None):  # fmt: skip
    return [name, value, dist, p1, p2, None, low, high, unit, group, description, source]


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    description: str
    perspective: str
    currency: str
    price_year: int
    discount: float
    wtp: str
    start_age: float
    prop_female: float
    synthesis_virus: str
    p28_death_control: tuple[int, int, str]  # deaths, patients, source: control risk at day 28
    entry: tuple[tuple[str, object, str], ...]  # (state, weight, source)
    calibration: tuple[tuple, ...]  # Calibration sheet rows
    calibrated: dict[str, float]  # fitted daily probabilities
    costs: tuple[list, ...]
    msc_price: tuple[list, ...]
    population: tuple[float, str] = (0, "")
    trial_costs: tuple[float, float] = (2_000_000, 15_000)
    threshold_max: float = 100000
    scenarios: tuple[tuple, ...] = ()
    calibration_sd: dict[str, tuple[float, float]] | None = None  # (alpha, beta) per parameter
    calibration_shift: dict[str, dict[str, list[float]]] | None = None  # linearized re-fit
    calibration_correlations: tuple[tuple[str, str, float], ...] = ()
    survivor_costs: tuple[list, ...] = ()
    subgroups: tuple[tuple, ...] = ()
    life_table_source: str = (
        "US SSA period life table, 2018 data year [V]"  # lifetable_us_ssa_2018.csv
    )


def life_table_rows() -> list[list]:
    with open(DATA / "lifetable_us_ssa_2018.csv") as f:
        return [[int(r["age"]), float(r["qx_male"]), float(r["qx_female"])]
                for r in csv.DictReader(f)]  # fmt: skip


def qx_mixed(age: int, male_share: float = 0.6) -> float:
    rows = {r[0]: r for r in life_table_rows()}
    return male_share * rows[age][1] + (1 - male_share) * rows[age][2]


RANDOMIZED = {"SHU2020", "LANZONI2021", "DILOGO2021", "MONSEL2022", "REBELATTO2022",
              "BOWDISH2023", "ZARRABI2023", "FATHIKAZEROONI2022", "SHI2021", "ZHU2021",
              "LIGHTNER2023"}  # fmt: skip


# Risk of bias for mortality: the evidence gives no published assessment, so these are the
# model authors' judgements from the reported design [A] (RoB 2 for randomized trials,
# ROBINS-I for the others): open-label or unequal allocation -> high; blinded but small or
# counts from secondary sources -> some concerns; blinded, sham/placebo, prespecified -> low.
CALIBRATED_PROBABILITIES = ("p_o2_death", "p_o2_disch", "p_niv_imv", "p_imv_death", "p_imv_lib")
RISK_OF_BIAS = {
    "SHU2020": "high", "LANZONI2021": "some concerns", "SHI2021": "low",
    "ZHU2021": "some concerns", "DILOGO2021": "some concerns", "ADAS2021": "high",
    "XU2021": "high", "HABERLE2021": "high", "MONSEL2022": "low",
    "REBELATTO2022": "some concerns", "GREGOIRE2022": "high", "KAFFASHFARKHAD2022": "high",
    "BOWDISH2023": "low", "FATHIKAZEROONI2022": "some concerns", "ZARRABI2023": "some concerns",
    "LIGHTNER2023": "low", "LENG2020": "high", "MENG2020": "high", "CHEN2020_H7N9": "high",
}  # fmt: skip
# Death counts back-calculated from percentages or survivors, or recalled rather than read
# (scripts/data/msc_trials.csv notes)
DERIVED_COUNTS = {"DILOGO2021", "XU2021", "CHEN2020_H7N9", "LANZONI2021"}


def trial_rows() -> list[list]:
    """Trials sheet rows from the evidence CSV; Zarrabi's two active arms share one control."""
    rows = []
    with open(DATA / "msc_trials.csv") as f:
        for r in csv.DictReader(f):
            trial_id, arm = r["trial_id"], r["product_type"]
            if trial_id.startswith("ZARRABI2023"):
                trial_id, arm = "ZARRABI2023", "MSC + EV" if "EV" in r["trial_id"] else "MSC"

            def count(value: str) -> int | None:
                return int(value) if value.strip() else None

            rows.append(
                [
                    trial_id,
                    arm,
                    "yes",
                    r["virus"],
                    "yes" if trial_id in RANDOMIZED else "no",
                    r["design"],
                    r["product_type"].lower(),
                    r["cell_source"],
                    count(r["n_msc"]),
                    count(r["deaths_msc"]),
                    count(r["n_control"]),
                    count(r["deaths_control"]),
                    float(r["mortality_timepoint_days"]) if r["mortality_timepoint_days"] else None,
                    RISK_OF_BIAS.get(trial_id),
                    "yes" if r["trial_id"] in DERIVED_COUNTS else "no",
                    f"{r['first_author']} {r['year']}; {r['source_url'].split(' ; ')[0]}; "
                    "counts flagged in scripts/data/msc_trials.csv notes; risk of bias: model "
                    "authors' judgement from the design [A]",
                ]
            )
    return rows


TRIAL_HEADERS = [
    "trial_id", "arm", "include", "virus", "randomized", "design", "product_type", "cell_source",
    "n_msc", "deaths_msc", "n_control", "deaths_control", "timepoint_days", "risk_of_bias",
    "counts_derived", "source",
]  # fmt: skip


def common_parameters(v: Variant) -> list[list]:
    cal = v.calibrated
    entry = [
        param(f"n_entry_{state}", weight, "patients", "cohort",
          f"Patients entering on {state} (entry mix weight)", source)
        for state, weight, source in v.entry
    ]  # fmt: skip
    calibrated_source = (
        "[D] calibrated (least squares, scripts/build_workbooks.py) to the Calibration sheet; "
        "PSA: beta matched to the calibration's uncertainty (binomial SE of each target "
        "propagated through the fit, delta method; correlations in the Correlations sheet)"
    )
    sd = v.calibration_sd or {}

    shift = v.calibration_shift or {}

    def calibrated(name: str, description: str) -> list:
        if name not in sd:
            return param(name, cal[name], "probability per day", "clinical", description,
                         calibrated_source)  # fmt: skip
        a, b = sd[name]
        return param(name, cal[name], "probability per day", "clinical", description,
                     calibrated_source, "beta", a, b)  # fmt: skip

    def refitted(name: str) -> list:
        """The calibrated probability re-fitted, per PSA sample, to the structural
        parameters drawn in that sample (linearized: shift of its logit)."""
        pairs = sorted(shift.get(name, {}).items())
        terms = " + ".join(f"{b:.8g} * ({phi} - {base:.8g})" for phi, (b, base) in pairs)
        expression = f"or_to_prob({name}, exp({terms}))" if terms else name
        return param(f"{name}_fit", expression, "probability per day", "clinical",
                     f"{name} re-fitted to the calibration targets for this sample's "
                     "structural parameters (equal to it in the base case)",
                     "[D] linearized re-calibration: d logit / d parameter from the fit's "
                     "Jacobian (scripts/build_workbooks.py)")  # fmt: skip

    clinical = [
        param("p_o2_niv", "rescale_prob(309 / 933, 28, 1)", "probability per day", "clinical",
          "Escalation from low-flow O2 to HFNO/NIV (33.1% new NIV by day 28, constant hazard)",
          f"[D] from 309/933 new NIV by day 28 [V], {RECOVERY_TOCI}"),
        param("p_niv_o2", 0.1, "probability per day", "clinical",
          "Weaning from HFNO/NIV back to low-flow O2", "[A] (median about 7 days on HFNO/NIV)",
          "beta", 10, 90, 0.05, 0.15),
        param("hr_death_niv_vs_o2", 2.0, "hazard ratio", "clinical",
          "Death hazard on HFNO/NIV relative to low-flow O2", "[A]", "lognormal", 0.6931, 0.2,
          1.4, 3.0),
        calibrated("p_o2_death", "Death on low-flow O2 (standard care)"),
        param("p_niv_death", "hr_to_prob(p_o2_death_fit, hr_death_niv_vs_o2)",
          "probability per day", "clinical", "Death on HFNO/NIV (standard care)",
          "[D] p_o2_death and hazard ratio"),
        calibrated("p_o2_disch", "Discharge alive from low-flow O2 (standard care)"),
        calibrated("p_niv_imv", "Intubation from HFNO/NIV (standard care)"),
        calibrated("p_imv_death", "Death on invasive mechanical ventilation (standard care)"),
        calibrated("p_imv_lib",
          "Liberation from IMV once the minimum days on IMV have passed (standard care)"),
        *(refitted(n) for n in CALIBRATED_PROBABILITIES),
        param("imv_min_days", 3, "days", "clinical",
          "Days on IMV before liberation is possible (IMV tunnel: time_in_state)",
          "[A] (at most the IMV tunnel_length - 1 = 3 in States)"),
        param("step_down_days", 5, "days", "clinical",
          "Ward stay after extubation before discharge (tunnel, at most 14)",
          "[D] median hospital LOS 16 d minus median ICU LOS 11 d for IMV patients, "
          "Ohsfeldt 2021 Adv Ther [V]"),
        param("hr_death_era", 1.0, "hazard ratio", "clinical",
          "Standard-care hospital death hazard relative to the calibration cohort (RECOVERY "
          "tocilizumab usual care, 2020-21); the current-era scenario lowers it",
          "[A] 1 in the base case; scenario value fitted to a later usual-care arm"),
        param("p_step_death", 0.005, "probability per day", "clinical",
          "Death on the ward after extubation", "[A]", "beta", 5, 995, 0.002, 0.01),
    ]  # fmt: skip
    q67, q68, q69 = qx_mixed(67), qx_mixed(68), qx_mixed(69)
    survival = [
        param("smr_post_discharge_early", 7.7, "rate ratio", "survival",
          "Death rate ratio vs general population in the first months after discharge "
          "(applied to discharged non-IMV patients up to day 90)",
          f"{AYOUBKHANI} (7.7, 7.2-8.3) [V]", "lognormal", 2.04122, 0.03627, 7.2, 8.3),
        param("smr_post_noimv_y1", 1.5, "rate ratio", "survival",
          "Excess mortality in the first long-term year, never-IMV survivors",
          "[A] (evidence note: 1.5-2 to month 12)", "lognormal", 0.4055, 0.15, 1.0, 2.0),
        param("smr_post_noimv_late", 1.0, "rate ratio", "survival",
          "Excess mortality from long-term year 2, never-IMV survivors",
          "[A] conservative: general population"),
        param("p_death_y1_post_imv", 0.125, "probability", "survival",
          "Cumulative death 1 year after discharge following mechanical ventilation",
          f"{CMAJ} [V]"),
        param("p_death_y2_post_imv", 0.193, "probability", "survival",
          "Cumulative death 2 years after discharge following MV", f"{CMAJ} [V]"),
        param("p_death_y3_post_imv", 0.275, "probability", "survival",
          "Cumulative death 3 years after discharge following MV", f"{CMAJ} [V]"),
        param("qx_ref_67", round(q67, 6), "probability per year", "survival",
          "General-population qx at 67 (MV cohort mean age), 60% male",
          "[D] US SSA 2018 life table (LifeTable sheet)"),
        param("qx_ref_68", round(q68, 6), "probability per year", "survival",
          "General-population qx at 68, 60% male", "[D] US SSA 2018 life table"),
        param("qx_ref_69", round(q69, 6), "probability per year", "survival",
          "General-population qx at 69, 60% male", "[D] US SSA 2018 life table"),
        param("smr_imv_y1", "log(1 - p_death_y1_post_imv) / log(1 - qx_ref_67)", "rate ratio",
          "survival", "Excess mortality year 1 after IMV (hazard ratio to the life table)",
          "[D] CMAJ cumulative deaths vs life table"),
        param("smr_imv_y2",
          "log(1 - (p_death_y2_post_imv - p_death_y1_post_imv) / (1 - p_death_y1_post_imv))"
          " / log(1 - qx_ref_68)", "rate ratio", "survival",
          "Excess mortality year 2 after IMV", "[D] CMAJ conditional deaths vs life table"),
        param("smr_imv_y3",
          "log(1 - (p_death_y3_post_imv - p_death_y2_post_imv) / (1 - p_death_y2_post_imv))"
          " / log(1 - qx_ref_69)", "rate ratio", "survival",
          "Excess mortality year 3 after IMV", "[D] CMAJ conditional deaths vs life table"),
        param("smr_imv_late", 1.0, "rate ratio", "survival",
          "Excess mortality after year 3 after IMV", "[A] general population"),
    ]  # fmt: skip
    utilities = [
        param("un_const", 0.9508566, "utility", "utilities", "EQ-5D norm: intercept",
          f"{ARA_BRAZIER} [R] verify coefficients"),
        param("un_male", 0.0212126, "utility", "utilities", "EQ-5D norm: male",
              f"{ARA_BRAZIER} [R]"),
        param("un_age", -0.0002587, "utility per year of age", "utilities", "EQ-5D norm: age",
          f"{ARA_BRAZIER} [R]"),
        param("un_age2", -0.0000332, "utility per year of age squared", "utilities",
          "EQ-5D norm: age squared", f"{ARA_BRAZIER} [R]"),
        param("u_norm",
              "un_const + un_male * (1 - prop_female) + un_age * floor(age)"
              " + un_age2 * floor(age)**2",
          "utility", "utilities", "Population utility at the current age in completed years",
          "[D] Ara & Brazier regression at the cohort's current age"),
        param("u_decr_hosp", -0.58, "utility decrement", "utilities",
          "Decrement while hospitalized on oxygen, HFNO or NIV", f"{RAFIA} (0.464-0.696) [V]",
          "normal", -0.58, 0.0592, -0.696, -0.464),
        param("u_imv", 0, "utility", "utilities", "Utility on invasive ventilation",
          f"{RAFIA}: authors' assumption [V]; alternatives 0.05-0.3 [A]", None, None, None,
          0, 0.3),
        param("u_decr_discharged_y1", -0.097, "utility decrement", "utilities",
          "Decrement in the first year after discharge", f"{RAFIA} (ISARIC) (0.077-0.116) [V]",
          "normal", -0.097, 0.00995, -0.116, -0.077),
        param("u_decr_post_imv", -0.05, "utility decrement", "utilities",
          "Persistent decrement after IMV (from long-term year 2)",
          "[A] anchored on PHOSP-COVID (-0.11 at 1 y) and Cuthbertson 2010 (0.677 at 5 y)",
          "normal", -0.05, 0.02, -0.1, 0),
    ]  # fmt: skip
    effect = [
        param("rr_death_msc", 0.76, "risk ratio", "effect",
          "Risk ratio of death, MSC vs control (replaced by the Trials synthesis unless "
          "synthesis_effect is manual)", "Trials sheet synthesis; manual value: Qin 2024 [V]",
          "lognormal", -0.27444, 0.10343, 0.62, 0.93),
        param("p28_death_control", round(v.p28_death_control[0] / v.p28_death_control[1], 6),
          "probability", "effect",
          "Standard-care risk of death by day 28 in the modelled population: converts the "
          "trials' RR to a hazard ratio, and is the control risk of the future trial (EVSI)",
          v.p28_death_control[2], "beta", v.p28_death_control[0],
          v.p28_death_control[1] - v.p28_death_control[0]),
        param("effect_log_hr_scale", v.calibrated.get("effect_log_hr_scale", 1.0), "ratio",
          "effect",
          "Scale of the log hazard ratio so the model's day-28 RR of death equals the trials' "
          "(deaths after discharge are not treated, so a hazard ratio from all deaths "
          "understates the in-hospital effect)",
          "[D] calibrated to the pooled day-28 RR (Calibration sheet)"),
        param("hr_death_msc",
              "(log(1 - min(rr_death_msc * p28_death_control, 0.99)) / "
              "log(1 - p28_death_control)) ** effect_log_hr_scale",
          "hazard ratio", "effect",
          "Hazard ratio of death in hospital while the effect lasts, giving the pooled RR at "
          "day 28 at the modelled population's own control risk",
          "[D] proportional hazards: HR = ln(1 - RR p0) / ln(1 - p0) with p0 the modelled "
              "standard-care day-28 risk (treated risk RR p0 capped at 0.99 for extreme PSA "
              "draws), scaled on the log scale by effect_log_hr_scale"),
        param("delayed_death_exponent", v.calibrated.get("delayed_death_exponent", 1.0),
          "exponent", "effect",
          "Deaths delayed rather than averted: after effect_end_day the treated patients' "
          "hospital death hazard is multiplied by hr ** -delayed_death_exponent (> 1 when the "
          "treatment helped; 1 when it had no effect), to day 90; capped at 5 so extreme "
          "PSA or threshold-search effects keep every transition row valid",
          "[D] calibrated so the day-90 RR of death reproduces Qin 2024 (0.91, 0.72-1.15) "
          "while day 28 keeps the pooled RR (Calibration sheet)"),
        param("secretome_vs_cells", 1.0, "ratio", "effect",
          "Secretome/EV effect relative to cells (no secretome trial has death counts)",
          "[A] ASSUMPTION: as effective as cells, with wide uncertainty", "lognormal", 0, 0.3,
          0.55, 1.8),
        param("rr_death_secretome", "rr_death_msc * secretome_vs_cells", "risk ratio", "effect",
          "Risk ratio of death for secretome/EV (hypothetical strategy)",
          "[D] assumption above"),
        param("hr_death_secretome",
          "(log(1 - min(rr_death_secretome * p28_death_control, 0.99)) / "
          "log(1 - p28_death_control)) ** effect_log_hr_scale", "hazard ratio", "effect",
          "Hazard ratio of death for secretome/EV", "[D] assumption above"),
        param("hr_imv_msc", 1.0, "hazard ratio", "effect",
          "Effect of MSC on intubation",
          "[A] data too sparse to pool (Shu 0/12 vs 4/29); not varied one at a time: fewer "
          "intubations also mean fewer deaths, which the trials' RR already holds"),
        param("hr_recovery_msc", 1.0, "hazard ratio", "effect",
          "Effect of MSC on discharge and liberation hazards",
          "[A] no pooled estimate; Kirkham 2022 LOS -3.97 d in the shorter_stay scenario, where "
          "the death effect is re-fitted (varied alone it would double-count survival)"),
        param("biomarker_prevalence", 0.4, "proportion", "biomarker",
              "Share of patients who are biomarker-positive (responders)",
              "[A] ASSUMPTION: no validated responder biomarker exists (seed review)", "beta",
              40, 60),
        param("rr_death_biomarker_pos", 0.55, "risk ratio", "biomarker",
              "Risk ratio of death with MSC in biomarker-positive patients",
              "[A] ASSUMPTION", "lognormal", -0.5978, 0.25),
        param("rr_death_biomarker_neg",
              "max(0.01, (rr_death_msc - biomarker_prevalence * rr_death_biomarker_pos) / "
              "(1 - biomarker_prevalence))", "risk ratio", "biomarker",
              "Risk ratio in biomarker-negative patients: keeps the population average equal "
              "to the pooled effect (override the cell to relax)", "[D] constraint"),
        param("test_sensitivity", 0.85, "probability", "biomarker", "Test sensitivity",
              "[A] ASSUMPTION (e.g. an inflammatory panel: CRP, IL-6, suPAR)", "beta", 85, 15),
        param("test_specificity", 0.85, "probability", "biomarker", "Test specificity",
              "[A] ASSUMPTION", "beta", 85, 15),
        param("c_test", 200, "currency per patient", "biomarker", "Biomarker test cost",
              "[A] ASSUMPTION", None, None, None, 50, 1000),
    ]  # fmt: skip
    return (
        entry
        + clinical
        + survival
        + utilities
        + list(v.costs)
        + list(v.survivor_costs)
        + list(v.msc_price)
        + effect
    )


def msc_course_parameters(currency: str, admin: float, monitor: float, arrhythmia: float,
                          secretome_dose: float) -> list[list]:  # fmt: skip
    return [
        param("dose_mcells_per_kg", 2, "10^6 cells per kg", "msc", "Dose per infusion",
          f"{BOWDISH}: 2x10^6 cells/kg x 2 infusions [V]"),
        param("weight_kg", 80, "kg", "msc", "Mean body weight of hospitalized adults", "[A]",
          None, None, None, 70, 90),
        param("mcells_per_bag", 135, "10^6 cells", "msc", "Cells per manufactured bag",
          f"[D] midpoint of 80-190x10^6 per bag, {GMP_COST} [V]"),
        param("whole_bags", 0, "0 or 1", "msc",
          "1: each infusion uses whole bags (opened bags are discarded); 0: product used "
          "continuously (shared bags or a price per cell)",
          "[A] continuous in the base case; whole bags is a scenario (it halves or doubles "
          "the product cost at bag boundaries)"),
        param("bags_per_infusion",
          "where(whole_bags, ceil(dose_mcells_per_kg * weight_kg / mcells_per_bag), "
          "dose_mcells_per_kg * weight_kg / mcells_per_bag)",
          "bags", "msc", "Bags per infusion (weight-based dosing)", "[D]"),
        param("n_infusions", 2, "infusions", "msc", "Infusions per course", f"{BOWDISH} [V]"),
        param("c_admin_infusion", admin, f"{currency} per infusion", "msc",
          "Pharmacy preparation and administration", "[A] 1 h specialist nurse + pharmacy",
          None, None, None, admin / 2, admin * 2),
        param("c_monitor_infusion", monitor, f"{currency} per infusion", "msc",
          "Monitoring during and after infusion", "[A]", None, None, None, 0, monitor * 2),
        param("p_ae_excess", "0.127 - 0.056", "probability", "msc",
          "Excess sustained supraventricular arrhythmia with MSC",
          f"{BOWDISH}: 12.7% vs 5.6% [V]"),
        param("c_arrhythmia", arrhythmia, f"{currency} per event", "msc",
          "Cost of managing an arrhythmia episode", "[A]", None, None, None, arrhythmia / 2,
          arrhythmia * 2),
        param("c_msc_course",
          "n_infusions * (c_msc_infusion + c_admin_infusion + c_monitor_infusion) + "
          "p_ae_excess * c_arrhythmia", f"{currency} per patient", "msc",
          "MSC course: product, administration, monitoring and adverse events", "[D]"),
        param("c_secretome_dose", secretome_dose, f"{currency} per dose", "msc",
          "Secretome/EV product price per dose", "[A] ASSUMPTION: no market price exists",
          None, None, None, secretome_dose / 4, secretome_dose * 4),
        param("n_secretome_doses", 5, "doses", "msc", "Secretome doses per course",
          "Fathi-Kazerooni 2022: 5 infusions [V]"),
        param("c_secretome_course",
          "n_secretome_doses * (c_secretome_dose + c_admin_infusion + c_monitor_infusion)",
          f"{currency} per patient", "msc", "Secretome/EV course", "[D]"),
    ]  # fmt: skip


def sheets(v: Variant) -> dict:
    settings = [
        ["name", v.name, ""],
        ["description", v.description, ""],
        ["perspective", v.perspective, ""],
        ["currency", v.currency, ""],
        ["price_year", v.price_year, "costs not inflated beyond their source year [A]"],
        ["discount_rate_costs", v.discount, ""],
        ["discount_rate_outcomes", v.discount, ""],
        ["within_cycle_correction", "trapezoid", "Elbasha & Chhatwal 2016"],
        ["start_age", v.start_age, "[A] see README"],
        ["prop_female", v.prop_female, "[A] see README"],
        ["wtp", v.wtp, f"{v.currency} per QALY"],
        ["effect_measure", "qaly", ""],
        ["psa_samples", 1000, ""],
        ["seed", 2023, ""],
        ["reference_strategy", "standard_care", ""],
        ["outcome_days", "28, 90", ""],
        ["effect_parameter", "rr_death_msc", "receives the pooled RR of the Trials sheet"],
        ["synthesis_virus", v.synthesis_virus, ""],
        ["synthesis_products", "all", ""],
        ["synthesis_randomized_only", "yes" if v.synthesis_virus == "covid19" else "no", ""],
        ["synthesis_effect", "confidence", "confidence | prediction | manual"],
        ["synthesis_tau2", "dl", "DerSimonian-Laird tau² (REML and Paule-Mandel as scenarios)"],
        ["synthesis_interval", "auto", "HKSJ for fewer than 10 trials (IntHout 2014)"],
        ["effect_start_day", 0, "treatment on admission"],
        ["effect_end_day", 28, "full effect to the trials' mortality time point"],
        [
            "effect_waning",
            "none",
            "after day 28 treated patients' deaths partly catch up "
            "(delayed_death_exponent, calibrated to the day-90 RR)",
        ],
        ["population_size", v.population[0], v.population[1]],
        ["decision_horizon_years", 5, "[A]"],
        ["dsa_strategy", "msc_cells", ""],
        ["twoway", "c_msc_infusion, rr_death_msc", "price x effect"],
        ["threshold_parameter", "c_msc_infusion", "threshold price per infusion"],
        ["threshold_max", v.threshold_max, ""],
        ["run_evppi", "yes", "EVPPI of each parameter group"],
        ["run_evsi", "yes", "EVSI of a future two-arm RCT, day-28 mortality"],
        ["run_voi_by_price", "yes", "EVPI and EVSI/ENBS around the threshold price"],
        ["evsi_sample_sizes", "50, 100, 200, 400, 800, 1600, 3200", "patients per arm"],
        ["trial_fixed_cost", v.trial_costs[0], "[A]"],
        ["trial_cost_per_patient", v.trial_costs[1], "[A]"],
        ["trial_control_risk_parameter", "p28_death_control", ""],
        ["run_biomarker", "yes", "responder biomarker: test-and-treat"],
        ["biomarker_strategy", "msc_cells", ""],
        ["run_budget_impact", "yes", "BudgetImpact sheet"],
        ["budget_strategy", "msc_cells", ""],
        ["life_table_source", v.life_table_source, "background mortality (LifeTable sheet)"],
    ]
    phases = [
        ["acute", "Hospital stay (daily cycles)", 1, "day", 90, None],
        ["longterm", "After day 90 (yearly cycles)", 1, "year", None, 100],
    ]
    total_entry = " + ".join(f"n_entry_{s}" for s, _, _ in v.entry)
    initial = {s: f"n_entry_{s} / ({total_entry})" for s, _, _ in v.entry}
    hosp_u = "u_norm + u_decr_hosp"
    disch_u = "u_norm + u_decr_discharged_y1"
    state_headers = [
        "key", "label", "phase", "alive", "utility", "cost_hospital", "cost_drugs",
        "cost_survivor", "start_cost_msc", "tunnel_length", "initial", "next_state", "tags",
        "description",
    ]  # fmt: skip
    states = [
        ["o2", "Hospital, low-flow oxygen", "acute", "yes", hosp_u, "c_day_ward",
         "c_soc_drug_day", 0, "c_course * treat_o2", None, initial.get("o2", 0), "post_noimv",
         "hospital, ward", "On supplemental oxygen"],
        ["niv", "Hospital, high-flow oxygen or NIV", "acute", "yes", hosp_u, "c_day_niv",
         "c_soc_drug_day", 0, "c_course * treat_niv", None, initial.get("niv", 0), "post_noimv",
         "hospital, niv", "HFNO, CPAP or NIV"],
        ["imv", "ICU, invasive mechanical ventilation", "acute", "yes", "u_imv", "c_day_icu",
         "c_soc_drug_day", 0, "c_course * treat_imv", 4, initial.get("imv", 0), "post_imv",
         "hospital, icu, imv", "Tunnel: time_in_state = days on IMV (4 = day 4 or later)"],
        ["ward_post_imv", "Hospital ward after extubation", "acute", "yes", hosp_u,
         "c_day_ward", "c_soc_drug_day", 0, None, 14, None, "post_imv", "hospital, ward",
         "Tunnel: discharge from day step_down_days"],
        ["discharged_noimv", "Discharged, never ventilated", "acute", "yes", disch_u, 0, 0, 0,
         None, None, None, "post_noimv", None, "Post-discharge excess mortality applies"],
        ["discharged_imv", "Discharged after IMV", "acute", "yes", disch_u, 0, 0, 0, None, None,
         None, "post_imv", None, ""],
        ["dead", "Dead", "acute", "no", 0, 0, 0, 0, None, None, None, "dead_longterm", None, ""],
        ["post_noimv", "Alive after the stay, never ventilated", "longterm", "yes",
         "u_norm + u_decr_discharged_y1 * (time_in_state == 1)", 0, 0, "c_survivor_year",
         None, 2, None, None,
         None, "Tunnel: year 1, then later years"],
        ["post_imv", "Alive after the stay, after IMV", "longterm", "yes",
         "u_norm + where(time_in_state == 1, u_decr_discharged_y1, u_decr_post_imv)", 0, 0,
         "c_survivor_year", None, 4, None, None, None, "Tunnel: years 1, 2, 3, then later"],
        ["dead_longterm", "Dead", "longterm", "no", 0, 0, 0, 0, None, None, None, None, None, ""],
    ]  # fmt: skip
    transitions = [
        ["o2", "niv", None, "p_o2_niv", None, None, ""],
        ["o2", "dead", None, "hr_to_prob(p_o2_death_fit, hr_d * hr_death_era)", None, None, ""],
        ["o2", "discharged_noimv", None, "hr_to_prob(p_o2_disch_fit, hr_r)", "c_post_noimv_y1",
         None, "one-off post-discharge care, first year"],
        ["o2", "o2", None, "C", None, None, ""],
        ["niv", "o2", None, "hr_to_prob(p_niv_o2, hr_r)", None, None, ""],
        ["niv", "imv", None, "hr_to_prob(p_niv_imv_fit, hr_i)", None, None, ""],
        ["niv", "dead", None, "hr_to_prob(p_niv_death, hr_d * hr_death_era)", None, None, ""],
        ["niv", "niv", None, "C", None, None, ""],
        ["imv", "ward_post_imv", None,
         "hr_to_prob(p_imv_lib_fit, hr_r) * (time_in_state > imv_min_days)", None, None, ""],
        ["imv", "dead", None, "hr_to_prob(p_imv_death_fit, hr_d * hr_death_era)", None, None, ""],
        ["imv", "imv", None, "C", None, None, "stay: advances the IMV tunnel"],
        ["ward_post_imv", "discharged_imv", None,
         "where(time_in_state >= step_down_days, "
         "1 - hr_to_prob(p_step_death, hr_d * hr_death_era), 0)",
         "c_post_imv_y1", None, "one-off post-discharge care, first year"],
        ["ward_post_imv", "dead", None, "hr_to_prob(p_step_death, hr_d * hr_death_era)", None,
         None, ""],
        ["ward_post_imv", "ward_post_imv", None, "C", None, None, ""],
        ["discharged_noimv", "dead", None, "p_background_death(smr_post_discharge_early)",
         None, None, ""],
        ["discharged_noimv", "discharged_noimv", None, "C", None, None, ""],
        ["discharged_imv", "dead", None, "p_background_death(smr_imv_y1)", None, None, ""],
        ["discharged_imv", "discharged_imv", None, "C", None, None, ""],
        ["dead", "dead", None, 1, None, None, ""],
        ["post_noimv", "dead_longterm", None,
         "p_background_death(where(time_in_state == 1, smr_post_noimv_y1, smr_post_noimv_late))",
         None, None, ""],
        ["post_noimv", "post_noimv", None, "C", None, None, ""],
        ["post_imv", "dead_longterm", None,
         "p_background_death(where(time_in_state == 1, smr_imv_y1, where(time_in_state == 2, "
         "smr_imv_y2, where(time_in_state == 3, smr_imv_y3, smr_imv_late))))", None, None, ""],
        ["post_imv", "post_imv", None, "C", None, None, ""],
        ["dead_longterm", "dead_longterm", None, 1, None, None, ""],
    ]  # fmt: skip
    treated = "entry_o2 * treat_o2 + entry_niv * treat_niv + entry_imv * treat_imv"
    on = "treated > 0"
    hr_death = (
        "where(effect_after, min(hr_product ** -delayed_death_exponent, 5), "
        "hr_product ** effect_weight)"
    )
    strategy_headers = [
        "key", "label", "description", "role", "price_parameter", "effect_parameter",
        "treat_o2", "treat_niv", "treat_imv", "hr_product", "c_course", "treated", "hr_d",
        "hr_i", "hr_r",
    ]  # fmt: skip

    def strategy(key, label, description, o2, niv, imv, hr, course, role="comparator",
                 price=None, rr=None):  # fmt: skip
        return [key, label, description, role, price, rr, o2, niv, imv, hr, course, treated,
                f"where({on}, {hr_death}, 1)", f"where({on}, hr_imv_msc ** effect_weight, 1)",
                f"where({on}, hr_recovery_msc ** effect_weight, 1)"]  # fmt: skip

    strategies = [
        strategy("standard_care", "Standard care", "Guideline care (dexamethasone, IL-6/JAK "
                 "inhibitors as indicated)", 0, 0, 0, 1, 0),
        strategy("msc_cells", "Standard care + MSC", "IV MSC for all eligible patients",
                 1, 1, 1, "hr_death_msc", "c_msc_course"),
        strategy("msc_secretome", "Standard care + secretome/EV (hypothetical)",
                 "MSC-derived secretome/EV; effect and price are ASSUMPTIONS (no trial with "
                 "death counts): reported only as what it would be worth", 1, 1, 1,
                 "hr_death_secretome", "c_secretome_course", "hypothetical",
                 "c_secretome_dose", "rr_death_secretome"),
        strategy("msc_early", "MSC if not on IMV at admission", "MSC at admission, only "
                 "for patients on oxygen, HFNO or NIV (not on IMV) then; none later",
                 1, 1, 0, "hr_death_msc", "c_msc_course"),
        strategy("msc_late", "MSC if on IMV at admission", "MSC at admission, only for "
                 "patients on IMV then; patients intubated later are not treated",
                 0, 0, 1, "hr_death_msc", "c_msc_course"),
    ]  # fmt: skip
    calibration_headers = ["key", "entry", "strategy", "relative_to", "outcome", "day",
                           "target", "tolerance", "source"]  # fmt: skip
    return {
        "Settings": (["setting", "value", "description"], settings),
        "Parameters": (list(PARAMETER_HEADERS), common_parameters(v)),
        "Phases": (["key", "label", "cycle_length", "cycle_unit", "n_cycles", "until_age"],
                   phases),
        "States": (state_headers, states),
        "Transitions": (["from", "to", "strategy", "probability", "cost_post_discharge",
                         "qaly", "description"], transitions),
        "Strategies": (strategy_headers, strategies),
        "LifeTable": (["age", "qx_male", "qx_female"], life_table_rows()),
        "Trials": (TRIAL_HEADERS, trial_rows()),
        "Calibration": (calibration_headers, [list(r) for r in v.calibration]),
        "Correlations": (["parameter_a", "parameter_b", "correlation", "type"],
                         [[a, b, round(r, 4), "pearson"]
                          for a, b, r in v.calibration_correlations]),
        "Subgroups": (["subgroup", "entry", "description"], [list(r) for r in v.subgroups]),
        "Scenarios": (["scenario", "description", "target", "value"],
                      [list(r) for r in v.scenarios]),
        "BudgetImpact": (["year", "eligible_patients", "uptake", "price"],
                         [[y, v.population[0], u, None]
                          for y, u in zip(range(1, 6), (0.1, 0.2, 0.3, 0.4, 0.5), strict=True)]),
    }  # fmt: skip


def _shares(rows: tuple[tuple, ...]) -> tuple[tuple, ...]:
    """Share targets (no relative_to) in Calibration column order."""
    return tuple((*r[:3], None, *r[3:]) for r in rows)


QIN_2024 = "Qin et al. 2024 meta-analysis of 17 RCTs (n = 1,019), see scripts/data/README.md"
POOLED_D28 = "[D] pooled RR of the Trials sheet (DerSimonian-Laird point estimate)"


def effect_targets(rr_28: float, rr_90: float | None, source_90: str) -> tuple[tuple, ...]:
    """Ratio targets: MSC cells vs standard care, risk of death at day 28 (and day 90)."""
    rows = [("rr_death_d28_msc", "", "msc_cells", "standard_care", "dead", 28, rr_28, 0.01,
             POOLED_D28)]  # fmt: skip
    if rr_90 is not None:
        rows.append(("rr_death_d90_msc", "", "msc_cells", "standard_care", "dead", 90, rr_90,
                     0.02, source_90))  # fmt: skip
    return tuple(rows)


NON_IMV_MIX = "o2: 933, niv: 867"
COVID_SUBGROUPS = (
    ("Low-flow oxygen at entry", "o2", "Not on ventilatory support at randomization "
     f"(933/2094) [V], {RECOVERY_TOCI}"),
    ("HFNO or NIV at entry", "niv", "High-flow oxygen or non-invasive ventilation [D]"),
    ("IMV at entry", "imv", "On invasive ventilation at randomization (294/2094) [V]"),
    ("Not on IMV at entry", NON_IMV_MIX, "Low-flow oxygen and HFNO/NIV together, as the "
     "RECOVERY non-IMV stratum"),
)  # fmt: skip
FLU_SUBGROUPS = (
    ("HFNO or NIV at entry", "niv", "Not ventilated at entry (19%) [V], Kumar JAMA 2009"),
    ("IMV at entry", "imv", "Ventilated at entry (81%) [V], Kumar JAMA 2009"),
)
ALL_MIX = ""
COVID_CALIBRATION = _shares((
    ("death_d28_non_imv", NON_IMV_MIX, "standard_care", "dead", 28, 580 / 1800, 0.01,
     f"580/1800 [V], {RECOVERY_TOCI}"),
    ("imv_or_death_d28_non_imv", NON_IMV_MIX, "standard_care",
     "imv, ward_post_imv, discharged_imv, dead", 28, 754 / 1800, 0.01,
     f"754/1800 [V], {RECOVERY_TOCI}"),
    ("death_d28_imv", "imv", "standard_care", "dead", 28, 149 / 294, 0.01,
     f"[D] (729 - 580)/294 deaths among patients on IMV at baseline, {RECOVERY_TOCI}"),
    ("off_imv_alive_d28_imv", "imv", "standard_care", "ward_post_imv, discharged_imv", 28,
     98 / 294, 0.01, f"98/294 successful cessation of IMV [V], {RECOVERY_TOCI}"),
    ("discharged_d28_all", ALL_MIX, "standard_care", "discharged_noimv, discharged_imv", 28,
     1044 / 2094, 0.01, f"1044/2094 [V], {RECOVERY_TOCI}"),
)) + effect_targets(0.7558, 0.91, f"RR 0.91 (0.72-1.15) at day 90 [V], {QIN_2024}")  # fmt: skip
# Patients behind each standard-care target (binomial uncertainty of the calibration, PSA)
COVID_TARGET_N = {"death_d28_non_imv": 1800, "imv_or_death_d28_non_imv": 1800,
                  "death_d28_imv": 294, "off_imv_alive_d28_imv": 294,
                  "discharged_d28_all": 2094}  # fmt: skip
COVID_ENTRY = (
    ("o2", 933, f"933 without ventilatory support at baseline [V], {RECOVERY_TOCI}"),
    ("niv", 867, f"[D] 2094 - 933 - 294, {RECOVERY_TOCI}"),
    ("imv", 294, f"294 on IMV at baseline [V], {RECOVERY_TOCI}"),
)
FLU_RR_90 = round(math.exp(math.log(0.324) * math.log(0.91) / math.log(0.7558)), 4)
FLU_CALIBRATION = _shares((
    ("death_d28_all", ALL_MIX, "standard_care", "dead", 28, 0.143, 0.01,
     "Kumar et al. JAMA 2009;302:1872, critically ill A(H1N1), 14.3% [V]"),
    ("on_imv_d12_imv", "imv", "standard_care", "imv", 12, 0.5, 0.02,
     "[D] median duration of ventilation 12 days (IQR 6-20), Kumar et al. JAMA 2009 [V]: "
     "half of those ventilated at entry still on IMV at day 12"),
)) + effect_targets(
    0.324, FLU_RR_90, "[A] no day-90 influenza evidence: the share of the day-28 log RR left at "
    "day 90 in the COVID-19 RCTs (ln 0.91 / ln 0.7558 = 34%) is transferred"
)  # fmt: skip
FLU_TARGET_N = {"death_d28_all": 168, "on_imv_d12_imv": 136}  # Kumar 2009: 168, 81% ventilated
FLU_ENTRY = (
    ("o2", 0, "[A] influenza ARDS patients enter on HFNO/NIV or IMV"),
    ("niv", 19, "[D] 19% not ventilated, Kumar JAMA 2009 (81% ventilated) [V]"),
    ("imv", 81, "81% ventilated, Kumar JAMA 2009 [V]"),
)

UK_COSTS = (
    param("c_day_ward", 901, "GBP per day", "costs",
      "NHS non-elective inpatient day incl. treatment (2020/21)",
      "DHSC written answer 165361 (cost collection 2020/21) [V]; SE [A] CV 10%", "gamma", 100,
      9.01),
    param("niv_cost_ratio", "2450 / 1828", "ratio", "costs",
      "HFNO/NIV day cost relative to an oxygen ward day",
      f"[D] US day costs NIV 2450 / O2 1828, {KELTON} [V]; transfer to the NHS [A]"),
    param("c_day_niv", "c_day_ward * niv_cost_ratio", "GBP per day", "costs",
      "HFNO/NIV day", "[D]"),
    param("c_day_icu", 1881, "GBP per day", "costs", "NHS adult critical care bed day (2020/21)",
      "DHSC written answer 165361 [V]; SE [A] CV 10%", "gamma", 100, 18.81),
    param("c_soc_drug_day", 0.53, "GBP per day", "costs", "Dexamethasone (eMIT)", f"{RAFIA} [V]"),
    param("c_post_noimv_y1", 2267, "GBP per patient", "costs",
      "Care in the first year after discharge, never ventilated (long-COVID management proxy)",
      "NICE TA971 decision summary (CFS proxy, 2021/22) [V secondary; weak]", "gamma", 16,
      141.69),
    param("c_post_imv_y1", 7523, "GBP per patient", "costs",
      "Health care in the first year after discharge, ARDS survivors",
      "Marti et al. 2016 J Intensive Care (OSCAR; 5692-9354) [V]", "gamma", 64.85, 116.004),
)  # fmt: skip
UK_SURVIVOR_COSTS = (
    param(
        "c_survivor_year",
        0,
        "GBP per year",
        "costs",
        "Health-care costs of survivors unrelated to COVID-19, per year alive",
        "[A] excluded: the NICE reference case leaves out unrelated future costs",
    ),
)
US_SURVIVOR_COSTS = (
    param(
        "c_survivor_45_64",
        12073,
        "USD per year",
        "costs",
        "All-cause medical cost per year after recovery, age 45-64",
        f"{KELTON} citing Whittington/ICER (SE 200) [V]",
        "normal",
        12073,
        200,
    ),
    param(
        "c_survivor_65_84",
        20071,
        "USD per year",
        "costs",
        "All-cause medical cost per year after recovery, age 65-84",
        f"{KELTON} citing Whittington/ICER (SE 250) [V]",
        "normal",
        20071,
        250,
    ),
    param(
        "c_survivor_85",
        38900,
        "USD per year",
        "costs",
        "All-cause medical cost per year after recovery, age 85+",
        f"{KELTON} citing Whittington/ICER (SE 300) [V]",
        "normal",
        38900,
        300,
    ),
    param(
        "c_survivor_year",
        "where(age < 65, c_survivor_45_64, where(age < 85, c_survivor_65_84, c_survivor_85))",
        "USD per year",
        "costs",
        "Survivors' ongoing health-care costs at the current age",
        "[D] US models include them (ICER reference case); cohort starts at 63",
    ),
)
UK_MSC_PRICE = (
    param("c_bag_eur", 6647, "EUR per bag", "msc", "GMP manufacturing cost per MSC bag",
      f"{GMP_COST} [V]"),
    param("eur_to_gbp", 0.86, "GBP per EUR", "msc", "Exchange rate", "[A] 2021 average"),
    param("c_msc_infusion", "c_bag_eur * eur_to_gbp * bags_per_infusion", "GBP per infusion", "msc",
      "MSC product price per infusion: cost-plus anchor (no adult price exists; see the "
      "threshold analysis)", "[A] price anchor = academic manufacturing cost", None, None,
      None, 2633 * 0.86 * 2, 13300 * 0.86 * 2),
    *msc_course_parameters("GBP", 100, 50, 1500, 1000),
)  # fmt: skip
US_COSTS = (
    param("c_day_ward", 1828, "USD per day", "costs", "Hospital day on supplemental oxygen",
      f"{KELTON} (SE 19.05) [V]", "gamma", 9207.94, 0.19852),
    param("c_day_niv", 2450, "USD per day", "costs", "Hospital day on NIV/high-flow",
      f"{KELTON} (SE 124.99) [V]", "gamma", 384.22, 6.3765),
    param("c_day_icu", 3660, "USD per day", "costs", "Hospital day on mechanical ventilation",
      f"{KELTON} (SE 78.64) [V]", "gamma", 2166.08, 1.6897),
    param("c_soc_drug_day", 1, "USD per day", "costs", "Dexamethasone", "[A] US price [GAP]"),
    param("c_post_noimv_y1", 2388, "USD per patient", "costs",
      "Post-discharge COVID-19 costs, highest level supplemental O2", f"{KELTON} [V]"),
    param("c_post_imv_y1", 8716, "USD per patient", "costs",
      "Post-discharge COVID-19 costs, highest level IMV", f"{KELTON} [V]"),
)  # fmt: skip
US_MSC_PRICE = (
    param("c_msc_infusion", 194000, "USD per infusion", "msc",
      "MSC product price per infusion: remestemcel-L (Ryoncil) list price anchor",
      "Mesoblast WAC USD 194,000 per infusion (paediatric aGvHD label, 2025) [V]; one unit "
      "per adult infusion [A]", None, None, None, 6647 * 1.18 * 2, 194000),
    *msc_course_parameters("USD", 200, 100, 5000, 2000),
)  # fmt: skip


CURRENT_ERA = (
    "Current-era standard care: hospital death hazard scaled to 13.6% day-28 mortality "
    "(RECOVERY-baricitinib usual care 2021, 546/4008, Lancet 2022;400:359 [R]); the trials' "
    "RRs at days 28 and 90 are kept (relative effects transported, effect re-calibrated)"
)


SHORTER_STAY = (
    "MSC shortens stays (HR 1.2 on discharge and liberation; Kirkham 2022 LOS -3.97 d) "
    "without adding to the survival gain: the death effect is re-fitted so the day-28 and "
    "day-90 RRs stay the trials' (their RR already holds any benefit of a shorter stay)"
)


def _rows(name: str, description: str, values: dict) -> tuple[tuple, ...]:
    """Scenario rows setting ``values``, the description on the first."""
    return tuple(
        (name, description if i == 0 else "", target, value)
        for i, (target, value) in enumerate(values.items())
    )


def scenarios(price_anchor: tuple[str, float, str], era_values: dict | None = None,
              stay_values: dict | None = None) -> tuple[tuple, ...]:  # fmt: skip
    """Scenario rows shared by the MSC workbooks (price_anchor: name, value, description;
    era_values: parameter values of the current-era baseline, when the workbook has one;
    stay_values: the re-fitted effect of the shorter-stay scenario)."""
    era = _rows("current_era_baseline", CURRENT_ERA, era_values or {})
    stay = _rows("shorter_stay", SHORTER_STAY, {"hr_recovery_msc": 1.2, **(stay_values or {})})
    return (
        *era,
        ("permanent_effect", "Full effect for the whole 90-day stay and no delayed deaths",
         "effect_end_day", 90),
        ("permanent_effect", "", "delayed_death_exponent", 0),
        ("effect_ends_day_28", "Effect ends at day 28 and averted deaths stay averted (the "
         "first release's base case; day-90 RR about 0.85)", "delayed_death_exponent", 0),
        ("waning_to_day_90", "Effect wanes linearly from day 28 to none at day 90, no delayed "
         "deaths", "effect_waning", "linear"),
        ("waning_to_day_90", "", "effect_waning_end_day", 90),
        ("waning_to_day_90", "", "delayed_death_exponent", 0),
        ("dl_wald_interval", "DerSimonian-Laird with a Wald interval (the first release's "
         "synthesis)", "synthesis_interval", "wald"),
        ("reml_hksj", "REML tau² with the HKSJ interval", "synthesis_tau2", "reml"),
        ("low_risk_of_bias_trials", "Pool only trials not at high risk of bias, with counts "
         "read as counts", "synthesis_exclude_high_risk_of_bias", "yes"),
        ("low_risk_of_bias_trials", "", "synthesis_exclude_derived_counts", "yes"),
        ("whole_bags", "Whole bags per infusion (opened bags discarded)", "whole_bags", 1),
        ("observed_post_discharge_mortality", "Post-discharge death rate as observed "
         "(Ayoubkhani 320 per 1,000 person-years: SMR about 24 to day 90, 3 in year 1)",
         "smr_post_discharge_early", 24),
        ("observed_post_discharge_mortality", "", "smr_post_noimv_y1", 3),
        ("conservative_effect", "Effect of the largest trial only: remestemcel-L, Bowdish "
         "2023, RR 0.88 (0.64-1.21)", "synthesis_effect", "manual"),
        ("conservative_effect", "", "rr_death_msc", 0.88),
        ("all_comparative_trials", "Pool all comparative COVID-19 studies, randomized or not",
         "synthesis_randomized_only", "no"),
        ("prediction_interval", "PSA only: the effect is drawn from the prediction "
         "distribution of a new setting (the base case does not change; compare the PSA "
         "outputs of a run with this setting)", "synthesis_effect", "prediction"),
        ("no_post_imv_excess_mortality", "General-population mortality after IMV",
         "smr_imv_y1", 1),
        ("no_post_imv_excess_mortality", "", "smr_imv_y2", 1),
        ("no_post_imv_excess_mortality", "", "smr_imv_y3", 1),
        ("discount_1_5", "NICE sensitivity: 1.5% for costs and outcomes",
         "discount_rate_costs", 0.015),
        ("discount_1_5", "", "discount_rate_outcomes", 0.015),
        *stay,
        (price_anchor[0], price_anchor[2], "c_msc_infusion", price_anchor[1]),
    )  # fmt: skip
