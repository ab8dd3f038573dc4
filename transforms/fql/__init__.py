"""Segment Filter Query Language (FQL): lexer, parser, IR evaluator and closure compiler.

Public API::

    compile_fql(text) -> IR                 # FQL text → tsub IR; raises FQLSyntaxError
    evaluate(ir, event) -> value            # reference tree-walking evaluator
    evaluate_matcher(ir, event) -> bool     # True only when the IR yields exactly True
    compile_matcher(ir) -> f(event) -> bool # closure tree, built once (hot path)
    compile_expression(ir) -> f(event) -> value
    tokenize(text) -> list[Token]           # fql-ts compatible tokens
    glob_match(s, pattern) -> bool          # match() semantics, linear time

Errors: FQLError ⊃ FQLSyntaxError(message, position), FQLEvaluationError.
tsub-compatible ``matches``/``transform`` live in :mod:`.tsub`.
"""

from .compiler import compile_expression, compile_matcher
from .errors import FQLError, FQLEvaluationError, FQLSyntaxError
from .evaluate import evaluate, evaluate_matcher
from .glob import glob_match
from .lexer import Token, tokenize
from .parser import compile_fql

__all__ = [
    "FQLError",
    "FQLEvaluationError",
    "FQLSyntaxError",
    "Token",
    "compile_expression",
    "compile_fql",
    "compile_matcher",
    "evaluate",
    "evaluate_matcher",
    "glob_match",
    "tokenize",
]
