"""Throughput of normalize + enforce with a 50-event plan versus no plan (prints events/s).

Run: .venv/bin/python bench/protocols_bench.py [N]
The plan merges the first 50 track rules of examples/plans/{ecommerce,video,mobile}.json; the
events are Segment Spec examples for those rules plus one unplanned event, cycled.
"""

import json
import sys
import time
from pathlib import Path

from eventyard.transforms.protocols import ProtocolsSettings, build_plan, enforce, normalize

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "conformance" / "segment_spec_examples.json"
RECEIVED = "2024-05-01T12:00:00.000Z"


def fifty_event_plan():
    rules = []
    for name in ("ecommerce", "video", "mobile"):
        doc = json.loads((ROOT / "examples" / "plans" / f"{name}.json").read_text())
        rules += [r for r in doc["rules"] if r["type"] == "TRACK"]
    return build_plan({"name": "bench", "rules": rules[:50]}, "bench-50")


def sample_events(plan):
    data = json.loads(SPEC.read_text())
    events = [e["event"] for e in data["events"]] + [p["payload"] for p in data["json_payloads"]]
    events = [e for e in events if e.get("type") == "track" and plan.event_rule(e.get("event"))]
    events.append({"type": "track", "event": "Banner Dismissed", "properties": {"id": 1}})
    for e in events:
        e.update(timestamp="2024-05-01T11:59:58.000Z", sentAt="2024-05-01T11:59:59.000Z",
                 context={"library": {"name": "analytics.js"}})
    return events


def measure(label, fn, events, n):
    batch = (events * (n // len(events) + 1))[:n]
    start = time.perf_counter()
    for event in batch:
        fn(event)
    rate = n / (time.perf_counter() - start)
    print(f"{label:<52} {rate:>10,.0f} events/s")
    return rate


def main(n=200_000):
    plan = fifty_event_plan()
    assert sum(len(v) for v in plan.events.values()) == 50
    events = sample_events(plan)
    allow = ProtocolsSettings()
    strict = ProtocolsSettings(track_unplanned_events="block", track_unplanned_properties="omit",
                               track_violations="OMIT_PROPERTIES")
    observe = ProtocolsSettings(mode="observe", track_unplanned_properties="omit")
    print(f"{len(events)} distinct events, {n:,} per run, Python {sys.version.split()[0]}")
    measure("no plan: normalize only", lambda e: normalize(e, RECEIVED), events, n)
    for label, s in (("allow-all", allow), ("block/omit", strict), ("observe", observe)):
        measure(f"50-event plan: normalize + enforce ({label})",
                lambda e, s=s: enforce(plan, s, normalize(e, RECEIVED)), events, n)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
