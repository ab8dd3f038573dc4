"""FQL tokenizer, behaving like ``segmentio/fql-ts``'s lexer.

Contract: :func:`tokenize` turns FQL source text into a list of :class:`Token` ending with
an ``eos`` token, or raises :class:`FQLSyntaxError` naming the offset of the offending
character. Token types and values follow fql-ts (``ident``, ``conditional``, ``operator``,
``number``, ``string``, ``null``, ``brackleft``, ``brackright``, ``parenleft``,
``parenright``, ``comma``, ``dot``, ``eos``):

* strings keep their quotes in ``value`` (``'a'`` or ``"a"``); a backslash escapes the next
  character; they may span lines; an unterminated string is an error;
* identifiers are runs of ``[A-Za-z0-9_-]`` (not starting with a digit or ``-``) in which a
  backslash escapes any character (``a\\ b`` is the identifier ``a b``); ``value`` holds
  the unescaped name;
* ``and``/``or`` in any letter case are ``conditional`` tokens with a lower-case value
  (a decided deviation: fql-ts accepts lower case only); ``null`` is a ``null`` token;
* numbers are ``[+-]?digits(.digits)?``; a number directly followed by ``.`` or an
  identifier character is an error (``5.``, ``5.0.``);
* ``!`` must be followed by something (``!`` alone is an error); operators are
  ``= != < <= > >= !``; any other character (``$ @ # * / ` ``...) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FQLSyntaxError

_SINGLE = {"[": "brackleft", "]": "brackright", "(": "parenleft", ")": "parenright",
           ",": "comma", ".": "dot"}
_WHITESPACE = frozenset(" \t\r\n")
_DIGITS = frozenset("0123456789")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | _DIGITS | {"-"}
_CONDITIONALS = frozenset({"and", "or"})


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: its fql-ts ``type``, its ``value`` and its source offset ``pos``."""

    type: str
    value: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (the last one is ``eos``); raise FQLSyntaxError on bad input."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SINGLE:
            tokens.append(Token(_SINGLE[ch], ch, i))
            i += 1
        elif ch in "'\"":
            i = _lex_string(text, i, tokens)
        elif ch in _DIGITS or (ch in "+-" and i + 1 < n and text[i + 1] in _DIGITS):
            i = _lex_number(text, i, tokens)
        elif ch in "=<>!":
            i = _lex_operator(text, i, tokens)
        elif ch in _IDENT_START or ch == "\\":
            i = _lex_ident(text, i, tokens)
        else:
            raise FQLSyntaxError(f"unexpected character {ch!r}", i)
    tokens.append(Token("eos", "eos", n))
    return tokens


def _lex_string(text: str, start: int, out: list[Token]) -> int:
    quote, i, n = text[start], start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
        elif ch == quote:
            out.append(Token("string", text[start:i + 1], start))
            return i + 1
        else:
            i += 1
    raise FQLSyntaxError("unterminated string", start)


def _lex_number(text: str, start: int, out: list[Token]) -> int:
    i, n = start + 1, len(text)
    while i < n and text[i] in _DIGITS:
        i += 1
    if i < n and text[i] == ".":
        i += 1
        if i >= n or text[i] not in _DIGITS:
            raise FQLSyntaxError("expected digits after decimal point", i)
        while i < n and text[i] in _DIGITS:
            i += 1
    if i < n and (text[i] == "." or text[i] in _IDENT_CHARS or text[i] == "\\"):
        raise FQLSyntaxError(f"unexpected character {text[i]!r} after number", i)
    out.append(Token("number", text[start:i], start))
    return i


def _lex_operator(text: str, start: int, out: list[Token]) -> int:
    ch = text[start]
    nxt = text[start + 1] if start + 1 < len(text) else ""
    if nxt == "=" and ch != "=":
        out.append(Token("operator", ch + "=", start))
        return start + 2
    if ch == "!" and not nxt:
        raise FQLSyntaxError("'!' must be followed by an expression", start)
    out.append(Token("operator", ch, start))
    return start + 1


def _lex_ident(text: str, start: int, out: list[Token]) -> int:
    chars: list[str] = []
    escaped = False
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                raise FQLSyntaxError("dangling escape character", i)
            chars.append(text[i + 1])
            escaped = True
            i += 2
        elif ch in _IDENT_CHARS:
            chars.append(ch)
            i += 1
        else:
            break
    name = "".join(chars)
    lowered = name.lower()
    if escaped:
        out.append(Token("ident", name, start))
    elif lowered in _CONDITIONALS:
        out.append(Token("conditional", lowered, start))
    elif name == "null":
        out.append(Token("null", name, start))
    else:
        out.append(Token("ident", name, start))
    return i
