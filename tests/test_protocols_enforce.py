"""Enforcement: each schema control and combination, the context.protocols annotation,
observe mode, common rules, identify/group traits, Violation Generated, robustness."""

import copy

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from pydantic import ValidationError

from eventyard.transforms.protocols import (
    Enforcer, ProtocolsSettings, build_plan, enforce, violation_event)

PLAN = build_plan({"name": "Test Plan", "rules": [
    {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {
        "properties": {"order_id": {"type": "string"}, "total": {"type": "number"},
                       "products": {"type": "array", "items": {
                           "properties": {"price": {"type": "number"}}}}},
        "required": ["order_id"]}},
    {"type": "IDENTIFY", "key": "", "version": 1, "jsonSchema": {
        "properties": {"traits": {"properties": {"email": {"type": "string"},
                                                 "age": {"type": "integer"}}}}}},
    {"type": "GROUP", "key": "", "version": 1, "jsonSchema": {
        "properties": {"name": {"type": "string"}, "employees": {"type": "integer"}}}},
    {"type": "COMMON", "key": "", "version": 1, "jsonSchema": {
        "properties": {"context": {"properties": {"ip": {"type": "string"}}},
                       "properties": {"properties": {"platform": {"enum": ["web", "ios"]}}},
                       "traits": {"properties": {"plan": {"type": "string"}}}}}},
]}, "test-plan")

BAD_TYPE = {"type": "Invalid Type", "field": "properties.total",
            "description": "Invalid type. Expected: number, given: string"}
BAD_PRICE = {"type": "Invalid Type", "field": "properties.products.0.price",
             "description": "Invalid type. Expected: number, given: string"}


def order(**props):
    base = {"order_id": "o1", "total": 10, "platform": "web"}
    return {"type": "track", "event": "Order Completed", "userId": "u1",
            "properties": {**base, **props}, "context": {"ip": "1.2.3.4"}}


def run(event, **settings):
    before = copy.deepcopy(event)
    verdict = enforce(PLAN, ProtocolsSettings(**settings), event)
    assert event == before, "enforce must not mutate its input"
    return verdict


def test_clean_event_passes_untouched():
    event = order()
    verdict = run(event, track_unplanned_properties="omit", track_violations="BLOCK",
                  track_unplanned_events="block")
    assert verdict.event == event and not verdict.blocked and verdict.violations == []
    assert "protocols" not in verdict.event["context"]


@pytest.mark.parametrize("setting, blocked", [("allow", False), ("block", True)])
def test_unplanned_event(setting, blocked):
    verdict = run({"type": "track", "event": "Mystery Happened", "properties": {"a": 1}},
                  track_unplanned_events=setting)
    assert verdict.blocked is blocked and (verdict.event is None) is blocked
    assert verdict.unplanned[0] == "event 'Mystery Happened'"


def test_unplanned_properties_allow_and_omit():
    event = order(coupon="X", note="n")
    assert run(event).event == event
    verdict = run(event, track_unplanned_properties="omit")
    assert verdict.event["properties"] == {"order_id": "o1", "total": 10, "platform": "web"}
    assert verdict.event["context"] == {"ip": "1.2.3.4", "protocols": {
        "omitted": ["properties.coupon", "properties.note"]}}
    assert verdict.omitted == ["properties.coupon", "properties.note"]


def test_violations_allow_annotates_only():
    verdict = run(order(total="ten"))
    assert verdict.event["properties"]["total"] == "ten"
    assert verdict.event["context"]["protocols"] == {"violations": [BAD_TYPE]}


def test_violations_block():
    verdict = run(order(total="ten"), track_violations="BLOCK")
    assert verdict.blocked and verdict.event is None and verdict.violations == [BAD_TYPE]


def test_violations_omit_properties_nested_and_required():
    event = order(total="ten", products=[{"price": "1"}])
    del event["properties"]["order_id"]
    verdict = run(event, track_violations="OMIT_PROPERTIES")
    assert verdict.event["properties"] == {"platform": "web"}
    assert verdict.event["context"]["protocols"] == {
        "omitted_on_violation": ["properties.products", "properties.total"],
        "violations": [
            {"type": "Required", "field": "properties.order_id",
             "description": "properties.order_id is required"}, BAD_PRICE, BAD_TYPE]}


def test_unplanned_and_violation_omission_combined():
    verdict = run(order(total="ten", extra=1, context_free=True),
                  track_unplanned_properties="omit", track_violations="OMIT_PROPERTIES")
    assert verdict.event["context"]["protocols"] == {
        "omitted": ["properties.extra", "properties.context_free"],
        "omitted_on_violation": ["properties.total"], "violations": [BAD_TYPE]}
    assert set(verdict.event["properties"]) == {"order_id", "platform"}


def test_block_wins_over_omit():
    verdict = run(order(total="ten", extra=1), track_unplanned_properties="omit",
                  track_violations="BLOCK")
    assert verdict.blocked and verdict.omitted == []


def test_existing_protocols_context_is_kept():
    event = order(total="ten")
    event["context"]["protocols"] = {"event_version": 1, "sourceId": "s"}
    protocols = run(event).event["context"]["protocols"]
    assert protocols["event_version"] == 1 and protocols["sourceId"] == "s"
    assert protocols["violations"] == [BAD_TYPE]


@pytest.mark.parametrize("action, blocked, platform_kept", [
    ("ALLOW", False, True), ("BLOCK", True, False), ("OMIT_PROPERTIES", False, False)])
def test_common_rule_violations(action, blocked, platform_kept):
    verdict = run(order(platform="tv"), common_track_event_on_violations=action)
    assert verdict.violations == [{"type": "Enum", "field": "properties.platform",
                                   "description": 'properties.platform: "tv" is not one of '
                                                  '"web" or "ios"'}]
    assert verdict.blocked is blocked
    if not blocked:
        assert ("platform" in verdict.event["properties"]) is platform_kept


def test_common_violation_uses_its_own_setting():
    verdict = run(order(platform="tv"), track_violations="BLOCK")
    assert not verdict.blocked
    verdict = run(order(total="ten"), common_track_event_on_violations="BLOCK")
    assert not verdict.blocked


def test_common_properties_count_as_planned():
    verdict = run(order(), track_unplanned_properties="omit")
    assert "platform" in verdict.event["properties"] and verdict.omitted == []


def test_common_context_violation_is_not_omittable():
    event = order()
    event["context"]["ip"] = 5
    verdict = run(event, common_track_event_on_violations="OMIT_PROPERTIES")
    assert verdict.event["properties"] == event["properties"]
    assert verdict.event["context"]["protocols"]["violations"][0]["field"] == "context.ip"


def identify(**traits):
    return {"type": "identify", "userId": "u1", "traits": traits, "context": {}}


def test_identify_traits_unplanned_and_violations():
    event = identify(email="a@b.co", age="old", plan="pro", nickname="z")
    verdict = run(event, identify_unplanned_traits="omit", identify_violations="OMIT_TRAITS")
    assert verdict.event["traits"] == {"email": "a@b.co", "plan": "pro"}
    assert verdict.event["context"]["protocols"] == {
        "omitted": ["traits.nickname"], "omitted_on_violation": ["traits.age"],
        "violations": [{"type": "Invalid Type", "field": "traits.age",
                        "description": "Invalid type. Expected: integer, given: string"}]}
    assert run(event, identify_violations="BLOCK").blocked
    assert not run(event, track_violations="BLOCK").blocked


def test_group_traits_root_schema():
    event = {"type": "group", "groupId": "g", "traits": {"name": "Initech", "employees": "many",
                                                         "ceo": "Bill"}}
    verdict = run(event, group_unplanned_traits="omit", group_violations="OMIT_TRAITS")
    assert verdict.event["traits"] == {"name": "Initech"}
    assert verdict.event["context"]["protocols"]["omitted"] == ["traits.ceo"]
    assert run(event, group_violations="BLOCK").blocked


def test_identify_without_plan_rule_treats_all_traits_as_unplanned():
    plan = build_plan({"rules": []})
    verdict = enforce(plan, ProtocolsSettings(identify_unplanned_traits="omit"),
                      identify(email="x"))
    assert verdict.event["traits"] == {} and verdict.omitted == ["traits.email"]


def test_page_and_alias_only_get_common_rules():
    page = {"type": "page", "name": "Home", "properties": {"platform": "tv", "x": 1}}
    verdict = run(page, track_unplanned_properties="omit", common_track_event_on_violations="BLOCK")
    assert not verdict.blocked and verdict.event["properties"] == page["properties"]
    assert verdict.violations[0]["field"] == "properties.platform"
    assert run({"type": "alias", "userId": "a", "previousId": "b"}).violations == []


def test_observe_mode_changes_nothing():
    event = order(total="ten", extra=1)
    verdict = run(event, mode="observe", track_unplanned_properties="omit",
                  track_violations="OMIT_PROPERTIES")
    assert verdict.event is event and not verdict.blocked
    assert verdict.would_omit == ["properties.extra", "properties.total"]
    assert verdict.violations == [BAD_TYPE] and not verdict.would_block
    verdict = run(event, mode="observe", track_violations="BLOCK")
    assert verdict.event is event and verdict.would_block and verdict.would_omit == []
    verdict = run({"type": "track", "event": "Nope"}, mode="observe",
                  track_unplanned_events="block")
    assert verdict.would_block and verdict.event is not None


def test_settings_model_forbids_unknown_and_bad_values():
    with pytest.raises(ValidationError):
        ProtocolsSettings(track_violations="OMIT_TRAITS")
    with pytest.raises(ValidationError):
        ProtocolsSettings(block_everything=True)


def test_settings_from_segment_schema_config():
    s = ProtocolsSettings.from_segment({
        "allow_unplanned_track_events": False, "allow_unplanned_track_event_properties": False,
        "allow_track_event_on_violations": True, "allow_track_properties_on_violations": False,
        "allow_unplanned_identify_traits": False, "allow_identify_traits_on_violations": False,
        "allow_group_traits_on_violations": True,
        "common_track_event_on_violations": "OMIT_PROPERTIES",
        "forwarding_violations_to": "violations-src"})
    assert (s.track_unplanned_events, s.track_unplanned_properties, s.track_violations) == (
        "block", "omit", "OMIT_PROPERTIES")
    assert (s.identify_unplanned_traits, s.identify_violations) == ("omit", "BLOCK")
    assert s.group_violations == "ALLOW" and s.common_track_event_on_violations == "OMIT_PROPERTIES"
    assert s.forwarding_violations_to == "violations-src"
    assert ProtocolsSettings.from_segment({}) == ProtocolsSettings()


def test_violation_generated_event():
    event = {**order(total="ten"), "messageId": "m1", "sentAt": "2024-01-01T00:00:00.000Z",
             "timestamp": "2024-01-01T00:00:01.000Z"}
    event["context"]["app"] = {"version": "2.1"}
    out = violation_event(event, BAD_TYPE, source_id="src1", source_name="Web",
                          tracking_plan_name="Test Plan", received_at="2024-01-01T00:00:02.000Z")
    assert out["type"] == "track" and out["event"] == "Violation Generated"
    assert out["userId"] == "schema-violations" and out["messageId"].startswith("sch-")
    props = out["properties"]
    assert props["violationType"] == "Invalid Type" and props["violationField"] == "properties.total"
    assert props["eventName"] == "Order Completed" and props["eventType"] == "track"
    assert props["eventMessageID"] == "m1" and props["sourceName"] == "Web"
    assert props["appVersion"] == "2.1" and out["timestamp"] == "2024-01-01T00:00:02.000Z"
    assert violation_event({"type": "identify"}, BAD_TYPE)["properties"]["eventName"] == "identify"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=8), children, max_size=4), max_leaves=12)
segment_keys = st.sampled_from(["type", "event", "name", "properties", "traits", "context",
                                "userId", "groupId", "timestamp"])
events = st.dictionaries(segment_keys | st.text(max_size=6), json_values, max_size=7)
typed = st.fixed_dictionaries({
    "type": st.sampled_from(["track", "identify", "group", "page", "screen", "alias"]),
    "event": st.sampled_from(["Order Completed", "x"]) | json_values,
    "properties": json_values, "traits": json_values,
    "context": st.fixed_dictionaries({"protocols": st.fixed_dictionaries(
        {"event_version": json_values})}) | json_values})
all_settings = st.builds(
    ProtocolsSettings, mode=st.sampled_from(["enforce", "observe"]),
    track_unplanned_events=st.sampled_from(["allow", "block"]),
    track_unplanned_properties=st.sampled_from(["allow", "omit"]),
    track_violations=st.sampled_from(["ALLOW", "BLOCK", "OMIT_PROPERTIES"]),
    identify_unplanned_traits=st.sampled_from(["allow", "omit"]),
    identify_violations=st.sampled_from(["ALLOW", "BLOCK", "OMIT_TRAITS"]),
    common_track_event_on_violations=st.sampled_from(["ALLOW", "BLOCK", "OMIT_PROPERTIES"]))


@hsettings(max_examples=400, deadline=None)
@given(event=events | typed, settings=all_settings)
def test_enforce_never_raises(event, settings):
    before = copy.deepcopy(event)
    verdict = enforce(PLAN, settings, event)
    assert event == before
    assert verdict.blocked == (verdict.event is None)
    for v in verdict.violations:
        assert set(v) == {"type", "field", "description"}
        violation_event(event, v)


@hsettings(max_examples=300, deadline=None)
@given(batch=st.lists(events | typed, max_size=6), settings=all_settings)
def test_an_enforcer_kept_across_events_decides_as_enforce(batch, settings):
    enforcer = Enforcer(PLAN, settings)
    for event in batch + batch:  # the second pass meets remembered (name, version, keys)
        assert enforcer.check(event) == enforce(PLAN, settings, event)


def test_an_enforcer_remembers_what_the_plan_says_not_the_answer():
    plan = build_plan({"rules": [
        {"type": "TRACK", "key": "Order Completed", "version": 1,
         "jsonSchema": {"properties": {"total": {"type": "number"}}}},
        {"type": "TRACK", "key": "Order Completed", "version": 2,
         "jsonSchema": {"properties": {"total": {"type": "string"}}}}]}, "versions")
    enforcer = Enforcer(plan, ProtocolsSettings(track_violations="BLOCK",
                                                track_unplanned_properties="omit"))
    assert enforcer.check(order()).event["properties"] == {"total": 10}
    assert enforcer.check(order(total="ten")).blocked
    v2 = {**order(total="ten"), "context": {"protocols": {"event_version": 2}}}
    verdict = enforcer.check(v2)
    assert not verdict.blocked and verdict.rule == "TRACK 'Order Completed' v2"
    assert enforcer.check({**v2, "properties": {"total": "ten"}}).omitted == []
