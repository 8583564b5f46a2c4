"""The Settings sheet's rows: every model-wide setting, its kind, default and bounds."""

from __future__ import annotations

from costmodel.schema_types import (
    BOOL,
    CORRECTION_METHODS,
    CYCLE_UNITS,
    DISCOUNT_TIMINGS,
    EFFECT_MEASURES,
    EFFECT_WANING,
    ENUM,
    INTEGER,
    NUMBER,
    NUMBER_LIST,
    PRODUCT_TYPES,
    SYNTHESIS_EFFECTS,
    SYNTHESIS_INTERVALS,
    TAU2_METHODS,
    TEXT,
    Setting,
)

SETTINGS: tuple[Setting, ...] = (
    Setting("name", TEXT, "Model name shown in reports.", required=True),
    Setting("description", TEXT, "One-paragraph description of the decision problem.", ""),
    Setting("perspective", TEXT, "Costing perspective, e.g. 'NHS and PSS'.", ""),
    Setting("currency", TEXT, "Currency code of all costs, e.g. GBP.", required=True),
    Setting("price_year", INTEGER, "Price year of all costs.", required=True, minimum=1900),
    Setting(
        "discount_rate_costs",
        NUMBER,
        "Annual discount rate for costs (0.035 = 3.5%).",
        required=True,
        unit="per year",
        minimum=0.0,
        maximum=0.5,
    ),
    Setting(
        "discount_rate_outcomes",
        NUMBER,
        "Annual discount rate for QALYs and life-years.",
        required=True,
        unit="per year",
        minimum=0.0,
        maximum=0.5,
    ),
    Setting(
        "within_cycle_correction",
        ENUM,
        "How occupancy within a cycle is counted (see README 'Within-cycle correction').",
        default="half-cycle",
        choices=CORRECTION_METHODS,
    ),
    Setting(
        "discount_timing",
        ENUM,
        "When a cycle's counted occupancy is discounted: 'method' (the method's own: each "
        "time point at its time, the heemod methods at the cycle's start), 'time-point', "
        "'cycle-start' (heemod's discount(first = FALSE)) or 'cycle-end' (first = TRUE).",
        default="method",
        choices=DISCOUNT_TIMINGS,
    ),
    Setting(
        "start_age",
        NUMBER,
        "Cohort age at model start.",
        required=True,
        unit="years",
        minimum=0.0,
        maximum=120.0,
    ),
    Setting(
        "prop_female",
        NUMBER,
        "Proportion of the cohort that is female at start.",
        required=True,
        unit="proportion",
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        "wtp",
        NUMBER_LIST,
        "Willingness-to-pay thresholds, comma-separated, first one primary.",
        required=True,
        unit="currency per effect unit",
    ),
    Setting(
        "effect_measure",
        ENUM,
        "Effect used for ICERs and net benefit: qaly or ly.",
        default="qaly",
        choices=EFFECT_MEASURES,
    ),
    Setting(
        "psa_samples",
        INTEGER,
        "Probabilistic sensitivity analysis samples (0 disables PSA).",
        default=1000,
        minimum=0,
        maximum=10_000_000,
    ),
    Setting("seed", INTEGER, "Random seed for PSA.", default=20231, minimum=0),
    Setting(
        "cycle_length",
        NUMBER,
        "Single-phase models without a Phases sheet: length of one cycle.",
        unit="cycle_unit",
    ),
    Setting(
        "cycle_unit",
        ENUM,
        "Single-phase models: unit of cycle_length.",
        choices=tuple(CYCLE_UNITS),
    ),
    Setting("n_cycles", INTEGER, "Single-phase models: number of cycles.", minimum=1),
    Setting(
        "reference_strategy",
        TEXT,
        "Strategy that deaths averted, NNT and cost per death averted are measured against "
        "(default: the first declared).",
    ),
    Setting(
        "outcome_days",
        NUMBER_LIST,
        "Days at which cumulative deaths are reported in outcomes.csv.",
        default=(28.0, 90.0),
        unit="days",
    ),
    Setting(
        "effect_parameter",
        TEXT,
        "Parameter that receives the pooled risk ratio of death from the Trials sheet.",
    ),
    Setting(
        "synthesis_virus",
        TEXT,
        "Trials pooled: a virus label of the Trials sheet (e.g. covid19) or 'all'.",
        default="all",
    ),
    Setting(
        "synthesis_products",
        TEXT,
        f"Product types pooled, comma-separated ({', '.join(PRODUCT_TYPES)}) or 'all'.",
        default="all",
    ),
    Setting(
        "synthesis_randomized_only",
        BOOL,
        "Pool randomized trials only (yes/no).",
        default=False,
    ),
    Setting(
        "population_size",
        NUMBER,
        "Patients facing the decision per year (population EVPI, EVPPI, EVSI).",
        default=0.0,
        unit="patients per year",
        minimum=0.0,
    ),
    Setting(
        "decision_horizon_years",
        INTEGER,
        "Years the decision applies (population value of information).",
        default=1,
        unit="years",
        minimum=1,
        maximum=200,
    ),
    Setting(
        "dsa_strategy",
        TEXT,
        "Strategy compared with reference_strategy in the tornado, two-way and threshold "
        "analyses (default: the second declared).",
    ),
    Setting(
        "twoway",
        TEXT,
        "Two-way sensitivity analyses: parameter pairs 'a, b' separated by ';'.",
        default="",
    ),
    Setting(
        "threshold_parameter",
        TEXT,
        "Parameter for the threshold analysis (e.g. the price per infusion).",
        default="",
    ),
    Setting(
        "threshold_max",
        NUMBER,
        "Upper end of the threshold search (default: 10 x the base value; the lower end is 0).",
    ),
    Setting(
        "run_evppi", BOOL, "Compute EVPPI of each parameter group after the PSA.", default=False
    ),
    Setting(
        "run_evsi",
        BOOL,
        "Compute EVSI/ENBS of a future two-arm trial after the PSA.",
        default=False,
    ),
    Setting(
        "run_biomarker",
        BOOL,
        "Evaluate a responder-biomarker test-and-treat strategy.",
        default=False,
    ),
    Setting(
        "run_budget_impact", BOOL, "Compute the budget impact (BudgetImpact sheet).", default=False
    ),
    Setting(
        "evsi_sample_sizes",
        NUMBER_LIST,
        "Patients per arm of the future trial evaluated by EVSI.",
        default=(50.0, 100.0, 200.0, 400.0, 800.0, 1600.0),
        unit="patients per arm",
    ),
    Setting(
        "trial_fixed_cost",
        NUMBER,
        "Fixed cost of the future trial.",
        default=0.0,
        unit="currency",
        minimum=0.0,
    ),
    Setting(
        "trial_cost_per_patient",
        NUMBER,
        "Cost per patient enrolled in the future trial.",
        default=0.0,
        unit="currency per patient",
        minimum=0.0,
    ),
    Setting(
        "trial_control_risk_parameter",
        TEXT,
        "Parameter holding the control-arm risk of death of the future trial (EVSI).",
        default="",
    ),
    Setting(
        "life_table_source",
        TEXT,
        "Where the LifeTable sheet comes from (country, period, data year) with its evidence "
        "flag; report.html shows it under Inputs and lists a weak one ([A], [R], [GAP]) under "
        "Limitations.",
        default="",
    ),
    Setting(
        "biomarker_in_decision",
        BOOL,
        "With run_biomarker: test-and-treat joins the decision (base case, PSA, CEAC/CEAF, "
        "EVPI, EVPPI, EVSI); no: it is reported in biomarker.csv only, outside the decision "
        "like a hypothetical strategy (its inputs are assumptions).",
        default=True,
    ),
    Setting(
        "biomarker_strategy",
        TEXT,
        "Treat-all strategy whose effect the biomarker splits (default: dsa_strategy).",
        default="",
    ),
    Setting(
        "budget_strategy",
        TEXT,
        "Strategy whose adoption the budget impact measures (default: dsa_strategy).",
        default="",
    ),
    Setting(
        "synthesis_effect",
        ENUM,
        "How the pooled RR enters the model: its confidence distribution, its prediction "
        "distribution (adds between-trial variance), or manual (keep the Parameters row).",
        default="confidence",
        choices=SYNTHESIS_EFFECTS,
    ),
)

EFFECT_DURATION_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "run_voi_by_price",
        BOOL,
        "Value of information over a grid of prices of threshold_parameter (voi_by_price.csv): "
        "at the current price research may be worthless only because the product is not "
        "cost-effective at any plausible effect.",
        default=False,
    ),
    Setting(
        "voi_prices",
        NUMBER_LIST,
        "Prices for run_voi_by_price (default: 0.5, 0.75, 1, 1.25 and 1.5 x the threshold "
        "price at each WTP, and the base price).",
        default=(),
        unit="currency",
    ),
    Setting(
        "synthesis_tau2",
        ENUM,
        "Between-trial variance estimator: dl (DerSimonian-Laird), reml or pm (Paule-Mandel).",
        default="dl",
        choices=TAU2_METHODS,
    ),
    Setting(
        "synthesis_interval",
        ENUM,
        "Interval of the pooled RR: hksj (Hartung-Knapp-Sidik-Jonkman, t with k-1 df), wald "
        "(normal), or auto (hksj when fewer than 10 trials are pooled, else wald).",
        default="auto",
        choices=SYNTHESIS_INTERVALS,
    ),
    Setting(
        "synthesis_exclude_high_risk_of_bias",
        BOOL,
        "Leave trials with risk_of_bias 'high' out of the synthesis.",
        default=False,
    ),
    Setting(
        "synthesis_exclude_derived_counts",
        BOOL,
        "Leave trials whose counts were back-calculated (counts_derived) out of the synthesis.",
        default=False,
    ),
    Setting(
        "synthesis_trials",
        TEXT,
        "Pool only these trial_ids (comma-separated), or 'all'.",
        default="all",
    ),
    Setting(
        "effect_start_day",
        NUMBER,
        "Day the treatment effect starts (built-in variable effect_weight is 0 before it).",
        default=0.0,
        unit="days",
        minimum=0.0,
    ),
    Setting(
        "effect_end_day",
        NUMBER,
        "Last day of the full treatment effect (blank: lasts for the whole horizon). "
        "effect_weight is 1 from effect_start_day to this day, then wanes as effect_waning.",
        unit="days",
        minimum=0.0,
    ),
    Setting(
        "effect_waning",
        ENUM,
        "How the effect fades after effect_end_day: none (stops at once), linear (to no effect "
        "at effect_waning_end_day) or exponential (1% of the effect left at "
        "effect_waning_end_day, none after).",
        default="none",
        choices=EFFECT_WANING,
    ),
    Setting(
        "effect_waning_end_day",
        NUMBER,
        "Day by which a waning effect has gone (needed when effect_waning is not none).",
        unit="days",
        minimum=0.0,
    ),
)
SETTINGS = (*SETTINGS, *EFFECT_DURATION_SETTINGS)
