"""Glob matching for FQL ``match(s, pattern)`` without backtracking.

Contract: :func:`glob_match` returns ``True`` when ``pattern`` matches the whole of ``s``
with the semantics of Go's ``path.Match`` as ported by ``@segment/tsub``, except that ``/``
is an ordinary character:

* ``*`` matches any run of characters (including none), ``?`` exactly one character
  (a Unicode code point), ``\\x`` the character ``x`` literally;
* ``[abc]``, ``[a-z]``, ``[^a-z]`` are character classes; inside them ``\\`` escapes, and
  an unescaped ``-`` or ``]`` in item position is a malformed pattern;
* a malformed pattern (unclosed class, trailing ``\\``, ``[-]``, ``[]a]``, ``[a-b-c]``...)
  never matches.

Algorithm: the pattern is compiled once (cached) into *chunks*, each a fixed-length
sequence of character tests, separated by stars. The first chunk must match at the start,
the last one (if preceded by a star) at the very end, and each chunk in between at its
leftmost possible position. Fixed-length chunks make that greedy choice exact, so no
backtracking is ever needed: each chunk is located by one left-to-right pass (``str.find``
for literal chunks, a bit-parallel Shift-And scan otherwise), giving time linear in
``len(s)`` for a given pattern.
"""

from __future__ import annotations

from functools import lru_cache

# A test is a literal character (str of length 1), None for "?", or a class:
# (negated: bool, ranges: tuple[tuple[str, str], ...]).
_ANY = None


class _BadPattern(Exception):
    pass


def _char_ok(test, ch: str) -> bool:
    if test is _ANY:
        return True
    if type(test) is str:
        return test == ch
    negated, ranges = test
    return any(lo <= ch <= hi for lo, hi in ranges) != negated


def _class_item(p: str, i: int) -> tuple[str, int]:
    """Read one (possibly escaped) class character like Go's getEsc."""
    if i >= len(p) or p[i] in "-]":
        raise _BadPattern
    if p[i] == "\\":
        i += 1
        if i >= len(p):
            raise _BadPattern
    if i + 1 >= len(p):
        raise _BadPattern
    return p[i], i + 1


def _parse_class(p: str, i: int) -> tuple[tuple, int]:
    i += 1
    negated = i < len(p) and p[i] == "^"
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(p) and p[i] == "]" and ranges:
            return (negated, tuple(ranges)), i + 1
        lo, i = _class_item(p, i)
        hi = lo
        if p[i] == "-":
            hi, i = _class_item(p, i + 1)
        ranges.append((lo, hi))


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> tuple[tuple[bool, tuple, str | None], ...] | None:
    """Compile ``pattern`` to ``(star_before, tests, literal_or_None)`` chunks; None if malformed."""
    chunks: list[tuple[bool, list]] = []
    tests: list = []
    star = False
    i = 0
    try:
        while i < len(pattern):
            ch = pattern[i]
            if ch == "*":
                if tests:
                    chunks.append((star, tests))
                    tests = []
                star = True
                i += 1
            elif ch == "?":
                tests.append(_ANY)
                i += 1
            elif ch == "[":
                test, i = _parse_class(pattern, i)
                tests.append(test)
            elif ch == "\\":
                if i + 1 >= len(pattern):
                    raise _BadPattern
                tests.append(pattern[i + 1])
                i += 2
            else:
                tests.append(ch)
                i += 1
    except _BadPattern:
        return None
    chunks.append((star, tests))
    return tuple(
        (s, tuple(t), "".join(t) if all(type(x) is str for x in t) else None) for s, t in chunks
    )


def _match_at(tests: tuple, s: str, pos: int) -> bool:
    for k, test in enumerate(tests):
        if not _char_ok(test, s[pos + k]):
            return False
    return True


def _find(tests: tuple, literal: str | None, s: str, pos: int) -> int:
    """Leftmost index >= pos where the chunk matches, or -1.

    Literal chunks use ``str.find``; others run a bit-parallel Shift-And scan (one pass
    over ``s``, bit ``j`` of ``state`` set when the last ``j+1`` characters match the
    chunk's first ``j+1`` tests), so the search is linear in ``len(s)``.
    """
    if literal is not None:
        return s.find(literal, pos)
    goal = 1 << (len(tests) - 1)
    masks: dict[str, int] = {}
    state = 0
    for i in range(pos, len(s)):
        ch = s[i]
        mask = masks.get(ch)
        if mask is None:
            mask = sum(1 << j for j, test in enumerate(tests) if _char_ok(test, ch))
            masks[ch] = mask
        state = ((state << 1) | 1) & mask
        if state & goal:
            return i - len(tests) + 1
    return -1


def glob_match(s: str, pattern: str) -> bool:
    """Return True if glob ``pattern`` matches all of ``s`` (see module docstring)."""
    return match_compiled(s, compile_glob(pattern))


def match_compiled(s: str, chunks: tuple | None) -> bool:
    """Match ``s`` against the output of :func:`compile_glob` (None, a bad pattern, never matches)."""
    if chunks is None:
        return False
    pos = 0
    last = len(chunks) - 1
    for idx, (star, tests, literal) in enumerate(chunks):
        width = len(tests)
        if idx == last:
            if star:
                start = len(s) - width
                if start < pos:
                    return False
            else:
                start = pos
                if len(s) - pos != width:
                    return False
            return _match_at(tests, s, start) if literal is None else s.endswith(literal)
        if star:
            pos = _find(tests, literal, s, pos)
            if pos < 0:
                return False
        elif len(s) - pos < width or not _match_at(tests, s, pos):
            return False
        pos += width
    return True
