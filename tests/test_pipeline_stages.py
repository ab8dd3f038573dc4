"""Pipeline.process, stage by stage and in Segment's order (pure: no broker)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from eventyard.config.workspace import Workspace
from eventyard.streams.dedup import DedupWindow
from eventyard.streams.pipeline import Pipeline

RECEIVED = "2024-05-01T10:00:00.000Z"
PLAN = {"rules": [
    {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {
        "type": "object", "required": ["order_id"],
        "properties": {"order_id": {"type": "string"}, "total": {"type": "number"}}}},
]}


def track(mid: str, name: str = "Order Completed", user: str = "u1", **props) -> dict:
    return {"source": "web", "event": {"type": "track", "event": name, "userId": user,
                                       "messageId": mid, "receivedAt": RECEIVED,
                                       "properties": props}}


def make(tmp_path: Path, web: dict | None = None, destinations: list | None = None,
         **extra) -> Pipeline:
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    doc = {"sources": [{"name": "web", "write_key": "k1", **(web or {})},
                       {"name": "quarantine", "write_key": "k2", "naming_lint": {"enabled": False}},
                       {"name": "audit", "write_key": "k3", "naming_lint": {"enabled": False}}],
           "destinations": destinations or [{"name": "a", "type": "file"}], **extra}
    return Pipeline(Workspace.model_validate(doc), tmp_path)


def test_normalization_rejects_long_names_and_corrects_skew(tmp_path):
    item = track("m1")
    item["event"].update(sentAt="2024-05-01T10:00:10.000Z", timestamp="2024-05-01T10:00:05.000Z")
    out = make(tmp_path).process([item, track("m2", name="x" * 256)])
    [routed] = out.routes["a"]
    assert routed["event"]["timestamp"] == "2024-05-01T09:59:55.000Z"
    assert routed["event"]["originalTimestamp"] == "2024-05-01T10:00:05.000Z"
    [reject] = out.rejects
    assert (reject["stage"], reject["reason"], reject["field"], reject["messageId"]) == (
        "normalize", "event_name_too_long", "event", "m2")


def test_dedup_within_an_envelope_and_against_the_window(tmp_path):
    pipeline = make(tmp_path)
    window = DedupWindow(3600)
    out = pipeline.process([track("m1"), track("m1"), track("m2")], window.checker(10))
    assert [i["event"]["messageId"] for i in out.routes["a"]] == ["m1", "m2"]
    assert out.message_ids == ["m1", "m2"]
    assert out.discarded[("web", "dedup", "duplicate")] == 1
    window.add(out.message_ids, 10, 1_000)
    again = pipeline.process([track("m1"), track("m3")], window.checker(11))
    assert [i["event"]["messageId"] for i in again.routes["a"]] == ["m3"]
    assert again.discarded[("web", "dedup", "duplicate")] == 1
    replay = pipeline.process([track("m1"), track("m2")], window.checker(10))
    assert len(replay.routes["a"]) == 2, "replaying the same raw offset forwards again (at-least-once)"
    window.expire(1_000 + 3_600_001)
    assert len(window) == 0


def test_dedup_can_be_disabled(tmp_path):
    out = make(tmp_path, dedup={"enabled": False}).process([track("m1"), track("m1")])
    assert len(out.routes["a"]) == 2 and not out.message_ids


def test_blocked_events_are_recorded_counted_and_forwarded(tmp_path):
    pipeline = make(tmp_path, web={"tracking_plan": "plan.json", "protocols": {
        "track_violations": "BLOCK", "track_unplanned_events": "block",
        "forwarding_blocked_events_to": "quarantine"}})
    out = pipeline.process([track("m1", total="12"), track("m2", order_id="o1"),
                            track("m3", name="Unplanned Thing Happened")])
    assert [(b["messageId"], [v["type"] for v in b["violations"]]) for b in out.blocked] == [
        ("m1", ["Required", "Invalid Type"]), ("m3", [])]
    assert out.discarded[("web", "tracking_plan", "blocked")] == 2
    assert out.protocol_actions[("web", "blocked")] == 2
    assert out.violations[("web", "required")] == 1 and out.violations[("web", "invalid_type")] == 1
    assert [(i["source"], i["event"]["messageId"]) for i in out.routes["a"]] == [
        ("web", "m2"), ("quarantine", "m1"), ("quarantine", "m3")]


def test_omission_is_annotated_in_context_protocols(tmp_path):
    pipeline = make(tmp_path, web={"tracking_plan": "plan.json", "protocols": {
        "track_violations": "OMIT_PROPERTIES", "track_unplanned_properties": "omit"}})
    out = pipeline.process([track("m1", order_id="o1", total="bad", coupon="x")])
    event = out.routes["a"][0]["event"]
    assert event["properties"] == {"order_id": "o1"}
    assert event["context"]["protocols"] == {
        "omitted": ["properties.coupon"], "omitted_on_violation": ["properties.total"],
        "violations": [{"type": "Invalid Type", "field": "properties.total",
                        "description": "Invalid type. Expected: number, given: string"}]}
    assert out.protocol_actions[("web", "omitted")] == 1


def test_observe_mode_changes_nothing_and_counts(tmp_path):
    pipeline = make(tmp_path, web={"tracking_plan": "plan.json", "protocols": {
        "mode": "observe", "track_violations": "BLOCK", "track_unplanned_properties": "omit"}})
    items = [track("m1", total=1), track("m2", order_id="o", coupon="c")]
    out = pipeline.process(items)
    assert [i["event"]["properties"] for i in out.routes["a"]] == [{"total": 1},
                                                                   {"order_id": "o", "coupon": "c"}]
    assert out.protocol_actions == {("web", "would_block"): 1, ("web", "would_omit"): 1}
    assert not out.blocked


def test_violations_forwarded_as_violation_generated_and_event_labels_capped(tmp_path):
    pipeline = make(tmp_path, web={"tracking_plan": "plan.json", "violation_event_labels": 1,
                                   "protocols": {"forwarding_violations_to": "audit"}})
    out = pipeline.process([track("m1", total="x"), track("m2", name="Checkout Step Viewed")])
    audit = [i["event"] for i in out.routes["a"] if i["source"] == "audit"]
    assert [e["event"] for e in audit] == ["Violation Generated", "Violation Generated"]
    assert {e["properties"]["violationField"] for e in audit} == {"properties.order_id",
                                                                   "properties.total"}
    assert audit[0]["properties"]["eventMessageID"] == "m1"
    assert out.event_violations == {("web", "Order Completed"): 2}


def test_naming_lint_counts_findings_without_blocking(tmp_path):
    out = make(tmp_path).process([track("m1", name="purchase_made", **{"userEmail": 1}),
                                  track("m2", order_id="o")])
    assert len(out.routes["a"]) == 2
    assert out.violations[("web", "naming")] >= 2
    quiet = make(tmp_path, web={"naming_lint": {"enabled": False}}).process([track("m1", name="bad")])
    assert not quiet.violations


def test_source_transforms_run_after_the_plan_and_can_drop(tmp_path):
    pipeline = make(tmp_path, web={
        "tracking_plan": "plan.json", "protocols": {"track_unplanned_properties": "omit"},
        "transforms": [
            {"if": "event = 'Order Completed'", "newEventName": "Order Done",
             "propertyRenames": [{"oldName": "order_id", "newName": "id"}]},
            {"if": "properties.id = 'drop-me'", "drop": True}]})
    out = pipeline.process([track("m1", order_id="o1", coupon="c"), track("m2", order_id="drop-me")])
    [item] = out.routes["a"]
    assert item["event"]["event"] == "Order Done"
    assert item["event"]["properties"] == {"id": "o1"}, "the plan omitted coupon before the rename"
    assert out.discarded[("web", "source_transform", "dropped")] == 1


def test_source_transform_error_is_rejected(tmp_path):
    pipeline = make(tmp_path, web={"transforms": [{"if": "properties.flag and true", "drop": True}]})
    out = pipeline.process([track("m1", flag="yes")])
    assert [(r["stage"], r["reason"], r["messageId"]) for r in out.rejects] == [
        ("source_transform", "transform_error", "m1")]


def test_destination_filters_and_transforms_apply_per_destination(tmp_path):
    pipeline = make(tmp_path, destinations=[
        {"name": "a", "type": "file",
         "filters": [{"if": "properties.total > 100", "actions": [{"type": "drop"}]},
                     {"if": "all", "actions": [{"type": "drop_properties",
                                                "fields": {"properties": ["email"]}}]}]},
        {"name": "b", "type": "file",
         "transforms": [{"if": "all", "newEventName": "Renamed"},
                        {"if": "properties.total < 5", "drop": True}]},
        {"name": "c", "type": "file", "transforms": [{"if": "properties.flag or true", "drop": True}]},
    ])
    out = pipeline.process([track("m1", total=500, email="e"), track("m2", total=50, email="e"),
                            track("m3", total=1), track("m4", flag="yes")])
    assert [(i["event"]["messageId"], i["event"]["properties"]) for i in out.routes["a"]] == [
        ("m2", {"total": 50}), ("m3", {"total": 1}), ("m4", {"flag": "yes"})]
    assert [(i["event"]["messageId"], i["event"]["event"]) for i in out.routes["b"]] == [
        ("m1", "Renamed"), ("m2", "Renamed"), ("m4", "Renamed")]
    assert out.filtered == {("web", "a", "filters", "filter_drop"): 1,
                            ("web", "b", "destination_transform", "dropped"): 1,
                            ("web", "c", "destination_transform", "dropped"): 3}
    assert [(d.destination, d.error_class, d.item["event"]["messageId"]) for d in out.dead_letters] \
        == [("c", "transform_error", "m4")]
    assert out.routes["a"][0]["event"] is not track("m2")["event"]


def test_one_destination_edits_reach_neither_the_others_nor_the_input(tmp_path):
    pipeline = make(tmp_path, web={"transforms": [
        {"if": "all", "hashPropertiesConfiguration": {"paths": ["properties.email"]}}]}, destinations=[
        {"name": "a", "type": "file",  # drops nothing, then edits
         "filters": [{"if": "all", "actions": [{"type": "drop_properties",
                                                "fields": {"properties": ["absent"]}}]}],
         "transforms": [{"if": "all", "newEventName": "Renamed",
                         "propertyRenames": [{"oldName": "total", "newName": "amount"}]}]},
        {"name": "b", "type": "file"},
        {"name": "c", "type": "file",
         "filters": [{"if": "all", "actions": [{"type": "drop_properties",
                                                "fields": {"context": ["ip"]}}]}],
         "transforms": [{"if": "event = 'Other'", "drop": True},
                        {"if": "all", "propertyValueTransformations": [
                            {"propertyPaths": ["properties.total"], "propertyValue": 0}]}]},
    ])
    item = track("m1", total=5, email="e@x")
    item["event"]["context"] = {"ip": "1.2.3.4"}
    before = copy.deepcopy(item)
    out = pipeline.process([item])
    assert item == before
    hashed = hashlib.sha256(b"e@x").hexdigest()
    [a], [b], [c] = out.routes["a"], out.routes["b"], out.routes["c"]
    assert (a["event"]["event"], a["event"]["properties"], a["event"]["context"]) == (
        "Renamed", {"email": hashed, "amount": 5}, {"ip": "1.2.3.4"})
    assert (b["event"]["event"], b["event"]["properties"], b["event"]["context"]) == (
        "Order Completed", {"total": 5, "email": hashed}, {"ip": "1.2.3.4"})
    assert (c["event"]["event"], c["event"]["properties"], c["event"]["context"]) == (
        "Order Completed", {"total": 0, "email": hashed}, {})


def test_blocked_records_keep_the_event_the_target_source_transformed(tmp_path):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    pipeline = Pipeline(Workspace.model_validate({
        "sources": [
            {"name": "web", "write_key": "k1", "tracking_plan": "plan.json", "protocols": {
                "track_unplanned_events": "block", "forwarding_blocked_events_to": "quarantine"}},
            {"name": "quarantine", "write_key": "k2", "transforms": [
                {"if": "all", "newEventName": "Quarantined",
                 "hashPropertiesConfiguration": {"paths": ["properties.email"]}}]}],
        "destinations": [{"name": "a", "type": "file"}]}), tmp_path)
    out = pipeline.process([track("m1", name="Unplanned Thing Happened", email="e@x")])
    [blocked] = out.blocked
    assert blocked["event"]["event"] == "Unplanned Thing Happened"
    assert blocked["event"]["properties"] == {"email": "e@x"}
    [routed] = out.routes["a"]
    assert routed["source"] == "quarantine" and routed["event"]["event"] == "Quarantined"
    assert routed["event"]["properties"]["email"] == hashlib.sha256(b"e@x").hexdigest()


def test_integrations_exclusions_are_counted_per_destination(tmp_path):
    pipeline = make(tmp_path, destinations=[{"name": "a", "type": "file"},
                                            {"name": "b", "type": "file"}])
    item = track("m1")
    item["event"]["integrations"] = {"b": False}
    out = pipeline.process([item])
    assert list(out.routes) == ["a"]
    assert out.filtered == {("web", "b", "integrations", "disabled"): 1}


def test_a_broken_plan_file_is_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    doc = {"sources": [{"name": "web", "write_key": "k", "tracking_plan": "bad.json"}]}
    with pytest.raises(ValueError, match="bad.json"):
        Pipeline(Workspace.model_validate(doc), tmp_path)
