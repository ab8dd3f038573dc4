"""FQL conditions as used by destination filters and transformations (``if`` fields).

Contract: :data:`FQLText` is a pydantic-annotated ``str`` that rejects text which does not
compile, with the :class:`FQLSyntaxError` message (and so the character position) in the
validation error for that field. :func:`compile_condition` turns such text into
``f(event) -> bool`` once, reading the literal ``all`` as Segment's "match everything"
(rather than as the field path ``all``); :func:`compile_value` gives ``f(event) -> value``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator

from .compiler import compile_expression, compile_matcher
from .errors import FQLSyntaxError
from .parser import compile_fql

MATCH_ALL = "all"


def _always(_event: Any) -> bool:
    return True


def validate_fql(text: str) -> str:
    """Return ``text`` if it compiles; raise ValueError naming the problem otherwise."""
    try:
        compile_fql(text)
    except FQLSyntaxError as exc:
        raise ValueError(f"invalid FQL {text!r}: {exc}") from exc
    return text


FQLText = Annotated[str, AfterValidator(validate_fql)]
"""FQL source text (a condition, ``all``, or an expression), validated at config load."""


def compile_condition(text: str) -> Callable[[Any], bool]:
    """Compile a validated condition to ``f(event) -> bool``; ``all`` matches every event."""
    if text.strip() == MATCH_ALL:
        return _always
    return compile_matcher(compile_fql(text))


def compile_value(text: str) -> Callable[[Any], Any]:
    """Compile a validated FQL expression to ``f(event) -> value``."""
    return compile_expression(compile_fql(text))
