"""Command-line interface (argument parsing and printing only).

costmodel run WORKBOOK [--out DIR] [--seed S]
costmodel validate WORKBOOK
costmodel template PATH.xlsx [--force]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from costmodel import __version__
from costmodel.errors import CostModelError


def _format_table(table: pd.DataFrame, currency: str) -> str:
    shown = table[["strategy", "cost", "qaly", "ly", "inc_cost", "inc_qaly", "icer", "status"]]
    formats = {
        "cost": lambda v: f"{v:,.0f}",
        "inc_cost": lambda v: "" if pd.isna(v) else f"{v:,.0f}",
        "qaly": lambda v: f"{v:.3f}",
        "ly": lambda v: f"{v:.3f}",
        "inc_qaly": lambda v: "" if pd.isna(v) else f"{v:.3f}",
        "icer": lambda v: "" if pd.isna(v) else f"{v:,.0f}",
    }
    text = shown.to_string(index=False, formatters=formats, na_rep="")
    return f"Costs in {currency}.\n{text}"


def _cmd_run(args: argparse.Namespace) -> int:
    from costmodel.api import run_inputs
    from costmodel.validate import load_model

    inputs = load_model(args.workbook)
    for warning in inputs.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result = run_inputs(inputs, seed=args.seed)
    out = Path(args.out) if args.out else Path("results") / Path(args.workbook).stem
    result.write(out)
    settings = inputs.settings
    print(f"{settings.name}: ICER table (effect: {settings.effect_measure})")
    print(_format_table(result.base_case, settings.currency))
    print(f"Results written to {out}/")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from costmodel.validate import load_model

    inputs = load_model(args.workbook)
    for warning in inputs.warnings:
        print(f"warning: {warning}")
    print(
        f"{inputs.file}: valid ({len(inputs.parameters)} parameters, {len(inputs.states)} "
        f"states, {len(inputs.transitions)} transitions, {len(inputs.strategies)} strategies)."
    )
    return 0


def _cmd_template(args: argparse.Namespace) -> int:
    from costmodel.template import write_template

    path = Path(args.path)
    if path.exists() and not args.force:
        raise CostModelError(f"{path} exists; use --force to overwrite it.")
    write_template(path)
    print(f"Starter workbook written to {path}. Check it with: costmodel validate {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costmodel", description="Workbook-driven Markov cohort cost-effectiveness models."
    )
    parser.add_argument("--version", action="version", version=f"costmodel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a workbook and write results")
    run.add_argument("workbook", help="input .xlsx workbook (never modified)")
    run.add_argument("--out", help="output folder (default: results/<workbook stem>/)")
    run.add_argument("--seed", type=int, help="random seed (default: Settings seed)")
    run.set_defaults(handler=_cmd_run)

    validate = sub.add_parser("validate", help="check a workbook and list every problem")
    validate.add_argument("workbook")
    validate.set_defaults(handler=_cmd_validate)

    template = sub.add_parser("template", help="write a starter workbook")
    template.add_argument("path", help="where to write the .xlsx file")
    template.add_argument("--force", action="store_true", help="overwrite an existing file")
    template.set_defaults(handler=_cmd_template)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CostModelError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
