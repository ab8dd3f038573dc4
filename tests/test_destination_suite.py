"""The shared destination suite (Benthos style): the same scenarios against every destination type.

Each run starts a real worker (subprocess) on a workspace with four destinations of one type
(``suite_harnesses``), writes ``dest`` envelopes straight to their topics (the delivery agent's real
input) and checks:

* delivered — ``ok`` receives every event exactly once;
* retried then delivered — ``flaky`` is broken until the worker reports retries, then healed: every
  event arrives, and ``eventyard_delivery_events_total{outcome="retried"}`` counted them;
* permanent failure → dead letter with headers — ``perm`` (where the type has a permanent failure);
* outage past the window → dead letter — ``down`` stays broken; its events are dead-lettered with class
  ``retry_window_exceeded`` after its 2 s window;
* replay → delivered once — ``eventyard dlq replay --destination down --to ok`` (the real CLI) and
  every replayed event reaches ``ok`` exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.request
from collections import Counter

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from eventyard.streams.deadletter import decode_headers
from eventyard.streams.envelope import encode_envelope
from suite_harnesses import FileHarness, KafkaTopicHarness, PostgresHarness, WebhookHarness
from support import read_topic, start_worker, wait_for

COUNT = 8


def scraped(port: int, destination: str, outcome: str) -> float:
    """A delivery counter from the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    pattern = (rf'eventyard_delivery_events_total\{{destination="{destination}",outcome="{outcome}"\}}'
               r" ([0-9.e+]+)")
    match = re.search(pattern, text)
    return float(match[1]) if match else 0.0


def events(prefix: str, count: int, extra: dict | None = None) -> list[dict]:
    return [{"source": "web", "event": {"type": "track", "event": "Suite Event", "userId": f"user-{i % 3}",
                                        "messageId": f"{prefix}-{i}", "receivedAt": "2026-01-01T00:00:00.000Z",
                                        "properties": {"n": i}, **(extra or {})}}
            for i in range(count)]


async def publish(bootstrap: str, topic: str, items: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode_envelope("dest", items), partition=0)
    finally:
        await producer.stop()


@pytest.fixture(params=["file", "webhook", "kafka_topic", "postgres"])
def harness(request, tmp_path, bootstrap, monkeypatch):
    """The harness of one destination type (the test closes it)."""
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        monkeypatch.setenv("EVENTYARD_SUITE_DSN", dsn)
        return PostgresHarness(tmp_path, bootstrap, dsn)
    return {"file": FileHarness, "webhook": WebhookHarness,
            "kafka_topic": KafkaTopicHarness}[request.param](tmp_path, bootstrap)


async def test_every_destination_type_resolves_every_event(harness, workspace_factory, bootstrap, tmp_path):
    await harness.break_()
    workspace = workspace_factory(destinations=harness.destinations())
    prefix = yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
    try:
        worker = start_worker(workspace, bootstrap, tmp_path)
    except Exception:
        await harness.close()
        raise
    try:
        await harness.after_start()
        await publish(bootstrap, f"{prefix}.dest.ok", events("ok", COUNT))
        await publish(bootstrap, f"{prefix}.dest.flaky", events("fl", COUNT))
        await publish(bootstrap, f"{prefix}.dest.down", events("dn", COUNT))
        if harness.perm_event is not None:
            await publish(bootstrap, f"{prefix}.dest.perm", events("pm", 2, harness.perm_event))

        assert await wait_for(lambda: scraped(worker.port, "flaky", "retried") >= COUNT, 30), \
            worker.output()[-3000:]
        down_letters = await read_topic(bootstrap, f"{prefix}.dlq.down", COUNT, timeout=30)
        await harness.heal()

        async def arrived(name: str, want: int) -> Counter:
            for _ in range(150):
                got = await harness.received(name)
                if sum(got.values()) >= want:
                    return got
                await asyncio.sleep(0.2)
            return got

        assert await arrived("ok", COUNT) == Counter({f"ok-{i}": 1 for i in range(COUNT)})
        assert set(await arrived("flaky", COUNT)) == {f"fl-{i}" for i in range(COUNT)}
        assert scraped(worker.port, "flaky", "dead_lettered") == 0

        assert len(down_letters) == COUNT
        for record in down_letters:
            headers = decode_headers(record.headers)
            assert headers["eventyard.error.class"] == "retry_window_exceeded"
            assert int(headers["eventyard.error.attempts"]) >= 2
            assert headers["eventyard.error.origin.topic"] == f"{prefix}.dest.down"
            assert headers["eventyard.destination"] == "down" and headers["eventyard.source"] == "web"

        if harness.perm_event is not None:
            perm_letters = await read_topic(bootstrap, f"{prefix}.dlq.perm", 2, timeout=30)
            assert len(perm_letters) == 2
            headers = decode_headers(perm_letters[0].headers)
            assert headers["eventyard.error.attempts"] == "1"
            assert headers["eventyard.error.class"] != "retry_window_exceeded" and headers["eventyard.error.message"]
            print(f"{harness.type_name}: permanent failure class={headers['eventyard.error.class']} "
                  f"status={headers.get('eventyard.error.status', '-')}")

        replay = subprocess.run(
            [sys.executable, "-m", "eventyard", "dlq", "replay", "-w", str(workspace), "-b", bootstrap,
             "--destination", "down", "--error-class", "retry_window_exceeded", "--to", "ok"],
            capture_output=True, text=True, timeout=60, env=os.environ)
        assert replay.returncode == 0, replay.stderr
        assert f"replayed {COUNT} event(s)" in replay.stdout
        expected = {f"ok-{i}": 1 for i in range(COUNT)} | {f"dn-{i}": 1 for i in range(COUNT)}
        assert await arrived("ok", 2 * COUNT) == Counter(expected)
    finally:
        worker.stop()
        await harness.close()
