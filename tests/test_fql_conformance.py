"""Runs every case of the shared conformance files against the FQL engine.

The data lives in ``<repo>/../shared/conformance`` and is not copied into the project.
Each aggregate test prints its pass count and asserts that every case passes; the
disagreements decided in the conformance README (deterministic sampling, ``in`` on a
field holding a list, case-insensitive ``and``/``or``) have their own tests below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventyard.transforms.fql import (
    FQLError,
    FQLSyntaxError,
    compile_fql,
    compile_matcher,
    evaluate,
    evaluate_matcher,
    tokenize,
)
from eventyard.transforms.fql.tsub import matches, transform

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"

# tsub cases whose recorded ``fql`` is not FQL but the IR's own JSON text: the IR is the
# path ``"trueValue"``, while the text ``"trueValue"`` is, in FQL (and per the fql-ts lexer
# cases), a string literal. Their IR is still evaluated like every other case.
FQL_TEXT_IS_IR_JSON = {"tsub-match-0004", "tsub-match-0005", "tsub-match-0007"}


def _load(name: str) -> dict:
    return json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))


def _canon(value) -> str:
    """Type-strict comparison key (``False`` vs ``0`` differ, unlike ``==``)."""
    return json.dumps(value, sort_keys=True)


def _report(label: str, total: int, failures: list) -> None:
    print(f"{label}: {total - len(failures)}/{total} passed")
    assert failures == []


def test_fqlts_lexer_conformance():
    cases = _load("fqlts_lexer_conformance.json")["cases"]
    failures = []
    for case in cases:
        try:
            got = [{"type": t.type, "value": t.value} for t in tokenize(case["code"])]
            threw = False
        except FQLSyntaxError:
            got, threw = [], True
        if threw != case["throws"] or got != case["tokens"]:
            failures.append((case["code"], threw, got))
    _report("fql-ts lexer conformance", len(cases), failures)


def _run_tsub_case(case: dict) -> bool:
    try:
        if case["kind"] == "match":
            got = matches(case["event"], case["matcher"])
            matcher = case["matcher"]
            if matcher.get("type") == "fql" and matcher.get("ir"):
                # the compiled closure path must agree with the interpreter
                assert compile_matcher(json.loads(matcher["ir"]))(case["event"]) is got
        else:
            got = transform(case["input"], case["transformers"])
    except FQLError:
        return bool(case.get("throws"))
    return not case.get("throws") and _canon(got) == _canon(case["expected"])


def test_tsub_match_and_transform_conformance():
    cases = _load("tsub_conformance.json")["cases"]
    failures = [case["id"] for case in cases if not _run_tsub_case(case)]
    _report("tsub match/transform conformance", len(cases), failures)


def test_tsub_fql_text_compiles_to_recorded_ir():
    cases = [c for c in _load("tsub_conformance.json")["cases"] if "fql" in c]
    failures = []
    for case in cases:
        if case["id"] in FQL_TEXT_IS_IR_JSON:
            continue
        try:
            ok = compile_fql(case["fql"]) == json.loads(case["matcher"]["ir"]) and not case.get("throws")
        except FQLSyntaxError:
            ok = bool(case.get("throws"))
        if not ok:
            failures.append(case["id"])
    _report("tsub fql text → IR", len(cases) - len(FQL_TEXT_IS_IR_JSON), failures)


def test_recorded_fql_that_is_ir_json_compiles_as_a_string_literal():
    cases = {c["id"]: c for c in _load("tsub_conformance.json")["cases"]}
    for case_id in FQL_TEXT_IS_IR_JSON:
        case = cases[case_id]
        assert json.loads(case["fql"]) == json.loads(case["matcher"]["ir"])
        assert compile_fql(case["fql"]) == {"value": json.loads(case["fql"])}


def test_fql_docs_cases():
    data = _load("fql_docs_cases.json")
    event, failures, total = data["event"], [], 0
    for case in data["cases"]:
        total += 1
        ir = compile_fql(case["fql"])
        results = {evaluate_matcher(ir, event), compile_matcher(ir)(event)}
        if ir != case["ir_handwritten"] or results != {case["expected"]}:
            failures.append(case["fql"])
    for case in data["match_cases"]:
        total += 1
        ir = ["match", {"value": case["s"]}, {"value": case["pattern"]}]
        if evaluate_matcher(ir, {}) is not case["expected"]:
            failures.append(case)
    for case in data["null_handling"]:
        total += 1
        if _canon(evaluate(compile_fql(case["expr"]), {})) != _canon(case["result"]):
            failures.append(case["expr"])
    _report("FQL reference cases", total, failures)


# --- decided disagreements (conformance README) ---------------------------------------

def test_in_field_holding_a_list_follows_the_docs_not_tsub():
    event = {"properties": {"features": ["discounts", "dark-mode"]}}
    assert compile_matcher(compile_fql("'dark-mode' in properties.features"))(event)
    assert not compile_matcher(compile_fql("'blink' in properties.features"))(event)


@pytest.mark.parametrize("text", ["a AND b", "a And b", "a and b"])
def test_and_or_are_case_insensitive(text):
    assert compile_fql(text) == ["and", "a", "b"]


def test_or_is_case_insensitive():
    assert compile_fql("a OR b Or c") == ["or", "a", "b", "c"]


def _kept_share(percent: float) -> float:
    transformer = [{"type": "sample_event", "config": {"sample": {"percent": percent, "path": "userId"}}}]
    kept = sum(transform({"userId": f"user-{i}"}, transformer) is not None for i in range(10_000))
    return kept / 10_000


@pytest.mark.parametrize("percent", [0.1, 0.25, 0.5, 0.9])
def test_sampling_by_path_keeps_the_requested_share(percent):
    assert abs(_kept_share(percent) - percent) <= 0.02


def test_sampling_by_path_is_deterministic():
    transformer = [{"type": "sample_event", "config": {"sample": {"percent": 0.5, "path": "userId"}}}]
    for i in range(200):
        first = transform({"userId": f"u{i}"}, transformer) is None
        assert all((transform({"userId": f"u{i}", "n": n}, transformer) is None) == first for n in range(5))


@pytest.mark.parametrize(("percent", "kept"), [(0, False), (1, True)])
def test_sampling_extremes_still_hold(percent, kept):
    transformer = [{"type": "sample_event", "config": {"sample": {"percent": percent, "path": "userId"}}}]
    assert all((transform({"userId": f"u{i}"}, transformer) is not None) is kept for i in range(100))
