"""FQL text → the JSON IR that ``@segment/tsub`` evaluates.

Contract: :func:`compile_fql` returns the IR tree or raises :class:`FQLSyntaxError` (and
nothing else) naming the character offset of the problem. IR forms:

* field path → a string (``"context.library.version"``; escaped identifier characters that
  are ``.`` or ``\\`` are backslash-escaped, see :mod:`.paths`);
* literal → ``{"value": x}`` (strings, numbers, ``true``/``false``, ``null``); a list literal
  is ``{"value": [operand, ...]}`` whose elements are themselves IR operands;
* operators and calls → ``[op, operand, ...]``: ``["=", a, b]``, ``["in", a, b]``,
  ``["!", x]``, ``["contains", s, sub]``; chains of one conditional are flattened
  (``a and b and c`` → ``["and", a, b, c]``); parentheses group without adding nodes.

Grammar (lowest precedence first; ``and`` binds tighter than ``or``)::

    expr    := and ( OR and )*
    and     := compare ( AND compare )*
    compare := unary ( ( '=' | '!=' | '<' | '<=' | '>' | '>=' | 'in' ) unary )?
    unary   := '!' unary | primary
    primary := literal | path | NAME '(' [ expr ( ',' expr )* ] ')' | '[' [ unary ( ',' unary )* ] ']'
             | '(' expr ')'

Function names and argument counts are checked against :data:`.functions.FUNCTIONS`;
nesting deeper than :data:`MAX_DEPTH` is a syntax error rather than a RecursionError.
"""

from __future__ import annotations

from typing import Any

from .errors import FQLSyntaxError
from .functions import FUNCTIONS
from .lexer import Token, tokenize
from .paths import join_path

MAX_DEPTH = 64
"""Deepest nesting of ``!``, parentheses, lists and calls accepted (guards the recursion)."""

_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_BOOLEANS = {"true": True, "false": False}


def compile_fql(text: str) -> Any:
    """Compile FQL source text to its IR (see module docstring)."""
    return _Parser(text).parse()


def _unquote(raw: str) -> str:
    """Strip quotes; ``\\<quote>`` and ``\\\\`` unescape, other backslashes are kept (glob escapes)."""
    quote, body, out, i = raw[0], raw[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in (quote, "\\"):
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.type != "eos":
            self.index += 1
        return token

    def expect(self, type_: str, what: str) -> Token:
        if self.tok.type != type_:
            self.fail(f"expected {what}")
        return self.advance()

    def fail(self, message: str) -> None:
        token = self.tok
        found = "end of input" if token.type == "eos" else repr(token.value)
        raise FQLSyntaxError(f"{message}, found {found}", token.pos)

    def parse(self) -> Any:
        if self.tok.type == "eos":
            self.fail("expected an expression")
        tree = self.parse_conditional("or")
        if self.tok.type != "eos":
            self.fail("expected 'and', 'or' or end of input")
        return tree

    def parse_conditional(self, word: str) -> Any:
        parse_operand = self.parse_compare if word == "and" else lambda: self.parse_conditional("and")
        items = [parse_operand()]
        while self.tok.type == "conditional" and self.tok.value == word:
            self.advance()
            items.append(parse_operand())
        return items[0] if len(items) == 1 else [word, *items]

    def parse_compare(self) -> Any:
        left = self.parse_unary()
        token = self.tok
        if token.type == "operator" and token.value in _COMPARISONS:
            op = token.value
        elif token.type == "ident" and token.value.lower() == "in":
            op = "in"
        else:
            return left
        self.advance()
        return [op, left, self.parse_unary()]

    def parse_unary(self) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FQLSyntaxError(f"expression nested deeper than {MAX_DEPTH} levels", self.tok.pos)
        try:
            if self.tok.type == "operator" and self.tok.value == "!":
                self.advance()
                return ["!", self.parse_unary()]
            return self.parse_primary()
        finally:
            self.depth -= 1

    def parse_primary(self) -> Any:
        token = self.tok
        if token.type == "string":
            self.advance()
            return {"value": _unquote(token.value)}
        if token.type == "number":
            self.advance()
            number = float(token.value) if "." in token.value else int(token.value)
            return {"value": number}
        if token.type == "null":
            self.advance()
            return {"value": None}
        if token.type == "brackleft":
            return self.parse_list()
        if token.type == "parenleft":
            self.advance()
            inner = self.parse_conditional("or")
            self.expect("parenright", "')'")
            return inner
        if token.type == "ident":
            return self.parse_name()
        self.fail("expected a value, field path, function call or '('")

    def parse_list(self) -> dict:
        self.advance()
        items = []
        if self.tok.type != "brackright":
            items.append(self.parse_unary())
            while self.tok.type == "comma":
                self.advance()
                items.append(self.parse_unary())
        self.expect("brackright", "',' or ']'")
        return {"value": items}

    def parse_name(self) -> Any:
        first = self.advance()
        nxt = self.tok.type
        if nxt == "parenleft":
            return self.parse_call(first)
        if first.value in _BOOLEANS and nxt != "dot":
            return {"value": _BOOLEANS[first.value]}
        segments = [first.value]
        while self.tok.type == "dot":
            self.advance()
            if self.tok.type not in ("ident", "null", "conditional"):
                self.fail("expected a field name after '.'")
            token = self.advance()
            # keywords used as field names keep their original spelling
            raw = self.text[token.pos:token.pos + len(token.value)]
            segments.append(token.value if token.type == "ident" else raw)
        return join_path(segments)

    def parse_call(self, name: Token) -> list:
        if name.value not in FUNCTIONS:
            raise FQLSyntaxError(f"unknown function {name.value!r}", name.pos)
        self.advance()
        args = []
        if self.tok.type != "parenright":
            args.append(self.parse_conditional("or"))
            while self.tok.type == "comma":
                self.advance()
                args.append(self.parse_conditional("or"))
        self.expect("parenright", "',' or ')'")
        arity = FUNCTIONS[name.value][0]
        if len(args) != arity:
            raise FQLSyntaxError(
                f"{name.value}() takes {arity} argument(s), got {len(args)}", name.pos
            )
        return [name.value, *args]
