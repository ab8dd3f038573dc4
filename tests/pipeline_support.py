"""Helpers of the pipeline worker tests: write raw envelopes as ingest does, read worker metrics."""

from __future__ import annotations

import urllib.request
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer

from eventyard.streams.envelope import encode_envelope, group_by_partition, user_key


def now_iso() -> str:
    """The current time as Segment's receivedAt."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def track(message_id: str, user: str, name: str = "Order Completed", source: str = "web",
          **properties) -> dict:
    """A raw item as ingest writes it."""
    return {"source": source, "event": {
        "type": "track", "event": name, "userId": user, "messageId": message_id,
        "receivedAt": now_iso(), "properties": properties}}


async def produce_raw(bootstrap: str, topic: str, items: list[dict], partitions: int = 4) -> None:
    """Write ``items`` as raw envelopes, one per partition, partitioned by user key like ingest."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        groups = group_by_partition(items, partitions, lambda item: user_key(item["event"]))
        for partition, group in groups.items():
            await producer.send_and_wait(topic, encode_envelope("raw", group), partition=partition)
    finally:
        await producer.stop()


def metric(port: int, name: str, **labels: str) -> float:
    """The value of one sample on a worker's /metrics page (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
