"""Pipeline throughput: a 50-event tracking plan enforced vs no plan (prints events/s).

Run: .venv/bin/python bench/pipeline_bench.py [N] [--worker]

* CPU: ``Pipeline.process`` on envelopes of 100 events (dedup window, normalize, naming lint, plan,
  routing to one destination), one core, no Kafka.
* ``--worker``: a real worker process on the embedded broker, fed raw envelopes of 100 events; the
  figure is events/s from the first envelope written to the last event in the file destination.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from protocols_bench import sample_events

from eventyard.config.workspace import Workspace
from eventyard.streams.dedup import DedupWindow
from eventyard.streams.pipeline import Pipeline
from eventyard.transforms.protocols import build_plan

ROOT = Path(__file__).resolve().parents[1]
ENVELOPE = 100
STRICT = {"track_unplanned_events": "block", "track_unplanned_properties": "omit",
          "track_violations": "OMIT_PROPERTIES"}


def write_plan(directory: Path) -> list[dict]:
    """Write the first 50 track rules of the starter plans to plan.json; return sample events."""
    rules = []
    for name in ("ecommerce", "video", "mobile"):
        doc = json.loads((ROOT / "examples" / "plans" / f"{name}.json").read_text())
        rules += [r for r in doc["rules"] if r["type"] == "TRACK"]
    doc = {"name": "bench", "rules": rules[:50]}
    (directory / "plan.json").write_text(json.dumps(doc))
    return sample_events(build_plan(doc, "bench-50"))


def workspace(directory: Path, plan: bool, prefix: str = "bench") -> dict:
    source = {"name": "web", "write_key": "bench-key"}
    if plan:
        source.update(tracking_plan="plan.json", protocols=STRICT)
    return {"topics": {"prefix": prefix, "partitions": 4}, "sources": [source],
            "destinations": [{"name": "archive", "type": "file",
                              "settings": {"directory": str(directory / f"archive-{prefix}")}}]}


def raw_items(events: list[dict], n: int) -> list[dict]:
    received = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return [{"source": "web", "event": {**events[i % len(events)], "messageId": f"m-{i}",
                                        "userId": f"u-{i % 1000}", "receivedAt": received}}
            for i in range(n)]


def cpu(directory: Path, events: list[dict], n: int) -> None:
    items = raw_items(events, n)
    for label, plan in (("no plan", False), ("50-event plan enforced", True)):
        pipeline = Pipeline(Workspace.model_validate(workspace(directory, plan)), directory)
        window = DedupWindow(86400)
        started = time.perf_counter()
        for offset, start in enumerate(range(0, n, ENVELOPE)):
            out = pipeline.process(items[start:start + ENVELOPE], window.checker(offset))
            window.add(out.message_ids, offset, 0)
        rate = n / (time.perf_counter() - started)
        print(f"Pipeline.process, {label:<28} {rate:>10,.0f} events/s")


async def feed(bootstrap: str, topic: str, items: list[dict]) -> float:
    from aiokafka import AIOKafkaProducer

    from eventyard.streams.envelope import encode_envelope, group_by_partition, user_key

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        for start in range(0, len(items), ENVELOPE):
            groups = group_by_partition(items[start:start + ENVELOPE], 4,
                                        lambda item: user_key(item["event"]))
            for partition, group in groups.items():
                await producer.send(topic, encode_envelope("raw", group), partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
    return started


def worker(directory: Path, events: list[dict], n: int) -> None:
    from eventyard.broker import EmbeddedBroker, free_port

    with EmbeddedBroker() as broker:
        for label, plan in (("no plan", False), ("50-event plan enforced", True)):
            prefix = f"bench{int(plan)}{int(time.time())}"
            ws = directory / prefix
            ws.mkdir()
            (ws / "plan.json").write_text((directory / "plan.json").read_text())
            (ws / "eventyard.yaml").write_text(yaml.safe_dump(workspace(ws, plan, prefix)))
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "eventyard", "worker", "-w", str(ws), "-b",
                                     broker.bootstrap_servers, "--health-port", str(port),
                                     "--session-timeout", "6"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                time.sleep(8)  # join the group
                started = asyncio.run(feed(broker.bootstrap_servers, f"{prefix}.raw", raw_items(events, n)))
                target = ws / f"archive-{prefix}" / "events.jsonl"
                blocked = sum(1 for i in range(n) if events[i % len(events)]["event"] == "Banner Dismissed")
                expected = n - blocked if plan else n  # the plan blocks its one unplanned event
                while not target.exists() or sum(1 for _ in target.open("rb")) < expected:
                    time.sleep(0.2)
                rate = expected / (time.perf_counter() - started)
                print(f"worker end to end, {label:<27} {rate:>10,.0f} events/s")
            finally:
                proc.terminate()
                proc.wait(30)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        events = write_plan(directory)
        print(f"{n:,} events in envelopes of {ENVELOPE}, Python {sys.version.split()[0]}")
        cpu(directory, events, n)
        if "--worker" in sys.argv:
            worker(directory, events, min(n, 50_000))


if __name__ == "__main__":
    main()
