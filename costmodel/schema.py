"""Declarative description of the input workbook: sheets, columns and settings.

One source of truth: the validator reads the sheet and column names from here, the template
writer styles and documents columns from here, and the README's workbook reference is
generated from here (``python -m costmodel.schema`` prints it).
"""

from __future__ import annotations

import sys

from costmodel.distributions import PARAM_TYPES
from costmodel.schema_settings import SETTINGS
from costmodel.schema_types import (  # noqa: F401 (re-exported: schema is the public face)
    BIOMARKER_PARAMETERS,
    BOOL,
    COMPLEMENT_MARKERS,
    CORRECTION_METHODS,
    CORRELATION_TYPES,
    CYCLE_UNITS,
    DISTRIBUTIONS,
    EFFECT_MEASURES,
    EFFECT_WANING,
    ENUM,
    EXPRESSION,
    FAMILIES,
    INTEGER,
    KEY,
    NUMBER,
    NUMBER_LIST,
    PRODUCT_TYPES,
    RISK_OF_BIAS,
    STRATEGY_ROLES,
    SYNTHESIS_EFFECTS,
    SYNTHESIS_INTERVALS,
    TAU2_METHODS,
    TEXT,
    YES_NO,
    Column,
    Setting,
    Sheet,
)

SETTINGS_SHEET = Sheet(
    "Settings",
    "Model-wide settings, one per row.",
    (
        Column("setting", KEY, "Setting name (see the list below).", required=True),
        Column("value", TEXT, "Its value.", required=True),
        Column("description", TEXT, "Free text for the reader."),
    ),
)

PARAMETERS_SHEET = Sheet(
    "Parameters",
    "Named inputs; a value may be an expression of other parameters (any order, no cycles). "
    "A parameter whose value uses a time variable (`cycle`, `time_years`, `time_days`, `age`, "
    "`effect_weight`, `effect_after`), a life-table function, an `entry_<state>` indicator or "
    "another such parameter is time-dependent: it is evaluated inside the model, once per "
    "time segment of each phase (e.g. `un_const + un_age * floor(age)`), and cannot carry a "
    "PSA distribution (put the distribution on its inputs). A draw is fixed per PSA sample and "
    "constant over time: time-varying uncertainty is written as an expression of sampled "
    "parameters and time (e.g. `qx(age) * hr_background` with `hr_background` sampled); a "
    "whole life-table row drawn per sample is not supported.",
    (
        Column("name", KEY, "snake_case name used in expressions.", required=True, example="p_a_b"),
        Column(
            "value",
            EXPRESSION,
            "Base-case value: a number or an expression of other parameters.",
            required=True,
            example=0.2,
        ),
        Column(
            "distribution",
            ENUM,
            "PSA distribution (blank = fixed).",
            choices=DISTRIBUTIONS,
            example="beta",
        ),
        Column("param1", NUMBER, "First distribution parameter (see README).", example=20),
        Column("param2", NUMBER, "Second distribution parameter.", example=80),
        Column("param3", NUMBER, "Third distribution parameter, where needed."),
        Column("param4", NUMBER, "Fourth distribution parameter (truncnormal upper bound)."),
        Column(
            "param_type",
            ENUM,
            "How param1.. are meant: native parameters (default), mean_se (mean, standard "
            "error) or ci95 (lower, upper 95% limits).",
            choices=PARAM_TYPES,
        ),
        Column(
            "dirichlet",
            TEXT,
            "For distribution dirichlet: the set name; the set's parameters are drawn jointly "
            "and sum to 1 (param1 = count alpha).",
        ),
        Column("low", NUMBER, "Low value for one-way sensitivity analysis."),
        Column("high", NUMBER, "High value for one-way sensitivity analysis."),
        Column("unit", TEXT, "Unit, e.g. 'probability per cycle', 'GBP per day'."),
        Column("group", TEXT, "Group label for grouped analyses (e.g. 'costs')."),
        Column("description", TEXT, "What the parameter means."),
        Column("source", TEXT, "Where the value comes from, with the evidence flag."),
    ),
)

PHASES_SHEET = Sheet(
    "Phases",
    "Consecutive model phases, each with its own cycle length (optional: without it, Settings "
    "cycle_length, cycle_unit and n_cycles define one phase called 'main').",
    (
        Column("key", KEY, "Phase key.", required=True, example="main"),
        Column("label", TEXT, "Display label."),
        Column("cycle_length", NUMBER, "Length of one cycle in cycle_unit.", required=True),
        Column(
            "cycle_unit",
            ENUM,
            "Unit of cycle_length.",
            required=True,
            choices=tuple(CYCLE_UNITS),
        ),
        Column("n_cycles", INTEGER, "Number of cycles (or give until_age)."),
        Column(
            "until_age",
            NUMBER,
            "Run cycles until the cohort reaches this age (instead of n_cycles).",
            unit="years",
        ),
    ),
    required=False,
)

STATES_SHEET = Sheet(
    "States",
    "Health states; each belongs to one phase.",
    (
        Column("key", KEY, "snake_case state key.", required=True, example="healthy"),
        Column("label", TEXT, "Display label."),
        Column("phase", KEY, "Phase key (blank when there is one phase)."),
        Column("alive", BOOL, "Whether the state counts as alive (life-years).", required=True),
        Column(
            "utility",
            EXPRESSION,
            "Utility weight while in the state (QALYs per year in the state).",
            unit="QALY per year",
        ),
        Column(
            "cost",
            EXPRESSION,
            "Cost per cycle in the state; add categories as cost_<category> columns.",
            unit="currency per cycle",
            prefix=True,
        ),
        Column(
            "start_cost",
            EXPRESSION,
            "One-off cost per patient starting in this state, at time 0 (e.g. a treatment "
            "course given on admission); by category as start_cost_<category>.",
            unit="currency per patient",
            prefix=True,
        ),
        Column(
            "tunnel_length",
            INTEGER,
            "Tunnel states: cycles tracked as time in state (variable time_in_state).",
            unit="cycles",
        ),
        Column(
            "initial",
            EXPRESSION,
            "Proportion of the cohort starting here (first phase; blank = 0; sums to 1).",
            unit="proportion",
        ),
        Column(
            "next_state",
            KEY,
            "State of the next phase this state's cohort moves to when the phase ends.",
        ),
        Column(
            "tags",
            TEXT,
            "Comma-separated labels for reporting time (e.g. hospital, icu, imv): "
            "outcomes.csv reports days in each tag.",
        ),
        Column("description", TEXT, "What the state means."),
    ),
)

TRANSITIONS_SHEET = Sheet(
    "Transitions",
    "Per-cycle transition probabilities between states of the same phase.",
    (
        Column("from", KEY, "State the cohort leaves.", required=True),
        Column("to", KEY, "State the cohort enters (the same state = staying).", required=True),
        Column(
            "strategy",
            TEXT,
            "Blank = all strategies; else strategy keys (comma-separated) this row applies "
            "to, overriding a shared row for the same from/to.",
        ),
        Column(
            "probability",
            EXPRESSION,
            "Probability per cycle, or C for the rest of the row (one C per row).",
            required=True,
            unit="probability per cycle",
        ),
        Column(
            "cost",
            EXPRESSION,
            "One-off cost per transition, by category as cost_<category>.",
            unit="currency per transition",
            prefix=True,
        ),
        Column("qaly", EXPRESSION, "One-off QALY change per transition.", unit="QALY"),
        Column("description", TEXT, "Note or source."),
    ),
)

STRATEGIES_SHEET = Sheet(
    "Strategies",
    "Strategies compared, in declared order (ties are broken by this order).",
    (
        Column("key", KEY, "snake_case strategy key.", required=True, example="standard_care"),
        Column("label", TEXT, "Display label."),
        Column("description", TEXT, "What the strategy is."),
        Column(
            "role",
            ENUM,
            "comparator (default): enters the decision (ICER table, CEAC, EVPI...); "
            "hypothetical: an option without evidence of its own, reported only as what it "
            "would be worth (threshold price and effect, hypothetical.csv), never in the "
            "incremental analysis, frontier, acceptability curves or value of information.",
            choices=STRATEGY_ROLES,
        ),
        Column(
            "price_parameter",
            KEY,
            "Hypothetical strategies: the parameter holding their price, for the threshold "
            "price (default: Settings threshold_parameter).",
        ),
        Column(
            "effect_parameter",
            KEY,
            "Hypothetical strategies: the parameter holding their risk ratio, for the "
            "threshold effect (default: Settings effect_parameter).",
        ),
    ),
    extra_columns=(
        "Every other column is a strategy-specific variable: its cells are expressions "
        "(of parameters and time variables) usable in state and transition expressions."
    ),
)

LIFE_TABLE_SHEET = Sheet(
    "LifeTable",
    "Background mortality by single year of age (optional). One set of value columns: "
    "qx_male + qx_female, qx (both sexes), mx_male + mx_female, or mx (both sexes). A rate "
    "mx becomes a probability with a constant hazard within the year: qx = 1 - exp(-mx).",
    (
        Column("age", INTEGER, "Age in whole years.", required=True, unit="years"),
        Column(
            "qx_male",
            NUMBER,
            "Probability of death within the year, males.",
            unit="probability per year",
        ),
        Column(
            "qx_female",
            NUMBER,
            "Probability of death within the year, females.",
            unit="probability per year",
        ),
        Column(
            "qx",
            NUMBER,
            "Probability of death within the year, both sexes (instead of qx_male/qx_female).",
            unit="probability per year",
        ),
        Column(
            "mx_male",
            NUMBER,
            "Central death rate, males (instead of qx columns).",
            unit="rate per year",
        ),
        Column("mx_female", NUMBER, "Central death rate, females.", unit="rate per year"),
        Column(
            "mx",
            NUMBER,
            "Central death rate, both sexes (e.g. a life table's Total column).",
            unit="rate per year",
        ),
    ),
    required=False,
)

TRIALS_SHEET = Sheet(
    "Trials",
    "Trial table pooled into the treatment effect (optional). Rows with the same trial_id "
    "are arms sharing one control: their MSC arms are summed and the control counted once.",
    (
        Column(
            "trial_id",
            KEY,
            "Trial identifier; repeat it for each arm of a multi-arm trial.",
            required=True,
        ),
        Column("arm", TEXT, "Arm label within the trial."),
        Column("include", BOOL, "Whether the row may enter the synthesis.", required=True),
        Column("virus", TEXT, "Virus label, e.g. covid19 or influenza.", required=True),
        Column("randomized", BOOL, "Random allocation reported (yes/no).", required=True),
        Column("design", TEXT, "Design as reported."),
        Column("product_type", ENUM, "Product.", required=True, choices=PRODUCT_TYPES),
        Column("cell_source", TEXT, "Cell source (umbilical cord, bone marrow, ...)."),
        Column("n_msc", INTEGER, "Patients in the MSC arm.", unit="patients"),
        Column("deaths_msc", INTEGER, "Deaths in the MSC arm.", unit="patients"),
        Column("n_control", INTEGER, "Patients in the control arm.", unit="patients"),
        Column("deaths_control", INTEGER, "Deaths in the control arm.", unit="patients"),
        Column("timepoint_days", NUMBER, "Time point of the mortality count.", unit="days"),
        Column(
            "risk_of_bias",
            ENUM,
            "Risk of bias for mortality (RoB 2 / ROBINS-I overall judgement).",
            choices=RISK_OF_BIAS,
        ),
        Column(
            "counts_derived",
            BOOL,
            "yes when the death counts were back-calculated (from percentages, survivors...) "
            "rather than read as counts.",
        ),
        Column("source", TEXT, "Source of the counts, with the evidence flag."),
    ),
    required=False,
)

CALIBRATION_SHEET = Sheet(
    "Calibration",
    "Targets the model must reproduce (optional): shares of the cohort in some states at a "
    "day, or ratios of such shares between two strategies; calibration.csv compares them with "
    "the model at every run.",
    (
        Column("key", KEY, "Target name.", required=True),
        Column(
            "entry",
            TEXT,
            "Starting cohort: a first-phase state, a weighted mix such as 'o2: 933, niv: 867', "
            "or blank for the workbook's initial distribution.",
        ),
        Column("strategy", KEY, "Strategy (default: reference_strategy)."),
        Column(
            "relative_to",
            KEY,
            "Another strategy: the target is then the ratio of the outcome share in strategy "
            "to that in relative_to (e.g. a risk ratio of death at a day), not a share.",
        ),
        Column(
            "outcome",
            TEXT,
            "States whose combined share is the target, comma-separated.",
            required=True,
        ),
        Column("day", NUMBER, "Model time of the target.", required=True, unit="days"),
        Column(
            "target",
            NUMBER,
            "Target share of the cohort (or ratio of shares, with relative_to).",
            required=True,
            unit="proportion or ratio",
        ),
        Column(
            "tolerance", NUMBER, "Allowed absolute difference (default 0.01).", unit="proportion"
        ),
        Column("source", TEXT, "Source of the target, with the evidence flag."),
    ),
    required=False,
)

SUBGROUPS_SHEET = Sheet(
    "Subgroups",
    "Subgroups reported separately (optional): each is a starting mix of first-phase states; "
    "subgroups.csv gives its ICER table, threshold price and EVPI.",
    (
        Column("subgroup", TEXT, "Subgroup name.", required=True),
        Column(
            "entry",
            TEXT,
            "Starting cohort: a first-phase state or a weighted mix such as 'o2: 933, niv: 867'.",
            required=True,
        ),
        Column("description", TEXT, "Who the subgroup is; source of the mix."),
    ),
    required=False,
)

CORRELATIONS_SHEET = Sheet(
    "Correlations",
    "Correlations between parameters' PSA draws, by a Gaussian copula (optional).",
    (
        Column("parameter_a", KEY, "A parameter with a distribution.", required=True),
        Column("parameter_b", KEY, "Another parameter with a distribution.", required=True),
        Column("correlation", NUMBER, "Correlation in (-1, 1).", required=True),
        Column(
            "type",
            ENUM,
            "rank (Spearman, default) or pearson (of the normal scores).",
            choices=CORRELATION_TYPES,
        ),
    ),
    required=False,
)

SCENARIOS_SHEET = Sheet(
    "Scenarios",
    "Named scenarios: each row overrides one parameter value or setting (optional).",
    (
        Column(
            "scenario",
            TEXT,
            "Scenario name; rows with the same name form one scenario.",
            required=True,
        ),
        Column("description", TEXT, "What the scenario represents."),
        Column("target", KEY, "A parameter name or a setting key.", required=True),
        Column("value", TEXT, "The value (number, expression or setting value).", required=True),
    ),
    required=False,
)

BUDGET_IMPACT_SHEET = Sheet(
    "BudgetImpact",
    "Budget impact (ISPOR good practice): patients and uptake by year (optional).",
    (
        Column("year", INTEGER, "Year after adoption, 1 to 5 (or more).", required=True),
        Column(
            "eligible_patients",
            NUMBER,
            "Eligible patients that year.",
            required=True,
            unit="patients",
        ),
        Column(
            "uptake",
            NUMBER,
            "Share of them receiving the new strategy.",
            required=True,
            unit="proportion",
        ),
        Column(
            "price",
            NUMBER,
            "Price that year (overrides threshold_parameter; blank = the base value).",
            unit="currency",
        ),
    ),
    required=False,
)

TABLE_SHEETS: tuple[Sheet, ...] = (
    PARAMETERS_SHEET,
    PHASES_SHEET,
    STATES_SHEET,
    TRANSITIONS_SHEET,
    STRATEGIES_SHEET,
    LIFE_TABLE_SHEET,
    TRIALS_SHEET,
    CALIBRATION_SHEET,
    SUBGROUPS_SHEET,
    CORRELATIONS_SHEET,
    SCENARIOS_SHEET,
    BUDGET_IMPACT_SHEET,
)
ALL_SHEETS: tuple[Sheet, ...] = (SETTINGS_SHEET, *TABLE_SHEETS)

TIME_VARIABLES: dict[str, str] = {
    "cycle": "Cycle number within the phase, 1 for the first cycle.",
    "time_years": "Model time at the start of the cycle, in years since model start.",
    "time_days": "Model time at the start of the cycle, in days since model start.",
    "age": "Cohort age at the start of the cycle (start_age + time_years), years.",
    "cycle_years": "Length of this phase's cycle in years.",
    "cycle_days": "Length of this phase's cycle in days.",
    "time_in_state": "Cycles spent in the current tunnel state, 1 on entry (1 elsewhere).",
    "start_age": "The Settings start_age (years).",
    "prop_female": "The Settings prop_female.",
    "effect_weight": "Share of the treatment effect in force at the start of the cycle, 0 to 1 "
    "(Settings effect_start_day, effect_end_day, effect_waning); use it as an exponent: "
    "hr ** effect_weight.",
    "effect_after": "1 once the effect window (and its waning) is over, else 0: for what "
    "follows the effect, e.g. deaths that were only delayed.",
    "entry_<state>": "1 for the part of the cohort that started in <state> (a first-phase "
    "state with an initial share), else 0; using it runs each entry stratum separately.",
}

LIFE_TABLE_FUNCTIONS: dict[str, str] = {
    "qx(age)": "Annual probability of death at floor(age) from LifeTable, weighted by the "
    "cohort's sex mix among general-population survivors from start_age.",
    "qx_male(age), qx_female(age)": "The same for one sex.",
    "p_background_death(smr)": "Probability of background death within the current cycle "
    "at the current age, with the annual hazard multiplied by smr.",
}


CORRECTION_METHOD_DOCS: dict[str, tuple[str, str]] = {
    # method: (weights a_k on x_{k-1}, b_k on x_k; meaning and source)
    "none-start": ("a = 1, b = 0", "the state at the start of each cycle counts for the "
                   "whole cycle"),
    "none-end": ("a = 0, b = 1", "the state after each transition counts for the whole cycle"),
    "dmhee": ("as `none-end`", "Briggs, Claxton & Sculpher's convention: rewards counted after "
              "each transition and discounted at the end of the cycle (1/1.06 in year 1)"),
    "half-cycle": ("b = 1 and a = 0, except a_1 = ½ and b_n = ½", "adds half a cycle of the "
                   "starting cohort and removes half a cycle of the final cohort (Sonnenberg & "
                   "Beck 1993)"),
    "trapezoid": ("a = b = ½", "the trapezoidal rule on each cycle (Elbasha & Chhatwal 2016)"),
    "simpson": ("composite Simpson 1/3", "Simpson's 1/3 rule over the phase's time points (3/8 "
                "rule on the last three cycles when n is odd, trapezoid when n = 1); interior "
                "point weights are split equally between the two cycles they bound"),
    "darth-simpson": ("w_0 = w_n = 1/3; interior w_t = 2/3 (t odd), 4/3 (t even); split like "
                      "`simpson`", "DARTH's `gen_wcc(n, \"Simpson1/3\")` (Alarid-Escudero et "
                      "al., Med Decis Making 2023): the t = 0 cohort counts; with odd n the "
                      "weights sum to less than n (75 cycles: 74⅔), as in the source; one-off "
                      "transition rewards of the cycle ending at t are weighted by w_t and "
                      "discounted at t"),
    "heemod-life-table": ("a = b = ½", "heemod's default: cycle k counts (x_{k-1} + x_k)/2; "
                          "discounted at the cycle's start (`discount_timing` `method`)"),
    "heemod-beginning": ("a = 1, b = 0", "heemod ≥ 0.14 `method = \"beginning\"`: cycle k "
                         "counts x_{k-1} (before 0.14 this was \"end\"); discounted at the "
                         "cycle's start"),
    "heemod-end": ("a = 0, b = 1", "heemod ≥ 0.14 `method = \"end\"`: cycle k counts x_k "
                   "(before 0.14: \"beginning\"); discounted at the cycle's start"),
}  # fmt: skip
"""Every within_cycle_correction choice with its weights; cycle k of n counts
r_k (a_k x_{k-1} d + b_k x_k d') with the discount factors d, d' of ``discount_timing``."""

DISCOUNT_TIMING_DOCS: dict[str, str] = {
    "time-point": "each time point at its own time: d = (1 + r)^-t_{k-1} on x_{k-1}, "
    "d' = (1 + r)^-t_k on x_k (t in years; DARTH's 1/(1 + r)^(0:n) for yearly cycles)",
    "cycle-start": "everything cycle k counts at the cycle's start, (1 + r)^-t_{k-1}: "
    "heemod's discount(x, r, first = FALSE), (1 + r)^-(k-1) for yearly cycles",
    "cycle-end": "at the cycle's end, (1 + r)^-t_k: heemod's first = TRUE",
    "method": "the method's own: cycle-start for the heemod methods, time-point otherwise",
}


def plain_value(value: object) -> str:
    """A Settings value as a person writes it in the workbook (no Python reprs): yes/no,
    '20000, 30000', 63 rather than True, (20000.0, 30000.0), 63.0; None as blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return ", ".join(plain_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def settings_by_key() -> dict[str, Setting]:
    return {s.key: s for s in SETTINGS}


def markdown_reference() -> str:
    """The README's workbook reference, generated from this schema."""
    from costmodel.formula import BUILTIN_FUNCTIONS

    lines = [
        "### Settings",
        "",
        "| setting | kind | unit | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        kind = s.kind + (f" ({', '.join(s.choices)})" if s.choices else "")
        default = (
            "required"
            if s.required
            else ("" if s.default in (None, "") else f"`{plain_value(s.default)}`")
        )
        lines.append(f"| `{s.key}` | {kind} | {s.unit} | {default} | {s.description} |")
    lines += [
        "",
        "`within_cycle_correction`: cycle k of a phase of n cycles (occupancy x_{k-1} at its "
        "start, x_k at its end, reward r_k per cycle) counts r_k (a_k x_{k-1} d + b_k x_k d'), "
        "with the discount factors d, d' set by `discount_timing`:",
        "",
        "| method | weights | meaning |",
        "|---|---|---|",
    ]
    for method, (weights, meaning) in CORRECTION_METHOD_DOCS.items():
        lines.append(f"| `{method}` | {weights} | {meaning} |")
    lines += ["", "`discount_timing`:", ""]
    lines += [f"- `{k}`: {v}" for k, v in DISCOUNT_TIMING_DOCS.items()]
    for sheet in TABLE_SHEETS:
        optional = "" if sheet.required else " (optional)"
        lines += ["", f"### {sheet.name}{optional}", "", sheet.description, ""]
        lines += ["| column | kind | unit | required | meaning |", "|---|---|---|---|---|"]
        for c in sheet.columns:
            name = f"`{c.name}`" + (f", `{c.name}_<category>`" if c.prefix else "")
            kind = c.kind + (f" ({', '.join(c.choices)})" if c.choices else "")
            lines.append(
                f"| {name} | {kind} | {c.unit} | {'yes' if c.required else ''} | {c.description} |"
            )
        if sheet.extra_columns:
            lines += ["", sheet.extra_columns]
    lines += ["", "### Expressions", "", "Time variables:", ""]
    lines += [f"- `{k}`: {v}" for k, v in TIME_VARIABLES.items()]
    lines += ["", OPERATORS]
    lines += ["", "Functions:", ""]
    lines += [f"- `{spec.doc}`" for spec in BUILTIN_FUNCTIONS.values()]
    lines += [f"- `{k}`: {v}" for k, v in LIFE_TABLE_FUNCTIONS.items()]
    return "\n".join(lines) + "\n"


OPERATORS = (
    "Operators: `+ - * /`, `**` (power), `%` (remainder: `7 % 3` is 1), comparisons "
    "(`< <= > >= == !=`, giving 1 or 0) and `and`, `or`, `not`. A percentage sign after a "
    "number is refused (`17%`: write 0.17), as are `^` (use `**`) and `//` (use `floor(a / b)`)."
)


BEGIN_MARKER = (
    "<!-- BEGIN WORKBOOK REFERENCE (generated by: python -m costmodel.schema README.md) -->"
)
END_MARKER = "<!-- END WORKBOOK REFERENCE -->"


def replace_reference(text: str) -> str:
    """``text`` with the section between the markers replaced by the current reference."""
    start, end = text.index(BEGIN_MARKER) + len(BEGIN_MARKER), text.index(END_MARKER)
    return text[:start] + "\n" + markdown_reference() + text[end:]


if __name__ == "__main__":
    if len(sys.argv) > 1:
        from pathlib import Path

        readme = Path(sys.argv[1])
        readme.write_text(replace_reference(readme.read_text()))
    else:
        sys.stdout.write(markdown_reference())
