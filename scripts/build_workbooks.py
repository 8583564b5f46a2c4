"""Build the committed example and default workbooks from their definitions here.

Run with `make workbooks`. The .xlsx files in inputs/ are the product's inputs; this script
is how they were made, so a reviewer can read every number and its source in one place.
"""

from __future__ import annotations

import sys
from pathlib import Path

from costmodel.template import write_workbook

ROOT = Path(__file__).resolve().parents[1]
BCS = "Briggs, Claxton & Sculpher (2006) Decision Modelling for Health Economic Evaluation, "
CHANCELLOR = "Chancellor JV et al. (1997) PharmacoEconomics 12(1):54-66; "

PARAMETER_HEADERS = [
    "name", "value", "distribution", "param1", "param2", "param3", "low", "high", "unit",
    "group", "description", "source",
]  # fmt: skip


def _parameter(name, value, unit, group, description, source, *, low=None, high=None):
    return [name, value, None, None, None, None, low, high, unit, group, description, source]


def chancellor_hiv() -> dict:
    """Chancellor 1997 HIV model as in Briggs et al. exercise 2.5 (deterministic)."""
    counts_source = CHANCELLOR + BCS + "table 2.2 (transition counts, Chelsea & Westminster)"
    counts = [
        ("n_aa", 1251, "A stays in A"),
        ("n_ab", 350, "A to B"),
        ("n_ac", 116, "A to C (AIDS)"),
        ("n_ad", 17, "A to death"),
        ("n_bb", 731, "B stays in B"),
        ("n_bc", 512, "B to C"),
        ("n_bd", 15, "B to death"),
        ("n_cc", 1312, "C stays in C"),
        ("n_cd", 437, "C to death"),
    ]
    parameters = [
        _parameter(
            n, v, "patient-years", "transition counts", f"Observed transitions: {d}", counts_source
        )
        for n, v, d in counts
    ]
    derived = "derived: count / row total"
    parameters += [
        _parameter(
            "n_a",
            "n_aa + n_ab + n_ac + n_ad",
            "patient-years",
            "transition counts",
            "Transitions observed from state A",
            derived,
        ),
        _parameter(
            "n_b",
            "n_bb + n_bc + n_bd",
            "patient-years",
            "transition counts",
            "Transitions observed from state B",
            derived,
        ),
        _parameter(
            "n_c",
            "n_cc + n_cd",
            "patient-years",
            "transition counts",
            "Transitions observed from state C",
            derived,
        ),
        _parameter("p_ab", "n_ab / n_a", "probability per year", "transitions", "A to B", derived),
        _parameter("p_ac", "n_ac / n_a", "probability per year", "transitions", "A to C", derived),
        _parameter(
            "p_ad", "n_ad / n_a", "probability per year", "transitions", "A to death", derived
        ),
        _parameter("p_bc", "n_bc / n_b", "probability per year", "transitions", "B to C", derived),
        _parameter(
            "p_bd", "n_bd / n_b", "probability per year", "transitions", "B to death", derived
        ),
        _parameter(
            "p_cd", "n_cd / n_c", "probability per year", "transitions", "C to death", derived
        ),
        _parameter(
            "rr_combination",
            0.509,
            "risk ratio",
            "effect",
            "Relative risk of each transition on combination therapy (years 1-2)",
            CHANCELLOR + BCS + "exercise 2.5 (meta-analysis)",
            low=0.365,
            high=0.710,
        ),
        _parameter(
            "c_dmed_a",
            1701,
            "GBP per year",
            "costs",
            "Direct medical cost, state A",
            CHANCELLOR + BCS + "table 2.3",
        ),
        _parameter(
            "c_dmed_b",
            1774,
            "GBP per year",
            "costs",
            "Direct medical cost, state B",
            CHANCELLOR + BCS + "table 2.3",
        ),
        _parameter(
            "c_dmed_c",
            6948,
            "GBP per year",
            "costs",
            "Direct medical cost, state C",
            CHANCELLOR + BCS + "table 2.3",
        ),
        _parameter(
            "c_ccare_a",
            1055,
            "GBP per year",
            "costs",
            "Community care cost, state A",
            CHANCELLOR + BCS + "table 2.3",
        ),
        _parameter(
            "c_ccare_b",
            1278,
            "GBP per year",
            "costs",
            "Community care cost, state B",
            CHANCELLOR + BCS + "table 2.3",
        ),
        _parameter(
            "c_ccare_c",
            2059,
            "GBP per year",
            "costs",
            "Community care cost, state C",
            CHANCELLOR + BCS + "table 2.3",
        ),
        _parameter(
            "c_zidovudine",
            2278,
            "GBP per year",
            "costs",
            "Zidovudine (AZT) drug cost",
            CHANCELLOR + BCS + "exercise 2.5",
        ),
        _parameter(
            "c_lamivudine",
            2086.5,
            "GBP per year",
            "costs",
            "Lamivudine drug cost",
            CHANCELLOR + BCS + "exercise 2.5",
        ),
    ]
    settings = [
        ["name", "Chancellor 1997 HIV model: zidovudine vs zidovudine + lamivudine", ""],
        [
            "description",
            "Markov model of HIV (states A, B, C = AIDS, death) from Chancellor et "
            "al. 1997, as reproduced in Briggs, Claxton & Sculpher exercise 2.5. Combination "
            "therapy for two years, then monotherapy.",
            "",
        ],
        ["perspective", "UK health service (direct medical and community care)", ""],
        ["currency", "GBP", ""],
        ["price_year", 1995, "as in the source study"],
        ["discount_rate_costs", 0.06, "textbook exercise: costs at 6%"],
        ["discount_rate_outcomes", 0, "textbook exercise: life-years undiscounted"],
        ["within_cycle_correction", "dmhee", "rewards counted after each transition"],
        ["start_age", 40, "not used: no age-dependent inputs"],
        ["prop_female", 0, "not used"],
        ["wtp", "20000, 30000", "GBP per life-year"],
        ["effect_measure", "ly", "the textbook reports cost per life-year gained"],
        ["psa_samples", 1000, ""],
        ["seed", 1997, ""],
        ["cycle_length", 1, ""],
        ["cycle_unit", "year", ""],
        ["n_cycles", 20, "20-year horizon"],
    ]
    state_headers = [
        "key",
        "label",
        "alive",
        "utility",
        "cost_drug",
        "cost_medical",
        "cost_community",
        "initial",
        "description",
    ]
    states = [
        [
            "state_a",
            "State A (200 < CD4 < 500)",
            "yes",
            1,
            "c_drugs",
            "c_dmed_a",
            "c_ccare_a",
            1,
            "Least severe",
        ],
        ["state_b", "State B (CD4 < 200)", "yes", 1, "c_drugs", "c_dmed_b", "c_ccare_b", None, ""],
        ["state_c", "State C (AIDS)", "yes", 1, "c_drugs", "c_dmed_c", "c_ccare_c", None, ""],
        ["death", "Death", "no", 0, 0, 0, 0, None, "Absorbing"],
    ]
    transitions = [
        ["state_a", "state_a", None, "C", ""],
        ["state_a", "state_b", None, "p_ab * rr", ""],
        ["state_a", "state_c", None, "p_ac * rr", ""],
        ["state_a", "death", None, "p_ad * rr", ""],
        ["state_b", "state_b", None, "C", ""],
        ["state_b", "state_c", None, "p_bc * rr", ""],
        ["state_b", "death", None, "p_bd * rr", ""],
        ["state_c", "state_c", None, "C", ""],
        ["state_c", "death", None, "p_cd * rr", ""],
        ["death", "death", None, 1, "Absorbing"],
    ]
    strategies = [
        ["monotherapy", "Zidovudine monotherapy", "AZT alone", "1", "c_zidovudine"],
        [
            "combination",
            "Zidovudine + lamivudine",
            "AZT + lamivudine for two years, then AZT",
            "where(cycle <= 2, rr_combination, 1)",
            "c_zidovudine + c_lamivudine * (cycle <= 2)",
        ],
    ]
    return {
        "Settings": (["setting", "value", "description"], settings),
        "Parameters": (PARAMETER_HEADERS, parameters),
        "States": (state_headers, states),
        "Transitions": (["from", "to", "strategy", "probability", "description"], transitions),
        "Strategies": (["key", "label", "description", "rr", "c_drugs"], strategies),
    }


WORKBOOKS = {
    "inputs/examples/chancellor_hiv.xlsx": chancellor_hiv,
}


def main() -> int:
    for relative, build in WORKBOOKS.items():
        path = ROOT / relative
        write_workbook(path, build())
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
