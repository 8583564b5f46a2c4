"""A deliberately plain reference implementation of the Markov cohort semantics (test oracle).

Written from the specification only, independently of ``costmodel.engine`` and
``costmodel.model``: pure Python floats, nested lists and explicit loops, one cycle and one
state at a time. Clarity over speed.

The model is given as plain Python data (:class:`Model` and friends). Every expression is
either a number or a callable taking a dict of variables (parameters, time variables,
strategy variables and ``p_background_death``) and returning a float.

Semantics in brief
------------------
* Phases run consecutively; phase p starts at model time ``T_p`` (years) and has ``n_p`` cycles
  of ``h_p`` years, time points ``t_j = T_p + j*h_p`` (j = 0..n_p).
* Cycle k (1-based) is evaluated with ``time_years = T_p + (k-1)*h_p`` (start of the cycle).
* A tunnel state of length L expands to positions 1..L; the "stay" row moves position q to
  min(q+1, L), any other row moves to position 1 of the target. Position q is evaluated with
  ``time_in_state = q``.
* ``x_k = x_{k-1} P_k``; at a phase end each position moves to position 1 of its next_state.
* Reward of cycle k: ``r_k * (a_k x_{k-1} d(t_{k-1}) + b_k x_k d(t_k))`` with (a_k, b_k) from
  the within-cycle correction method; one-off transition rewards ``x_{k-1}[i] P_k[i][j] * v``
  discounted at the end, start or middle of the cycle depending on the method.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

DAYS_PER_YEAR = 365.25
UNIT_YEARS = {
    "day": 1.0 / DAYS_PER_YEAR,
    "week": 7.0 / DAYS_PER_YEAR,
    "month": 1.0 / 12.0,
    "year": 1.0,
}
METHODS = ("none-start", "none-end", "half-cycle", "trapezoid", "simpson", "dmhee")
COMPLEMENT = "C"

Expr = float | int | Callable[[dict], float]


# ---------------------------------------------------------------------------------------------
# Model description
# ---------------------------------------------------------------------------------------------


@dataclass
class State:
    key: str
    alive: bool
    utility: Expr = 0.0  # QALY per year in the state
    costs: dict[str, Expr] = field(default_factory=dict)  # per cycle, by category
    tunnel_length: int = 1
    initial: float = 0.0  # first phase only
    next_state: str | None = None  # state of the next phase


@dataclass
class Transition:
    source: str
    target: str
    probability: Expr | str  # per cycle, or "C" for 1 - the other probabilities of the row
    strategies: tuple[str, ...] = ()  # () = all strategies
    costs: dict[str, Expr] = field(default_factory=dict)  # one-off per transition
    qaly: Expr = 0.0  # one-off QALY per transition


@dataclass
class Phase:
    key: str
    cycle_length: float
    cycle_unit: str
    states: list[State]
    transitions: list[Transition]
    n_cycles: int | None = None
    until_age: float | None = None


@dataclass
class Strategy:
    key: str
    variables: dict[str, Expr] = field(default_factory=dict)  # evaluated in this order


@dataclass
class Model:
    phases: list[Phase]
    strategies: list[Strategy]
    categories: list[str]
    start_age: float
    prop_female: float
    discount_rate_costs: float
    discount_rate_outcomes: float
    correction: str
    parameters: dict[str, float] = field(default_factory=dict)
    life_table: dict[int, tuple[float, float]] = field(default_factory=dict)  # age: (m, f)


@dataclass
class StrategyResult:
    cost: float
    cost_by_category: dict[str, float]
    qaly: float
    qaly_undiscounted: float
    ly: float
    ly_undiscounted: float
    state_time: dict[str, float]  # undiscounted years per declared state key
    # one entry per phase and time point: (phase key, j, t_j, {state key: share})
    trace: list[tuple[str, int, float, dict[str, float]]]


# ---------------------------------------------------------------------------------------------
# Small building blocks
# ---------------------------------------------------------------------------------------------


def evaluate(expr: Expr, variables: dict) -> float:
    if callable(expr):
        return float(expr(variables))
    return float(expr)


def cycle_years(phase: Phase) -> float:
    return phase.cycle_length * UNIT_YEARS[phase.cycle_unit]


def phase_timing(model: Model) -> list[tuple[float, float, int]]:
    """(T_p, h_p, n_p) for every phase."""
    out = []
    start = 0.0
    for phase in model.phases:
        h = cycle_years(phase)
        if phase.n_cycles is not None:
            n = int(phase.n_cycles)
        else:
            n = math.ceil((phase.until_age - model.start_age - start) / h - 1e-9)
        out.append((start, h, n))
        start = start + n * h
    return out


def simpson_point_weights(n: int) -> list[float]:
    """Weights of the n+1 time points of a phase under Simpson's rule."""
    w = [0.0] * (n + 1)
    if n == 1:
        w[0] = 0.5
        w[1] = 0.5
        return w
    # n even: composite 1/3 over everything; n odd: 1/3 over the first n-3, 3/8 over the last 3
    m = n if n % 2 == 0 else n - 3
    if m > 0:
        for j in range(m + 1):
            if j == 0 or j == m:
                c = 1.0
            elif j % 2 == 1:
                c = 4.0
            else:
                c = 2.0
            w[j] += c / 3.0
    if n % 2 == 1:
        for i, c in enumerate((1.0, 3.0, 3.0, 1.0)):
            w[m + i] += 3.0 / 8.0 * c
    return w


def correction_weights(method: str, n: int) -> tuple[list[float], list[float]]:
    """(a, b) with a[k], b[k] for cycles k = 1..n (index 0 unused)."""
    a = [0.0] * (n + 1)
    b = [0.0] * (n + 1)
    if method == "none-start":
        for k in range(1, n + 1):
            a[k] = 1.0
    elif method in ("none-end", "dmhee"):
        for k in range(1, n + 1):
            b[k] = 1.0
    elif method == "half-cycle":
        for k in range(1, n + 1):
            b[k] = 1.0
        a[1] += 0.5
        b[n] -= 0.5
    elif method == "trapezoid":
        for k in range(1, n + 1):
            a[k] = 0.5
            b[k] = 0.5
    elif method == "simpson":
        w = simpson_point_weights(n)
        a[1] += w[0]
        b[n] += w[n]
        for j in range(1, n):
            b[j] += w[j] / 2.0
            a[j + 1] += w[j] / 2.0
    else:
        raise ValueError(f"unknown correction method {method!r}")
    return a, b


def one_off_time(method: str, t0: float, t1: float) -> float:
    """When one-off transition rewards of a cycle [t0, t1] are discounted."""
    if method in ("none-end", "dmhee"):
        return t1
    if method == "none-start":
        return t0
    return (t0 + t1) / 2.0


def discount(rate: float, t: float) -> float:
    return (1.0 + rate) ** (-t)


class LifeTable:
    """Sex-mixed annual death probabilities, weighted by survivors from floor(start_age)."""

    def __init__(self, table: dict[int, tuple[float, float]], start_age: float, pf: float):
        self.table = table
        self.pf = pf
        self.a0 = math.floor(start_age)
        self.survival = {self.a0: (1.0, 1.0)}  # age: (S_male, S_female)

    def _survival(self, a: int) -> tuple[float, float]:
        age = max(self.survival)
        while age < a:
            s_m, s_f = self.survival[age]
            q_m, q_f = self.table[age]
            age += 1
            self.survival[age] = (s_m * (1.0 - q_m), s_f * (1.0 - q_f))
        return self.survival[a]

    def qx(self, a: int) -> float:
        s_m, s_f = self._survival(a)
        q_m, q_f = self.table[a]
        denominator = self.pf * s_f + (1.0 - self.pf) * s_m
        w_f = self.pf * s_f / denominator
        return w_f * q_f + (1.0 - w_f) * q_m


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def expand(phase: Phase) -> list[tuple[State, int]]:
    """Expanded states: (state, position) with positions 1..tunnel_length."""
    out = []
    for state in phase.states:
        for q in range(1, int(state.tunnel_length or 1) + 1):
            out.append((state, q))
    return out


def rows_for(phase: Phase, strategy: str) -> list[Transition]:
    """Shared rows not overridden by a row of this strategy, plus the strategy's own rows."""
    own = [t for t in phase.transitions if strategy in t.strategies]
    overridden = {(t.source, t.target) for t in own}
    shared = [
        t for t in phase.transitions if not t.strategies and (t.source, t.target) not in overridden
    ]
    return shared + own


def run(model: Model) -> dict[str, StrategyResult]:
    return {s.key: run_strategy(model, s) for s in model.strategies}


def run_strategy(model: Model, strategy: Strategy) -> StrategyResult:
    life = LifeTable(model.life_table, model.start_age, model.prop_female)
    all_keys = [s.key for p in model.phases for s in p.states]
    totals = Totals(
        cost={c: 0.0 for c in model.categories},
        state_time={key: 0.0 for key in all_keys},
    )
    trace = []

    x = None  # cohort vector of the current phase (expanded states)
    timing = phase_timing(model)
    for p, phase in enumerate(model.phases):
        T, h, n = timing[p]
        states = expand(phase)
        index = {(s.key, q): i for i, (s, q) in enumerate(states)}
        if p == 0:
            x = initial_cohort(phase, index, len(states))
        a, b = correction_weights(model.correction, n)
        rows = rows_for(phase, strategy.key)

        trace.append(trace_point(phase.key, 0, T, states, x, all_keys))
        for k in range(1, n + 1):
            t0 = T + (k - 1) * h
            t1 = T + k * h
            cycle = cycle_values(model, strategy, life, states, index, rows, k, t0, h)
            new = step(x, cycle.P)  # x_k = x_{k-1} P_k
            add_state_rewards(totals, model, states, cycle, x, new, a[k], b[k], t0, t1, h)
            add_one_off_rewards(totals, model, cycle, x, t0, t1)
            x = new
            trace.append(trace_point(phase.key, k, T + k * h, states, x, all_keys))

        if p + 1 < len(model.phases):
            x = next_phase_cohort(states, x, model.phases[p + 1])

    return StrategyResult(
        cost=sum(totals.cost.values()),
        cost_by_category=totals.cost,
        qaly=totals.qaly,
        qaly_undiscounted=totals.qaly_u,
        ly=totals.ly,
        ly_undiscounted=totals.ly_u,
        state_time=totals.state_time,
        trace=trace,
    )


@dataclass
class Totals:
    """Running sums of one strategy's rewards over all cycles."""

    cost: dict[str, float]  # discounted, by category
    state_time: dict[str, float]  # undiscounted years per declared state key
    qaly: float = 0.0
    qaly_u: float = 0.0
    ly: float = 0.0
    ly_u: float = 0.0


@dataclass
class Cycle:
    """One cycle's matrix P[i][j], one-off values [i][j] and per-cycle state rewards [i]."""

    P: list[list[float]]
    one_off_cost: list[list[dict[str, float]]]
    one_off_qaly: list[list[float]]
    reward_cost: list[dict[str, float]]
    reward_qaly: list[float]
    reward_ly: list[float]


def initial_cohort(phase: Phase, index: dict[tuple[str, int], int], m: int) -> list[float]:
    """The first phase's cohort vector: each state's initial share at tunnel position 1."""
    x = [0.0] * m
    for s in phase.states:
        x[index[(s.key, 1)]] = float(s.initial or 0.0)
    return x


def trace_point(
    phase_key: str,
    j: int,
    t: float,
    states: list[tuple[State, int]],
    x: list[float],
    all_keys: list[str],
) -> tuple[str, int, float, dict[str, float]]:
    """A trace entry: the cohort shares per declared state (tunnel positions summed)."""
    shares = {key: 0.0 for key in all_keys}
    for i, (s, _q) in enumerate(states):
        shares[s.key] += x[i]
    return (phase_key, j, t, shares)


def cycle_values(
    model: Model,
    strategy: Strategy,
    life: LifeTable,
    states: list[tuple[State, int]],
    index: dict[tuple[str, int], int],
    rows: list[Transition],
    k: int,
    t0: float,
    h: float,
) -> Cycle:
    """Cycle k's matrix and rewards, row by row (one row per expanded state)."""
    m = len(states)
    cycle = Cycle(
        P=[[0.0] * m for _ in range(m)],
        one_off_cost=[[{c: 0.0 for c in model.categories} for _ in range(m)] for _ in range(m)],
        one_off_qaly=[[0.0] * m for _ in range(m)],
        reward_cost=[{c: 0.0 for c in model.categories} for _ in range(m)],
        reward_qaly=[0.0] * m,
        reward_ly=[0.0] * m,
    )
    for i, (s, q) in enumerate(states):
        v = variables(model, strategy, life, k, t0, h, q)
        for c in model.categories:
            cycle.reward_cost[i][c] = evaluate(s.costs.get(c, 0.0), v)
        cycle.reward_qaly[i] = evaluate(s.utility, v) * h
        cycle.reward_ly[i] = (1.0 if s.alive else 0.0) * h
        complement_target = None
        total = 0.0
        for t in rows:
            if t.source != s.key:
                continue
            if t.target == s.key:
                j = index[(s.key, min(q + 1, int(s.tunnel_length or 1)))]
            else:
                j = index[(t.target, 1)]
            for c in model.categories:
                cycle.one_off_cost[i][j][c] = evaluate(t.costs.get(c, 0.0), v)
            cycle.one_off_qaly[i][j] = evaluate(t.qaly, v)
            if isinstance(t.probability, str) and t.probability.strip() in (
                COMPLEMENT,
                "complement",
            ):
                complement_target = j
                continue
            prob = evaluate(t.probability, v)
            cycle.P[i][j] += prob
            total += prob
        if complement_target is not None:
            cycle.P[i][complement_target] += 1.0 - total
    return cycle


def step(x: list[float], P: list[list[float]]) -> list[float]:
    """The vector-matrix product x P."""
    m = len(x)
    new = [0.0] * m
    for i in range(m):
        for j in range(m):
            new[j] += x[i] * P[i][j]
    return new


def add_state_rewards(
    totals: Totals,
    model: Model,
    states: list[tuple[State, int]],
    cycle: Cycle,
    x: list[float],
    new: list[float],
    a_k: float,
    b_k: float,
    t0: float,
    t1: float,
    h: float,
) -> None:
    """Add cycle [t0, t1]'s state rewards with the within-cycle weights a_k, b_k."""
    dc0, dc1 = discount(model.discount_rate_costs, t0), discount(model.discount_rate_costs, t1)
    do0 = discount(model.discount_rate_outcomes, t0)
    do1 = discount(model.discount_rate_outcomes, t1)
    for i, (s, _q) in enumerate(states):
        occupancy_c = a_k * x[i] * dc0 + b_k * new[i] * dc1
        occupancy_o = a_k * x[i] * do0 + b_k * new[i] * do1
        occupancy_u = a_k * x[i] + b_k * new[i]
        for c in model.categories:
            totals.cost[c] += cycle.reward_cost[i][c] * occupancy_c
        totals.qaly += cycle.reward_qaly[i] * occupancy_o
        totals.qaly_u += cycle.reward_qaly[i] * occupancy_u
        totals.ly += cycle.reward_ly[i] * occupancy_o
        totals.ly_u += cycle.reward_ly[i] * occupancy_u
        totals.state_time[s.key] += h * occupancy_u


def add_one_off_rewards(
    totals: Totals, model: Model, cycle: Cycle, x: list[float], t0: float, t1: float
) -> None:
    """Add cycle [t0, t1]'s one-off transition rewards, flow x[i] P[i][j] times the value."""
    t_one_off = one_off_time(model.correction, t0, t1)
    dc = discount(model.discount_rate_costs, t_one_off)
    do = discount(model.discount_rate_outcomes, t_one_off)
    m = len(x)
    for i in range(m):
        for j in range(m):
            flow = x[i] * cycle.P[i][j]
            for c in model.categories:
                totals.cost[c] += flow * cycle.one_off_cost[i][j][c] * dc
            totals.qaly += flow * cycle.one_off_qaly[i][j] * do
            totals.qaly_u += flow * cycle.one_off_qaly[i][j]


def next_phase_cohort(
    states: list[tuple[State, int]], x: list[float], following_phase: Phase
) -> list[float]:
    """Move the cohort at a phase end: each position goes to position 1 of its next_state."""
    following = expand(following_phase)
    next_index = {(s.key, q): i for i, (s, q) in enumerate(following)}
    moved = [0.0] * len(following)
    for i, (s, _q) in enumerate(states):
        if s.next_state is None:
            if x[i] != 0.0:
                raise ValueError(f"state {s.key} has a cohort but no next_state")
            continue
        moved[next_index[(s.next_state, 1)]] += x[i]
    return moved


def variables(
    model: Model, strategy: Strategy, life: LifeTable, k: int, t: float, h: float, q: int
) -> dict:
    """Expression variables of cycle k (starting at model time t) for tunnel position q."""
    age = model.start_age + t
    v = dict(model.parameters)
    v.update(
        cycle=k,
        time_years=t,
        time_days=t * DAYS_PER_YEAR,
        age=age,
        cycle_years=h,
        cycle_days=h * DAYS_PER_YEAR,
        time_in_state=q,
    )

    def p_background_death(smr: float = 1.0) -> float:
        return 1.0 - (1.0 - life.qx(math.floor(age))) ** (smr * h)

    v["p_background_death"] = p_background_death
    for name, expr in strategy.variables.items():
        v[name] = evaluate(expr, v)
    return v


# ---------------------------------------------------------------------------------------------
# Expression functions (for callables built from expression text by the tests)
# ---------------------------------------------------------------------------------------------


def where(condition: float, if_true: float, if_false: float) -> float:
    return if_true if condition else if_false


def rate_to_prob(rate: float, t: float) -> float:
    return 1.0 - math.exp(-rate * t)


def rescale_prob(p: float, from_t: float, to_t: float) -> float:
    return 1.0 - (1.0 - p) ** (to_t / from_t)


FUNCTIONS = {
    "exp": math.exp,
    "log": math.log,
    "min": min,
    "max": max,
    "where": where,
    "rate_to_prob": rate_to_prob,
    "rescale_prob": rescale_prob,
}


def expression(text: str | float | int | None) -> Expr:
    """A callable for expression text, interpreted by the plain tree walk below.

    The workbook grammar (+ - * / **, comparisons, calls) is a subset of Python's, so
    ``ast.parse`` reads it; the interpretation is written here independently of costmodel's
    compiler, one float at a time. Comparisons give 1.0/0.0.
    """
    if text is None:
        return 0.0
    if isinstance(text, int | float):
        return float(text)
    tree = ast.parse(text, mode="eval").body
    return lambda v: float(_interpret(tree, v))


_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_COMPARE = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _interpret(node: ast.AST, v: dict) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in v:
            raise NameError(node.id)
        return float(v[node.id])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_interpret(node.operand, v)
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_interpret(node.left, v), _interpret(node.right, v))
    if isinstance(node, ast.Compare):
        left = _interpret(node.left, v)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _interpret(comparator, v)
            if not _COMPARE[type(op)](left, right):
                return 0.0
            left = right
        return 1.0
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function = v[node.func.id] if node.func.id in v else FUNCTIONS[node.func.id]
        return float(function(*(_interpret(a, v) for a in node.args)))
    raise ValueError(f"oracle cannot interpret {ast.dump(node)}")


def strategies_for(text: str | None) -> Sequence[str]:
    if not text:
        return ()
    return tuple(part.strip() for part in str(text).split(",") if part.strip())
