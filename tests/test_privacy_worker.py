"""The worker drops events of a suppressed user that were already on the raw topic.

Ingest stops new events of a suppressed user; events accepted before the regulation (still on
``<prefix>.raw``) must not reach destinations either.  The worker's pipeline follows the regulations
topic and drops them, counted as ``stage="privacy"``.
"""

from __future__ import annotations

import time
import urllib.request

from aiokafka import AIOKafkaProducer

from eventyard.config.loader import load_workspace
from eventyard.streams.envelope import encode_envelope
from eventyard.streams.topics import TopicNames, ensure_topics
from eventyard.transforms.privacy.regulation_log import write_regulation
from eventyard.transforms.privacy.regulations import Regulation
from support import read_jsonl, start_worker


async def test_worker_drops_events_of_suppressed_user_already_on_raw(workspace_factory, bootstrap,
                                                                     tmp_path):
    workspace = workspace_factory()
    loaded = load_workspace(workspace)
    prefix = loaded.model.topics.prefix
    await ensure_topics(bootstrap, loaded.model)
    await write_regulation(bootstrap, prefix, Regulation("gone", "suppress", "r-1", time.time(), "test"))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        items = [{"source": "web", "event": {"type": "track", "event": "E", "userId": user,
                                             "messageId": f"{user}-{i}",
                                             "receivedAt": "2026-01-01T00:00:00.000Z"}}
                 for i in range(3) for user in ("gone", "kept")]
        await producer.send_and_wait(TopicNames(prefix).raw, encode_envelope("raw", items), partition=0)
    finally:
        await producer.stop()
    worker = start_worker(workspace, bootstrap, tmp_path)
    try:
        deadline = time.monotonic() + 30
        events: list[dict] = []
        while time.monotonic() < deadline and len(events) < 3:
            events = read_jsonl(workspace / "archive") if (workspace / "archive").exists() else []
            time.sleep(0.1)
        time.sleep(1.0)
        events = read_jsonl(workspace / "archive")
        assert sorted(e["messageId"] for e in events) == ["kept-0", "kept-1", "kept-2"]
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics") as resp:
            text = resp.read().decode()
        assert ('eventyard_pipeline_discarded_total{reason="suppressed",source="web",stage="privacy"} 3.0'
                in text)
    finally:
        worker.stop()
