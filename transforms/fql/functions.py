"""Value semantics of FQL operators and built-in functions.

Contract: every function here takes already-evaluated operand values (JSON-like Python
values; ``None`` is FQL ``null`` and also stands for a missing field) and is total: type
mismatches give ``False``/``None`` rather than exceptions, following Segment's FQL
reference and ``@segment/tsub``:

* ``=``/``!=`` are strict: same type and equal (``1 = true`` is false; lists and objects
  compare deeply, element by element and type by type);
* ``< <= > >=`` need two numbers (booleans are not numbers), else ``False``;
* ``in`` is true when the right side is a list holding a strictly-equal element;
* ``contains``/``match`` need two strings, else ``False``; ``match`` uses :mod:`.glob`;
* ``length(null)`` is 0; strings count UTF-8 bytes (Segment's reference); lists count
  elements; anything else is ``null``;
* case functions return ``null`` for non-strings; ``typeof`` gives ``"string"``,
  ``"number"``, ``"boolean"`` (as tsub does; the reference says ``"bool"``), ``"list"``,
  ``"object"`` or ``"null"``;
* ``number``/``string``/``bool`` convert as documented in ``docs/fql.md``;
* ``semver(a, op, b)`` compares ``MAJOR[.MINOR[.PATCH]]`` versions, ``False`` on bad input.

:data:`FUNCTIONS` maps each callable FQL name to ``(arity, implementation)``; the parser
uses it to reject unknown names and wrong argument counts at compile time.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from collections.abc import Callable
from typing import Any

from .glob import glob_match

_NUMBER = (int, float)


def kind(value: Any) -> str:
    """Return the FQL type name of a value (the result of ``typeof``)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, _NUMBER):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def strict_equal(a: Any, b: Any) -> bool:
    """FQL ``=``: same FQL type and equal; lists/objects compared deeply."""
    ka = kind(a)
    if ka != kind(b):
        return False
    if ka == "list":
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if ka == "object":
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    return a == b


def is_number(value: Any) -> bool:
    """True for ints and floats, False for booleans and everything else."""
    return isinstance(value, _NUMBER) and value is not True and value is not False


def contained_in(item: Any, container: Any) -> bool:
    """FQL ``in``: ``container`` is a list holding an element strictly equal to ``item``."""
    if not isinstance(container, list):
        return False
    return any(strict_equal(item, element) for element in container)


def fql_contains(s: Any, sub: Any) -> bool:
    """``contains(s, sub)``: substring test on two strings, else False."""
    return isinstance(s, str) and isinstance(sub, str) and sub in s


def fql_match(s: Any, pattern: Any) -> bool:
    """``match(s, pattern)``: glob match on two strings, else False."""
    return isinstance(s, str) and isinstance(pattern, str) and glob_match(s, pattern)


def fql_length(value: Any) -> int | None:
    """``length(x)``: 0 for null, UTF-8 bytes of a string, elements of a list, else null."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list):
        return len(value)
    return None


def _string_fn(transform: Callable[[str], str]) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        return transform(value) if isinstance(value, str) else None

    apply.__doc__ = "Apply a string function; null for non-strings."
    return apply


def _titlecase(s: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in s.split(" "))


def format_number(value: float | int) -> str:
    """Format a number as JavaScript's ``String()`` does for the common cases (1.0 → "1")."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
    return repr(value)


def to_number(value: Any) -> int | float | None:
    """``number(x)``: numbers as they are, numeric strings parsed, anything else null."""
    if is_number(value):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            parsed = float(text)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: one spelling per value (used for hashing)."""
    if isinstance(value, str):
        return encode_basestring(value)  # what json.dumps does with a string, without an encoder
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_string(value: Any) -> str:
    """``string(x)``: strings unchanged, numbers/bools/null spelled as in JSON, lists/objects as JSON."""
    if isinstance(value, str):
        return value
    if is_number(value):
        return format_number(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_TRUE_STRINGS = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def to_bool(value: Any) -> bool:
    """``bool(x)``: null → false, numbers → non-zero, strings → Go ``ParseBool`` true set, lists/objects → non-empty."""
    if value is None:
        return False
    if value is True or value is False:
        return value
    if is_number(value):
        return value != 0
    if isinstance(value, str):
        return value in _TRUE_STRINGS
    return len(value) > 0


def _parse_version(value: Any) -> tuple[int, int, int] | None:
    if not isinstance(value, str):
        return None
    parts = value.split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


_SEMVER_OPS: dict[str, Callable[[tuple, tuple], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def fql_semver(left: Any, op: Any, right: Any) -> bool:
    """``semver(a, op, b)``: compare two versions with ``= != > >= < <=``; False on bad input."""
    compare = _SEMVER_OPS.get(op) if isinstance(op, str) else None
    a, b = _parse_version(left), _parse_version(right)
    if compare is None or a is None or b is None:
        return False
    return compare(a, b)


FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "contains": (2, fql_contains),
    "match": (2, fql_match),
    "length": (1, fql_length),
    "lowercase": (1, _string_fn(str.lower)),
    "uppercase": (1, _string_fn(str.upper)),
    "snakecase": (1, _string_fn(lambda s: s.replace(" ", "_"))),
    "kebabcase": (1, _string_fn(lambda s: s.replace(" ", "-"))),
    "titlecase": (1, _string_fn(_titlecase)),
    "typeof": (1, kind),
    "number": (1, to_number),
    "string": (1, to_string),
    "bool": (1, to_bool),
    "semver": (3, fql_semver),
}
"""Callable FQL names → (number of arguments, implementation)."""


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(a: Any, b: Any) -> bool:
        return is_number(a) and is_number(b) and compare(a, b)

    return apply


BINARY_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": strict_equal,
    "!=": lambda a, b: not strict_equal(a, b),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "in": contained_in,
}
"""Comparison operators of the IR → implementation on two evaluated operands."""
