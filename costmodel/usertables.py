"""`costmodel cea`: decision analysis of a PSA sample produced by any tool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costmodel import cea
from costmodel.report import write_output_folder
from costmodel.tables import read_psa_samples


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


def read_parameter_samples(path: str | Path, n_samples: int) -> pd.DataFrame:
    """A CSV of sampled parameters, one column per parameter, one row per PSA sample in the
    order of the cost/effect sample."""
    from costmodel.errors import InputError, Problem

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
    from costmodel import voi
    from costmodel.errors import InputError, Problem

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


def run_user_cea(
    samples: str | Path,
    *,
    wtp: list[float],
    out: str | Path | None,
    parameters: str | Path | None = None,
    evppi: list[list[str]] | None = None,
) -> Path:
    strategies, cost, effect = read_psa_samples(samples)
    tables = user_cea_tables(strategies, cost, effect, wtp)
    if evppi:
        if parameters is None:
            from costmodel.errors import InputError

            raise InputError("--evppi needs --parameters PARAMS.csv (the sampled parameters)")
        params = read_parameter_samples(parameters, cost.shape[0])
        tables["evppi"] = evppi_tables(cost, effect, sorted(set(wtp)), params, evppi)
        print(tables["evppi"].to_string(index=False))
    folder = Path(out) if out else Path("results") / Path(samples).stem
    print(tables["icers"].to_string(index=False, na_rep=""))
    summary = {
        "input_file": str(samples),
        "n_samples": int(cost.shape[0]),
        "strategies": strategies,
        "wtp": list(wtp),
    }

    def figures(folder_path: Path) -> None:
        from costmodel.plots import plot_ceac, plot_evpi, save_figure

        (folder_path / "figures").mkdir()
        save_figure(plot_ceac(tables["ceac"], ""), folder_path / "figures" / "ceac")
        save_figure(plot_evpi(tables["evpi"], "", False), folder_path / "figures" / "evpi")

    return write_output_folder(folder, tables, summary, figures)
