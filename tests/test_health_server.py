"""The health server against a real run: figures from the topics, funnel from /metrics, lineage.

A batch goes through ingest → worker → ``archive`` (file) and ``hook`` (webhook answering 400 to
``Bad Event``); the health server, reading the topics and scraping both processes, must report exact
figures, the dead-letter sample with request and response, and the path of single messageIds.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from health_stack import BAD_EVENT, get_json, get_text, send_batch, start_stack
from support import wait_for


@pytest.fixture
async def stack(workspace_factory, bootstrap, tmp_path):
    running = await start_stack(workspace_factory, bootstrap, tmp_path)
    yield running
    await running.stop()


def events(count: int, bad: int) -> list[dict]:
    """``count`` good track calls then ``bad`` calls the hook refuses."""
    good = [{"type": "track", "userId": f"u{i}", "event": "Order Completed", "messageId": f"good-{i}",
             "properties": {"n": i}} for i in range(count)]
    return good + [{"type": "track", "userId": f"b{i}", "event": BAD_EVENT, "messageId": f"bad-{i}"}
                   for i in range(bad)]


def destination(summary: dict, name: str) -> dict:
    return next(d for d in summary["destinations"] if d["name"] == name)


async def test_summary_funnel_errors_and_lineage(stack):
    assert send_batch(stack.ingest.port, events(8, 2)) == 200
    port = stack.health.port

    def settled():
        summary = get_json(port, "/api/summary")
        hook, archive = destination(summary, "hook"), destination(summary, "archive")
        done = hook["pending"] == 0 and archive["pending"] == 0 and archive["delivered"] == 10
        return summary if done and hook["delivered"] + hook["not_delivered"] == 10 else None

    summary = await wait_for(settled, 30, 0.2)
    assert summary, get_json(port, "/api/summary")["destinations"]
    assert summary["sources"][0]["received"] == 10
    hook = destination(summary, "hook")
    assert (hook["delivered"], hook["not_delivered"], hook["success_rate"]) == (8, 2, 0.8)
    assert hook["p95_latency_seconds"] is not None and hook["p95_latency_seconds"] > 0, summary["scrape_errors"]
    assert dict(hook["funnel"]) == {
        "received": 10, "failed_on_ingest": 0, "filtered_at_source": 0, "deduplicated": 0,
        "filtered_at_destination": 0, "retried": 0, "failed_delivery": 2, "delivered": 8}
    [error] = summary["errors"]
    assert (error["destination"], error["status"], error["count"]) == ("hook", "400", 2)
    assert BAD_EVENT in error["sample"]["request"] and "rejected by test hook" in error["sample"]["response"]

    good = get_json(port, "/api/lookup?messageId=good-3")["steps"]
    assert [s["stage"] for s in good] == ["received", "routed to archive", "delivered to archive",
                                          "routed to hook", "delivered to hook"]
    bad = get_json(port, "/api/lookup?messageId=bad-1")["steps"]
    assert [s["stage"] for s in bad][-1] == "dead-lettered by hook"
    assert "status: 400" in bad[-1]["detail"]
    assert get_json(port, "/api/lookup?messageId=never-sent")["steps"] is None

    page = get_text(f"http://127.0.0.1:{port}/")
    assert "Funnel — hook" in page and "80.0 %" in page
    metrics = get_text(f"http://127.0.0.1:{port}/metrics")
    assert 'eventyard_dead_letter_topic_records{destination="hook"} 2.0' in metrics


async def test_terminal_summary_shows_the_same_figures(stack, bootstrap):
    assert send_batch(stack.ingest.port, events(3, 1)) == 200
    assert await wait_for(lambda: get_json(stack.health.port, "/api/summary")["destinations"][1]["pending"] == 0
                          and get_json(stack.health.port, "/api/summary")["errors"], 30, 0.2)
    args = [sys.executable, "-m", "eventyard", "--log-level", "warning", "health", "-w", str(stack.workspace), "-b", bootstrap]
    for url in stack.scrape_urls:
        args += ["--scrape", url]
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 0, out
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():
        if line.strip():
            rows.setdefault(line.split()[0], line.split())   # first table mentioning the name wins
    assert rows["hook"][1:6] == ["4", "3", "1", "0", "75.0%"], out
    assert rows["failed_delivery"][1] == "0"   # archive's funnel comes first
    assert out.splitlines()[-1].split()[:4] == ["hook", "client_error", "400", "1"]   # the error table
