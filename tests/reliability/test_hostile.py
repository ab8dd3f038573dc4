"""Hostile input through a real ingest and worker: each gets a clear error and affects nothing else.

One stack serves every input: a file archive, a destination with a user function that loops, allocates or
raises on request, and two webhook destinations whose targets the SSRF guard must refuse (cloud metadata
and a private network).  After every hostile input the test checks that ingest and the worker are still
up and sends a control event; at the end the oracle proves every control event and every evil-string event
answered 200 was delivered, dead-lettered or rejected, and the SSRF targets received nothing.
Worker-side inputs (garbage records written straight to the raw topic) are covered the same way.
"""

from __future__ import annotations

import gzip
import json
import urllib.request
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from harness import post, send
from oracle import Ledger, wait_resolved
from scenarios import file_destination, observer_for

EVIL = json.loads((Path(__file__).resolve().parents[3] / "shared/conformance/events/evilStrings.json").read_text())
FUNCTION = '''
def transform(event, ctx):
    name = event.get("event")
    if name == "fn-loop":
        while True:
            pass
    if name == "fn-alloc":
        return [0] * (10 ** 12)
    if name == "fn-raise":
        raise RuntimeError("user code failed on purpose")
    return event
'''
DESTINATIONS = ["archive", "fn", "metadata", "private"]


def _hostile_bodies(ledger: Ledger) -> list[tuple[str, bytes, dict[str, str]]]:
    """(label, body, extra headers) of every hostile HTTP request.

    Items that carry a ledger messageId target no destination: delivering or rejecting them is fine,
    inventing a messageId is not (I2).
    """

    def item(**fields) -> dict:
        return {**ledger.event("u-hostile", targets=()), **fields}

    nested = b"[" * 100_000 + b"]" * 100_000
    deep_property = b'{"batch":[{"type":"track","userId":"u","event":"e","properties":' + nested + b"}]}"
    wrong_types = [
        {"batch": {"type": "track"}}, {"batch": "nope"}, {"batch": [1, "two", None]},
        {"type": "track", "userId": ["u"], "event": 5}, {"batch": [item(type=7)]},
        {"batch": [item(userId={"a": 1})]}, {"batch": [item(properties=[1, 2])]},
        {"batch": [item(timestamp=12)]}, {"batch": [item(context="ctx", integrations=3)]},
        {"batch": [item(type="nonsense")]}, {"batch": [{**item(), "userId": None}]},
        {"batch": [item(messageId=42)]},
    ]
    bodies = [("truncated JSON", b'{"batch": [', {}), ("not JSON", b"not json at all", {}),
              ("empty body", b"", {}), ("NUL bytes", b"\x00\x01\x02", {}),
              ("100k nested arrays", nested, {}), ("100k nested property", deep_property, {}),
              ("invalid UTF-8", b'{"batch":[{"type":"track","userId":"u","event":"\xff\xfe\xfd"}]}', {}),
              ("lone surrogate", b'{"batch":[{"type":"track","userId":"u","event":"\\ud800"}]}', {}),
              ("1 MB string", orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "e",
                                                        "properties": {"s": "x" * 1_000_000}}]}), {}),
              ("200k-element array", orjson.dumps({"batch": [item(properties={"a": [0] * 200_000})]}), {}),
              ("gzip bomb 100 MB", gzip.compress(b"0" * 100_000_000), {"Content-Encoding": "gzip"}),
              ("gzip bomb unlabelled", gzip.compress(b"[" * 50_000_000), {}),
              ("invalid gzip", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}),
              ("unknown encoding", b"{}", {"Content-Encoding": "br"})]
    bodies += [(f"wrong types #{i}", orjson.dumps(body), {}) for i, body in enumerate(wrong_types)]
    return bodies


def _alive(stack) -> None:
    assert stack.ingest.popen.poll() is None and all(w.popen.poll() is None for w in stack.workers)
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.ingest.port}/health", timeout=5) as resp:
        assert resp.status == 200


async def _start(stack, recorder):
    ssrf = {"allow_private": [], "timeout_seconds": 2}
    destinations = [
        file_destination(),
        {**file_destination("fn"), "functions": [{"file": "hostile_fn.py", "timeout_seconds": 1}]},
        {"name": "metadata", "type": "webhook", "settings": {"url": "http://169.254.169.254/latest", **ssrf}},
        {"name": "private", "type": "webhook", "settings": {"url": recorder.url, **ssrf}},
    ]
    running = await stack(destinations, workers=0, with_ingest=False)
    (running.directory / "hostile_fn.py").write_text(FUNCTION)
    await running.start_worker()
    await running.start_ingest()
    return running


async def test_hostile_input_affects_nothing_else(stack, http, recorder, scenario_table):
    running = await _start(stack, recorder)
    ledger = Ledger(DESTINATIONS)
    port = running.ingest.port
    tried = 0
    for label, body, headers in _hostile_bodies(ledger):
        status = await post(http, port, body, "/v1/batch", headers)
        # 4xx, or 200 for a batch whose invalid items go to the rejects topic
        assert status < 500, f"{label}: answered {status}"
        _alive(running)
        assert await send(ledger, http, port, [ledger.event("u-control")]) == 200, f"control after {label}"
        tried += 1
    for position in ("event", "key", "value"):
        for start in range(0, len(EVIL), 100):
            events = []
            for text in EVIL[start:start + 100]:
                fields = {"event": text} if position == "event" else {
                    "properties": {text: 1} if position == "key" else {"s": text}}
                events.append(ledger.event(f"u{start}", **fields))
            status = await send(ledger, http, port, events)
            assert status == 200, f"evil strings as {position} {start}: {status}"
            tried += len(events)
        _alive(running)
        await send(ledger, http, port, [ledger.event("u-control")])
    for name in ("fn-loop", "fn-alloc", "fn-raise"):
        assert await send(ledger, http, port, [ledger.event("u-fn", event=name), ledger.event("u-fn")]) == 200
        tried += 1
    observer = observer_for(running, files=("archive", "fn"), hooks={"private": recorder},
                            readers={"metadata": _nothing})
    report = await wait_resolved(ledger, observer, 90)
    observed = await observer()
    await observer.close()
    scenario_table("hostile input", report)
    _alive(running)
    report.assert_ok()
    assert recorder.delivered == [] and recorder.refused == 0, "the SSRF guard let a request through"
    assert set(observed.dead["metadata"]) | set(observed.rejected) >= set(ledger.acked)
    assert len(set(observed.dead["fn"])) >= 3, "loop, allocation and raise in a user function are dead-lettered"
    print(f"hostile inputs tried: {tried}; processes crashed: 0; events lost: {len(report.lost)}; "
          f"acknowledged {report.acked}, dead-lettered {report.dead_lettered}, rejected {len(observed.rejected)}")


async def _nothing() -> list[str]:
    return []


async def test_garbage_records_on_the_raw_topic_go_to_rejects(stack, http, scenario_table):
    running = await stack([file_destination()])
    ledger = Ledger(["archive"])
    garbage = [b"", b"\xff\xfe\x00", b"not json", b"[]", b'{"v": 99, "kind": "raw", "items": []}',
               b'{"v": 1, "kind": "raw", "items": "nope"}', b'{"v": 1, "kind": "raw", "items": [1, null, {}]}',
               b'{"v": 1, "kind": "raw", "items": [{"source": "ghost", "event": {}}]}',
               b'{"v": 1, "kind": "raw", "items": [{"source": "web", "event": ' + b"[" * 200_000 + b"]" * 200_000
               + b"}]}", orjson.dumps({"v": 1, "kind": "raw", "items": [{"source": "web", "event": "str"}]})]
    producer = AIOKafkaProducer(bootstrap_servers=running.bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        for value in garbage:
            await producer.send_and_wait(f"{running.prefix}.raw", value, key=b"u")
            control = ledger.event("u")
            await send(ledger, http, running.ingest.port, [control])
    finally:
        await producer.stop()
    observer = observer_for(running, files=("archive",))
    report = await wait_resolved(ledger, observer, 30, ordered=["archive"])
    records = (await observer.tail.poll())[f"{running.prefix}.rejects"]
    await observer.close()
    scenario_table("garbage raw records", report)
    report.assert_ok()
    assert len(records) >= len(garbage) - 1, f"{len(records)} rejects for {len(garbage)} garbage records"
    assert running.workers[0].popen.poll() is None
    print(f"garbage raw records tried: {len(garbage)}; rejects written: {len(records)}; worker up; lost: 0")
