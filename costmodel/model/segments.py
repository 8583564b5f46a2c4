"""Time segments of a phase, found from the expressions before they are evaluated.

A phase's cycles split into segments over which every expression of the phase is constant.
Expressions are evaluated once per segment (on samples × segments) instead of once per cycle,
and the engine builds one transition matrix per segment.

Every function an expression may call acts elementwise, so an expression's value at cycle c
depends only on the parameters and on the values at c of its *time-only* parts: the maximal
sub-expressions built from time variables and constants alone (``floor(age)``,
``time_days > 28``). Those parts are evaluated on the time axis (one row, no samples); the
expression can change only where one of them changes. Names defined by other expressions
(time-dependent parameters, strategy variables) contribute their own expressions' change
points, and life-table functions the change points of the row they read (their implicit
dependence on the cohort's age). The result is exact: no sample's value can change inside a
segment. If a time-only part cannot be evaluated, every cycle starts a segment (the full
evaluation then reports the error with its cell).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

import numpy as np

from costmodel.formula import Expression, FunctionSpec, parse_expression

# Kinds of a sub-expression's dependence, combined upwards through the tree.
CONSTANT, SAMPLES, TIME, MIXED = "constant", "samples", "time", "mixed"


class TimeDependence:
    """Collects the cycles at which any analysed expression may change value.

    ``time_values`` maps each time variable to its values over the phase's cycles, shape
    (1, n_cycles); ``constants`` maps names that are the same for every sample and cycle;
    ``derived`` maps names defined by expressions (time-dependent parameters, strategy
    variables: one or more expressions each); ``implicit`` maps a function name to the values
    over cycles of the time input it reads without an argument (a life-table row index).
    Any other name is a parameter: constant over time, varying over samples.
    """

    def __init__(
        self,
        n_cycles: int,
        time_values: Mapping[str, np.ndarray],
        constants: Mapping[str, float],
        derived: Mapping[str, list[Expression]],
        functions: Mapping[str, FunctionSpec],
        implicit: Mapping[str, np.ndarray],
    ) -> None:
        self.n_cycles = n_cycles
        self.time_values = time_values
        self.constants = constants
        self.derived = derived
        self.functions = functions
        self.implicit = implicit
        self.changed = np.zeros(max(n_cycles - 1, 0), dtype=bool)
        self._derived_kind: dict[str, str] = {}
        self._seen_implicit: set[str] = set()
        self._seen: set[int] = set()

    def add(self, expressions: Iterable[Expression | None]) -> None:
        """Add the change points of each expression."""
        for expr in expressions:
            if expr is not None and expr.tree is not None and id(expr) not in self._seen:
                self._seen.add(id(expr))
                if self._kind(expr.tree) == TIME:
                    self._record(expr.tree)

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, segment): first cycle (0-based) of each segment, shape (U,), and the
        segment of each cycle, shape (n_cycles,)."""
        segment = np.concatenate([[0], np.cumsum(self.changed)]).astype(int)
        starts = np.flatnonzero(np.concatenate([[True], self.changed]))
        return starts, segment

    # -- analysis -----------------------------------------------------------------------------

    def _kind(self, node: ast.expr) -> str:
        """The node's kind; records the change points of its time-only children when the
        node itself mixes time with samples."""
        if isinstance(node, ast.Constant):
            return CONSTANT
        if isinstance(node, ast.Name):
            return self._name_kind(node.id)
        children = _children(node)
        kinds = [self._kind(child) for child in children]
        kind = _combine(kinds)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            key = self.implicit.get(node.func.id)
            if key is not None:
                self._record_values(node.func.id, key)
                kind = MIXED
        if kind == MIXED:
            for child, child_kind in zip(children, kinds, strict=True):
                if child_kind == TIME:
                    self._record(child)
        return kind

    def _name_kind(self, name: str) -> str:
        if name in self.time_values:
            return TIME
        if name in self.constants:
            return CONSTANT
        if name not in self.derived:
            return SAMPLES
        if name not in self._derived_kind:
            self._derived_kind[name] = SAMPLES  # a cycle of definitions cannot recurse
            kinds = []
            for expr in self.derived[name]:
                kinds.append(CONSTANT if expr.tree is None else self._kind(expr.tree))
                if kinds[-1] == TIME:
                    self._record(expr.tree)  # type: ignore[arg-type]
            # Its changes are recorded; towards its users it behaves like a sample value
            # that may change at those points (never evaluated on the time axis alone).
            kind = _combine(kinds)
            self._derived_kind[name] = MIXED if kind in (TIME, MIXED) else kind
        return self._derived_kind[name]

    def _record(self, node: ast.expr) -> None:
        """Evaluate a time-only sub-expression over the cycles and mark where it changes."""
        try:
            expr = parse_expression(ast.unparse(node), self.functions)
            namespace = {**self.constants, **self.time_values}
            value = np.asarray(expr.evaluate(namespace, self.functions), dtype=float)
        except Exception:  # the full evaluation reports it with its cell
            self.changed[:] = True
            return
        self._mark(value)

    def _record_values(self, name: str, values: np.ndarray) -> None:
        if name not in self._seen_implicit:
            self._seen_implicit.add(name)
            self._mark(values)

    def _mark(self, value: np.ndarray) -> None:
        if value.ndim == 2 and value.shape[1] == self.n_cycles and self.n_cycles > 1:
            row = value[0]
            self.changed |= ~((row[1:] == row[:-1]) | (np.isnan(row[1:]) & np.isnan(row[:-1])))
        elif value.ndim > 2 or (value.ndim == 2 and value.shape[0] > 1):
            self.changed[:] = True  # not a single time row: be safe


def _children(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Call):
        return list(node.args)
    raise TypeError(f"unexpected expression node {type(node).__name__}")


def _combine(kinds: list[str]) -> str:
    present = set(kinds)
    if MIXED in present or (TIME in present and SAMPLES in present):
        return MIXED
    if TIME in present:
        return TIME
    if SAMPLES in present:
        return SAMPLES
    return CONSTANT
