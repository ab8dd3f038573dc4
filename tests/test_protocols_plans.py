"""Tracking plan loading: conformance plans in both Segment shapes, versions, errors."""

import json
from pathlib import Path

import pytest

from eventyard.transforms.protocols import PlanError, ProtocolsSettings, build_plan, enforce, load_plan

CONFORMANCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance"
PLANS = sorted((CONFORMANCE / "tracking-plans").glob("*.json"))


def test_every_conformance_plan_loads():
    assert PLANS, "conformance plans not found"
    total = 0
    for path in PLANS:
        plan = load_plan(path)
        total += len(plan.rules())
        assert plan.rules(), path
    print(f"\n{len(PLANS)} conformance plans loaded, {total} schemas compiled")
    assert total == 79


def test_both_shapes_agree():
    public = load_plan(CONFORMANCE / "tracking-plans/typewriter-plan-publicapi.json")
    config = load_plan(CONFORMANCE / "tracking-plans/typewriter-plan-configapi.json")
    settings = ProtocolsSettings()
    event = {"type": "track", "event": "Custom Violation Handler",
             "properties": {"regex property": "Rick"}}
    a, b = enforce(public, settings, event), enforce(config, settings, event)
    assert a.violations == b.violations
    assert a.violations[0]["field"] == "properties.regex property"
    assert a.violations[0]["type"] == "Pattern"
    missing = enforce(config, settings, {**event, "properties": {}}).violations
    assert missing == [{"type": "Required", "field": "properties.regex property",
                        "description": "properties.regex property is required"}]


def test_root_and_whole_event_schemas_plan_the_same_keys():
    public = load_plan(CONFORMANCE / "tracking-plans/typewriter-plan-publicapi.json")
    config = load_plan(CONFORMANCE / "tracking-plans/typewriter-plan-configapi.json")
    for name in ("Every Required Type", "Nested Objects", "Enum Types"):
        assert public.event_rule(name).planned == config.event_rule(name).planned


def _doc(*rules):
    return {"name": "t", "rules": [
        {"type": t, "key": k, "version": v, "jsonSchema": s} for t, k, v, s in rules]}


def test_versions_pick_requested_else_oldest():
    v1 = {"properties": {"a": {"type": "string"}}}
    v2 = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["b"]}
    plan = build_plan(_doc(("TRACK", "Thing Done", 2, v2), ("TRACK", "Thing Done", 1, v1)))
    assert plan.event_rule("Thing Done").version == 1
    assert plan.event_rule("Thing Done", 2).version == 2
    assert plan.event_rule("Thing Done", 3).version == 1
    assert plan.event_rule("Thing Done", "2").version == 1  # must be an integer
    event = {"type": "track", "event": "Thing Done", "properties": {"a": "x"},
             "context": {"protocols": {"event_version": 2}}}
    verdict = enforce(plan, ProtocolsSettings(), event)
    assert verdict.rule == "TRACK 'Thing Done' v2"
    assert [v["field"] for v in verdict.violations] == ["properties.b"]
    del event["context"]
    assert enforce(plan, ProtocolsSettings(), event).violations == []


def test_yaml_plan_and_config_shape(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "display_name: y\n"
        "rules:\n"
        "  events:\n"
        "    - name: Order Completed\n"
        "      version: 1\n"
        "      labels: {team: web}\n"
        "      rules: {properties: {order_id: {type: string}}, required: [order_id]}\n"
        "  identify: {properties: {traits: {properties: {email: {type: string}}}}}\n"
        "  group_traits: []\n"
        "  global: {properties: {context: {required: [ip]}}}\n")
    plan = load_plan(path)
    assert plan.event_rule("Order Completed").planned == {"properties": frozenset({"order_id"})}
    assert plan.identify.planned == {"traits": frozenset({"email"})}
    assert plan.common is not None and plan.group is None


@pytest.mark.parametrize("doc, message", [
    (_doc(("TRACK", "Bad", 1, {"type": "nope"})), "rule TRACK 'Bad' v1: invalid JSON Schema"),
    (_doc(("TRACK", "Bad", 1, [1])), "rule TRACK 'Bad' v1: jsonSchema must be an object"),
    (_doc(("TRACK", "Bad", "x", {})), "rule TRACK 'Bad' vx: version must be an integer"),
    (_doc(("TRACK", "Dup", 1, {}), ("TRACK", "Dup", 1, {})), "rule TRACK 'Dup' v1: duplicate"),
    (_doc(("ALIAS", "a", 1, {})), "rule ALIAS 'a': unknown rule type"),
    ({"rules": 3}, "'rules' must be a list"),
])
def test_load_errors_name_file_and_rule(tmp_path, doc, message):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError) as err:
        load_plan(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(PlanError, match="missing.json"):
        load_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(PlanError, match="not valid JSON"):
        load_plan(bad)
