"""Dead-letter selection and the ``eventyard dlq list|show`` output, on the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from eventyard.streams.deadletter import DeadLetter, disabled_letter
from eventyard.streams.replay import Selection, parse_time, read_dead_letters


def test_parse_time_accepts_iso_and_durations_ago():
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_time("2026-01-01") == 1767225600.0
    assert parse_time("2h", now=10_000.0) == 10_000.0 - 7200
    with pytest.raises(ValueError):
        parse_time("yesterday")


async def test_selection_by_class_fql_and_time(workspace_factory, bootstrap):
    workspace = workspace_factory(destinations=[{"name": "hook", "type": "webhook",
                                                 "settings": {"url": "http://127.0.0.1:9/x"}}])
    prefix = yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
    topic = f"{prefix}.dlq.hook"
    now = time.time()
    letters = [
        ({"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},
         DeadLetter("web", "hook", "client_error", "HTTP 400", 1, now, now, status_code=400)),
        ({"type": "identify", "userId": "u2", "messageId": "m2"},
         DeadLetter("web", "hook", "retry_window_exceeded", "HTTP 500", 9, now, now, status_code=500)),
        ({"type": "track", "event": "B", "userId": "u3", "messageId": "m3"}, disabled_letter("web", "hook")),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    for event, letter in letters:
        await producer.send_and_wait(topic, orjson.dumps(event), key=b"k", headers=letter.headers())
    await producer.stop()

    async def ids(selection):
        return [r.event["messageId"] for r in await read_dead_letters(bootstrap, topic, selection)]

    assert sorted(await ids(Selection())) == ["m1", "m2", "m3"]
    assert await ids(Selection(error_class="destination_disabled")) == ["m3"]
    assert sorted(await ids(Selection(where="type = 'track'"))) == ["m1", "m3"]
    assert await ids(Selection(since=now + 3600)) == []
    assert await ids(Selection(until=now - 3600)) == []

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "eventyard", "dlq", *args, "-w", str(workspace),
                               "-b", bootstrap, "--destination", "hook"],
                              capture_output=True, text=True, timeout=60, env=os.environ)

    listed = cli("list", "--error-class", "client_error")
    assert listed.returncode == 0 and "client_error  400  m1  HTTP 400" in listed.stdout
    shown = [json.loads(line) for line in cli("show", "--where", "userId = 'u2'").stdout.splitlines()]
    assert [s["event"]["messageId"] for s in shown] == ["m2"]
    assert shown[0]["headers"]["eventyard.error.attempts"] == "9"
    bad = cli("list", "--where", "type = ")
    assert bad.returncode == 2 and "error:" in bad.stderr
