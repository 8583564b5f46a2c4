"""Safe, vectorized expressions for workbook cells.

Cells hold numbers or text such as ``rate_to_prob(r_icu, cycle_years)``. The text is parsed with
:func:`ast.parse` and checked against a strict whitelist of node types, then compiled once into
nested closures that evaluate with numpy broadcasting (e.g. parameters shaped ``(n_samples, 1)``
and time variables ``(1, n_cycles)``). Nothing is ever passed to ``eval``, ``exec`` or
``compile``.

The functions expressions may call (:data:`BUILTIN_FUNCTIONS`, :class:`FunctionSpec`) and
:class:`ExpressionError` are defined in :mod:`costmodel.formula_functions` and re-exported here.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costmodel.formula_functions import (
    _BUILTINS,
    _VARIADIC,
    BUILTIN_FUNCTIONS,
    ExpressionError,
    FunctionSpec,
    _example,
)

__all__ = [
    "BUILTIN_FUNCTIONS",
    "Expression",
    "ExpressionError",
    "FunctionSpec",
    "parse_expression",
]

Value = float | np.ndarray
Namespace = Mapping[str, float | np.ndarray]
_Evaluator = Callable[[Namespace, "Mapping[str, FunctionSpec] | None"], Value]

_MAX_CHARS = 2000
_MAX_NODES = 1000  # formula_functions._VARIADIC is the same number
_MAX_DEPTH = 50


# ---------------------------------------------------------------------------------------------
# Expressions


@dataclass(frozen=True)
class Expression:
    """A parsed expression, compiled once and evaluated many times.

    Attributes
    ----------
    source : str
        The text as given (for numbers, their repr).
    names : frozenset of str
        Variable names referenced (not function names).
    functions : frozenset of str
        Names of the functions called.
    tree : ast.expr or None
        The parsed syntax tree (None for a plain number), for analyses of how the value
        depends on its names (e.g. which parts vary over time).
    """

    source: str
    names: frozenset[str]
    functions: frozenset[str]
    _evaluator: _Evaluator = field(repr=False, compare=False)
    tree: ast.expr | None = field(default=None, repr=False, compare=False)

    @property
    def is_constant(self) -> bool:
        """True when the expression references no names and calls no functions."""
        return not self.names and not self.functions

    def evaluate(
        self,
        namespace: Namespace,
        functions: Mapping[str, FunctionSpec] | None = None,
    ) -> float | np.ndarray:
        """Evaluate elementwise with numpy broadcasting.

        Parameters
        ----------
        namespace : mapping
            Variable values: floats or float64 arrays. A bare name returns the namespace's own
            object, not a copy.
        functions : mapping, optional
            Implementations that override or extend :data:`BUILTIN_FUNCTIONS`, e.g. life-table
            lookups declared at parse time.

        Returns
        -------
        float or numpy.ndarray

        Raises
        ------
        ExpressionError
            Unknown name or function, division by zero, overflow or an invalid function
            argument. NaN supplied in ``namespace`` propagates without error.
        """
        with np.errstate(all="ignore"):
            result = self._evaluator(namespace, functions)
        if isinstance(result, np.ndarray) and result.ndim == 0:
            return float(result)
        return result


def parse_expression(
    text: str | int | float,
    functions: Mapping[str, FunctionSpec] = BUILTIN_FUNCTIONS,
) -> Expression:
    """Parse and compile a cell's number or expression text.

    Parameters
    ----------
    text : str, int or float
        The cell value.
    functions : mapping
        The complete set of functions the expression may call, with their arities. To add
        context functions, pass ``{**BUILTIN_FUNCTIONS, "qx": spec}``; their implementations
        are supplied again to :meth:`Expression.evaluate`.

    Returns
    -------
    Expression

    Raises
    ------
    ExpressionError
        The text is not a valid expression; the message says why.
    """
    if isinstance(text, bool) or not isinstance(text, str | numbers.Real):
        raise ExpressionError(f"expected a number or an expression, got {type(text).__name__}")
    if not isinstance(text, str):
        return _number_expression(text)
    stripped = text.strip()
    _precheck(stripped)
    try:
        tree = ast.parse(stripped, mode="eval")
    except (SyntaxError, ValueError) as exc:
        reason = getattr(exc, "msg", None) or str(exc)
        if _SPACED_DIGITS.search(stripped):  # '2 086,5': Python's tokenizer talks of octals
            reason = (
                "digits separated by a space; write numbers without thousands separators and "
                "with a point for decimals, e.g. 20000 or 1.5"
            )
        raise ExpressionError(f"cannot parse '{_shorten(stripped)}': {reason}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(_TOO_DEEP) from None
    _check_size(tree.body)
    compiler = _Compiler(stripped, functions)
    evaluator = compiler.compile(tree.body)
    names, called = frozenset(compiler.names), frozenset(compiler.called)
    return Expression(text, names, called, evaluator, tree.body)


_SPACED_DIGITS = re.compile(r"\d\s+\d")


def _number_expression(value: numbers.Real) -> Expression:
    try:
        number = float(value)
    except OverflowError:
        raise ExpressionError("number too large for a float") from None
    if not math.isfinite(number):
        raise ExpressionError(f"numbers must be finite; got {number}")
    source = str(int(value)) if isinstance(value, numbers.Integral) else repr(number)
    return Expression(source, frozenset(), frozenset(), lambda ns, fs: number)


# ---------------------------------------------------------------------------------------------
# Checks before and after parsing

_TOO_DEEP = f"the expression is nested too deeply (more than {_MAX_DEPTH} levels)"
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)\s*%(?=\s*(?:$|[-+*/),<>=!]))")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _precheck(text: str) -> None:
    """Friendly diagnostics for mistakes a spreadsheet user is likely to make."""
    if not text:
        raise ExpressionError("empty expression: enter a number or an expression")
    if len(text) > _MAX_CHARS:
        raise ExpressionError(
            f"the expression is too long ({len(text)} characters; at most {_MAX_CHARS})"
        )
    if text.startswith("="):
        raise ExpressionError(
            "native Excel formulas are not evaluated; write the expression without '=' "
            "(e.g. p_a * rr) or paste values"
        )
    if "^" in text:
        raise ExpressionError("use ** for powers, not ^ (e.g. a ** 2)")
    percent = _PERCENT.search(text)
    if percent:
        number = percent.group(1)
        raise ExpressionError(
            f"write percentages as proportions: {float(number) / 100:g}, not {number}%"
        )
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > _MAX_DEPTH:
        raise ExpressionError(_TOO_DEEP)


def _check_size(root: ast.expr) -> None:
    """Limit node count and depth without recursion.

    The left operand of a binary operation counts as the same level, so long sums such as
    ``c1 + c2 + ... + c80`` are not "deep".
    """
    count = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > _MAX_NODES:
            raise ExpressionError(f"the expression is too complex (more than {_MAX_NODES} parts)")
        if depth > _MAX_DEPTH:
            raise ExpressionError(_TOO_DEEP)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                same_level = isinstance(node, ast.BinOp) and child is node.left
                stack.append((child, depth if same_level else depth + 1))


def _describe(node: ast.AST, source: str) -> str:
    """The sub-expression's text, for error messages."""
    try:
        text = ast.unparse(node)
    except RecursionError:  # a very long chain of binary operations
        text = ast.get_source_segment(source, node) or source
    return _shorten(text)


def _all_finite(x: Any) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    return bool(np.isfinite(x).all())


def _new_nonfinite(result: Any, *inputs: Any) -> np.ndarray:
    """Where ``result`` is inf/NaN although every input is finite (NaN passed in propagates)."""
    bad = ~np.isfinite(result)
    for x in inputs:
        # A context function's result may not broadcast with its inputs; then ignore them.
        with contextlib.suppress(ValueError):
            bad = bad & np.isfinite(x)
    return np.asarray(bad)


def _to_float(flags: Any) -> Value:
    return flags.astype(np.float64) if isinstance(flags, np.ndarray) else float(flags)


def _arity_error(name: str, spec: FunctionSpec, got: int) -> str | None:
    low, high = spec.min_args, spec.max_args
    if low <= got <= high:
        return None
    if high >= _VARIADIC:
        expected = f"at least {low} argument{'s' * (low != 1)}"
    elif low == high:
        expected = f"{low} argument{'s' * (low != 1)}"
    else:
        expected = f"{low} to {high} arguments"
    return f"{name} takes {expected}; got {got}"


# ---------------------------------------------------------------------------------------------
# Compiler: AST -> closures taking (namespace, functions)

_BINARY_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_REFUSED_OPS: dict[type[ast.AST], str] = {
    ast.FloorDiv: "'//' is not allowed; use floor(a / b)",
    ast.MatMult: "'@' is not allowed",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.BitAnd: "'&' is not allowed; use 'and'",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.BitXor: "use ** for powers, not ^",
    ast.Invert: "'~' is not allowed; use 'not'",
    ast.Is: "'is' is not allowed; use ==",
    ast.IsNot: "'is not' is not allowed; use !=",
    ast.In: "'in' is not allowed",
    ast.NotIn: "'not in' is not allowed",
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "indexing (a[0]) is not allowed",
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed; use where(c, a, b)",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Starred: "starred arguments (*args) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples (a, b) are not allowed (a thousands separator such as 1,701? write 1701;"
    " a decimal comma such as 0,5? write 0.5)",
    ast.Set: "sets are not allowed",
    ast.Dict: "dictionaries are not allowed",
}


class _Compiler:
    """Validate an AST against the whitelist and turn it into closures."""

    def __init__(self, source: str, functions: Mapping[str, FunctionSpec]):
        self.source = source
        self.allowed = functions
        self.names: set[str] = set()
        self.called: set[str] = set()
        self.handlers: dict[type[ast.AST], Callable[[Any], _Evaluator]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.BinOp: self._binop,
            ast.UnaryOp: self._unaryop,
            ast.Compare: self._compare,
            ast.BoolOp: self._boolop,
            ast.Call: self._call,
        }

    def compile(self, node: ast.expr) -> _Evaluator:
        handler = self.handlers.get(type(node))
        if handler is None:
            message = _REFUSED_NODES.get(type(node), f"{type(node).__name__} is not allowed")
            raise self._refuse(message, node)
        return handler(node)

    def _refuse(self, message: str, node: ast.AST) -> ExpressionError:
        text = ast.get_source_segment(self.source, node) or _describe(node, self.source)
        return ExpressionError(f"{message}: {_shorten(text)}")

    def _check_name(self, name: str) -> None:
        if name.startswith("_"):
            raise ExpressionError(f"names starting with '_' are not allowed: '{name}'")

    def _constant(self, node: ast.Constant) -> _Evaluator:
        value = node.value
        if isinstance(value, bool):
            raise ExpressionError(f"{value} is not allowed; write 1 or 0")
        if isinstance(value, str | bytes):
            raise self._refuse("text in quotes is not allowed", node)
        if isinstance(value, complex):
            raise self._refuse("complex numbers are not allowed", node)
        if not isinstance(value, int | float):
            raise self._refuse(f"{value!r} is not allowed", node)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self._refuse("number too large", node)
        return lambda ns, fs: number

    def _name(self, node: ast.Name) -> _Evaluator:
        name = node.id
        self._check_name(name)
        self.names.add(name)

        def lookup(ns: Namespace, fs: Any) -> Value:
            try:
                value = ns[name]
            except KeyError:
                close = difflib.get_close_matches(name, list(ns), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ExpressionError(f"unknown name '{name}'{hint}") from None
            return float(value) if isinstance(value, int) else value

        return lookup

    def _binop(self, node: ast.BinOp) -> _Evaluator:
        # Flatten the left spine (a + b - c ...) into a loop: no deep recursion on long sums.
        chain: list[ast.BinOp] = []
        leftmost: ast.expr = node
        while isinstance(leftmost, ast.BinOp):
            chain.append(leftmost)
            leftmost = leftmost.left
        first = self.compile(leftmost)
        steps = [(self._binary_step(step), self.compile(step.right)) for step in reversed(chain)]
        if len(steps) == 1:
            ((apply, right),) = steps
            return lambda ns, fs: apply(first(ns, fs), right(ns, fs))

        def run(ns: Namespace, fs: Any) -> Value:
            value = first(ns, fs)
            for apply, right in steps:
                value = apply(value, right(ns, fs))
            return value

        return run

    def _binary_step(self, node: ast.BinOp) -> Callable[[Any, Any], Value]:
        op = _BINARY_OPS.get(type(node.op))
        if op is None:
            message = _REFUSED_OPS.get(type(node.op), f"{type(node.op).__name__} is not allowed")
            raise self._refuse(message, node)
        source = self.source

        def apply(a: Any, b: Any) -> Value:
            result = op(a, b)
            if not _all_finite(result):
                _explain_binary(node, source, a, b, result)
            return result

        return apply

    def _unaryop(self, node: ast.UnaryOp) -> _Evaluator:
        if isinstance(node.op, ast.Invert):
            raise self._refuse(_REFUSED_OPS[ast.Invert], node)
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.USub):
            return lambda ns, fs: -operand(ns, fs)
        return lambda ns, fs: _to_float(np.equal(operand(ns, fs), 0))  # not

    def _compare(self, node: ast.Compare) -> _Evaluator:
        for op in node.ops:
            if type(op) not in _COMPARISONS:
                raise self._refuse(_REFUSED_OPS[type(op)], node)
        first = self.compile(node.left)
        steps = [
            (_COMPARISONS[type(op)], self.compile(right))
            for op, right in zip(node.ops, node.comparators, strict=True)
        ]

        def run(ns: Namespace, fs: Any) -> Value:
            left = first(ns, fs)
            flags: Any = True
            for compare, right_fn in steps:
                right = right_fn(ns, fs)
                flags = np.logical_and(flags, compare(left, right))
                left = right
            return _to_float(flags)

        return run

    def _boolop(self, node: ast.BoolOp) -> _Evaluator:
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        operands = [self.compile(value) for value in node.values]

        def run(ns: Namespace, fs: Any) -> Value:
            flags = np.not_equal(operands[0](ns, fs), 0)
            for operand in operands[1:]:
                flags = combine(flags, np.not_equal(operand(ns, fs), 0))
            return _to_float(flags)

        return run

    def _call(self, node: ast.Call) -> _Evaluator:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self._refuse(_REFUSED_NODES[ast.Attribute], node.func)
            raise self._refuse("only named functions can be called, e.g. exp(x)", node)
        name = node.func.id
        self._check_name(name)
        if node.keywords:
            raise self._refuse(
                "keyword arguments (name=value) are not allowed; pass arguments by position", node
            )
        spec = self.allowed.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(self.allowed), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(self.allowed)
            raise ExpressionError(f"unknown function '{name}'; {hint}")
        n_args = len(node.args)
        problem = _arity_error(name, spec, n_args)
        if problem:
            raise ExpressionError(problem)
        args = [self.compile(arg) for arg in node.args]
        self.called.add(name)
        source = self.source

        def call(ns: Namespace, fs: Mapping[str, FunctionSpec] | None) -> Value:
            impl_spec = fs.get(name) if fs else None
            if impl_spec is None:
                impl_spec = _BUILTINS.get(name)
                if impl_spec is None:
                    raise ExpressionError(f"unknown function '{name}': no implementation given")
            if n_args < impl_spec.min_args or n_args > impl_spec.max_args:
                raise ExpressionError(_arity_error(name, impl_spec, n_args) or "")
            values = [arg(ns, fs) for arg in args]
            try:
                result = impl_spec.impl(*values)
            except ExpressionError as exc:
                raise ExpressionError(f"{exc} (in '{_describe(node, source)}')") from None
            if not _all_finite(result):
                _explain_call(node, source, values, result)
            return result

        return call


def _explain_binary(node: ast.BinOp, source: str, a: Any, b: Any, result: Any) -> None:
    """Raise if ``a op b`` produced inf/NaN from finite operands; otherwise return."""
    bad = _new_nonfinite(result, a, b)
    if not bad.any():
        return
    where = _describe(node, source)
    if isinstance(node.op, ast.Div | ast.Mod) and (bad & np.equal(b, 0)).any():
        raise ExpressionError(f"division by zero in '{where}'")
    if isinstance(node.op, ast.Pow):
        if (bad & np.equal(a, 0) & np.less(b, 0)).any():
            raise ExpressionError(f"division by zero in '{where}' (0 to a negative power)")
        invalid = bad & np.isnan(result)
        if invalid.any():
            raise ExpressionError(
                f"invalid power in '{where}': a negative number cannot be raised to a "
                f"fractional power; got ({_example(a, invalid):.6g}) ** {_example(b, invalid):.6g}"
            )
    raise ExpressionError(f"overflow in '{where}': the result is too large to represent")


def _explain_call(node: ast.Call, source: str, args: list[Any], result: Any) -> None:
    """Raise if a function returned inf/NaN for finite arguments; otherwise return."""
    bad = _new_nonfinite(result, *args)
    if not bad.any():
        return
    where = _describe(node, source)
    if np.isinf(_example(result, bad)):
        raise ExpressionError(f"overflow in '{where}': the result is too large to represent")
    raise ExpressionError(f"invalid result in '{where}': not a number for these arguments")
