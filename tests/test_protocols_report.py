"""Offline CLI functions: check_events and lint_plan_file."""

import json
from pathlib import Path

from eventyard.transforms.protocols import check_events, lint_plan_file

ROOT = Path(__file__).resolve().parents[1]
ECOMMERCE = str(ROOT / "examples" / "plans" / "ecommerce.json")


def write_events(tmp_path, *events):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n")
    return str(path)


def test_check_events_reports_each_event(tmp_path):
    events = write_events(
        tmp_path,
        {"type": "track", "event": "Order Completed", "properties": {"order_id": "1"}},
        {"type": "track", "event": "Order Completed", "properties": {"total": "x", "junk": 1},
         "timestamp": "2024-01-01T00:00:00.000Z", "receivedAt": "2024-01-01T00:00:01.000Z"},
        {"type": "track", "event": "Unknown Thing"})
    text, code = check_events(ECOMMERCE, events, {"track_unplanned_events": "block",
                                                  "track_unplanned_properties": "omit"})
    lines = text.splitlines()
    assert lines[0] == "1: Order Completed: ok"
    assert lines[1] == ("2: Order Completed: omitted properties.junk; Required "
                        "properties.order_id: properties.order_id is required; Invalid Type "
                        "properties.total: Invalid type. Expected: number, given: string")
    assert lines[2] == "3: Unknown Thing: blocked"
    assert lines[3] == "1 ok, 2 with problems, 0 unreadable (enforce mode)"
    assert code == 1


def test_check_events_observe_clean_and_errors(tmp_path):
    events = write_events(tmp_path, {"type": "track", "event": "Nope"})
    text, code = check_events(ECOMMERCE, events, {"mode": "observe",
                                                  "track_unplanned_events": "block"})
    assert "1: Nope: would block" in text and code == 1
    clean = write_events(tmp_path, {"type": "track", "event": "Cart Viewed"})
    assert check_events(ECOMMERCE, clean)[1] == 0
    broken = write_events(tmp_path, "{not json", {"type": "track", "event": "E" * 300})
    text, code = check_events(ECOMMERCE, broken)
    assert code == 2 and text.count("error:") == 2
    assert check_events(str(tmp_path / "nope.json"), clean)[1] == 2
    assert check_events(ECOMMERCE, clean, {"bogus": 1})[1] == 2


def test_lint_plan_file(tmp_path):
    assert lint_plan_file(ECOMMERCE) == ("0 naming finding(s)\n", 0)
    plan = tmp_path / "p.json"
    plan.write_text(json.dumps({"rules": [{"type": "TRACK", "key": "purchase_made", "version": 1,
                                           "jsonSchema": {"properties": {"orderId": {}}}}]}))
    text, code = lint_plan_file(str(plan))
    assert code == 1 and "TRACK 'purchase_made' v1: properties.orderId" in text
    assert "2 naming finding(s)" in text or "3 naming finding(s)" in text
    plan.write_text("[")
    assert lint_plan_file(str(plan))[1] == 2
