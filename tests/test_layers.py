"""The package's import graph follows the pipeline (STYLE §1, §2): no cycles, no stage that
imports a later stage, and the decision maths never imports the model.

Stage order: foundation → read → validate → parameters → model → analyses → reports → front.
Every import counts, lazy ones inside functions included.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "costmodel"

STAGES = ("foundation", "read", "validate", "parameters", "model", "analyses", "reports", "front")
STAGE_OF = {
    # foundation: leaves that know nothing of workbooks or models
    "costmodel": "foundation",
    "costmodel.errors": "foundation",
    "costmodel.files": "foundation",
    "costmodel.interrupts": "foundation",
    "costmodel.cores": "foundation",
    "costmodel.rng": "foundation",
    "costmodel.formula": "foundation",
    "costmodel.distributions": "foundation",
    "costmodel.evidence": "foundation",
    "costmodel.engine": "foundation",
    "costmodel.kernel": "foundation",
    "costmodel.kernel_compiled": "foundation",
    "costmodel.roots": "foundation",
    "costmodel.cea": "foundation",
    "costmodel.voi": "foundation",
    # read: workbook and CSV readers, the schema, the validated-inputs types
    "costmodel.workbook": "read",
    "costmodel.csv_tables": "read",
    "costmodel.schema": "read",
    "costmodel.template": "read",
    "costmodel.inputs": "read",
    "costmodel.lifetable": "read",
    "costmodel.validate": "validate",
    "costmodel.parameters": "parameters",
    "costmodel.phases": "model",
    "costmodel.outcomes": "model",
    "costmodel.model": "model",
    "costmodel.results": "analyses",
    "costmodel.clinical": "analyses",
    "costmodel.analyses": "analyses",
    "costmodel.reports": "reports",
    "costmodel.api": "front",
    "costmodel.api_model": "front",
    "costmodel.cli": "front",
    "costmodel.__main__": "front",
}
# decision maths takes arrays only (hesim's cea(), dampack's PSA object)
DECISION_MATHS = {
    "costmodel.cea",
    "costmodel.cea_icer",
    "costmodel.voi",
    "costmodel.voi_regression",
    "costmodel.voi_validation",
}
DECISION_MATHS_MAY_IMPORT = {
    "costmodel.errors",
    "costmodel.rng",
    "costmodel.cores",
    *DECISION_MATHS,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """costmodel modules imported anywhere in the file (top level and inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("costmodel")}
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("costmodel")
        ):
            for alias in node.names:  # `from costmodel.analyses import dsa` imports a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _exists(candidate) else node.module)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative).is_dir()


@functools.cache
def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _stage(module: str) -> str:
    while module not in STAGE_OF:
        module = module.rpartition(".")[0]
    return STAGE_OF[module]


def test_every_module_has_a_declared_stage():
    for module in _graph():
        assert _stage(module) in STAGES, module


def _upward(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import of a later stage."""
    return [
        f"{module} ({_stage(module)}) -> {target} ({_stage(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if STAGES.index(_stage(target)) > STAGES.index(_stage(module))
    ]


def test_no_module_imports_a_later_stage():
    assert _upward(_graph()) == []


def test_decision_maths_imports_no_model_code():
    graph = _graph()
    for module in DECISION_MATHS:
        assert graph[module] <= DECISION_MATHS_MAY_IMPORT, graph[module]


def test_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target == module or target not in graph:
                continue
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if state.get(target) is None:
                visit(target, [*path, target])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_layer_check_catches_a_planted_upward_import():
    """The checker itself can fail: the model importing a report writer is upward."""
    graph = {**_graph(), "costmodel.model.run": {"costmodel.reports.html"}}
    assert _upward(graph) == ["costmodel.model.run (model) -> costmodel.reports.html (reports)"]
