"""Exception hierarchy.

Anything a user can trigger raises a :class:`CostModelError`; the CLI prints its message
without a traceback and exits non-zero. Any other exception is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class AnalysisWarning(RuntimeWarning):
    """A result to read with care, raised by an analysis (flagged EVPPI or EVSI estimates,
    an estimate clipped to the EVPI): recorded in summary.json and the report's Warnings."""


class CostModelError(Exception):
    """Base class for errors a user can act on."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input, located as precisely as possible.

    ``sheet`` and ``cell`` may be empty when the problem concerns the whole file or sheet.
    Problems sort by sheet, then by cell (row first, then column).
    """

    sort_key: tuple = ()
    file: str = ""
    sheet: str = ""
    cell: str = ""
    message: str = ""

    @classmethod
    def at(cls, file: str, sheet: str = "", cell: str = "", message: str = "") -> Problem:
        return cls(cell_sort_key(sheet, cell), file, sheet, cell, message)

    def __str__(self) -> str:
        where = self.sheet + (f"!{self.cell}" if self.cell else "")
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


# Sheets in the order the workbook is read, each depending on those before it: a problem in
# an earlier sheet is often the cause of problems reported in later ones, so it comes first.
SHEET_ORDER = (
    "",
    "Settings",
    "Phases",
    "Parameters",
    "LifeTable",
    "Strategies",
    "States",
    "Transitions",
    "Trials",
    "Correlations",
    "Calibration",
    "Scenarios",
    "BudgetImpact",
    "Subgroups",
)
MAX_LISTED_PROBLEMS = 25  # beyond this, the rest is summarised by sheet


def cell_sort_key(sheet: str, cell: str) -> tuple:
    """Sheets in reading order (SHEET_ORDER, then any other by name), then row, column."""
    letters = "".join(ch for ch in cell if ch.isalpha())
    digits = "".join(ch for ch in cell if ch.isdigit())
    column = 0
    for ch in letters.upper():
        column = column * 26 + (ord(ch) - 64)
    rank = SHEET_ORDER.index(sheet) if sheet in SHEET_ORDER else len(SHEET_ORDER)
    return (rank, sheet, int(digits) if digits else 0, column, cell)


class InputError(CostModelError):
    """The workbook (or another input file) is invalid; carries every problem found."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem.at("", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = sorted(problems)
        super().__init__(_listing(self.problems))

    def __reduce__(self):
        # rebuilt from its problems (an analysis step in a forked process sends it back)
        return type(self), (self.problems,)


def _listing(problems: list[Problem]) -> str:
    """Every problem, one per line, in reading order; past MAX_LISTED_PROBLEMS the rest is
    counted, one line per sheet (they are usually follow-ons of the first ones)."""
    lines = [str(p) for p in problems[:MAX_LISTED_PROBLEMS]]
    rest: dict[tuple[str, str], int] = {}
    for p in problems[MAX_LISTED_PROBLEMS:]:
        rest[(p.file, p.sheet)] = rest.get((p.file, p.sheet), 0) + 1
    for (file, sheet), count in rest.items():
        lines.append(
            str(
                Problem.at(
                    file,
                    sheet,
                    message=f"{count} more problem(s) not listed, most likely follow-ons of "
                    "those above (problems are listed in the order the sheets are read): fix "
                    "those and validate again.",
                )
            )
        )
    return "\n".join(lines)


class ModelCheckError(CostModelError):
    """A model built from valid-looking inputs breaks an invariant (e.g. a row sums to 1.2).

    The message names strategy, phase, cycle and state; such problems usually come from
    parameter values, so the exit code is the input-error one.
    """

    exit_code = 2


class NumericalError(ModelCheckError):
    """NaN or infinity appeared in a computation; the message says where it came from."""


class OptionError(CostModelError):
    """A run option (seed, number of PSA samples, path...) is not valid."""

    exit_code = 2
