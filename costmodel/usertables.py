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


def run_user_cea(samples: str | Path, *, wtp: list[float], out: str | Path | None) -> Path:
    strategies, cost, effect = read_psa_samples(samples)
    tables = user_cea_tables(strategies, cost, effect, wtp)
    folder = Path(out) if out else Path("results") / Path(samples).stem
    print(tables["icers"].to_string(index=False, na_rep=""))
    summary = {"input_file": str(samples), "n_samples": int(cost.shape[0]),
               "strategies": strategies, "wtp": list(wtp)}  # fmt: skip

    def figures(folder_path: Path) -> None:
        from costmodel.plots import plot_ceac, plot_evpi, save_figure

        (folder_path / "figures").mkdir()
        save_figure(plot_ceac(tables["ceac"], ""), folder_path / "figures" / "ceac")
        save_figure(plot_evpi(tables["evpi"], "", False), folder_path / "figures" / "evpi")

    return write_output_folder(folder, tables, summary, figures)
