"""Command-line interface (argument parsing and printing only); ``costmodel --help`` and
``costmodel COMMAND --help`` list every command and option (README "Commands")."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from costmodel import __version__
from costmodel.errors import CostModelError

if TYPE_CHECKING:  # pandas is imported lazily, so that Ctrl-C at start-up is caught too
    import pandas as pd


def _format_table(table: pd.DataFrame, currency: str, effect: str = "qaly") -> str:
    """The ICER table as printed: the increment shown is the one the ICER divides by."""
    import pandas as pd

    increment = "inc_ly" if effect == "ly" else "inc_qaly"
    shown = table[["strategy", "cost", "qaly", "ly", "inc_cost", increment, "icer", "status"]]
    formats = {
        "cost": lambda v: f"{v:,.0f}",
        "inc_cost": lambda v: "" if pd.isna(v) else f"{v:,.0f}",
        "qaly": lambda v: f"{v:.3f}",
        "ly": lambda v: f"{v:.3f}",
        increment: lambda v: "" if pd.isna(v) else f"{v:.3f}",
        "icer": lambda v: "" if pd.isna(v) else f"{v:,.0f}",
    }
    text = shown.to_string(index=False, formatters=formats, na_rep="")
    from costmodel.schema_types import effect_unit

    return (
        f"Costs in {currency}; ICER per {effect_unit(effect)} gained; status: nd on the "
        f"frontier, ed extendedly dominated, d dominated.\n{text}"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from costmodel.api import load_workbook_inputs, run_and_write

    _, inputs = load_workbook_inputs(args.workbook)
    for warning in inputs.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    inputs = _with_command_line_settings(inputs, args)
    out = _out_folder(args.out, Path(args.workbook).stem)
    console = ConsoleProgress(enabled=not args.quiet, verbose=args.verbose)
    try:
        result, out = run_and_write(
            inputs,
            out,
            reports=not args.no_report,
            summary_notes={"scenario": args.scenario} if args.scenario else None,
            seed=args.seed,
            psa_samples=args.psa_samples,
            deterministic=not args.no_dsa,
            progress=console.psa,
            evppi_groups=[g.split(",") for g in args.evppi or []],
            voi=not args.no_voi,
            on_step=console.step,
            fast=args.fast,
        )
    finally:
        console.close()
    settings = inputs.settings
    print(f"{settings.name}: ICER table (effect: {settings.effect_measure})")
    print(_format_table(result.tables["base_case"], settings.currency, settings.effect_measure))
    for wtp, probabilities in result.summary.get("prob_cost_effective", {}).items():
        shown = ", ".join(f"{k} {v:.2f}" for k, v in probabilities.items())
        print(f"Probability cost-effective at {settings.currency} {float(wtp):,.0f}: {shown}")
    if "calibration" in result.tables:
        missed = result.tables["calibration"].query("not within_tolerance")
        if len(missed):
            message = f"{len(missed)} calibration target(s) missed: see calibration.csv"
            print(f"warning: {message}", file=sys.stderr)
    if args.no_report:
        print(f"Results written to {out}/ (tables only; `costmodel report {out}` adds reports)")
    else:
        print(f"Results written to {out}/ (report: {out / 'report.html'})")
    return 0


def _with_command_line_settings(inputs, args: argparse.Namespace):
    """The workbook's inputs as ``--scenario`` and ``--wtp`` change them."""
    from costmodel.errors import OptionError

    if args.scenario is not None:
        try:
            inputs = inputs.scenario_inputs(args.scenario)
        except KeyError:
            names = ", ".join(s.name for s in inputs.scenarios) or "none in this workbook"
            raise OptionError(f"--scenario {args.scenario}: no such scenario ({names}).") from None
    if args.wtp:
        inputs = inputs.with_settings(wtp=tuple(dict.fromkeys(_checked_wtp(args.wtp))))
    return inputs


def _out_folder(out: str | None, stem: str) -> Path:
    """``--out`` as a path (default results/<stem>); OptionError for an empty name."""
    from costmodel.errors import OptionError

    if out is None:
        return Path("results") / stem
    if not out.strip():
        raise OptionError("--out: an empty folder name; give a folder, e.g. --out results/run1.")
    return Path(out)


def _checked_wtp(values: list[float] | None) -> list[float]:
    """``--wtp`` values, or OptionError: numbers >= 0 (the same rule for every command)."""
    from costmodel.errors import OptionError

    bad = [w for w in values or [] if not (w >= 0 and w < float("inf"))]
    if bad:
        raise OptionError(
            f"--wtp {bad[0]:g}: willingness to pay must be a number >= 0 "
            "(currency per unit of effect), e.g. --wtp 20000 30000."
        )
    return list(values or [])


def _cmd_icers(args: argparse.Namespace) -> int:
    from costmodel.cea import compute_icer_table
    from costmodel.csv_tables import read_strategy_table

    wtp = _checked_wtp(args.wtp)
    strategies, cost, effect = read_strategy_table(args.table)
    table = compute_icer_table(strategies, cost, effect, wtp=wtp)
    table = _versus_reference(table, strategies, cost, effect, args.reference, wtp)
    print(table.to_string(index=False, na_rep=""))
    if args.out is not None:
        from costmodel.files import atomic_write, write_csv

        _out_folder(args.out, "")  # an empty name is refused

        target = Path(args.out)
        if target.suffix.lower() != ".csv":  # a folder, as --out is for every command
            target.mkdir(parents=True, exist_ok=True)
            target = target / "icers.csv"
        atomic_write(target, lambda tmp: write_csv(tmp, table))
        print(f"Written to {target}")
    return 0


def _versus_reference(table, strategies, cost, effect, reference, wtp):
    """The ICER table plus each strategy versus ``reference`` (default: the first listed)."""
    from costmodel.cea_icer import add_reference_columns
    from costmodel.errors import OptionError

    reference = reference or strategies[0]
    if reference not in strategies:
        raise OptionError(
            f"--reference {reference}: not a strategy of the table ({', '.join(strategies)})."
        )
    return add_reference_columns(table, strategies, cost, effect, reference, wtp)


def _cmd_cea(args: argparse.Namespace) -> int:
    import numpy as np

    from costmodel.analyses.user_cea import evppi_tables, read_parameter_samples, user_cea_tables
    from costmodel.csv_tables import read_psa_samples
    from costmodel.reports import write_user_cea

    wtp = _checked_wtp(args.wtp)
    if args.net_benefit:
        from costmodel.analyses.user_cea import net_benefit_tables
        from costmodel.csv_tables import read_net_benefit
        from costmodel.errors import OptionError

        if len(wtp) != 1:
            raise OptionError(
                "--net-benefit: give the one --wtp at which the net benefits were computed."
            )
        strategies, net_benefit = read_net_benefit(args.samples)
        cost, effect = -net_benefit, np.zeros(net_benefit.shape)  # NMB = NB at any threshold
        tables = net_benefit_tables(strategies, net_benefit, wtp[0])
        print(tables["ceac"].to_string(index=False))
    else:
        strategies, cost, effect = read_psa_samples(args.samples)
        tables = user_cea_tables(strategies, cost, effect, wtp)
        tables["icers"] = _versus_reference(
            tables["icers"], strategies, cost.mean(axis=0), effect.mean(axis=0), args.reference, wtp
        )
    groups = [g.split(",") for g in args.evppi or []]
    if groups:
        if args.parameters is None:
            from costmodel.errors import OptionError

            raise OptionError("--evppi needs --parameters PARAMS.csv (the sampled parameters).")
        params = read_parameter_samples(args.parameters, cost.shape[0])
        tables["evppi"] = evppi_tables(cost, effect, sorted(set(wtp)), params, groups)
        print(tables["evppi"].to_string(index=False))
    if "icers" in tables:
        print(tables["icers"].to_string(index=False, na_rep=""))
    for row in tables["evpi"].itertuples():
        print(f"EVPI at {row.wtp:,.0f}: {row.evpi_per_patient:,.6g} per patient")
    summary = {
        "input_file": Path(args.samples).name,
        "net_benefit_matrix": bool(args.net_benefit),
        "n_samples": int(cost.shape[0]),
        "strategies": strategies,
        "wtp": list(wtp),
    }
    out = _out_folder(args.out, Path(args.samples).stem)
    write_user_cea(out, tables, summary)
    print(f"Results written to {out}/")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from costmodel.reports import REPORT_FILES, write_reports
    from costmodel.reports.folder import MARKER, add_to_marker

    folder = Path(args.outdir)
    if not (folder / "summary.json").exists() or not (folder / MARKER).exists():
        raise CostModelError(f"{folder} is not a costmodel output folder (no summary.json).")
    write_reports(folder)  # never reopens the user's workbook: the run kept a hashed copy
    add_to_marker(folder, REPORT_FILES)  # so that the next run may replace the folder
    print(f"Report rebuilt: {folder / 'report.html'}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from costmodel.api import run_checks
    from costmodel.validate import load_inputs

    inputs = load_inputs(args.workbook)
    for warning in inputs.warnings:
        print(f"warning: {warning}")
    problems = run_checks(inputs)  # what `run` would refuse: built and run, not only read
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 2
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


class ConsoleProgress:
    """Progress on stderr: on a terminal, tqdm bars over the PSA samples and over the analysis
    steps (named as they start); in a log (no terminal), one line per step and per quarter of
    the PSA, so no stage of a long run is silent."""

    def __init__(self, *, enabled: bool = True, verbose: bool = False) -> None:
        self.enabled = enabled
        self.verbose = verbose
        self._started: tuple[str, float] | None = None
        self.terminal = sys.stderr.isatty()
        self._psa = None
        self._steps = None
        self._index = 0
        self._quarter = 0

    def psa(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if not self.terminal:
            while self._quarter < 4 and done >= total * (self._quarter + 1) / 4:
                self._quarter += 1
                print(f"PSA: {25 * self._quarter}% of {total:,} samples", file=sys.stderr)
            return
        from tqdm import tqdm

        if self._psa is None:
            self._psa = tqdm(total=total, desc="PSA", unit="sample", file=sys.stderr)
        self._psa.update(done - self._psa.n)
        if done >= total:
            self._psa.close()

    def step(self, name: str) -> None:
        self._report_duration()
        self._started = (name, time.perf_counter())
        if not self.enabled:
            return
        from costmodel.analyses.run import STEPS

        total = len(STEPS) + 2  # the analysis steps, writing the tables and figures, the reports
        self._index += 1
        if not self.terminal:
            print(f"[{self._index}/{total}] {name}", file=sys.stderr)
            return
        from tqdm import tqdm

        if self._steps is None:
            self._steps = tqdm(total=total, desc="analyses", unit="step", file=sys.stderr)
        else:
            self._steps.update(1)
        self._steps.set_postfix_str(name)

    def _report_duration(self) -> None:
        """With --verbose, how long the step that just ended took."""
        if self.verbose and self._started is not None:
            name, start = self._started
            print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)

    def close(self) -> None:
        self._report_duration()
        self._started = None
        if self._steps is not None:
            self._steps.update(self._steps.total - self._steps.n)
            self._steps.close()


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
    run.add_argument(
        "--psa-samples", type=int, help="PSA samples (default: Settings psa_samples; 0 = none)"
    )
    run.add_argument("--no-dsa", action="store_true", help="skip deterministic analyses")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.add_argument("-v", "--verbose", action="store_true", help="print how long each stage took")
    run.add_argument("--no-voi", action="store_true", help="skip EVPPI and EVSI")
    run.add_argument(
        "--fast",
        action="store_true",
        help="base case and one-way DSA only (no PSA, two-way, scenarios or VoI): for editing",
    )
    run.add_argument(
        "--no-report",
        action="store_true",
        help="write the CSV tables and summary.json only (no figures, report.html, xlsx)",
    )
    run.add_argument(
        "--wtp",
        type=float,
        nargs="+",
        metavar="W",
        help="willingness-to-pay thresholds instead of Settings wtp (currency per unit effect)",
    )
    run.add_argument("--scenario", metavar="NAME", help="run a Scenarios row as the base case")
    run.add_argument(
        "--evppi",
        action="append",
        metavar="NAME[,NAME...]",
        help="EVPPI of a parameter or group (repeatable); needs PSA",
    )
    run.set_defaults(handler=_cmd_run)

    icers = sub.add_parser("icers", help="ICER table of a CSV with strategy, cost, effect")
    icers.add_argument("table")
    icers.add_argument("--wtp", type=float, nargs="*", help="add net monetary benefit columns")
    icers.add_argument(
        "--out", help="also write icers.csv into this folder (a name ending .csv: that file)"
    )
    icers.add_argument(
        "--reference", help="strategy the pairwise ICERs compare with (default: the first)"
    )
    icers.set_defaults(handler=_cmd_icers)

    cea_cmd = sub.add_parser(
        "cea", help="ICER table of means, CEAC, CEAF and EVPI of a PSA sample from any tool"
    )
    cea_cmd.add_argument(
        "samples", help="CSV: wide (e_<s>, c_<s>) or long (sample, strategy, cost, effect)"
    )
    cea_cmd.add_argument("--wtp", type=float, nargs="+", required=True)
    cea_cmd.add_argument("--out", help="output folder (default: results/<file stem>/)")
    cea_cmd.add_argument("--parameters", help="CSV of the sampled parameters (for --evppi)")
    cea_cmd.add_argument(
        "--evppi",
        action="append",
        metavar="NAME[,NAME...]",
        help="EVPPI of a parameter or group (repeatable)",
    )
    cea_cmd.add_argument(
        "--reference", help="strategy the pairwise ICERs compare with (default: the first)"
    )
    cea_cmd.add_argument(
        "--net-benefit",
        action="store_true",
        help="SAMPLES is a net-benefit matrix (one column per strategy, as voi's chemo_nb) "
        "computed at the one --wtp given",
    )
    cea_cmd.set_defaults(handler=_cmd_cea)

    validate = sub.add_parser("validate", help="check a workbook and list every problem")
    validate.add_argument("workbook")
    validate.set_defaults(handler=_cmd_validate)

    report = sub.add_parser("report", help="rebuild report.html, cheers.csv and results.xlsx")
    report.add_argument("outdir", help="an output folder written by costmodel run")
    report.set_defaults(handler=_cmd_report)

    template = sub.add_parser("template", help="write a starter workbook")
    template.add_argument("path", help="where to write the .xlsx file")
    template.add_argument("--force", action="store_true", help="overwrite an existing file")
    template.set_defaults(handler=_cmd_template)
    return parser


def _handle_interrupts() -> dict:
    """SIGINT and SIGTERM end a run the same way at any moment (earlier results stay,
    temporary files go), also while numba compiles (see :mod:`costmodel.interrupts`).
    Returns the previous handlers, restored when the command ends."""
    from costmodel import interrupts

    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        # not possible outside the main thread (e.g. called from a worker): keep the default
        with contextlib.suppress(ValueError):
            previous[number] = signal.signal(number, interrupts.handler)
    return previous


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = _handle_interrupts()
    try:
        with plain_warnings():
            return _run_command(args)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def plain_warnings() -> Iterator[None]:
    """costmodel's own warnings shown as ``warning: <message>`` lines, like the command's
    other warnings, instead of Python's ``<file>:<line>: <Category>`` form followed by a line
    of costmodel's source; other packages' warnings keep Python's form."""
    shown = warnings.showwarning
    package = str(Path(__file__).resolve().parent) + os.sep

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if str(filename).startswith(package):
            print(f"warning: {message}", file=file or sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def console_main() -> None:
    """The ``costmodel`` command (and ``python -m costmodel``): :func:`main`, then leave at
    once. Every output is already written (atomically) and closed when main returns, so the
    interpreter's teardown of every module and object (~0.17 s after a small model's run)
    is skipped; the console streams are flushed first. An unexpected error (a bug) still
    leaves the ordinary way, with its traceback."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: leave the ordinary way
        sys.exit(code)
    os._exit(code)


def _run_command(args: argparse.Namespace) -> int:
    """The command, with every error a user can act on turned into a message and exit code."""
    try:
        return args.handler(args)
    except CostModelError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was written; earlier results are unchanged.", file=sys.stderr)
        return 130
    except MemoryError:
        print("out of memory: reduce --psa-samples, tunnel lengths or cycles.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    console_main()
