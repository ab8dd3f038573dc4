"""A worker killed with SIGKILL and restarted loses no event that ingest acknowledged with 200.

Events are sent while the worker runs; the worker is killed mid-stream (records fetched and partly
written, offsets not yet committed), more events are sent while no worker runs, then a new worker
starts.  Every acknowledged messageId must reach the file destination; duplicates are allowed
(at-least-once) and reported.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from support import read_jsonl, start_ingest, start_worker
from test_end_to_end import post


def send_batches(port: int, start: int, count: int, size: int, acked: list[str]) -> None:
    """Send ``count`` batches of ``size`` events; record the messageIds answered 200."""
    for b in range(start, start + count):
        batch = [{"type": "track", "userId": f"u{i % 13}", "event": "Clicked",
                  "messageId": f"k-{b}-{i}"} for i in range(size)]
        status, _ = post(port, "/v1/batch", {"batch": batch})
        if status == 200:
            acked.extend(e["messageId"] for e in batch)


def test_sigkill_worker_loses_no_acknowledged_event(workspace_factory, bootstrap, tmp_path):
    workspace = workspace_factory()
    worker = start_worker(workspace, bootstrap, tmp_path)
    ingest = start_ingest(workspace, bootstrap, tmp_path)
    acked: list[str] = []
    try:
        sender = threading.Thread(target=send_batches, args=(ingest.port, 0, 40, 50, acked))
        sender.start()
        archive = workspace / "archive"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(read_jsonl(archive) if archive.exists() else []) < 200:
            time.sleep(0.02)
        worker.kill()
        sender.join()
        send_batches(ingest.port, 40, 10, 50, acked)
        assert len(acked) == 2500, "ingest must acknowledge while the broker is up"
        worker = start_worker(workspace, bootstrap, tmp_path)
        deadline = time.monotonic() + 60
        delivered: Counter[str] = Counter()
        while time.monotonic() < deadline:
            delivered = Counter(e["messageId"] for e in read_jsonl(archive))
            if set(acked) <= set(delivered):
                break
            time.sleep(0.2)
        missing = set(acked) - set(delivered)
        duplicates = sum(n - 1 for n in delivered.values())
        print(f"acknowledged={len(acked)} delivered={len(delivered)} duplicates={duplicates}")
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        assert set(delivered) <= set(acked), "nothing arrives that was never sent"
    finally:
        ingest.stop()
        worker.stop()
