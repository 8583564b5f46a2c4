"""Which figure is drawn from which table: name → a function that draws it.

Figures are drawn lazily (only when written), from a run's tables and, for the CE plane and
the convergence plot, from the PSA sample itself.
"""

from __future__ import annotations

from collections.abc import Callable

from costmodel.inputs import ModelInputs
from costmodel.reports import plot_diagram, plots
from costmodel.results import AnalysisResult
from costmodel.schema_types import effect_unit


def _diagram(inputs: ModelInputs) -> tuple[list, list]:
    phases = [
        (p.label, [(s.label, s.key, s.alive) for s in inputs.states_in(p.key)])
        for p in inputs.phases
    ]
    edges = sorted({(t.from_state, t.to_state) for t in inputs.transitions})
    edges += [(s.key, s.next_state) for s in inputs.states if s.next_state]
    return phases, edges


def _wtp_unit(settings) -> str:
    """What willingness to pay is per: 'QALY' or 'LY' (Settings effect_measure)."""
    return effect_unit(settings.effect_measure)


def figures_for(result: AnalysisResult) -> dict[str, Callable]:
    """Figure name (file stem under figures/) → drawing function returning an Axes."""
    inputs, tables = result.inputs, result.tables
    settings = inputs.settings
    currency = settings.currency
    figures: dict[str, Callable] = {
        "state_diagram": lambda: plot_diagram.plot_state_diagram(*_diagram(inputs))
    }
    if inputs.synthesis is not None:
        sensitivity = tables.get("evidence_sensitivity")
        figures["forest"] = lambda: plots.plot_forest(inputs.synthesis, sensitivity)
    names = {p.name: p.description or p.name for p in inputs.parameters}
    label = inputs.strategy_label(inputs.dsa_strategy)
    if "dsa_oneway" in tables and not tables["dsa_oneway"].empty:
        oneway = tables["dsa_oneway"]
        main = oneway[oneway.strategy == inputs.dsa_strategy]
        figures["tornado"] = lambda: plots.plot_tornado(
            main,
            currency,
            labels=names,
            strategy_label=label,
            effect_unit=_wtp_unit(settings),
        )
    for name in [n for n in tables if n == "twoway" or n.startswith("twoway_")]:
        grid = tables[name]
        figures[name] = lambda grid=grid: plots.plot_two_way(
            grid, currency, labels=names, strategy_label=label
        )
    if "trace" in tables and not tables["trace"].empty:
        figures["trace"] = lambda: plots.plot_trace_and_survival(
            tables["trace"],
            tables.get("calibration"),
            [st.key for st in inputs.states if not st.alive],
            inputs.reference_strategy,
            labels={k: inputs.strategy_label(k) for k in tables["trace"].strategy.unique()},
            state_labels={st.key: st.label for st in inputs.states},
        )
    if "calibration" in tables and not tables["calibration"].empty:
        figures["calibration"] = lambda: plots.plot_calibration(
            tables["calibration"],
            state_labels={st.key: st.label for st in inputs.states},
            strategy_labels={st.key: inputs.strategy_label(st.key) for st in inputs.strategies},
        )
    if "budget_impact" in tables:
        figures["budget_impact"] = lambda: plots.plot_budget_impact(
            tables["budget_impact"],
            currency,
            labels={k: inputs.strategy_label(k) for k in inputs.strategy_keys},
        )
    if result.psa is not None:
        figures.update(_psa_figures(result))
    if "evppi" in tables and tables["evppi"].evppi_per_patient.notna().any():
        figures["evppi"] = lambda: plots.plot_evppi(
            tables["evppi"], currency, effect_unit=_wtp_unit(settings)
        )
    if "voi_by_price" in tables:
        figures["voi_by_price"] = lambda: plots.plot_voi_by_price(
            tables["voi_by_price"], currency, effect_unit=_wtp_unit(settings), labels=names
        )
    if "evsi" in tables:
        figures["evsi"] = lambda: plots.plot_evsi(tables["evsi"], currency)
    return figures


def _psa_figures(result: AnalysisResult) -> dict[str, Callable]:
    inputs, tables, psa = result.inputs, result.tables, result.psa
    assert psa is not None
    settings = inputs.settings
    keys = list(psa.strategies)
    r = keys.index(inputs.reference_strategy)
    others = [i for i in range(len(keys)) if i != r]
    effect = psa.effect(settings.effect_measure)
    currency = settings.currency
    label = effect_unit(settings.effect_measure, plural=True)
    labels = {key: inputs.strategy_label(key) for key in keys}
    unit = _wtp_unit(settings)
    population = settings.population_size > 0
    figures: dict[str, Callable] = {
        "ceac": lambda: plots.plot_ceac(tables["ceac"], currency, labels=labels, effect_unit=unit),
        "expected_loss": lambda: plots.plot_expected_loss(
            tables["ceac"], currency, labels=labels, effect_unit=unit
        ),
        "evpi": lambda: plots.plot_evpi(tables["evpi"], currency, population, effect_unit=unit),
    }
    if others:
        inc_cost = psa.cost[:, others] - psa.cost[:, [r]]
        inc_effect = effect[:, others] - effect[:, [r]]
        names = [labels[keys[i]] for i in others]
        figures["ce_plane"] = lambda: plots.plot_ce_plane(
            inc_cost,
            inc_effect,
            names,
            settings.wtp,
            currency,
            label,
            reference=labels[keys[r]],
            colors=[f"C{i}" for i in others],  # as in the acceptability and loss curves
        )
        s = keys.index(inputs.dsa_strategy)
        inmb = settings.wtp[0] * (effect[:, s] - effect[:, r]) - (psa.cost[:, s] - psa.cost[:, r])
        figures["convergence"] = lambda: plots.plot_convergence(
            inmb,
            f"{labels[keys[s]]} vs {labels[keys[r]]} at {currency} {settings.wtp[0]:,.0f} per "
            f"{unit}",
            currency,
        )
    return figures
