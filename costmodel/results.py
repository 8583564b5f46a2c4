"""Tidy result tables and provenance built from model outcomes (no computation of outcomes)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel import __version__
from costmodel.cea import compute_icer_table
from costmodel.evidence import describe_method
from costmodel.inputs import ModelInputs
from costmodel.outcomes import ModelOutcomes, PsaResult
from costmodel.parameters import evaluate_parameters
from costmodel.phases import expand_phases


def base_case_table(inputs: ModelInputs, outcomes: ModelOutcomes, sample: int = 0) -> pd.DataFrame:
    """ICER table with costs, QALYs and LYs per patient, ordered as the ICER table.

    Columns: strategy, label, cost, qaly, ly, ly_undiscounted, inc_cost, inc_qaly, inc_ly,
    icer (per the Settings effect_measure), status (nd/ed/d), comparator, nmb_<wtp>...,
    cost_<category>...
    """
    settings = inputs.settings
    keys = list(outcomes.strategies)
    measure = settings.effect_measure
    effect = outcomes.qaly[sample] if measure == "qaly" else outcomes.ly[sample]
    table = compute_icer_table(keys, outcomes.cost[sample], effect, wtp=settings.wtp)
    index = [keys.index(s) for s in table["strategy"]]
    comparator_index = [keys.index(c) if c else -1 for c in table["comparator"]]
    qaly = outcomes.qaly[sample][index]
    ly = outcomes.ly[sample][index]
    out = pd.DataFrame(
        {
            "strategy": table["strategy"],
            "label": [inputs.strategy_label(keys[i]) for i in index],
            "cost": table["cost"],
            "qaly": qaly,
            "ly": ly,
            "ly_undiscounted": outcomes.ly_undiscounted[sample][index],
            "qaly_undiscounted": outcomes.qaly_undiscounted[sample][index],
            "cost_undiscounted": outcomes.cost_undiscounted[sample][index],
            "inc_cost": table["inc_cost"],
            "inc_qaly": _increment(outcomes.qaly[sample], index, comparator_index),
            "inc_ly": _increment(outcomes.ly[sample], index, comparator_index),
            "icer": table["icer"],
            "status": table["status"],
            "comparator": table["comparator"],
        }
    )
    for column in table.columns:
        if column.startswith("nmb_"):
            out[column] = table[column].to_numpy()
    for z, category in enumerate(outcomes.categories):
        out[f"cost_{category}"] = outcomes.cost_by_category[sample][index, z]
    for z, category in enumerate(outcomes.categories):
        undiscounted = outcomes.cost_by_category_undiscounted[sample][index, z]
        out[f"cost_{category}_undiscounted"] = undiscounted
    return out.reset_index(drop=True)


def _increment(values: np.ndarray, index: list[int], comparator: list[int]) -> np.ndarray:
    return np.array(
        [
            values[i] - values[c] if c >= 0 else np.nan
            for i, c in zip(index, comparator, strict=True)
        ]
    )


def trace_table(inputs: ModelInputs, outcomes: ModelOutcomes, sample: int = 0) -> pd.DataFrame:
    """Cohort shares per strategy, phase and cycle (cycle 0 = phase start), one column per
    declared state (0 for states of other phases)."""
    if outcomes.traces is None:
        raise ValueError("the model was run without keep_trace=True")
    frames = []
    state_keys = list(outcomes.state_keys)
    for phase, trace in zip(expand_phases(inputs), outcomes.traces, strict=True):
        n = phase.phase.n_cycles
        for s, strategy in enumerate(outcomes.strategies):
            frame = pd.DataFrame(0.0, index=range(n + 1), columns=state_keys)
            for j, state in enumerate(phase.states):
                frame[state.key] = trace[sample, s, :, j]
            frame.insert(0, "time_years", phase.time_points())
            frame.insert(0, "cycle", np.arange(n + 1))
            frame.insert(0, "phase", phase.phase.key)
            frame.insert(0, "strategy", strategy)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def state_time_table(outcomes: ModelOutcomes, sample: int = 0) -> pd.DataFrame:
    """Undiscounted time per patient in each state: strategy, state, time_years, time_days."""
    rows = []
    for s, strategy in enumerate(outcomes.strategies):
        for k, state in enumerate(outcomes.state_keys):
            years = outcomes.state_time[sample, s, k]
            rows.append((strategy, state, years, years * 365.25))
    return pd.DataFrame(rows, columns=["strategy", "state", "time_years", "time_days"])


PROVENANCE_KEYS = (
    "model",
    "input_file",
    "input_sha256",
    "costmodel_version",
    "seed",
    "psa_samples",
    "created_utc",
    "python",
    "numpy",
    "pandas",
)
"""summary.json keys that identify how a result was produced (shown by every report)."""


def created_utc() -> str:
    """The run's timestamp: now, or SOURCE_DATE_EPOCH (seconds) when set, so that reruns of
    the same inputs and seed are byte-identical (reproducible-builds convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC)
        if epoch.isdigit()
        else _dt.datetime.now(_dt.UTC)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def provenance(inputs: ModelInputs, *, seed: int | None) -> dict[str, object]:
    """What a result was computed from: input hash, version, seed, time and platform."""
    return {
        "input_file": inputs.file,
        "input_sha256": inputs.sha256,
        "costmodel_version": __version__,
        "seed": seed,
        "created_utc": created_utc(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def summary(inputs: ModelInputs, base_case: pd.DataFrame, *, seed: int | None) -> dict[str, object]:
    """summary.json content: provenance, settings, phases and the ICER table."""
    table = base_case.replace({np.nan: None})
    return {
        **provenance(inputs, seed=seed),
        "model": inputs.settings.name,
        "settings": inputs.settings.as_dict(),
        "phases": [
            {
                "key": p.key,
                "cycle_length": p.cycle_length,
                "cycle_unit": p.cycle_unit,
                "n_cycles": p.n_cycles,
            }
            for p in inputs.phases
        ],
        "icer_table": table.to_dict(orient="records"),
        "warnings": list(inputs.warnings),
    }


def evidence_tables(inputs: ModelInputs) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """evidence.csv (subgroup, method, k, rr, ci_low, ci_high, pi_low, pi_high, tau2, i2)
    and evidence_studies.csv (one row per pooled trial), or (None, None)."""
    synthesis = inputs.synthesis
    if synthesis is None:
        return None, None
    subgroup = synthesis.selection.describe()
    quality = {t.trial_id: (t.risk_of_bias, t.counts_derived) for t in inputs.trials}
    rows = []
    for pooled in (synthesis.dl, synthesis.mh):
        if pooled is None:
            continue
        rows.append(
            {
                "subgroup": subgroup,
                "method": describe_method(pooled),
                "k": pooled.k,
                "rr": pooled.rr,
                "ci_low": pooled.ci_low,
                "ci_high": pooled.ci_high,
                "pi_low": pooled.pi_low,
                "pi_high": pooled.pi_high,
                "tau2": pooled.tau2,
                "i2": pooled.i2,
                "se_log_rr": pooled.se_log,
                "used_as": "check" if pooled.method == "MH" else inputs.settings.synthesis_effect,
            }
        )
    studies = pd.DataFrame(
        [
            {
                "trial_id": s.trial_id,
                "arms": s.arms,
                "deaths_msc": s.deaths_msc,
                "n_msc": s.n_msc,
                "deaths_control": s.deaths_control,
                "n_control": s.n_control,
                "rr": float(np.exp(s.log_rr)) if np.isfinite(s.log_rr) else np.nan,
                "log_rr": s.log_rr,
                "variance": s.variance,
                "weight_dl": s.weight_dl,
                "risk_of_bias": quality.get(s.trial_id, ("", False))[0],
                "counts_derived": quality.get(s.trial_id, ("", False))[1],
            }
            for s in synthesis.studies
        ]
    )
    return pd.DataFrame(rows), studies


def psa_samples_table(psa: PsaResult) -> pd.DataFrame:
    """psa_samples.csv: sample, strategy, cost, qaly, ly, their undiscounted values
    (cost_undiscounted, qaly_undiscounted, ly_undiscounted) and each sampled parameter."""
    n, k = psa.cost.shape
    frame = pd.DataFrame(
        {
            "sample": np.repeat(np.arange(1, n + 1), k),
            "strategy": np.tile(np.array(psa.strategies, dtype=object), n),
            "cost": psa.cost.ravel(),
            "qaly": psa.qaly.ravel(),
            "ly": psa.ly.ravel(),
        }
    )
    for name, values in (psa.undiscounted or {}).items():
        frame[f"{name}_undiscounted"] = values.ravel()
    for name, values in psa.parameters.items():
        frame[name] = np.repeat(values, k)
    return frame


EVIDENCE_FLAGS = ("[V]", "[S]", "[R]", "[A]", "[D]", "[GAP]")
WEAK_FLAGS = ("[R]", "[A]", "[GAP]")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_LEADING_FLAG = re.compile(r"\s*(GAP|[VSRAD])(?![A-Za-z0-9])", re.IGNORECASE)
_SECONDARY = re.compile(r"\bsecondary\b", re.IGNORECASE)
_WEAK = re.compile(r"(?<!not )\bweak", re.IGNORECASE)


def evidence_flags(source: str) -> tuple[list[str], bool]:
    """The evidence flags of a source text, in EVIDENCE_FLAGS order, and whether it is weak.
    A bracket's first letter(s) are its flag, in either case ('[A: expert opinion]', '[v]');
    the rest may qualify it: '[V secondary; weak]' is [V] and [S], and weak ('not weak' is
    not). Other brackets ('[1]', '[Varies]') are not flags."""
    found: set[str] = set()
    weak = False
    for inside in _BRACKET.findall(source):
        leading = _LEADING_FLAG.match(inside)
        if leading is None:
            continue
        found.add(f"[{leading.group(1).upper()}]")
        rest = inside[leading.end() :]
        if _SECONDARY.search(rest):
            found.add("[S]")
        weak = weak or bool(_WEAK.search(rest))
    flags = [f for f in EVIDENCE_FLAGS if f in found]
    return flags, weak or any(f in WEAK_FLAGS for f in flags)


def parameters_table(inputs: ModelInputs) -> pd.DataFrame:
    """parameters.csv: every input with its base value, distribution, range, source and the
    evidence flags found in its source ([V] seen, [S] secondary, [R] recalled, [A] assumption,
    [D] derived, [GAP] missing; :func:`evidence_flags`)."""

    base = evaluate_parameters(inputs)
    rows = []
    for p in inputs.parameters:
        flags, weak = evidence_flags(p.source)
        rows.append(
            {
                "name": p.name,
                "value": float(base[p.name][0]) if p.name in base else np.nan,
                "expression": "" if p.expression.is_constant else p.expression.source,
                "distribution": str(p.dist) if p.dist is not None else p.distribution,
                "low": p.low,
                "high": p.high,
                "unit": p.unit,
                "group": p.group,
                "description": p.description,
                "source": p.source,
                "evidence_flags": " ".join(flags),
                "weak": weak,
                "time_dependent": p.name in inputs.dynamic_parameters,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one run produced: named tables (one CSV each), summary.json content, the
    base-case outcomes and the PSA sample (for figures drawn from raw draws)."""

    inputs: ModelInputs
    outcomes: ModelOutcomes
    tables: dict[str, pd.DataFrame]
    summary: dict
    psa: PsaResult | None = None


def prob_ce_at_wtp(ceac: pd.DataFrame, wtp: tuple[float, ...]) -> dict[str, dict[str, float]]:
    """{wtp: {strategy: probability cost-effective}} read off the CEAC table."""
    out = {}
    for w in wtp:
        rows = ceac[np.isclose(ceac.wtp, w)]
        out[f"{w:g}"] = {r.strategy: float(r.prob_ce) for r in rows.itertuples()}
    return out
