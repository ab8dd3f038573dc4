"""Unit tests of the FQL lexer/parser/evaluator/compiler beyond the conformance data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventyard.transforms.fql import (
    FQLEvaluationError,
    FQLSyntaxError,
    compile_expression,
    compile_fql,
    compile_matcher,
    evaluate,
    glob_match,
)
from eventyard.transforms.fql.parser import MAX_DEPTH

EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "context": {"library": {"name": "analytics.js", "version": "2.11.1"}, "ip": "1.2.3.4"},
    "properties": {
        "revenue": 120.5, "count": 3, "flag": True, "label": "yes", "tags": ["a", "b"],
        "product 1": {"price": 9}, "dotted.key": 1, "nothing": None, "kana": "ア",
    },
}


# --- parsing ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "position"), [
    ("event = 'x' and", 15),
    ("event == 'x'", 7),
    ("event = 'x", 8),
    ("abc/", 3),
    ("a = b = c", 6),
    ("nosuch(event)", 0),
    ("lowercase(a, b)", 0),
    ("(a", 2),
    ("", 0),
])
def test_syntax_errors_name_the_position(text, position):
    with pytest.raises(FQLSyntaxError) as info:
        compile_fql(text)
    assert info.value.position == position
    assert f"position {position}" in str(info.value)


def test_precedence_and_grouping():
    assert compile_fql("a or b and c") == ["or", "a", ["and", "b", "c"]]
    assert compile_fql("(a or b) and c") == ["and", ["or", "a", "b"], "c"]
    assert compile_fql("!(type in ['track', 'identify'])") == [
        "!", ["in", "type", {"value": [{"value": "track"}, {"value": "identify"}]}]
    ]


def test_escaped_field_names_become_paths():
    assert compile_fql(r"properties.product\ 1.price = 9") == ["=", "properties.product 1.price", {"value": 9}]
    ir = compile_fql(r"properties.dotted\.key = 1")
    assert evaluate(ir, EVENT) is True


def test_deep_nesting_is_a_syntax_error_not_a_crash():
    with pytest.raises(FQLSyntaxError):
        compile_fql("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))


# --- evaluation semantics ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("properties.count = 3", True),
    ("properties.count = '3'", False),
    ("properties.flag = 1", False),
    ("properties.count != '3'", True),
    ("properties.revenue > 100", True),
    ("properties.label > 1", False),
    ("properties.flag > 0", False),
    ("properties.tags = ['a', 'b']", True),
    ("'b' in properties.tags", True),
    ("null in [null]", True),
    ("properties.missing = null", True),
    ("length(properties.kana) = 3", True),
    ("length(properties.tags) = 2", True),
    ("length(properties.missing) = 0", True),
    ("length(properties.count) = null", True),
    ("typeof(properties.tags) = 'list'", True),
    ("typeof(context) = 'object'", True),
    ("typeof(properties.missing) = 'null'", True),
    ("uppercase('ab') = 'AB'", True),
    ("snakecase('a b c') = 'a_b_c'", True),
    ("kebabcase('a b') = 'a-b'", True),
    ("titlecase('test string') = 'Test String'", True),
    ("number('12') = 12", True),
    ("number('x') = null", True),
    ("string(12) = '12'", True),
    ("string(properties.tags) = '[\"a\",\"b\"]'", True),
    ("bool('true') and !bool('no') and bool(1) and !bool(null)", True),
    ("semver(context.library.version, '>=', '2.9')", True),
    ("match(context.library.name, 'analytics.*') and !contains(userId, '@')", True),
    ("properties.nothing or properties.missing", False),
    ("!properties.missing", True),
])
def test_semantics(text, expected):
    ir = compile_fql(text)
    assert evaluate(ir, EVENT) is expected
    assert compile_matcher(ir)(EVENT) is expected


@pytest.mark.parametrize("text", ["properties.label and true", "!properties.count", "false or properties.tags"])
def test_boolean_operators_reject_non_boolean_operands(text):
    ir = compile_fql(text)
    with pytest.raises(FQLEvaluationError):
        evaluate(ir, EVENT)
    with pytest.raises(FQLEvaluationError):
        compile_matcher(ir)(EVENT)


def test_top_level_non_boolean_does_not_match():
    ir = compile_fql("properties.label")
    assert evaluate(ir, EVENT) == "yes"
    assert compile_matcher(ir)(EVENT) is False


@pytest.mark.parametrize("ir", [["nope", "a"], ["=", "a"], ["lowercase"], {"no": "value"}, [], 5])
def test_malformed_ir_raises_in_both_paths(ir):
    with pytest.raises(FQLEvaluationError):
        evaluate(ir, EVENT)
    with pytest.raises(FQLEvaluationError):
        compile_expression(ir)


def test_compiled_expression_returns_values():
    assert compile_expression(compile_fql("lowercase(event)"))(EVENT) == "order completed"
    assert compile_expression(compile_fql("[userId, 1]"))(EVENT) == ["u-1", 1]


# --- glob ---------------------------------------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("pattern", [
    "*a*a*a*a*a*a*a*b",
    "*" + "a" * 300 + "b",
    "*" + "[ab]" * 40 + "c*",
    "*" + "?" * 40 + "c*d",
])
def test_glob_does_not_backtrack_on_hostile_patterns(pattern):
    subject = "a" * 100_000
    for _ in range(20):
        assert glob_match(subject, pattern) is False


def _reference_glob(s: str, pattern: str) -> bool:
    """Quadratic DP over '*', '?', '[xy]' and literals — an independent oracle."""
    tokens, i = [], 0
    while i < len(pattern):
        if pattern[i] == "[":
            end = pattern.index("]", i)
            tokens.append(set(pattern[i + 1:end]))
            i = end + 1
        else:
            tokens.append(pattern[i])
            i += 1
    row = [True] + [False] * len(s)
    for tok in tokens:
        new = [row[0] and tok == "*"] + [False] * len(s)
        for j in range(1, len(s) + 1):
            if tok == "*":
                new[j] = row[j] or new[j - 1]
            elif tok == "?" or (isinstance(tok, set) and s[j - 1] in tok) or tok == s[j - 1]:
                new[j] = row[j - 1]
        row = new
    return row[-1]


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="abc", max_size=12),
    st.lists(st.sampled_from(["a", "b", "c", "*", "?", "[ab]", "[bc]"]), max_size=8).map("".join),
)
def test_glob_agrees_with_a_reference_matcher(subject, pattern):
    assert glob_match(subject, pattern) is _reference_glob(subject, pattern)


# --- robustness -----------------------------------------------------------------------------

FRAGMENTS = [
    "event", "properties.a", "'x'", '"y"', "1", "-2.5", "null", "true", "false", "and", "OR",
    "=", "!=", "<", ">=", "!", "in", "(", ")", "[", "]", ",", ".", "contains(", "match(",
    "length(", "lowercase(", "typeof(", "semver(", "\\", "$", "'", "*", "5.", "\n",
]


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join),
    st.text(max_size=60),
))
def test_compile_fql_raises_only_syntax_errors(text):
    try:
        ir = compile_fql(text)
    except FQLSyntaxError:
        return
    try:
        interpreted = evaluate(ir, EVENT)
    except FQLEvaluationError:
        with pytest.raises(FQLEvaluationError):
            compile_expression(ir)(EVENT)
        return
    assert compile_expression(ir)(EVENT) == interpreted
