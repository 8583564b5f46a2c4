"""`costmodel cea`: decision analysis of a PSA sample produced by any tool (tables only;
:func:`costmodel.api.run_user_cea` reads the files and writes the folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costmodel import cea, voi
from costmodel.errors import InputError, Problem


def user_cea_tables(
    strategies: list[str], cost: np.ndarray, effect: np.ndarray, wtp: list[float]
) -> dict[str, pd.DataFrame]:
    """ICER table of the means, CEAC/CEAF and EVPI at the given WTPs."""
    icers = cea.compute_icer_table(strategies, cost.mean(axis=0), effect.mean(axis=0), wtp=wtp)
    grid = np.asarray(sorted(set(wtp)), dtype=float)
    return {
        "icers": icers,
        "ceac": cea.ceac_table(strategies, cost, effect, grid),
        "evpi": cea.evpi_table(cost, effect, grid),
        "psa_summary": cea.psa_summary(strategies, cost, effect, effect_name="effect"),
    }


def net_benefit_tables(strategies: list[str], net_benefit: np.ndarray, wtp: float) -> dict:
    """CEAC/CEAF point, expected net benefit and loss, and EVPI of a net-benefit matrix
    (n_samples, n_strategies) [currency] computed by another tool at willingness to pay
    ``wtp``. A net benefit is a net monetary benefit with cost −NB and effect 0, so the
    cost-effect functions apply unchanged; ``wtp`` only labels the rows."""
    cost, effect = -np.asarray(net_benefit, dtype=float), np.zeros(np.shape(net_benefit))
    grid = np.array([float(wtp)])
    return {
        "ceac": cea.ceac_table(strategies, cost, effect, grid),
        "evpi": cea.evpi_table(cost, effect, grid),
    }


def read_parameter_samples(path: str | Path, n_samples: int) -> pd.DataFrame:
    """A CSV of sampled parameters, one column per parameter, one row per PSA sample in the
    order of the cost/effect sample."""
    name = Path(path).name
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(Problem.at(name, message=f"cannot read parameters: {exc}")) from None
    if len(frame) != n_samples:
        raise InputError(
            Problem.at(
                name,
                message=f"has {len(frame)} rows but the PSA sample "
                f"has {n_samples}; rows must match sample by sample.",
            )
        )
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = [c for c in frame.columns if numeric[c].isna().any()]
    if bad:
        raise InputError(
            Problem.at(name, message=f"column '{bad[0]}' has non-numeric or missing values.")
        )
    return numeric


def evppi_tables(cost, effect, wtp, parameters: pd.DataFrame, groups: list[list[str]]):
    results = []
    for group in groups:
        missing = [n for n in group if n not in parameters.columns]
        if missing:
            raise InputError(
                Problem.at(
                    "--evppi",
                    message=f"unknown parameter(s) "
                    f"{', '.join(missing)}; the parameters file has "
                    f"{', '.join(parameters.columns)}.",
                )
            )
        x = parameters[group].to_numpy(dtype=float)
        results.append(voi.evppi(cost, effect, np.asarray(wtp, float), x, names=group))
    return voi.evppi_table(results)
