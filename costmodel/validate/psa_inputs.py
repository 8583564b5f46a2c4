"""Distributions of Parameters and the Correlations sheet."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from costmodel import schema
from costmodel.distributions import DistributionError, check_use, make_distribution
from costmodel.inputs import (
    Correlation,
    Parameter,
)
from costmodel.validate.cells import _Problems, _read_number, _text
from costmodel.validate.parameter_sheets import _split_where
from costmodel.workbook import RawSheet


def _is_probability(p: Parameter) -> bool:
    return p.name.startswith("p_") or "probability" in p.unit.lower()


def _build_distributions(
    parameters: list[Parameter], base_values: dict[str, float], problems: _Problems
) -> list[Parameter]:
    """Attach a validated Distribution to every parameter with one; check Dirichlet sets."""
    out = []
    sets: dict[str, list[Parameter]] = {}
    for p in parameters:
        sheet, cell = _split_where(p.where)
        if p.distribution == "fixed":
            out.append(p)
            continue
        if p.distribution == "dirichlet":
            if not p.dirichlet:
                problems.add(
                    sheet,
                    cell,
                    f"'{p.name}' has a dirichlet distribution but no "
                    "set name in the 'dirichlet' column.",
                )
            elif p.dist_params[0] is None or p.dist_params[0] <= 0:
                problems.add(
                    sheet,
                    cell,
                    f"dirichlet '{p.name}': param1 must be the count "
                    f"alpha > 0; got {p.dist_params[0]}.",
                )
            sets.setdefault(p.dirichlet, []).append(p)
            out.append(p)
            continue
        try:
            dist = make_distribution(
                p.distribution, p.dist_params, p.param_type, base_value=base_values.get(p.name)
            )
            check_use(dist, is_probability=_is_probability(p), name=p.name)
        except DistributionError as exc:
            problems.add(sheet, cell, f"distribution of '{p.name}': {exc}")
            out.append(p)
            continue
        out.append(replace(p, dist=dist))
    for name, members in sets.items():
        if len(members) < 2:
            sheet, cell = _split_where(members[0].where)
            problems.add(
                sheet,
                cell,
                f"dirichlet set '{name}' has one parameter; a set needs "
                "two or more (e.g. the probabilities of one transition row).",
            )
    return out


def _read_correlations(
    sheet: RawSheet | None, parameters: list[Parameter], problems: _Problems
) -> tuple[Correlation, ...]:
    if sheet is None:
        return ()
    by_name = {p.name: p for p in parameters}
    found: list[Correlation] = []
    seen: set[frozenset[str]] = set()
    for row in sheet.rows:
        names = []
        for column in ("parameter_a", "parameter_b"):
            name = _text(row, column)
            p = by_name.get(name)
            if p is None:
                problems.add(sheet.name, row.cell(column), f"unknown parameter '{name}'.")
            elif p.dist is None:
                problems.add(
                    sheet.name,
                    row.cell(column),
                    f"'{name}' has no continuous distribution to correlate (fixed or dirichlet).",
                )
            else:
                names.append(name)
        rho = (
            _read_number(
                row.get("correlation"), sheet.name, row.cell("correlation"), "correlation", problems
            )
            if row.get("correlation") is not None
            else None
        )
        if row.get("correlation") is None:
            problems.add(sheet.name, row.cell("correlation"), "correlation is blank.")
        kind = _text(row, "type").lower() or "rank"
        if kind not in schema.CORRELATION_TYPES:
            problems.add(
                sheet.name, row.cell("type"), f"type must be rank or pearson; got '{kind}'."
            )
            continue
        if rho is None or len(names) != 2:
            continue
        if names[0] == names[1]:
            problems.add(
                sheet.name, row.cell("parameter_b"), "a parameter cannot be correlated with itself."
            )
            continue
        if not -1.0 < rho < 1.0:
            problems.add(
                sheet.name,
                row.cell("correlation"),
                f"correlation must be strictly between -1 and 1; got {rho:g}.",
            )
            continue
        pair = frozenset(names)
        if pair in seen:
            problems.add(
                sheet.name,
                row.cell("parameter_a"),
                f"correlation of {names[0]} and {names[1]} is given twice.",
            )
            continue
        seen.add(pair)
        pearson = 2.0 * math.sin(math.pi * rho / 6.0) if kind == "rank" else rho
        found.append(
            Correlation(names[0], names[1], pearson, f"{sheet.name}!{row.cell('correlation')}")
        )
    if found:
        members = sorted({n for c in found for n in (c.parameter_a, c.parameter_b)})
        matrix = np.eye(len(members))
        for c in found:
            i, j = members.index(c.parameter_a), members.index(c.parameter_b)
            matrix[i, j] = matrix[j, i] = c.correlation
        values, vectors = np.linalg.eigh(matrix)
        if values.min() <= 1e-10:
            # The contradiction lives where the eigenvector of the smallest eigenvalue is
            # large: name the correlations between those parameters, at their cells.
            weight = np.abs(vectors[:, 0])
            involved = {members[i] for i in np.flatnonzero(weight > 0.1 * weight.max())}
            culprits = [
                c for c in found if c.parameter_a in involved and c.parameter_b in involved
            ] or found
            cells = ", ".join(c.where.split("!")[-1] for c in culprits)
            problems.add(
                sheet.name,
                culprits[0].where.split("!")[-1],
                f"the correlations in {cells} contradict each other ("
                + ", ".join(
                    f"{c.parameter_a}~{c.parameter_b} {c.correlation:.2f}" for c in culprits
                )
                + "): no joint distribution has them (the matrix is not positive definite); "
                "weaken some of them.",
            )
    return tuple(found)
