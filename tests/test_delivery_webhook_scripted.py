"""A scripted webhook answering 200 / 429 + Retry-After / 500 / 400 / timeouts, through a real worker.

Every event must end exactly as its script says — delivered once, or in the dead-letter topic with the
right class — and per messageId, deliveries plus dead letters add up to exactly one.
"""

from __future__ import annotations

import time
from collections import Counter

import orjson
import yaml

from eventyard.streams.deadletter import decode_headers
from scripted_webhook import ScriptedWebhook
from support import read_topic, start_worker, wait_for
from test_destination_suite import publish

KINDS = {"ok": 10, "rl": 6, "se": 6, "to": 4, "bad": 4, "dead": 4}


def orjson_id(value: bytes) -> str:
    return orjson.loads(value)["messageId"]


def answer(name, event, attempt):
    kind = event["messageId"].split("-")[0]
    if kind == "rl" and attempt == 1:
        return 429, {"Retry-After": "1"}, 0
    if kind == "se" and attempt <= 2:
        return 500, {}, 0
    if kind == "to" and attempt == 1:
        return 503, {}, 2.0  # answers after the 1 s client timeout: never seen as an answer
    if kind == "bad":
        return 400, {}, 0
    if kind == "dead":
        return 500, {}, 0
    return 200, {}, 0


async def test_every_scripted_answer_ends_delivered_or_dead_lettered(workspace_factory, bootstrap, tmp_path):
    items = [{"source": "web", "event": {"type": "track", "event": "E", "userId": f"{kind}-user-{i % 2}",
                                         "messageId": f"{kind}-{i}"}}
             for kind, count in KINDS.items() for i in range(count)]
    async with ScriptedWebhook(answer) as server:
        workspace = workspace_factory(destinations=[{
            "name": "hook", "type": "webhook",
            "settings": {"url": server.url("hook"), "timeout_seconds": 1.0, "allow_private": ["127.0.0.1/32"]},
            "delivery": {"retry": {"base_seconds": 0.2, "cap_seconds": 0.5, "window_seconds": 4.0}}}])
        prefix = yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
        worker = start_worker(workspace, bootstrap, tmp_path)
        try:
            started = time.monotonic()
            await publish(bootstrap, f"{prefix}.dest.hook", items)
            want_dead = KINDS["bad"] + KINDS["dead"]
            letters = await read_topic(bootstrap, f"{prefix}.dlq.hook", want_dead, timeout=30)
            want_delivered = sum(KINDS.values()) - want_dead
            await wait_for(lambda: sum(server.accepted["hook"].values()) >= want_delivered, 30)
            elapsed = time.monotonic() - started
        finally:
            worker.stop()

    delivered = server.accepted["hook"]
    dead = Counter(orjson_id(r.value) for r in letters)
    classes = {orjson_id(r.value): decode_headers(r.headers) for r in letters}
    print(f"scripted webhook: delivered={sum(delivered.values())} dead={sum(dead.values())} "
          f"requests={sum(server.attempts.values())} in {elapsed:.1f} s")
    for item in items:
        mid = item["event"]["messageId"]
        assert delivered[mid] + dead[mid] == 1, f"{mid}: delivered {delivered[mid]}, dead {dead[mid]}"
        kind = mid.split("-")[0]
        if kind == "bad":
            assert classes[mid]["eventyard.error.status"] == "400"
            assert classes[mid]["eventyard.error.attempts"] == "1"
            assert classes[mid]["eventyard.error.class"] == "client_error"
        elif kind == "dead":
            assert classes[mid]["eventyard.error.class"] == "retry_window_exceeded"
            assert classes[mid]["eventyard.error.status"] == "500"
        else:
            assert delivered[mid] == 1
    assert server.attempts["rl-0"] == 2 and server.attempts["se-0"] == 3 and server.attempts["to-0"] == 2
