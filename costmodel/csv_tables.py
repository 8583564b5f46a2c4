"""Read users' own result tables (exported from TreeAge, Excel or R) from CSV files.

Two kinds of table feed the decision maths in :mod:`costmodel.cea` without a workbook:

- a strategy table, one row per strategy: columns ``strategy, cost, effect``;
- a PSA sample, either wide (one row per sample, columns ``e_<strategy>`` and
  ``c_<strategy>``, as BCEA and voi store them) or long (one row per sample and strategy,
  columns ``sample, strategy, cost, effect``, as dampack and hesim tabulate them).

Headers are matched ignoring case and surrounding spaces; other columns are ignored. Files are
UTF-8 text (a byte-order mark, as Excel's "CSV UTF-8" writes, is fine), comma-separated, with
a header row. Every problem found is reported at once in an :class:`InputError`, located as
Excel shows the file when it opens it: the sheet is named after the file and cells are
addressed like ``C12`` (row 1 is the header row). The file is never written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.errors import InputError, Problem

__all__ = ["read_psa_samples", "read_strategy_table"]

STRATEGY_COLUMNS = ("strategy", "cost", "effect")
LONG_COLUMNS = ("sample", "strategy", "cost", "effect")
# Problems listed per file; the rest are counted, so a broken 10,000-row file stays readable.
MAX_PROBLEMS = 50

_EXCEL_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # .xlsx (zip), .xls (OLE)
_WIDE_HELP = (
    "wide form: columns e_<strategy> and c_<strategy> for every strategy, one row per sample"
)
_LONG_HELP = "long form: columns sample, strategy, cost, effect, one row per sample and strategy"


def get_column_letter(index: int) -> str:
    """Spreadsheet column letters of a 1-based column index (1 -> A, 27 -> AA); openpyxl's
    helper, imported only when needed (importing openpyxl costs small commands 60 ms)."""
    from openpyxl.utils import get_column_letter as letters

    return letters(index)


def read_strategy_table(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read a table of strategies with one cost and one effect each.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row and columns ``strategy``, ``cost`` [currency] and
        ``effect`` [e.g. QALYs], in any order and case; other columns are ignored.

    Returns
    -------
    strategies : list of str, length n_strategies
        Names in file order, surrounding spaces removed.
    cost : numpy.ndarray, shape (n_strategies,)
        Costs [currency].
    effect : numpy.ndarray, shape (n_strategies,)
        Effects [as in the file].

    Raises
    ------
    InputError
        If the file is missing or not a readable CSV, a column is missing, there are no data
        rows, a name is blank or repeated, or a cost or effect is not a finite number. Every
        problem is listed, each with its row and column.
    """
    table = _read_csv(path)
    missing = [name for name in STRATEGY_COLUMNS if name not in table.columns]
    if missing:
        raise InputError(
            table.file_problem(
                f"missing column(s) {', '.join(missing)}; a strategy table needs columns "
                f"{', '.join(STRATEGY_COLUMNS)} (any case, any order; other columns are ignored). "
                f"{table.found_columns()}"
            )
        )
    table.require_rows()
    problems: list[Problem] = []
    names = table.labels("strategy", problems)
    first_row: dict[str, int] = {}
    for row, name in zip(table.rows, names, strict=True):
        if name in first_row:
            problems.append(
                table.problem(
                    row,
                    "strategy",
                    f"strategy {name!r} repeats row {first_row[name]}; give each strategy one row.",
                )
            )
        elif name:
            first_row[name] = row
    cost = table.numbers("cost", problems)
    effect = table.numbers("effect", problems)
    _raise_if_any(problems, table.file)
    return names, cost, effect


def read_psa_samples(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read a probabilistic sensitivity analysis sample of costs and effects.

    Parameters
    ----------
    path : str or Path
        CSV file in one of two forms (headers in any case):

        - wide: one row per sample, a column ``e_<strategy>`` (effect) and a column
          ``c_<strategy>`` (cost) for every strategy; other columns (a sample index, say)
          are ignored. Strategies are ordered by the first of their two columns, and
          ``e_SoC`` pairs with ``c_soc``; the name is taken from the first column as written.
        - long: columns ``sample``, ``strategy``, ``cost``, ``effect``, one row per sample
          and strategy, each combination exactly once, rows in any order. Samples and
          strategies are ordered by first appearance. This form is chosen whenever all four
          columns are present.

    Returns
    -------
    strategies : list of str, length n_strategies
    cost : numpy.ndarray, shape (n_samples, n_strategies)
        Costs [currency].
    effect : numpy.ndarray, shape (n_samples, n_strategies)
        Effects [as in the file].

    Raises
    ------
    InputError
        If the file is missing or not a readable CSV; columns for neither form are present
        (the message says what each form needs); an ``e_`` column has no ``c_`` partner or
        the reverse; there are no data rows; a value is not a finite number; or, in long
        form, a sample or strategy is blank, or a sample lacks a strategy or has it twice.
        Every problem is listed, each with its row and column where there is one.
    """
    table = _read_csv(path)
    if all(name in table.columns for name in LONG_COLUMNS):
        return _read_long(table)
    if any(key.startswith(("e_", "c_")) for key in table.columns):
        return _read_wide(table)
    missing_long = [name for name in LONG_COLUMNS if name not in table.columns]
    raise InputError(
        table.file_problem(
            "no PSA columns found. Use the "
            f"{_WIDE_HELP}; or the {_LONG_HELP} (missing here: {', '.join(missing_long)}). "
            f"{table.found_columns()}"
        )
    )


def read_net_benefit(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a net-benefit matrix: one column per strategy (its header is the strategy's name),
    one row per PSA sample, each value the strategy's net benefit at one willingness to pay
    [currency], as voi's ``chemo_nb``. Returns (strategies, net_benefit (n_samples,
    n_strategies)); InputError lists every bad cell with its row and column."""
    table = _read_csv(path)
    problems: list[Problem] = []
    keys = list(table.columns)
    if len(keys) < 2:
        raise InputError(
            [
                table.file_problem(
                    "a net-benefit matrix needs one column per strategy (at least two); found "
                    f"{table.found_columns()}."
                )
            ]
        )
    table.require_rows()
    values = np.column_stack([table.numbers(key, problems) for key in keys])
    _raise_if_any(problems, table.file)
    return [table.header_text[key].strip() for key in keys], values


def _read_wide(table: _CsvTable) -> tuple[list[str], np.ndarray, np.ndarray]:
    problems: list[Problem] = []
    pairs: dict[str, dict[str, str]] = {}  # strategy key -> {"e": column key, "c": column key}
    names: dict[str, str] = {}  # strategy key -> name as first written
    for key in table.columns:
        if not key.startswith(("e_", "c_")):
            continue
        written = table.header_text[key][2:].strip()
        if not written:
            problems.append(
                table.header_problem(
                    key,
                    f"column {table.header_text[key]!r} has no strategy name after the "
                    "prefix; name it e_<strategy> or c_<strategy>.",
                )
            )
            continue
        strategy = written.lower()
        names.setdefault(strategy, written)
        pairs.setdefault(strategy, {})[key[0]] = key
    for strategy, pair in pairs.items():
        for have, need, what in (("e", "c", "cost"), ("c", "e", "effect")):
            if have in pair and need not in pair:
                problems.append(
                    table.header_problem(
                        pair[have],
                        f"{table.header_text[pair[have]]} has no matching {need}_{names[strategy]} "
                        f"column; every strategy needs both e_<strategy> (effect) and "
                        f"c_<strategy> (cost), so add the {what} column or remove this one.",
                    )
                )
    # Every prefixed column is named and paired by now (or reported above), so there is at
    # least one strategy.
    _raise_if_any(problems, table.file)
    complete = list(pairs)
    table.require_rows()
    cost = np.column_stack([table.numbers(pairs[s]["c"], problems) for s in complete])
    effect = np.column_stack([table.numbers(pairs[s]["e"], problems) for s in complete])
    _raise_if_any(problems, table.file)
    return [names[s] for s in complete], cost, effect


def _read_long(table: _CsvTable) -> tuple[list[str], np.ndarray, np.ndarray]:
    table.require_rows()
    problems: list[Problem] = []
    samples = table.labels("sample", problems)
    strategies = table.labels("strategy", problems)
    cost_values = table.numbers("cost", problems)
    effect_values = table.numbers("effect", problems)
    _raise_if_any(problems, table.file)

    sample_codes, sample_names = pd.factorize(pd.Series(samples, dtype=object))
    strategy_codes, strategy_names = pd.factorize(pd.Series(strategies, dtype=object))
    n_samples, n_strategies = len(sample_names), len(strategy_names)
    combo = sample_codes * n_strategies + strategy_codes
    rows = np.asarray(table.rows)

    _, first_index = np.unique(combo, return_index=True)
    first_row_of_combo = dict(
        zip(combo[first_index].tolist(), rows[first_index].tolist(), strict=True)
    )
    for i in np.flatnonzero(pd.Series(combo).duplicated().to_numpy()):
        problems.append(
            table.problem(
                int(rows[i]),
                "strategy",
                f"sample {samples[i]!r}, strategy {strategies[i]!r} appears again (first at "
                f"row {first_row_of_combo[int(combo[i])]}); give each sample one row per strategy.",
            )
        )
    counts = np.bincount(combo, minlength=n_samples * n_strategies).reshape(n_samples, n_strategies)
    _, sample_first = np.unique(sample_codes, return_index=True)
    for s, k in np.argwhere(counts == 0):
        problems.append(
            table.problem(
                int(rows[sample_first[s]]),
                "sample",
                f"sample {sample_names[s]!r} (first at row {rows[sample_first[s]]}) has no row "
                f"for strategy {strategy_names[k]!r}; every sample needs one row for each of "
                f"the {n_strategies} strategies.",
            )
        )
    _raise_if_any(problems, table.file)

    cost = np.empty((n_samples, n_strategies))
    effect = np.empty((n_samples, n_strategies))
    cost[sample_codes, strategy_codes] = cost_values
    effect[sample_codes, strategy_codes] = effect_values
    return [str(name) for name in strategy_names], cost, effect


@dataclass(frozen=True)
class _CsvTable:
    """A CSV file's header and non-blank data rows, as stripped text, with row numbers."""

    file: str  # file name used in messages
    sheet: str  # the sheet name Excel gives the file: its stem
    header_text: dict[str, str]  # normalized header -> header as written (stripped)
    columns: dict[str, int]  # normalized header -> 0-based column position
    rows: list[int]  # row number of each data row; the header is row 1
    data: pd.DataFrame  # str cells, one column per normalized header
    hint: str  # advice about the separator, or ""

    def file_problem(self, message: str) -> Problem:
        return Problem.at(self.file, message=message)

    def header_problem(self, key: str, message: str) -> Problem:
        return Problem.at(self.file, self.sheet, f"{self._letter(key)}1", message)

    def problem(self, row: int, key: str, message: str) -> Problem:
        return Problem.at(self.file, self.sheet, f"{self._letter(key)}{row}", message)

    def found_columns(self) -> str:
        found = ", ".join(self.header_text.values()) or "none"
        return f"Found columns: {found}.{self.hint}"

    def require_rows(self) -> None:
        if not self.rows:
            raise InputError(
                self.file_problem("no data rows below the header row; the table is empty.")
            )

    def labels(self, key: str, problems: list[Problem]) -> list[str]:
        """Text cells of a column; a blank cell is a problem."""
        text = self.data[key]
        header = self.header_text[key]
        for i in np.flatnonzero((text == "").to_numpy()):
            problems.append(self.problem(self.rows[i], key, f"{header} is blank; fill it in."))
        return text.tolist()

    def numbers(self, key: str, problems: list[Problem]) -> np.ndarray:
        """Numeric cells of a column; anything but a finite number is a problem."""
        text = self.data[key]
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        header = self.header_text[key]
        for i in np.flatnonzero(~np.isfinite(values)):
            got = text.iloc[i]
            problems.append(
                self.problem(
                    self.rows[i],
                    key,
                    f"{header} must be a finite number; got "
                    f"{'a blank cell' if not got else repr(got)}. Enter a plain number "
                    "(a dot for decimals, no thousands separators, currency signs or %).",
                )
            )
        return values

    def _letter(self, key: str) -> str:
        return get_column_letter(self.columns[key] + 1)


def _read_csv(path: str | Path) -> _CsvTable:
    path = Path(path)
    file = path.name
    if not path.exists():
        raise InputError(Problem.at(file, message=f"file not found: {path}"))
    if not path.is_file():
        raise InputError(Problem.at(file, message=f"not a file: {path}"))
    data = path.read_bytes()
    if data.startswith(_EXCEL_SIGNATURES):
        raise InputError(
            Problem.at(
                file,
                message="this is an Excel workbook, not a CSV file; in Excel use File > Save As "
                "> CSV UTF-8 (Comma delimited).",
            )
        )
    if b"\x00" in data:
        raise InputError(
            Problem.at(
                file,
                message="not a text CSV file (it contains NUL bytes: binary, or UTF-16 "
                "'Unicode text'); save it as CSV UTF-8 (Comma delimited).",
            )
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem.at(
                file,
                message=f"not UTF-8 text (undecodable byte at offset {exc.start}); save it as "
                "CSV UTF-8 (Comma delimited).",
            )
        ) from None
    if not text.strip():
        raise InputError(
            Problem.at(file, message="the file is empty; expected a header row and data rows.")
        )
    header_line = text.lstrip("\r\n").splitlines()[0]
    hint = ""
    if "," not in header_line and any(sep in header_line for sep in ";\t"):
        hint = (
            " The header is separated by semicolons or tabs, not commas: save the file as "
            "comma-separated CSV (in Excel: CSV UTF-8), with a dot for decimals."
        )
    try:
        # Everything as text, nothing turned into NaN, blank lines kept: row numbers then
        # match the file, and every cell is checked (and reported) by us.
        raw = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        message = f"cannot read as CSV: {str(exc).strip().rstrip('.')}.{hint}"
        raise InputError(Problem.at(file, message=message)) from None
    raw = raw.fillna("")
    raw = raw.apply(lambda column: column.str.strip())

    sheet = path.stem
    header_text: dict[str, str] = {}
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for position, written in enumerate(raw.iloc[0].tolist()):
        key = written.lower()
        if not key:
            continue
        if key in columns:
            problems.append(
                Problem.at(
                    file,
                    sheet,
                    f"{get_column_letter(position + 1)}1",
                    f"column {written!r} repeats column "
                    f"{get_column_letter(columns[key] + 1)} ({header_text[key]!r}); headers "
                    "are compared ignoring case, so rename or remove one.",
                )
            )
            continue
        header_text[key] = written
        columns[key] = position
    _raise_if_any(problems, file)

    body = raw.iloc[1:]
    body = body[(body != "").any(axis=1)]
    data = pd.DataFrame(
        {key: body[position].to_numpy(dtype=object) for key, position in columns.items()}
    )
    rows = (body.index + 1).tolist()  # raw row i (0-based, header at 0) is spreadsheet row i + 1
    return _CsvTable(file, sheet, header_text, columns, rows, data, hint)


def _raise_if_any(problems: list[Problem], file: str) -> None:
    if not problems:
        return
    listed = sorted(problems)
    if len(listed) > MAX_PROBLEMS:
        more = len(listed) - MAX_PROBLEMS
        listed = listed[:MAX_PROBLEMS]
        listed.append(
            Problem.at(
                file,
                message=f"{more} more problem(s) not listed; the {MAX_PROBLEMS} listed "
                "are the first by row.",
            )
        )
    raise InputError(listed)
