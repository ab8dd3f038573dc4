"""Naming lint: each kind of finding, and false positives on Segment's own Spec examples."""

import json
from pathlib import Path

import pytest

from eventyard.transforms.protocols import build_plan, lint_event, lint_plan, load_plan

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def track(name, **props):
    return {"type": "track", "event": name, "properties": props}


def descriptions(event, case="snake"):
    return [f["description"] for f in lint_event(event, case)]


@pytest.mark.parametrize("name, expected", [
    ("order_completed", "is the Segment Spec event 'Order Completed' written differently"),
    ("Purchase Made", "duplicates the Segment Spec event 'Order Completed'"),
    ("App Launched", "duplicates the Segment Spec event 'Application Opened'"),
    ("Logged In", "duplicates the Segment Spec event 'Signed In'"),
    ("button clicked", "is not Title Case"),
    ("ButtonClicked", "is not Title Case"),
    ("Clicked Button", "is not Object Action"),
    ("Button Click", "is not Object Action"),
    ("Viewed Product 12345", "contains a number"),
    ("Invoice 5f1b2c3d4e5f6a7b8c9d0e1f Paid", "contains a hex id"),
    ("Report 2024-01-31 Downloaded", "contains a date"),
    ("User jane@example.com Invited", "contains an email address"),
    ("Doc 123e4567-e89b-12d3-a456-426614174000 Opened", "contains a UUID"),
])
def test_event_name_findings(name, expected):
    found = lint_event(track(name))
    assert any(expected in f["description"] for f in found), found
    assert all(f["type"] == "naming" and f["field"] == "event" for f in found)


@pytest.mark.parametrize("name", ["Order Completed", "Product Added to Wishlist", "Signed Up",
                                  "Video Content Playing", "Invite Sent", "Report Submitted",
                                  "Item Purchased"])
def test_good_names_pass(name):
    assert lint_event(track(name)) == []


def test_property_key_case_and_dynamic_keys():
    event = track("Order Completed", orderId="1", order_id="1", **{
        "Total Price": 1, "507f1f77bcf86cd799439011": 1, "user@example.com": 2})
    event["traits"] = {"address": {"postalCode": "1"}, "firstName": "A", "nick-name": "b"}
    found = {f["field"]: f["description"] for f in lint_event(event)}
    assert "not snake_case" in found["properties.orderId"]
    assert "not snake_case" in found["properties.Total Price"]
    assert "hex id" in found["properties.507f1f77bcf86cd799439011"]
    assert "email" in found["properties.user@example.com"]
    assert "not snake_case" in found["traits.nick-name"]
    assert "properties.order_id" not in found and "traits.address.postalCode" not in found
    camel = {f["field"] for f in lint_event(event, case="camel")}
    assert "properties.orderId" not in camel and "properties.order_id" in camel


def test_lint_plan_conformance_and_collisions():
    plan = load_plan(CONFORMANCE / "tracking-plans/typewriter-plan-publicapi.json")
    findings = lint_plan(plan)
    assert all({"rule", "type", "field", "description"} <= set(f) for f in findings)
    collided = [f for f in findings if "collides with" in f["description"]]
    assert any("'event_collided' collides with 'Event Collided'" in f["description"]
               for f in collided)
    clean = build_plan({"rules": [{"type": "TRACK", "key": "Order Completed", "version": 1,
                                   "jsonSchema": {"properties": {"order_id": {}}}}]})
    assert lint_plan(clean) == []


def test_false_positives_on_segment_spec_examples():
    data = json.loads((CONFORMANCE / "segment_spec_examples.json").read_text())
    events = [e["event"] for e in data["events"]] + [p["payload"] for p in data["json_payloads"]]
    events = [e for e in events if isinstance(e, dict) and not isinstance(e.get("event"), dict)]
    flagged = [(e.get("event") or e.get("type"), f["field"]) for e in events
               for f in lint_event(e)]
    print(f"\nnaming lint on {len(events)} Segment Spec examples: "
          f"{len(flagged)} false positives: {flagged}")
    assert len(flagged) <= 6
