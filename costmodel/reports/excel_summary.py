"""results.xlsx Summary sheet: run provenance, the ICER table, the probability cost-effective,
settings, warnings, notes and the source of every sheet, all from summary.json."""

from __future__ import annotations

import json

from costmodel.reports.excel_cells import _is_number, _plain, _Styled, number_format
from costmodel.results import PROVENANCE_KEYS
from costmodel.schema_types import effect_unit

_RUN_KEYS = PROVENANCE_KEYS


def _scalar(value: object) -> object:
    if isinstance(value, list | tuple) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join("" if v is None else f"{v:g}" if _is_number(v) else str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return _plain(value)


def _section(title: str) -> list[list[object]]:
    return [[], [_Styled(title, bold=True, fit=False)]]


def _records_rows(records: list[dict], table_name: str) -> list[list[object]]:
    columns = list(dict.fromkeys(k for r in records for k in r))
    rows: list[list[object]] = [[_Styled(c, bold=True) for c in columns]]
    formats = [number_format(table_name, c) for c in columns]
    for record in records:
        values = [_scalar(record.get(c)) for c in columns]
        rows.append(
            [
                _Styled(v, f) if f and _is_number(v) else v
                for v, f in zip(values, formats, strict=True)
            ]
        )
    return rows


def _summary_rows(
    summary: dict, notes: list[str], sources: list[tuple[str, str]]
) -> list[list[object]]:
    rows: list[list[object]] = [[_Styled("Run", bold=True, fit=False)]]
    if not summary:
        rows.append(["summary.json", "not found in the output folder"])
    keys = [k for k in _RUN_KEYS if k in summary]
    keys += [k for k in summary if k not in keys and not isinstance(summary[k], dict | list)]
    rows += [[key, _scalar(summary[key])] for key in keys]

    icer = summary.get("icer_table")
    if isinstance(icer, list) and icer and all(isinstance(r, dict) for r in icer):
        rows += _section("ICER table (summary.json icer_table)")
        rows += _records_rows(icer, "base_case")
        settings = summary.get("settings") if isinstance(summary.get("settings"), dict) else {}
        currency = settings.get("currency") or "currency units"
        unit = effect_unit(str(settings.get("effect_measure", "qaly")))
        rows.append(
            [
                _Styled(
                    f"Per patient, discounted; costs and NMB in {currency}, ICERs in {currency} "
                    f"per {unit}. status: nd on the frontier, ed extendedly dominated, d "
                    "dominated.",
                    fit=False,
                )
            ]
        )

    prob = summary.get("prob_cost_effective")
    if isinstance(prob, dict) and prob and all(isinstance(v, dict) for v in prob.values()):
        rows += _section("Probability cost-effective at each willingness to pay")
        records = [
            {"wtp": _wtp_number(w), **{f"prob_ce {s}": p for s, p in v.items()}}
            for w, v in prob.items()
        ]
        rows += _records_rows(records, "prob_cost_effective")

    handled = {*keys, "icer_table", "prob_cost_effective", "warnings"}
    for key, value in summary.items():
        if key in handled:
            continue
        if isinstance(value, dict):
            rows += _section(key)
            rows += [[k, _scalar(v)] for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            rows += _section(key)
            rows += _records_rows(value, key)
        elif isinstance(value, list):
            rows += _section(key)
            rows += [[_scalar(v)] for v in value]

    warnings = summary.get("warnings") or []
    rows += _section("Warnings")
    rows += [[_Styled(_scalar(w), fit=False)] for w in warnings] or [["none"]]
    if notes:
        rows += _section("Notes")
        rows += [[_Styled(note, fit=False)] for note in notes]
    rows += _section("Sheets")
    rows += [[_Styled("sheet", bold=True), _Styled("source", bold=True)]]
    rows += [[title, source] for title, source in sources]
    return rows


def _wtp_number(key: str) -> object:
    try:
        return float(key)
    except ValueError:
        return key
