"""Metrics after an end-to-end run: ``promtool check metrics`` is clean on every process's scrape, and the
counters per funnel stage and the latency histogram count are exact.

Run: 8 good events, 2 events the webhook refuses with 400, 1 event ingest rejects (no user) — through
ingest → worker → ``archive`` (file) and ``hook`` (webhook).
"""

from __future__ import annotations

import shutil
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from health_stack import BAD_EVENT, get_text, send_batch, start_stack
from support import wait_for


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_per_stage_and_promtool_clean(workspace_factory, bootstrap, tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run tests/deps/install.sh"
    stack = await start_stack(workspace_factory, bootstrap, tmp_path)
    try:
        batch = [{"type": "track", "userId": f"u{i}", "event": "Order Completed"} for i in range(8)]
        batch += [{"type": "track", "userId": f"b{i}", "event": BAD_EVENT} for i in range(2)]
        batch += [{"type": "track", "event": "No User"}]
        assert send_batch(stack.ingest.port, batch) == 200
        worker_url, ingest_url = stack.scrape_urls[1], stack.scrape_urls[0]

        def resolved():
            worker = samples(get_text(worker_url))
            done = (value(worker, "eventyard_delivery_events_total", destination="archive", outcome="delivered") == 10
                    and value(worker, "eventyard_delivery_events_total", destination="hook",
                              outcome="dead_lettered") == 2)
            return worker if done else None

        worker = await wait_for(resolved, 30, 0.2)
        assert worker, get_text(worker_url)
        ingest = samples(get_text(ingest_url))
        assert value(ingest, "eventyard_events_received_total", source="web", type="track") == 10
        assert value(ingest, "eventyard_ingest_rejected_total", source="web", reason="missing_user") == 1
        for destination in ("archive", "hook"):
            assert value(worker, "eventyard_pipeline_routed_total", source="web", destination=destination) == 10
        assert value(worker, "eventyard_delivery_events_total", destination="hook", outcome="delivered") == 8
        assert value(worker, "eventyard_delivery_events_total", destination="hook", outcome="retried") == 0
        assert value(worker, "eventyard_delivery_errors_total", destination="hook", error_class="client_error",
                     status_code="400") == 2
        assert value(worker, "eventyard_dead_letters_total", topic_kind="dlq", reason="client_error") == 2
        assert value(worker, "eventyard_delivery_latency_seconds_count", destination="archive") == 10
        assert value(worker, "eventyard_delivery_latency_seconds_count", destination="hook") == 8
        assert value(worker, "eventyard_stage_duration_seconds_count", stage="pipeline") >= 1
        assert any(name == "eventyard_consumer_lag" for name, _ in worker)

        health_url = f"http://127.0.0.1:{stack.health.port}/metrics"
        assert await wait_for(lambda: value(samples(get_text(health_url)), "eventyard_dead_letter_topic_records",
                                            destination="hook") == 2, 10, 0.2)
        for url in (ingest_url, worker_url, health_url):
            check = subprocess.run([promtool, "check", "metrics"], input=get_text(url), capture_output=True,
                                   text=True, timeout=60)
            assert check.returncode == 0 and not check.stdout.strip(), (url, check.stdout, check.stderr)
    finally:
        await stack.stop()


def test_observe_many_matches_one_observe_per_value():
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from eventyard.streams.metrics import LATENCY_BUCKETS, observe_many

    registry = CollectorRegistry()
    bulk = Histogram("bulk_seconds", "b", ["d"], buckets=LATENCY_BUCKETS, registry=registry)
    single = Histogram("single_seconds", "s", ["d"], buckets=LATENCY_BUCKETS, registry=registry)
    values = [0.0, 0.005, 0.0051, 0.3, 1.0, 59.9, 14400.0, 20000.0] * 3
    observe_many(bulk.labels("x"), values)
    for value in values:
        single.labels("x").observe(value)
    text = generate_latest(registry).decode()
    samples = lambda name: [line.split(name, 1)[1] for line in text.splitlines()  # noqa: E731
                            if line.startswith(name) and "_created" not in line]
    assert samples("bulk_seconds") == samples("single_seconds") and len(samples("bulk_seconds")) == 20
