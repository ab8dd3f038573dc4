"""Starter plans in examples/plans/ validate every applicable Segment Spec example."""

import json
from pathlib import Path

import pytest

from eventyard.transforms.protocols import ProtocolsSettings, enforce, lint_plan, load_plan

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "conformance" / "segment_spec_examples.json"
STARTERS = {p.stem: load_plan(p) for p in sorted((ROOT / "examples" / "plans").glob("*.json"))}
STRICT = ProtocolsSettings(track_violations="BLOCK", identify_violations="BLOCK",
                           group_violations="BLOCK")


def spec_examples():
    data = json.loads(SPEC.read_text())
    out = [(f"{e['file'].rsplit('/', 1)[-1]}#{e['block']}", e["event"]) for e in data["events"]]
    out += [(f"{p['file'].rsplit('/', 1)[-1]}#{p['block']}", p["payload"])
            for p in data["json_payloads"]]
    return out


def applicable(plan, event):
    call = event.get("type")
    if call == "track":
        return plan.event_rule(event.get("event")) is not None
    return (call == "identify" and plan.identify) or (call == "group" and plan.group)


def test_starter_plans_exist_and_lint_clean():
    assert set(STARTERS) == {"ecommerce", "b2b_saas", "video", "mobile"}
    for name, plan in STARTERS.items():
        assert lint_plan(plan) == [], name


def test_spec_examples_pass_starter_plans():
    checked, failures = 0, []
    per_plan = {}
    for where, event in spec_examples():
        for name, plan in STARTERS.items():
            if not applicable(plan, event):
                continue
            verdict = enforce(plan, STRICT, event)
            checked += 1
            per_plan[name] = per_plan.get(name, 0) + 1
            if verdict.blocked or verdict.violations:
                failures.append((where, name, verdict.violations))
    print(f"\nspec examples vs starter plans: {checked - len(failures)}/{checked} pass {per_plan}")
    assert checked >= 60 and failures == []


@pytest.mark.parametrize("plan, event", [
    ("ecommerce", {"type": "track", "event": "Order Completed", "properties": {"total": 1}}),
    ("ecommerce", {"type": "track", "event": "Product Viewed", "properties": {"price": "cheap"}}),
    ("video", {"type": "track", "event": "Video Playback Paused",
               "properties": {"full_screen": "yes"}}),
    ("mobile", {"type": "track", "event": "Application Opened",
                "properties": {"from_background": "no"}}),
    ("b2b_saas", {"type": "group", "traits": {"employees": "lots"}}),
])
def test_starter_plans_reject_bad_events(plan, event):
    assert enforce(STARTERS[plan], STRICT, event).blocked
