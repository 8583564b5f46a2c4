"""Build the committed example and default workbooks from their definitions here.

Run with `make workbooks`. The .xlsx files in inputs/ are the product's inputs; this script
is how they were made, so a reviewer can read every number and its source in one place.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import msc_model as msc
import published_models as published

from costmodel.template import PARAMETER_HEADERS, write_workbook

ROOT = Path(__file__).resolve().parents[1]
BCS = "Briggs, Claxton & Sculpher (2006) Decision Modelling for Health Economic Evaluation, "
CHANCELLOR = "Chancellor JV et al. (1997) PharmacoEconomics 12(1):54-66; "


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
        ["threshold_parameter", "c_lamivudine", "price of lamivudine at which ICER = WTP"],
        ["twoway", "rr_combination, c_lamivudine", ""],
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
    for row in parameters:  # PSA as in Briggs et al. ch. 4
        row += [None, None]  # param_type, dirichlet
        if row[0].startswith("n_") and len(row[0]) == 4:  # counts: Dirichlet per row
            row[2], row[3], row[-1] = "dirichlet", row[1], f"from_{row[0][2]}"
        if row[0] == "c_lamivudine":  # for the two-way analysis [A] +/-50%
            row[6], row[7] = 1043.25, 3129.75
        if row[0] == "rr_combination":  # lognormal from the 95% CI
            row[2], row[3], row[4], row[-2] = "lognormal", 0.365, 0.710, "ci95"
    return {
        "Settings": (["setting", "value", "description"], settings),
        "Parameters": ([*PARAMETER_HEADERS, "param_type", "dirichlet"], parameters),
        "States": (state_headers, states),
        "Transitions": (["from", "to", "strategy", "probability", "description"], transitions),
        "Strategies": (["key", "label", "description", "rr", "c_drugs"], strategies),
    }


def msc_variants(calibrated: dict[str, dict[str, float]]) -> dict[str, msc.Variant]:
    covid = calibrated.get("covid19", DEFAULT_GUESS)
    flu = {**covid, **calibrated.get("influenza", {})}
    covid_description = (
        "Intravenous mesenchymal stromal cells (or MSC secretome/EV) added to standard care "
        "for adults hospitalized with severe COVID-19 (hypoxic, inflamed; on oxygen, HFNO/NIV "
        "or IMV). Daily cycles for 90 days, then yearly cycles to age 100."
    )
    p0_covid = (
        729,
        2094,
        f"729/2094 deaths by day 28 in the calibration cohort [V], {msc.RECOVERY_TOCI}",
    )
    uncertainty = calibrated.get("uncertainty", {})
    common = dict(
        start_age=63,
        prop_female=0.38,
        entry=msc.COVID_ENTRY,
        subgroups=msc.COVID_SUBGROUPS,
        calibration=msc.COVID_CALIBRATION,
        calibrated=covid,
        synthesis_virus="covid19",
        p28_death_control=p0_covid,
        calibration_sd=uncertainty.get("covid19", {}).get("beta"),
        calibration_shift=uncertainty.get("covid19", {}).get("shift"),
        calibration_correlations=_correlations(uncertainty.get("covid19", {})),
    )
    hr_era = calibrated.get("current_era_covid19")
    stay = calibrated.get("shorter_stay", {})
    return {
        "msc_covid19": msc.Variant(
            key="msc_covid19",
            name="MSC add-on for severe COVID-19: NHS England",
            description=covid_description,
            perspective="NHS and PSS (NICE reference case)",
            currency="GBP",
            price_year=2021,
            discount=0.035,
            wtp="20000, 30000",
            costs=msc.UK_COSTS,
            survivor_costs=msc.UK_SURVIVOR_COSTS,
            msc_price=msc.UK_MSC_PRICE,
            population=(20000, "[A] adults hospitalized with severe COVID-19 per year, England"),
            life_table_source="US SSA period life table, 2018 data year, standing in for "
            "England [A]: the ONS national life table was not transcribed",
            threshold_max=200000,
            scenarios=msc.scenarios(RYONCIL_GBP, hr_era, stay.get("msc_covid19")),
            **common,
        ),
        "msc_covid19_us": msc.Variant(
            key="msc_covid19_us",
            name="MSC add-on for severe COVID-19: US payer",
            description=covid_description,
            perspective="US health-care payer",
            currency="USD",
            price_year=2020,
            discount=0.03,
            wtp="50000, 100000, 150000",
            costs=msc.US_COSTS,
            survivor_costs=msc.US_SURVIVOR_COSTS,
            msc_price=msc.US_MSC_PRICE,
            population=(100000, "[A] US adults hospitalized with severe COVID-19 per year"),
            threshold_max=400000,
            scenarios=msc.scenarios(
                (
                    "cost_plus_price",
                    6647 * 1.18 * 2,
                    "Academic GMP manufacturing cost, 1.18 USD/EUR, 2 bags",
                ),
                hr_era,
                stay.get("msc_covid19"),
            ),
            **common,
        ),
        "msc_influenza_ards": msc.Variant(
            key="msc_influenza_ards",
            name="MSC add-on for influenza-associated ARDS: NHS England",
            life_table_source="US SSA period life table, 2018 data year, standing in for "
            "England [A]: the ONS national life table was not transcribed",
            description="Intravenous MSC added to standard care for adults with influenza "
            "(H7N9/H1N1)-associated ARDS. Standard-care course calibrated to critically ill "
            "A(H1N1) and influenza-ARDS cohorts; effect from one non-randomized H7N9 study.",
            perspective="NHS and PSS (NICE reference case)",
            currency="GBP",
            price_year=2021,
            discount=0.035,
            wtp="20000, 30000",
            start_age=50,
            prop_female=0.45,
            synthesis_virus="influenza",
            p28_death_control=(
                24,
                168,
                "Kumar et al. JAMA 2009;302:1872: 14.3% of 168 critically ill A(H1N1) patients "
                "died by day 28 (24/168 [R]) = the calibration target: the trial RR is "
                "converted at the modelled control risk",
            ),
            entry=msc.FLU_ENTRY,
            subgroups=msc.FLU_SUBGROUPS,
            calibration=msc.FLU_CALIBRATION,
            calibrated=flu,
            calibration_sd=uncertainty.get("influenza", {}).get("beta"),
            calibration_shift=uncertainty.get("influenza", {}).get("shift"),
            calibration_correlations=_correlations(uncertainty.get("influenza", {})),
            costs=msc.UK_COSTS,
            survivor_costs=msc.UK_SURVIVOR_COSTS,
            msc_price=msc.UK_MSC_PRICE,
            population=(1000, "[A] adults with influenza ARDS per year, England"),
            threshold_max=200000,
            scenarios=tuple(
                row for row in msc.scenarios(RYONCIL_GBP) if row[0] not in COVID_ONLY_SCENARIOS
            ),
        ),
    }


RYONCIL_GBP = (
    "ryoncil_price",
    194000 * 0.79,
    "Remestemcel-L list price USD 194,000 at 0.79 GBP/USD",
)
# one non-randomized influenza study: no randomized-only or synthesis-method alternatives
COVID_ONLY_SCENARIOS = {
    "conservative_effect",
    "all_comparative_trials",
    "prediction_interval",
    "reml_hksj",
    "dl_wald_interval",
    "low_risk_of_bias_trials",
}


def _correlations(uncertainty: dict) -> tuple[tuple[str, str, float], ...]:
    """Correlation rows (a, b, r) of the calibrated parameters' logit-scale covariance."""
    names = uncertainty.get("names", [])
    matrix = uncertainty.get("correlation", [])
    return tuple(
        (names[i], names[j], matrix[i][j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if abs(matrix[i][j]) >= 0.01
    )


DEFAULT_GUESS = {
    "p_o2_death": 0.01,
    "p_o2_disch": 0.05,
    "p_niv_imv": 0.02,
    "p_imv_death": 0.02,
    "p_imv_lib": 0.03,
}
FIT = {
    "covid19": ("msc_covid19", [*DEFAULT_GUESS, "effect_log_hr_scale", "delayed_death_exponent"]),
    "influenza": (
        "msc_influenza_ards",
        ["p_imv_death", "p_imv_lib", "effect_log_hr_scale", "delayed_death_exponent"],
    ),
}
TARGET_N = {"covid19": msc.COVID_TARGET_N, "influenza": msc.FLU_TARGET_N}
CURRENT_ERA_D28 = 546 / 4008  # RECOVERY-baricitinib usual care, Lancet 2022;400:359 [R]
CALIBRATED = ROOT / "scripts" / "data" / "msc_calibrated.json"


def _inputs(calibrated: dict, key: str):
    from costmodel.validate import load_inputs

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{key}.xlsx"
        write_workbook(path, msc.sheets(msc_variants(calibrated)[key]))
        return load_inputs(path)


def calibrate(calibrated: dict) -> dict:
    """Fit the standard-care probabilities (and the delayed-death hazard ratio) of each MSC
    evidence set to its targets, then the calibration's uncertainty and the current-era
    hazard ratio."""
    from costmodel.analyses.calibration import fit_calibration

    for name, (key, names) in FIT.items():
        values, table = fit_calibration(_inputs(calibrated, key), names)
        calibrated[name] = {k: round(v, 8) for k, v in values.items()}
        print(f"calibrated {name}:", calibrated[name])
        print(table[["key", "target", "model", "difference"]].to_string(index=False))
    calibrated["uncertainty"] = {}
    for name, (key, names) in FIT.items():
        probabilities = [n for n in names if n.startswith("p_")]
        inputs = _inputs(calibrated, key)
        calibrated["uncertainty"][name] = calibration_uncertainty(
            inputs, probabilities, TARGET_N[name]
        )
    calibrated["current_era_covid19"] = current_era_values(calibrated)
    calibrated["shorter_stay"] = {
        key: refit_effect(calibrated, key, "shorter_stay")
        for key in ("msc_covid19", "msc_influenza_ards")
    }
    return calibrated


def refit_effect(calibrated: dict, key: str, scenario: str) -> dict[str, float]:
    """The effect parameters re-fitted in one scenario of workbook ``key`` so its day-28 (and
    day-90) RRs of death are still the trials'."""
    from costmodel.analyses.calibration import fit_calibration

    inputs = _inputs(calibrated, key)
    variant = inputs.scenario_variants[[s.name for s in inputs.scenarios].index(scenario)]
    fitted, table = fit_calibration(variant, ["effect_log_hr_scale", "delayed_death_exponent"])
    print(f"{key} {scenario}:", fitted)
    print(table[["key", "target", "model"]].tail(2).to_string(index=False))
    return {k: round(v, 8) for k, v in fitted.items()}


def current_era_values(calibrated: dict) -> dict[str, float]:
    """Parameter values of the current-era scenario: the hospital death hazard ratio giving
    CURRENT_ERA_D28 under standard care, that risk as the RR-to-HR control risk, and the
    effect re-calibrated so the day-28 and day-90 RRs still match the trials."""
    from costmodel.analyses.calibration import fit_calibration

    hr_era = era_hazard_ratio(_inputs(calibrated, "msc_covid19"), CURRENT_ERA_D28)
    values = {"hr_death_era": round(hr_era, 6), "p28_death_control": round(CURRENT_ERA_D28, 6)}
    calibrated["current_era_covid19"] = values
    inputs = _inputs(calibrated, "msc_covid19")
    era = inputs.scenario_variants[[s.name for s in inputs.scenarios].index("current_era_baseline")]
    fitted, table = fit_calibration(era, ["effect_log_hr_scale", "delayed_death_exponent"])
    print("current era:", values, fitted)
    print(table[["key", "target", "model"]].tail(2).to_string(index=False))
    return {**values, **{k: round(v, 8) for k, v in fitted.items()}}


def calibration_uncertainty(inputs, names: list[str], target_n: dict[str, int]) -> dict:
    """Delta method: the binomial SE of each standard-care target, propagated through the
    least-squares fit to the logit of the fitted probabilities; returned as beta (alpha,
    beta) marginals with the same mean and variance, and the logit-scale correlations."""
    import numpy as np
    from scipy.special import expit, logit

    from costmodel.analyses.calibration import compute_calibration
    from costmodel.parameters import evaluate_parameters

    keys = list(target_n)
    base = evaluate_parameters(inputs)
    theta = np.array([logit(base[n][0]) for n in names])

    def model_at(overrides: dict) -> np.ndarray:
        table = compute_calibration(inputs, evaluate_parameters(inputs, overrides))
        return table.set_index("key").loc[keys, "model"].to_numpy(dtype=float)

    def model(x):
        return model_at({n: np.array([expit(v)]) for n, v in zip(names, x, strict=True)})

    step = 1e-4
    jacobian = np.column_stack(
        [
            (model(theta + step * e) - model(theta - step * e)) / (2 * step)
            for e in np.eye(len(names))
        ]
    )
    targets = {t.key: t for t in inputs.calibration}
    share = np.array([targets[k].target for k in keys])
    weights = np.diag([1 / targets[k].tolerance ** 2 for k in keys])
    sigma = np.diag(share * (1 - share) / np.array([target_n[k] for k in keys]))
    bread = np.linalg.inv(jacobian.T @ weights @ jacobian)
    cov = bread @ jacobian.T @ weights @ sigma @ weights @ jacobian @ bread
    sd = np.sqrt(np.diag(cov))
    beta = {}
    for n, t, s_logit in zip(names, theta, sd, strict=True):
        p = float(expit(t))
        var = (p * (1 - p) * s_logit) ** 2
        k = p * (1 - p) / var - 1
        beta[n] = (round(p * k, 4), round((1 - p) * k, 4))
    correlation = cov / np.outer(sd, sd)
    shift = _refit_shift(inputs, names, keys, model_at, jacobian, weights)
    return {
        "names": names,
        "beta": beta,
        "correlation": np.round(correlation, 6).tolist(),
        "shift": shift,
    }


def _refit_shift(inputs, names, keys, model_at, jacobian, weights) -> dict:
    """How the fit moves when another sampled parameter moves: d logit(theta) / d phi =
    -(J' W J)^-1 J' W J_phi (a linearized re-fit), for every sampled parameter phi that
    changes a standard-care target. Returned as {theta: {phi: [coefficient, base value]}}."""
    import numpy as np

    from costmodel.parameters import evaluate_parameters

    base = evaluate_parameters(inputs)
    shift: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    bread = np.linalg.inv(jacobian.T @ weights @ jacobian)
    for p in inputs.parameters:
        if p.dist is None or p.name in names or p.name not in base:
            continue
        value = float(base[p.name][0])
        step = 1e-4 * max(abs(value), 1e-3)
        up = model_at({p.name: np.array([value + step])})
        down = model_at({p.name: np.array([value - step])})
        column = (up - down) / (2 * step)
        if np.abs(column).max() * max(abs(value), 1e-3) < 1e-7 or not np.isfinite(column).all():
            continue  # the parameter does not move the standard-care targets
        coefficients = -bread @ jacobian.T @ weights @ column
        for n, b in zip(names, coefficients, strict=True):
            if abs(b) * max(abs(value), 1e-3) > 1e-9:  # leave out rounding noise
                shift[n][p.name] = [float(f"{b:.8g}"), value]
    return shift


def era_hazard_ratio(inputs, day28_mortality: float) -> float:
    """Hazard ratio on standard-care hospital deaths giving ``day28_mortality`` at day 28."""
    import numpy as np
    from scipy.optimize import brentq

    from costmodel.model import run_model
    from costmodel.outcomes import share_at_day
    from costmodel.parameters import evaluate_parameters

    reference = inputs.strategy_keys.index(inputs.reference_strategy)

    def gap(hr: float) -> float:
        values = evaluate_parameters(inputs, {"hr_death_era": np.array([hr])})
        out = run_model(inputs, values, keep_trace=True)
        return float(share_at_day(inputs, out, ("dead",), 28)[0, reference]) - day28_mortality

    return float(brentq(gap, 0.05, 1.0, xtol=1e-8))


def main() -> int:
    calibrated = json.loads(CALIBRATED.read_text()) if CALIBRATED.exists() else {}
    if "--calibrate" in sys.argv or not calibrated:
        calibrated = calibrate(calibrated)
        CALIBRATED.write_text(json.dumps(calibrated, indent=2, sort_keys=True) + "\n")
    workbooks = {
        "inputs/examples/chancellor_hiv.xlsx": chancellor_hiv(),
        "inputs/examples/darth_sick_sicker.xlsx": published.darth_sick_sicker(),
        "inputs/examples/darth_sick_sicker_age.xlsx": published.darth_sick_sicker_age(),
        "inputs/examples/heemod_hiv.xlsx": published.heemod_hiv(),
    }
    for key, variant in msc_variants(calibrated).items():
        workbooks[f"inputs/{key}.xlsx"] = msc.sheets(variant)
    for relative, sheets in workbooks.items():
        write_workbook(ROOT / relative, sheets)
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
