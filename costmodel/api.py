"""Python API: load a workbook, run every analysis, get pandas DataFrames.

>>> from costmodel.api import run_workbook                       # doctest: +SKIP
>>> result = run_workbook("inputs/examples/chancellor_hiv.xlsx")  # doctest: +SKIP
>>> result.base_case[["strategy", "cost", "ly", "icer", "status"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel import cea, dsa
from costmodel.calibration import compute_calibration
from costmodel.errors import CostModelError
from costmodel.inputs import ModelInputs
from costmodel.model import ModelOutcomes, run_model
from costmodel.outcomes import clinical_measures, outcomes_table
from costmodel.psa import PsaResult, run_psa
from costmodel.report import write_output_folder
from costmodel.results import (
    base_case_table,
    evidence_tables,
    parameters_table,
    psa_samples_table,
    state_time_table,
    summary,
    trace_table,
)
from costmodel.scenarios import run_scenarios
from costmodel.validate import validate_workbook
from costmodel.workbook import RawWorkbook, read_workbook

CEAC_POINTS = 61
PSA_SAMPLES_CSV_LIMIT = 200_000  # psa_samples.csv is skipped above this (summary tables only)


@dataclass(frozen=True)
class RunResult:
    """Results of one workbook: named tables plus what the figures are drawn from."""

    inputs: ModelInputs
    outcomes: ModelOutcomes
    tables: dict[str, pd.DataFrame]
    summary: dict
    psa: PsaResult | None = None
    figures: dict[str, Callable] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        aliases = {"clinical": "outcomes"}
        if name in aliases and aliases[name] in tables:
            return tables[aliases[name]]
        raise AttributeError(name)

    def write(self, out_dir: str | Path) -> Path:
        """Write tables (also under tables/), figures, summary.json, report.html, cheers.csv
        and results.xlsx, atomically, into ``out_dir``."""
        return write_output_folder(out_dir, self.tables, self.summary, self._write_extras)

    def _write_extras(self, folder: Path) -> None:
        from costmodel.plots import save_figure
        from costmodel.report import write_csv

        figures = folder / "figures"
        figures.mkdir()
        for name, draw in self.figures.items():
            save_figure(draw(), figures / name)
        (folder / "tables").mkdir()
        for name, table in self.tables.items():
            write_csv(folder / "tables" / f"{name}.csv", table)
        write_reports(folder, inputs_workbook=self.inputs.source)


def write_reports(folder: Path, *, inputs_workbook: Path | None = None) -> None:
    """report.html, cheers.csv and results.xlsx from a folder of saved results."""
    from costmodel.excel_report import write_results_workbook
    from costmodel.html_report import write_report

    write_report(folder)
    workbook = inputs_workbook if inputs_workbook is not None and inputs_workbook.exists() else None
    write_results_workbook(folder, folder / "results.xlsx", inputs_workbook=workbook)


def run_inputs(
    inputs: ModelInputs,
    *,
    raw: RawWorkbook | None = None,
    seed: int | None = None,
    psa_samples: int | None = None,
    deterministic: bool = True,
    progress: Callable[[int, int], None] | None = None,
    evppi_groups: list[list[str]] | None = None,
    voi: bool = True,
) -> RunResult:
    """Base case, deterministic sensitivity analyses and PSA as the workbook asks.

    ``psa_samples`` and ``seed`` override the Settings values (0 samples disables PSA).
    ``raw`` (the read workbook) enables scenario analysis; ``voi=False`` skips EVPPI/EVSI.
    """
    settings = inputs.settings
    seed = settings.seed if seed is None else seed
    n_psa = settings.psa_samples if psa_samples is None else psa_samples
    outcomes = run_model(inputs, keep_trace=True)
    clinical = clinical_measures(inputs, outcomes)
    base = base_case_table(inputs, outcomes).merge(clinical, on="strategy", how="left")
    tables: dict[str, pd.DataFrame] = {
        "base_case": base,
        "outcomes": outcomes_table(inputs, outcomes, base),
        "trace": trace_table(inputs, outcomes),
        "state_time": state_time_table(outcomes),
    }
    tables["parameters"] = parameters_table(inputs)
    evidence, studies = evidence_tables(inputs)
    if evidence is not None:
        tables["evidence"], tables["evidence_studies"] = evidence, studies
    if inputs.calibration:
        tables["calibration"] = compute_calibration(inputs)
    figures: dict[str, Callable] = {}
    currency = settings.currency
    from costmodel import plots

    figures["state_diagram"] = lambda: plots.plot_state_diagram(*_diagram(inputs))
    if inputs.synthesis is not None:
        figures["forest"] = lambda: plots.plot_forest(inputs.synthesis)
    multiple = len(inputs.strategies) > 1
    if deterministic and multiple:
        oneway = dsa.one_way(inputs)
        tables["dsa_oneway"] = oneway
        if not oneway.empty:
            main = oneway[oneway.strategy == inputs.dsa_strategy]
            figures["tornado"] = lambda: plots.plot_tornado(main, currency)
        for i, (a, b) in enumerate(dsa.two_way_pairs(inputs)):
            grid = dsa.two_way(inputs, a, b)
            tables["twoway" if i == 0 else f"twoway_{i + 1}"] = grid
            figures["twoway" if i == 0 else f"twoway_{i + 1}"] = lambda grid=grid: (
                plots.plot_two_way(grid, currency)
            )
        thresholds = _thresholds(inputs)
        if thresholds is not None:
            tables["threshold"] = thresholds
        if raw is not None and inputs.scenarios:
            tables["scenarios"] = run_scenarios(raw, inputs)
    if settings.run_budget_impact and inputs.budget_impact:
        from costmodel.budget import budget_impact

        tables["budget_impact"] = budget_impact(inputs)
        figures["budget_impact"] = lambda: plots.plot_budget_impact(
            tables["budget_impact"], currency
        )
    if settings.run_biomarker:
        from costmodel.biomarker import biomarker_table

        tables["biomarker"] = biomarker_table(inputs)
    psa = None
    if n_psa > 0:
        psa = run_psa(inputs, n_psa, seed, progress=progress)
        tables.update(_psa_tables(inputs, psa))
        figures.update(_psa_figures(inputs, psa, tables))
        voi_tables = _voi_tables(inputs, psa, evppi_groups or []) if voi else {}
        tables.update(voi_tables)
        if "evppi" in voi_tables:
            figures["evppi"] = lambda: plots.plot_evppi(tables["evppi"], currency)
        if "evsi" in voi_tables:
            figures["evsi"] = lambda: plots.plot_evsi(tables["evsi"], currency)
    result_summary = summary(inputs, base, seed=seed)
    result_summary["psa_samples"] = n_psa
    if psa is not None:
        result_summary["prob_cost_effective"] = _prob_ce_at_wtp(tables["ceac"], settings.wtp)
    return RunResult(inputs, outcomes, tables, result_summary, psa, figures)


def _diagram(inputs: ModelInputs) -> tuple[list, list]:
    phases = [
        (p.label, [(s.label, s.key, s.alive) for s in inputs.states_in(p.key)])
        for p in inputs.phases
    ]
    edges = sorted({(t.from_state, t.to_state) for t in inputs.transitions})
    edges += [(s.key, s.next_state) for s in inputs.states if s.next_state]
    return phases, edges


def _thresholds(inputs: ModelInputs) -> pd.DataFrame | None:
    """Threshold price (threshold_parameter) and, with a synthesis, the minimum effect."""
    frames = []
    name = inputs.settings.threshold_parameter
    if name:
        low, high = dsa.threshold_range(inputs, name)
        frames.append(dsa.threshold(inputs, name, low=low, high=high))
    effect = inputs.settings.effect_parameter
    if effect:
        frames.append(dsa.threshold(inputs, effect, low=0.01, high=1.0))
    return pd.concat(frames, ignore_index=True) if frames else None


def _psa_tables(inputs: ModelInputs, psa: PsaResult) -> dict[str, pd.DataFrame]:
    settings = inputs.settings
    keys = list(inputs.strategy_keys)
    effect = psa.effect(settings.effect_measure)
    grid = _wtp_grid(settings.wtp)
    multiplier = cea.population_multiplier(
        settings.population_size, settings.decision_horizon_years, settings.discount_rate_costs
    )
    tables = {
        "psa_summary": cea.psa_summary(
            keys,
            psa.cost,
            effect,
            reference=keys.index(inputs.reference_strategy),
            effect_name=settings.effect_measure,
        ),
        "ceac": cea.ceac_table(keys, psa.cost, effect, grid),
        "evpi": cea.evpi_table(psa.cost, effect, grid, population_multiplier=multiplier),
    }
    if psa.n_samples <= PSA_SAMPLES_CSV_LIMIT:
        tables["psa_samples"] = psa_samples_table(psa)
    return tables


def _population(inputs: ModelInputs) -> float:
    settings = inputs.settings
    return cea.population_multiplier(
        settings.population_size, settings.decision_horizon_years, settings.discount_rate_costs
    )


def _voi_tables(
    inputs: ModelInputs, psa: PsaResult, extra_groups: list[list[str]]
) -> dict[str, pd.DataFrame]:
    """EVPPI of each Parameters group (and of groups named on the command line), EVPPI of the
    biomarker parameters for the test-and-treat decision, and EVSI/ENBS of a future trial."""
    from costmodel import voi

    settings = inputs.settings
    out: dict[str, pd.DataFrame] = {}
    effect = psa.effect(settings.effect_measure)
    wtp = np.asarray(settings.wtp, dtype=float)
    sampled = psa.parameters
    groups: dict[str, list[str]] = {}
    if settings.run_evppi:
        used = inputs.model_parameters()
        for p in inputs.parameters:
            if p.name in sampled and p.group and p.name in used:
                groups.setdefault(p.group, []).append(p.name)
    for group in extra_groups:
        unknown = [n for n in group if n not in sampled]
        if unknown:
            raise CostModelError(
                f"{inputs.file}: --evppi {','.join(group)}: {', '.join(unknown)} "
                "has no PSA distribution (only sampled parameters carry EVPPI)."
            )
        groups["+".join(group)] = group
    results = []
    skipped: list[tuple[str, str]] = []

    def evppi_or_note(label: str, cost, eff, x, names) -> None:
        """EVPPI with the default smoother, the GP when the spline basis is too large for
        the sample, or a note explaining why the group was skipped."""
        try:
            results.append((label, voi.evppi(cost, eff, wtp, x, names=names)))
        except voi.VoiError:
            try:
                results.append((label, voi.evppi(cost, eff, wtp, x, names=names, method="gp")))
            except voi.VoiError as exc:
                skipped.append(("+".join(names), f"{label}: {exc}"))

    for label, names in groups.items():
        x = np.column_stack([sampled[n] for n in names])
        evppi_or_note(label, psa.cost, effect, x, names)
    if settings.run_biomarker:
        from costmodel.biomarker import PARAMETERS, biomarker_outcomes
        from costmodel.parameters import evaluate_parameters

        values = evaluate_parameters(inputs, sampled, psa.n_samples)
        b_cost, b_effect = biomarker_outcomes(inputs, values)
        names = [n for n in PARAMETERS if n in sampled]
        if names:
            x = np.column_stack([sampled[n] for n in names])
            evppi_or_note("biomarker (test-and-treat decision)", b_cost, b_effect, x, names)
    if results or skipped:
        table = (
            voi.evppi_table([r for _, r in results], population_multiplier=_population(inputs))
            if results
            else pd.DataFrame()
        )
        if results:
            table.insert(0, "group", np.repeat([label for label, _ in results], len(wtp)))
        notes = pd.DataFrame(
            [{"group": note.split(":")[0], "parameters": names, "wtp": w,
              "evppi_per_patient": np.nan, "evppi_population": np.nan, "se": np.nan,
              "method": f"skipped: {note}"} for names, note in skipped for w in wtp]
        )  # fmt: skip
        out["evppi"] = pd.concat([table, notes], ignore_index=True) if skipped else table
    if settings.run_evsi:
        out["evsi"] = _evsi(inputs, psa, effect)
    return out


def _evsi(inputs: ModelInputs, psa: PsaResult, effect: np.ndarray) -> pd.DataFrame:
    from costmodel import voi
    from costmodel.parameters import evaluate_parameters

    settings = inputs.settings
    rr_name, p_name = settings.effect_parameter, settings.trial_control_risk_parameter
    if not rr_name or not p_name or rr_name not in psa.parameters:
        raise CostModelError(
            f"{inputs.file}: run_evsi needs effect_parameter (with a PSA distribution) and "
            "trial_control_risk_parameter in Settings."
        )
    values = evaluate_parameters(inputs, psa.parameters, psa.n_samples)
    sizes = [int(n) for n in settings.evsi_sample_sizes]
    table = voi.evsi_curve(psa.cost, effect, float(settings.wtp[0]), values[p_name],
                           psa.parameters[rr_name], sizes, seed=psa.seed)  # fmt: skip
    table["evsi_population"] = table["evsi_per_patient"] * _population(inputs)
    table["trial_cost"] = settings.trial_fixed_cost + 2 * table["n_per_arm"] * (
        settings.trial_cost_per_patient
    )
    table["enbs"] = voi.enbs(
        table["evsi_population"].to_numpy(),
        settings.trial_fixed_cost,
        settings.trial_cost_per_patient,
        table["n_per_arm"].to_numpy(),
    )
    table["optimal"] = table["enbs"] == table["enbs"].max()
    table["wtp"] = float(settings.wtp[0])
    return table


def _wtp_grid(wtp: tuple[float, ...]) -> np.ndarray:
    top = 2.0 * max(wtp) if max(wtp) > 0 else 1.0
    return np.unique(np.concatenate([np.linspace(0.0, top, CEAC_POINTS), wtp]))


def _prob_ce_at_wtp(ceac: pd.DataFrame, wtp: tuple[float, ...]) -> dict[str, dict[str, float]]:
    out = {}
    for w in wtp:
        rows = ceac[np.isclose(ceac.wtp, w)]
        out[f"{w:g}"] = {r.strategy: float(r.prob_ce) for r in rows.itertuples()}
    return out


def _psa_figures(inputs: ModelInputs, psa: PsaResult, tables) -> dict[str, Callable]:
    from costmodel import plots

    settings = inputs.settings
    keys = list(inputs.strategy_keys)
    r = keys.index(inputs.reference_strategy)
    others = [i for i in range(len(keys)) if i != r]
    effect = psa.effect(settings.effect_measure)
    currency = settings.currency
    label = "QALYs" if settings.effect_measure == "qaly" else "life-years"
    figures: dict[str, Callable] = {
        "ceac": lambda: plots.plot_ceac(tables["ceac"], currency),
        "evpi": lambda: plots.plot_evpi(tables["evpi"], currency, settings.population_size > 0),
    }
    if others:
        inc_cost = psa.cost[:, others] - psa.cost[:, [r]]
        inc_effect = effect[:, others] - effect[:, [r]]
        names = [keys[i] for i in others]
        figures["ce_plane"] = lambda: plots.plot_ce_plane(
            inc_cost, inc_effect, names, settings.wtp, currency, label
        )
        s = keys.index(inputs.dsa_strategy)
        inmb = settings.wtp[0] * (effect[:, s] - effect[:, r]) - (psa.cost[:, s] - psa.cost[:, r])
        figures["convergence"] = lambda: plots.plot_convergence(
            inmb, f"{keys[s]} vs {keys[r]}", currency
        )
    return figures


def load_workbook_inputs(path: str | Path) -> tuple[RawWorkbook, ModelInputs]:
    raw = read_workbook(path)
    return raw, validate_workbook(raw)


def run_workbook(path: str | Path, *, seed: int | None = None, psa_samples: int | None = 0,
                 deterministic: bool = False, voi: bool = True) -> RunResult:  # fmt: skip
    """Validate and run a workbook. By default only the base case (no DSA, no PSA); pass
    ``psa_samples=None`` to use the workbook's setting and ``deterministic=True`` for DSA."""
    raw, inputs = load_workbook_inputs(path)
    return run_inputs(inputs, raw=raw, seed=seed, psa_samples=psa_samples,
                      deterministic=deterministic, voi=voi)  # fmt: skip
