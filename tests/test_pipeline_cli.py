"""The plan / fql / filters commands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eventyard", *args], capture_output=True, text=True,
                          timeout=60)


def test_fql_prints_ir_and_matches_events(tmp_path):
    result = run("fql", "event = 'Signed Up' and properties.plan != 'free'")
    assert result.returncode == 0
    assert json.loads(result.stdout) == ["and", ["=", "event", {"value": "Signed Up"}],
                                         ["!=", "properties.plan", {"value": "free"}]]
    event = tmp_path / "e.json"
    event.write_text(json.dumps({"event": "Signed Up", "properties": {"plan": "pro", "flag": "x"}}))
    assert run("fql", "event = 'Signed Up'", "--event", str(event)).returncode == 0
    assert run("fql", "event = 'Other'", "--event", str(event)).returncode == 1
    bad = run("fql", "event = = 'x'")
    assert bad.returncode == 2 and "position 8" in bad.stderr and "        ^" in bad.stderr
    failing = run("fql", "properties.flag and true", "--event", str(event))
    assert failing.returncode == 2 and "evaluation failed" in failing.stderr


def test_plan_check_and_lint(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rules": [{"type": "TRACK", "key": "Order Completed", "version": 1,
                                           "jsonSchema": {"type": "object", "required": ["order_id"],
                                                          "properties": {"order_id": {"type": "string"}}}}]}))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [
        {"type": "track", "event": "Order Completed", "properties": {"order_id": "1"}},
        {"type": "track", "event": "Order Completed", "properties": {}}]) + "\n")
    ok = run("plan", "check", str(plan), str(events), "--settings", '{"track_violations": "BLOCK"}')
    assert ok.returncode == 1 and "blocked" in ok.stdout and "properties.order_id" in ok.stdout
    assert run("plan", "lint", str(plan)).returncode == 0
    plan.write_text(json.dumps({"rules": [{"type": "TRACK", "key": "purchase_made", "version": 1,
                                           "jsonSchema": {}}]}))
    lint = run("plan", "lint", str(plan))
    assert lint.returncode == 1 and "Order Completed" in lint.stdout
    assert run("plan", "lint", str(tmp_path / "missing.json")).returncode == 2


def test_filters_test_shows_each_filter_and_the_result(tmp_path):
    (tmp_path / "eventyard.yaml").write_text(yaml.safe_dump({
        "sources": [{"name": "web", "write_key": "k"}],
        "destinations": [{"name": "crm", "type": "file", "filters": [
            {"if": "event = 'Spam'", "title": "no spam", "actions": [{"type": "drop"}]},
            {"if": "all", "actions": [{"type": "drop_properties", "fields": {"properties": ["email"]}}]}]}]}))
    events = tmp_path / "events.jsonl"
    events.write_text('{"messageId": "a", "event": "Spam"}\n'
                      '{"messageId": "b", "event": "Signed Up", "properties": {"email": "x", "plan": "p"}}\n')
    result = run("filters", "test", "--workspace", str(tmp_path), "--destination", "crm", str(events))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "filter no spam" in lines[1] and lines[1].endswith("matched")
    assert lines[3] == "   → dropped (filter_drop)"
    assert lines[-1] == "   → kept; removed properties.email"
    unknown = run("filters", "test", "--workspace", str(tmp_path), "--destination", "nope", str(events))
    assert unknown.returncode == 2
