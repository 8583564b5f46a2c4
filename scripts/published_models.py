"""Published models written plainly as workbooks, each with its timing convention by name.

- DARTH's Sick-Sicker model, time-independent (Alarid-Escudero et al., Med Decis Making
  2023;43(1):3-20) and age-dependent with transition rewards (Med Decis Making
  2023;43(1):21-41): `darth-simpson` counting, every time point discounted at its time.
- heemod's HIV vignette `c_homogeneous` (Chancellor et al. 1997 inputs, 50 cycles):
  `heemod-life-table` counting, each cycle discounted at its start.

Inputs are those of the sources' R code (DARTH-git/cohort-modeling-tutorial-intro,
analysis/cSTM_time_indep.R; cohort-modeling-tutorial-timedep, analysis/
cSTM_time_dep_simulation.R; heemod vignettes/c-homogeneous.Rmd). The DARTH papers' parameter
tables print c_trtB = $12,000; their code, and their published results, use $13,000.
"""

from __future__ import annotations

import csv
from pathlib import Path

from costmodel.template import PARAMETER_HEADERS

ROOT = Path(__file__).resolve().parents[1]
LIFE_TABLE = ROOT / "tests" / "data" / "LifeTable_USA_Mx_2015.csv"
DARTH_1A = "Alarid-Escudero F et al. (2023) Med Decis Making 43(1):3-20, table 2"
DARTH_1B = "Alarid-Escudero F et al. (2023) Med Decis Making 43(1):21-41, table 2"
HEEMOD = "heemod vignette c_homogeneous (Chancellor JV et al. 1997 PharmacoEconomics 12:54-66)"


def _p(name, value, unit, group, description, source):
    """A fixed parameter row (no distribution, no DSA range, no param_type or dirichlet)."""
    blank = [None] * 6  # distribution, param1-3, low, high
    return [name, value, *blank, unit, group, description, source, None, None]


def _darth_parameters(source: str) -> list[list]:
    rows = [
        ("r_HD", 0.002, "rate per year", "rates", "Healthy to dead (background)"),
        ("r_HS1", 0.15, "rate per year", "rates", "Healthy to sick"),
        ("r_S1H", 0.5, "rate per year", "rates", "Sick to healthy"),
        ("r_S1S2", 0.105, "rate per year", "rates", "Sick to sicker"),
        ("hr_S1", 3, "hazard ratio", "rates", "Death when sick vs healthy"),
        ("hr_S2", 10, "hazard ratio", "rates", "Death when sicker vs healthy"),
        ("hr_S1S2_trtB", 0.6, "hazard ratio", "effects", "Sick to sicker under treatment B"),
        ("c_H", 2000, "USD per year", "costs", "Healthy"),
        ("c_S1", 4000, "USD per year", "costs", "Sick"),
        ("c_S2", 15000, "USD per year", "costs", "Sicker"),
        ("c_trtA", 12000, "USD per year", "costs", "Treatment A"),
        ("c_trtB", 13000, "USD per year", "costs", "Treatment B (code and results: 13,000)"),
        ("u_H", 1, "utility", "utilities", "Healthy"),
        ("u_S1", 0.75, "utility", "utilities", "Sick"),
        ("u_S2", 0.5, "utility", "utilities", "Sicker"),
        ("u_trtA", 0.95, "utility", "utilities", "Sick under treatment A"),
        ("p_HS1", "rate_to_prob(r_HS1, 1)", "probability per year", "derived", "Healthy to sick"),
        ("p_S1H", "rate_to_prob(r_S1H, 1)", "probability per year", "derived", "Sick to healthy"),
    ]
    return [_p(*row, source) for row in rows]


def _darth_sheets(name: str, source: str, age_dependent: bool) -> dict:
    parameters = _darth_parameters(source)
    if age_dependent:
        death = {
            "H": "p_background_death(1)",
            "S1": "p_background_death(hr_S1)",
            "S2": "p_background_death(hr_S2)",
        }
        parameters += [
            _p("du_HS1", 0.01, "QALY", "transition rewards", "Disutility of falling sick", source),
            _p("ic_HS1", 1000, "USD", "transition rewards", "Cost of falling sick", source),
            _p("ic_D", 2000, "USD", "transition rewards", "Cost of dying", source),
        ]
    else:
        death = {
            "H": "rate_to_prob(r_HD, 1)",
            "S1": "rate_to_prob(r_HD * hr_S1, 1)",
            "S2": "rate_to_prob(r_HD * hr_S2, 1)",
        }
    settings = [
        ["name", name, ""],
        ["description", f"DARTH Sick-Sicker cohort model as published: {source}.", ""],
        ["perspective", "US health care sector", ""],
        ["currency", "USD", ""],
        ["price_year", 2018, ""],
        ["discount_rate_costs", 0.03, ""],
        ["discount_rate_outcomes", 0.03, ""],
        ["within_cycle_correction", "darth-simpson", "DARTH gen_wcc(n, 'Simpson1/3')"],
        ["start_age", 25, ""],
        ["prop_female", 0.5, "not used: the life table's Total column"],
        ["wtp", "100000", "USD per QALY"],
        ["effect_measure", "qaly", ""],
        ["psa_samples", 0, "deterministic reproduction"],
        ["seed", 2023, ""],
        ["cycle_length", 1, ""],
        ["cycle_unit", "year", ""],
        ["n_cycles", 75, "ages 25 to 100"],
    ]
    states = [
        ["H", "Healthy", "yes", "u_H", "c_H", 1, ""],
        ["S1", "Sick", "yes", "u_s1", "c_S1 + c_trt", None, ""],
        ["S2", "Sicker", "yes", "u_S2", "c_S2 + c_trt", None, ""],
        ["D", "Dead", "no", 0, 0, None, ""],
    ]
    ic_d = "ic_D" if age_dependent else None
    transitions = [
        ["H", "H", None, "C", None, None, ""],
        ["H", "S1", None, f"(1 - {death['H']}) * p_HS1", "ic_HS1" if age_dependent else None,
         "-du_HS1" if age_dependent else None, ""],
        ["H", "D", None, death["H"], ic_d, None, ""],
        ["S1", "H", None, f"(1 - {death['S1']}) * p_S1H", None, None, ""],
        ["S1", "S1", None, "C", None, None, ""],
        ["S1", "S2", None, f"(1 - {death['S1']}) * rate_to_prob(r_S1S2 * hr_s1s2, 1)", None,
         None, ""],
        ["S1", "D", None, death["S1"], ic_d, None, ""],
        ["S2", "S2", None, "C", None, None, ""],
        ["S2", "D", None, death["S2"], ic_d, None, ""],
        ["D", "D", None, 1, None, None, ""],
    ]  # fmt: skip
    strategies = [
        ["SoC", "Standard of care", "", "u_S1", "0", "1"],
        ["A", "Strategy A", "Treatment A: better quality of life when sick", "u_trtA",
         "c_trtA", "1"],
        ["B", "Strategy B", "Treatment B: slower progression to sicker", "u_S1", "c_trtB",
         "hr_S1S2_trtB"],
        ["AB", "Strategy AB", "Treatments A and B", "u_trtA", "c_trtA + c_trtB",
         "hr_S1S2_trtB"],
    ]  # fmt: skip
    sheets = {
        "Settings": (["setting", "value", "description"], settings),
        "Parameters": ([*PARAMETER_HEADERS, "param_type", "dirichlet"], parameters),
        "States": (
            ["key", "label", "alive", "utility", "cost", "initial", "description"],
            states,
        ),
        "Transitions": (
            ["from", "to", "strategy", "probability", "cost", "qaly", "description"],
            transitions,
        ),
        "Strategies": (["key", "label", "description", "u_s1", "c_trt", "hr_s1s2"], strategies),
    }
    if age_dependent:
        with LIFE_TABLE.open(newline="") as f:
            rows = [[int(r["Age"]), float(r["Total"])] for r in csv.DictReader(f)]
        sheets["LifeTable"] = (["age", "mx"], rows)
    return sheets


def darth_sick_sicker() -> dict:
    """Sick-Sicker, time-independent (DARTH tutorial 1a)."""
    return _darth_sheets("DARTH Sick-Sicker (time-independent)", DARTH_1A, age_dependent=False)


def darth_sick_sicker_age() -> dict:
    """Sick-Sicker with age-dependent background mortality (the Total column of the US 2015
    life table, a rate) and transition rewards (DARTH tutorial 1b)."""
    return _darth_sheets(
        "DARTH Sick-Sicker (age-dependent, transition rewards)", DARTH_1B, age_dependent=True
    )


STATE_HEADERS_HIV = (
    "key", "label", "alive", "utility", "cost_health", "cost_drugs", "initial", "description",
)  # fmt: skip


def heemod_hiv() -> dict:
    """heemod's `c_homogeneous` vignette: monotherapy vs combined therapy, 50 yearly cycles,
    life-table counting, costs discounted at 6% from the second cycle, life-years not."""
    rows = [
        ("p_ab", 0.202, "A to B"), ("p_ac", 0.067, "A to C"), ("p_ad", 0.010, "A to D"),
        ("p_bc", 0.407, "B to C"), ("p_bd", 0.012, "B to D"), ("p_cd", 0.250, "C to D"),
    ]  # fmt: skip
    parameters = [_p(n, v, "probability per year", "transitions", d, HEEMOD) for n, v, d in rows]
    parameters += [
        _p("rr", 0.509, "risk ratio", "effect", "Combined therapy, every cycle", HEEMOD),
        _p("cost_zido", 2278, "GBP per year", "costs", "Zidovudine", HEEMOD),
        _p("cost_lami", 2086, "GBP per year", "costs", "Lamivudine", HEEMOD),
        _p("cost_a", 2756, "GBP per year", "costs", "Health care, state A", HEEMOD),
        _p("cost_b", 3052, "GBP per year", "costs", "Health care, state B", HEEMOD),
        _p("cost_c", 9007, "GBP per year", "costs", "Health care, state C", HEEMOD),
    ]
    settings = [
        ["name", "heemod c_homogeneous: HIV monotherapy vs combined therapy", ""],
        ["description", f"Homogeneous Markov model as in the {HEEMOD}.", ""],
        ["perspective", "health care", ""],
        ["currency", "GBP", ""],
        ["price_year", 1995, ""],
        ["discount_rate_costs", 0.06, "discount(x, 0.06)"],
        ["discount_rate_outcomes", 0, "life-years undiscounted"],
        ["within_cycle_correction", "heemod-life-table", "heemod's default method"],
        ["start_age", 40, "not used"],
        ["prop_female", 0, "not used"],
        ["wtp", "1000, 5000, 6000, 10000", "as the vignette's net monetary benefit table"],
        ["effect_measure", "ly", ""],
        ["psa_samples", 0, ""],
        ["seed", 1, ""],
        ["cycle_length", 1, ""],
        ["cycle_unit", "year", ""],
        ["n_cycles", 50, ""],
    ]
    states = [
        ["A", "A (200 < CD4 < 500)", "yes", 1, "cost_a", "cost_drugs", 1, ""],
        ["B", "B (CD4 < 200)", "yes", 1, "cost_b", "cost_drugs", None, ""],
        ["C", "C (AIDS)", "yes", 1, "cost_c", "cost_drugs", None, ""],
        ["D", "D (death)", "no", 0, 0, 0, None, ""],
    ]
    transitions = [
        ["A", "A", None, "C", ""], ["A", "B", None, "p_ab * rr_s", ""],
        ["A", "C", None, "p_ac * rr_s", ""], ["A", "D", None, "p_ad * rr_s", ""],
        ["B", "B", None, "C", ""], ["B", "C", None, "p_bc * rr_s", ""],
        ["B", "D", None, "p_bd * rr_s", ""], ["C", "C", None, "C", ""],
        ["C", "D", None, "p_cd * rr_s", ""], ["D", "D", None, 1, ""],
    ]  # fmt: skip
    strategies = [
        ["mono", "Monotherapy", "Zidovudine", "1", "cost_zido"],
        ["comb", "Combined therapy", "Zidovudine + lamivudine", "rr", "cost_zido + cost_lami"],
    ]
    return {
        "Settings": (["setting", "value", "description"], settings),
        "Parameters": ([*PARAMETER_HEADERS, "param_type", "dirichlet"], parameters),
        "States": (STATE_HEADERS_HIV, states),
        "Transitions": (["from", "to", "strategy", "probability", "description"], transitions),
        "Strategies": (["key", "label", "description", "rr_s", "cost_drugs"], strategies),
    }
