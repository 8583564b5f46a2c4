"""Life-table functions callable from expressions: qx(age), p_background_death(smr), ...

The sex-mixed qx weights each sex by its share among general-population survivors from the
cohort's start age, so a cohort that is 40% female at 60 is about 50% female at 90.
"""

from __future__ import annotations

import numpy as np

from costmodel.formula import ExpressionError, FunctionSpec
from costmodel.inputs import LifeTable

# Functions that read the cohort's current age (the life-table row at floor(age)) without
# taking it as an argument: their value can change wherever floor(age) does.
IMPLICIT_AGE_FUNCTIONS = ("p_background_death",)


def _needs_context(*_args: object) -> float:
    raise ExpressionError("life-table functions can only be used inside a model run")


LIFE_TABLE_FUNCTION_SPECS: dict[str, FunctionSpec] = {
    "qx": FunctionSpec(
        "qx", 1, 1, _needs_context, "qx(age): annual probability of death at floor(age), sex-mixed"
    ),
    "qx_male": FunctionSpec(
        "qx_male", 1, 1, _needs_context, "qx_male(age): annual probability of death, males"
    ),
    "qx_female": FunctionSpec(
        "qx_female", 1, 1, _needs_context, "qx_female(age): annual probability of death, females"
    ),
    "p_background_death": FunctionSpec(
        "p_background_death",
        0,
        1,
        _needs_context,
        "p_background_death(smr=1): probability of background death per cycle at current age",
    ),
}


def female_share(table: LifeTable, start_age: float, prop_female: float) -> np.ndarray:
    """Share of women among general-population survivors at each table age.

    Ages below floor(start_age) take the starting share.
    """
    start = int(np.floor(start_age))
    share = np.full(table.ages.shape, prop_female, dtype=float)
    begin = int(np.clip(start - table.ages[0], 0, len(table.ages)))
    surv_m = np.cumprod(np.concatenate([[1.0], 1.0 - table.qx_male[begin:-1]]))
    surv_f = np.cumprod(np.concatenate([[1.0], 1.0 - table.qx_female[begin:-1]]))
    women = prop_female * surv_f
    men = (1.0 - prop_female) * surv_m
    total = women + men
    with np.errstate(invalid="ignore", divide="ignore"):
        share[begin:] = np.where(total > 0, women / np.where(total > 0, total, 1.0), prop_female)
    return share


def bind_life_table_functions(
    table: LifeTable | None,
    *,
    start_age: float,
    prop_female: float,
    age_now: np.ndarray,
    cycle_years: float,
) -> dict[str, FunctionSpec]:
    """Implementations of the life-table functions for one phase of one model run.

    ``age_now`` is the cohort age at the start of each cycle, shape (1, n_cycles) [years].
    """
    if table is None:
        return {}
    share = female_share(table, start_age, prop_female)

    def index(age: object) -> np.ndarray:
        years = np.floor(np.asarray(age, dtype=float)).astype(int)
        if years.size and (years.min() < table.ages[0] or years.max() > table.max_age):
            bad = years.min() if years.min() < table.ages[0] else years.max()
            raise ExpressionError(
                f"age {bad} is outside the life table (ages {table.ages[0]}-{table.max_age})"
            )
        return years - int(table.ages[0])

    def qx_male(age: object) -> np.ndarray:
        return table.qx_male[index(age)]

    def qx_female(age: object) -> np.ndarray:
        return table.qx_female[index(age)]

    def qx(age: object) -> np.ndarray:
        i = index(age)
        return share[i] * table.qx_female[i] + (1.0 - share[i]) * table.qx_male[i]

    def p_background_death(smr: object = 1.0) -> np.ndarray:
        q = qx(age_now)
        # Constant hazard within the year: H = -ln(1 - q); a cycle of h years at SMR k
        # has probability 1 - (1 - q)^(k h).
        return 1.0 - np.power(1.0 - q, np.asarray(smr, dtype=float) * cycle_years)

    impls = {
        "qx": qx,
        "qx_male": qx_male,
        "qx_female": qx_female,
        "p_background_death": p_background_death,
    }
    return {
        name: FunctionSpec(name, spec.min_args, spec.max_args, impls[name], spec.doc)
        for name, spec in LIFE_TABLE_FUNCTION_SPECS.items()
    }
