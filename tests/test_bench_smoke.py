"""The benchmark's smoke run: ``eventyard bench --quick`` works end to end and reports every line.

It asserts only that the harness runs (its own broker, ingest, worker, wrk, load process, PostgreSQL)
and prints and writes the table — never speed: speed belongs to ``eventyard bench`` itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

LINES = ("raw: aiokafka produce", "raw: aiokafka consume→produce→commit", "ingest: HTTP 100-event batches",
         "ingest: single-event requests", "pipeline work in process", "worker alone", "raw: one aiokafka hop",
         "end to end: p99", "end to end: highest sustained", "memory: ingest", "memory: worker1", "memory: broker",
         "warehouse:")


def test_quick_bench_prints_and_writes_every_line(tmp_path, postgres_dsn):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "eventyard", "bench", "--quick", "--out", str(out),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "EVENTYARD_BENCH_POSTGRES_DSN": postgres_dsn})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in LINES:
        assert name in proc.stdout, f"{name!r} missing from the table:\n{proc.stdout}"
    document = json.loads((out / "latest.json").read_text())
    figures = {line["name"]: line for line in document["lines"]}
    for name in LINES:
        line = next(v for k, v in figures.items() if k.startswith(name))
        assert line["ours"] is not None and line["ours"] >= 0, line  # 0 = no rate was sustained
    worker = next(v for k, v in figures.items() if k.startswith("worker alone"))
    assert worker["notes"]["delivered_kafka_topic"] > 0
    assert worker["limit"] > 0 and worker["ratio"] is not None
    work = next(v for k, v in figures.items() if k.startswith("pipeline work in process"))
    assert work["notes"]["routed"] > 0 and work["limit"] == worker["limit"]
    assert figures["end to end: p99 at 2,000 events/s"]["notes"]["delivered"] > 0
    hop = figures["raw: one aiokafka hop, p99 at 2,000 events/s"]
    assert hop["notes"]["records"] >= 2_000 * 3  # the fixed run's warm-up + duration (1 + 3 s) at 2,000/s
    assert figures["end to end: p99 at 2,000 events/s"]["limit"] == hop["ours"]
