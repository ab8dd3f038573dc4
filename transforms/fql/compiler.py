"""Compile FQL IR once into a tree of Python closures (the per-event hot path).

Contract: :func:`compile_expression` turns an IR tree into ``f(event) -> value`` and
:func:`compile_matcher` into ``f(event) -> bool`` with exactly the semantics of
:mod:`.evaluate` (same accepted IR, same results, same :class:`FQLEvaluationError` for
non-boolean ``and``/``or``/``!`` operands), but all dispatch on operator strings, path
splitting and glob compilation happens once, at compile time. Malformed IR (unknown
operator, wrong arity) raises :class:`FQLEvaluationError` from the compile call itself.

Specialisations: constant sub-trees are folded; ``=``/``!=`` against a string constant
compile to a plain ``==`` (only a string can equal a string, so it is still strict), in one
closure with the field read when the field is a top-level name (``event = 'Signed Up'``);
``in`` against a list of string constants compiles to a frozenset lookup; ``match``
with a constant pattern reuses the pre-compiled glob. A matcher whose root always yields a
boolean (comparisons, ``and``/``or``/``!``, ``contains``, ``match``, ``semver``, ``bool``)
is returned as is, without the ``is True`` wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .evaluate import CONDITIONALS, literal_value, resolve_operator, truth
from .errors import FQLEvaluationError
from .functions import BINARY_OPERATORS
from .glob import compile_glob, match_compiled
from .paths import get_path, split_path

Fn = Callable[[Any], Any]
_BOOLEAN_ROOTS = CONDITIONALS | {"!", "contains", "match", "semver", "bool"} | BINARY_OPERATORS.keys()
"""Operators whose compiled closure always returns True or False."""


class _Const:
    """A compiled node whose value does not depend on the event."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, event: Any) -> Any:
        return self.value


def compile_matcher(ir: Any) -> Callable[[Any], bool]:
    """Compile ``ir`` to ``f(event) -> bool`` (True only when the IR yields exactly True)."""
    fn = compile_expression(ir)
    if isinstance(ir, list) and ir[0] in _BOOLEAN_ROOTS and not isinstance(fn, _Const):
        return fn
    return lambda event: fn(event) is True


def compile_expression(ir: Any) -> Fn:
    """Compile ``ir`` to ``f(event) -> value``."""
    if isinstance(ir, str):
        return _compile_path(ir)
    if isinstance(ir, dict):
        value = literal_value(ir)
        if not isinstance(value, list):
            return _Const(value)
        items = [compile_expression(item) for item in value]
        if all(isinstance(item, _Const) for item in items):
            return _Const([item.value for item in items])
        return lambda event: [item(event) for item in items]
    if not isinstance(ir, list):
        raise FQLEvaluationError(f"malformed FQL IR node: {ir!r}")
    category, impl = resolve_operator(ir)
    op, args = ir[0], [compile_expression(arg) for arg in ir[1:]]
    if category == "conditional":
        return _compile_conditional(op, tuple(args))
    if category == "not":
        (arg,) = args
        return lambda event: not truth(arg(event), "!")
    if all(isinstance(arg, _Const) for arg in args):
        return _Const(impl(*[arg.value for arg in args]))
    if op in ("=", "!=") and isinstance(ir[1], str) and isinstance(args[1], _Const):
        special = _field_equals(ir[1], args[1].value, op == "=")
        if special is not None:
            return special
    return _compile_call(op, impl, args)


def _compile_path(path: str) -> Fn:
    segments = split_path(path)
    if len(segments) == 1:
        (key,) = segments
        return lambda event: event.get(key) if isinstance(event, dict) else get_path(event, segments)

    def get(event: Any) -> Any:
        value = event
        try:
            for segment in segments:
                value = value[segment]
        except (KeyError, TypeError, IndexError):
            return get_path(event, segments)
        return value

    return get


def _compile_conditional(op: str, args: tuple[Fn, ...]) -> Fn:
    # truth() is only called to raise on a non-boolean operand; booleans are tested inline
    if op == "and":
        def conjunction(event: Any) -> bool:
            for arg in args:
                value = arg(event)
                if value is not True:
                    if value is False or value is None:
                        return False
                    truth(value, op)
            return True

        return conjunction

    def disjunction(event: Any) -> bool:
        for arg in args:
            value = arg(event)
            if value is True:
                return True
            if value is not False and value is not None:
                truth(value, op)
        return False

    return disjunction


def _compile_call(op: str, impl: Callable[..., Any], args: list[Fn]) -> Fn:
    if len(args) == 2 and isinstance(args[1], _Const):
        special = _specialise(op, args[0], args[1].value)
        if special is not None:
            return special
    if len(args) == 1:
        (a,) = args
        return lambda event: impl(a(event))
    if len(args) == 2:
        a, b = args
        return lambda event: impl(a(event), b(event))
    return lambda event: impl(*[arg(event) for arg in args])


def _field_equals(path: str, const: Any, equal: bool) -> Fn | None:
    """``field = 'text'`` (or ``!=``) on a top-level field, in one closure; None otherwise."""
    segments = split_path(path)
    if len(segments) != 1 or not isinstance(const, str):
        return None
    (key,) = segments
    if equal:
        return lambda event: (event.get(key) if isinstance(event, dict)
                              else get_path(event, segments)) == const
    return lambda event: (event.get(key) if isinstance(event, dict)
                          else get_path(event, segments)) != const


def _specialise(op: str, left: Fn, const: Any) -> Fn | None:
    """Faster equivalents of ``op(left(event), const)`` for common filter shapes."""
    if op == "=" and isinstance(const, str):
        return lambda event: left(event) == const
    if op == "!=" and isinstance(const, str):
        return lambda event: left(event) != const
    if op == "in" and isinstance(const, list) and all(isinstance(v, str) for v in const):
        members = frozenset(const)
        return lambda event: isinstance(value := left(event), str) and value in members
    if op == "match" and isinstance(const, str):
        chunks = compile_glob(const)
        return lambda event: isinstance(value := left(event), str) and match_compiled(value, chunks)
    return None
