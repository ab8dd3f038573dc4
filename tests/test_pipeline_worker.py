"""The pipeline's stages through a real worker process and the real broker: blocked topic, enforcement
annotations, per-destination filters and transforms, source and destination user functions."""

from __future__ import annotations

import json

import orjson
from pipeline_support import produce_raw, track
from support import read_jsonl, read_topic, start_worker, wait_for

from eventyard.config.loader import load_workspace
from eventyard.streams.topics import TopicNames

PLAN = {"rules": [{"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {
    "type": "object", "properties": {"order_id": {"type": "string"}, "total": {"type": "number"},
                                     "kind": {"type": "string"}}}}]}

FUNCTIONS = '''
def stamp(event, ctx):
    if event["properties"].get("kind") == "src_raise":
        raise RuntimeError("source function failed")
    return {**event, "context": {**event.get("context", {}), "stamped": ctx["source"]}}


def transform(event, ctx):
    kind = event["properties"].get("kind")
    if kind == "raise":
        raise ValueError("destination function failed")
    if kind == "loop":
        while True:
            pass
    if kind == "garbage":
        return "not an event"
    return {**event, "seen_by": ctx["destination"]}
'''


def workspace(workspace_factory):
    ws = workspace_factory(
        sources=[{"name": "web", "write_key": "web-key", "tracking_plan": "plan.json",
                  "protocols": {"track_violations": "OMIT_PROPERTIES", "track_unplanned_events": "block"},
                  "functions": [{"file": "fns.py", "function": "stamp"}]}],
        destinations=[
            {"name": "a", "type": "file", "settings": {"directory": "archive-a"},
             "filters": [{"if": "properties.total > 1000", "actions": [{"type": "drop"}]}],
             "transforms": [{"if": "event = 'Order Completed'", "newEventName": "Order Done"}]},
            {"name": "b", "type": "file", "settings": {"directory": "archive-b"},
             "functions": [{"file": "fns.py", "timeout_seconds": 1.0}]}])
    (ws / "plan.json").write_text(json.dumps(PLAN))
    (ws / "fns.py").write_text(FUNCTIONS)
    return ws


def by_id(directory) -> dict[str, dict]:
    return {e["messageId"]: e for e in read_jsonl(directory)}


async def test_stages_through_a_worker(workspace_factory, bootstrap, tmp_path):
    ws = workspace(workspace_factory)
    topics = TopicNames(load_workspace(ws).model.topics.prefix)
    worker = start_worker(ws, bootstrap, tmp_path)
    try:
        await produce_raw(bootstrap, topics.raw, [
            track("m-1", "u1", order_id="o1", total=5),
            track("m-2", "u2", order_id="o2", total="bad"),
            track("m-3", "u3", name="Unplanned Thing Happened"),
            track("m-4", "u4", order_id="o4", total=5000),
            track("m-5", "u5", kind="raise"),
            track("m-6", "u6", kind="loop"),
            track("m-7", "u7", kind="garbage"),
            track("m-9", "u9", kind="src_raise"),
        ])
        await produce_raw(bootstrap, topics.raw, [track("m-8", "u8", order_id="o8", total=1)])
        await wait_for(lambda: "m-8" in by_id(ws / "archive-a") and "m-8" in by_id(ws / "archive-b"), 40)
        a, b = by_id(ws / "archive-a"), by_id(ws / "archive-b")
        assert worker.popen.poll() is None, "the worker stays up"

        assert sorted(a) == ["m-1", "m-2", "m-5", "m-6", "m-7", "m-8"], "filter dropped m-4 for a only"
        assert {e["event"] for e in a.values()} == {"Order Done"}
        assert a["m-2"]["properties"] == {"order_id": "o2"}
        assert a["m-2"]["context"]["protocols"]["omitted_on_violation"] == ["properties.total"]
        assert a["m-2"]["context"]["protocols"]["violations"][0]["type"] == "Invalid Type"
        assert a["m-1"]["context"]["stamped"] == "web", "the source function ran before fan-out"

        assert sorted(b) == ["m-1", "m-2", "m-4", "m-8"]
        assert {e["event"] for e in b.values()} == {"Order Completed"}
        assert {e["seen_by"] for e in b.values()} == {"b"}

        blocked = [orjson.loads(r.value) for r in await read_topic(bootstrap, topics.blocked, 1)]
        assert [(r["messageId"], r["source"]) for r in blocked] == [("m-3", "web")]
        assert blocked[0]["event"]["event"] == "Unplanned Thing Happened"

        letters = await read_topic(bootstrap, topics.dlq("b"), 3)
        found = {}
        for record in letters:
            headers = dict(record.headers)
            found[orjson.loads(record.value)["messageId"]] = (
                headers["eventyard.error.class"].decode(), headers["eventyard.error.message"].decode())
        assert {k: v[0] for k, v in found.items()} == {
            "m-5": "function_error", "m-6": "function_timeout", "m-7": "function_bad_result"}
        assert "Traceback" in found["m-5"][1] and "destination function failed" in found["m-5"][1]

        rejects = [orjson.loads(r.value) for r in await read_topic(bootstrap, topics.rejects, 1)]
        assert [(r["stage"], r["messageId"]) for r in rejects] == [("source_function", "m-9")]
        assert "source function failed" in rejects[0]["message"]
    finally:
        worker.stop()
