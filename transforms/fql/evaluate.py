"""Tree-walking evaluator of the FQL IR (the reference semantics).

Contract: :func:`evaluate` returns the value of an IR node for one event;
:func:`evaluate_matcher` returns ``True`` only when that value is exactly ``True`` (a
non-boolean result does not match, as in tsub). IR nodes are: a string (field path,
missing fields read as ``null``), ``{"value": x}`` (literal; a list literal's elements are
IR nodes), or ``[op, arg, ...]``. Operators are ``and``, ``or`` (short-circuit), ``!``,
the comparisons of :data:`.functions.BINARY_OPERATORS` and the functions of
:data:`.functions.FUNCTIONS`.

``and``/``or``/``!`` take booleans or ``null`` (null counts as false); any other operand
type raises :class:`FQLEvaluationError`, as do unknown operators, wrong argument counts
and malformed nodes. :func:`resolve_operator` is shared with :mod:`.compiler` so both
paths accept and reject exactly the same IR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import FQLEvaluationError
from .functions import BINARY_OPERATORS, FUNCTIONS, kind
from .paths import get_path, split_path

CONDITIONALS = frozenset({"and", "or"})


def truth(value: Any, op: str) -> bool:
    """Boolean value of an ``and``/``or``/``!`` operand: True/False as is, null → False."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    raise FQLEvaluationError(f"'{op}' needs boolean or null operands, got {kind(value)}")


def resolve_operator(node: list) -> tuple[str, Callable[..., Any] | None]:
    """Validate an ``[op, ...]`` node; return (category, implementation).

    Category is ``"conditional"``, ``"not"``, ``"binary"`` or ``"function"``; the
    implementation is None for the first two.
    """
    if not node or not isinstance(node[0], str):
        raise FQLEvaluationError(f"malformed FQL IR node: {node!r}")
    op, nargs = node[0], len(node) - 1
    if op in CONDITIONALS:
        if nargs < 1:
            raise FQLEvaluationError(f"'{op}' needs at least one operand")
        return "conditional", None
    if op == "!":
        expected, category, impl = 1, "not", None
    elif op in BINARY_OPERATORS:
        expected, category, impl = 2, "binary", BINARY_OPERATORS[op]
    elif op in FUNCTIONS:
        (expected, impl), category = FUNCTIONS[op], "function"
    else:
        raise FQLEvaluationError(f"FQL IR could not evaluate for token: {op}")
    if nargs != expected:
        raise FQLEvaluationError(f"'{op}' takes {expected} operand(s), got {nargs}")
    return category, impl


def literal_value(node: dict) -> Any:
    """Return the raw ``value`` of a literal node, rejecting dicts without one."""
    if "value" not in node:
        raise FQLEvaluationError(f"malformed FQL IR literal (no 'value'): {node!r}")
    return node["value"]


def evaluate(ir: Any, event: Any) -> Any:
    """Evaluate IR node ``ir`` against ``event`` and return its value."""
    if isinstance(ir, str):
        return get_path(event, split_path(ir))
    if isinstance(ir, dict):
        value = literal_value(ir)
        return [evaluate(item, event) for item in value] if isinstance(value, list) else value
    if not isinstance(ir, list):
        raise FQLEvaluationError(f"malformed FQL IR node: {ir!r}")
    category, impl = resolve_operator(ir)
    op, args = ir[0], ir[1:]
    if category == "conditional":
        want = op == "or"
        for arg in args:
            if truth(evaluate(arg, event), op) is want:
                return want
        return not want
    if category == "not":
        return not truth(evaluate(args[0], event), "!")
    return impl(*[evaluate(arg, event) for arg in args])


def evaluate_matcher(ir: Any, event: Any) -> bool:
    """True when ``ir`` evaluates to exactly ``True`` for ``event``."""
    return evaluate(ir, event) is True
