"""Fixtures of the reliability suite, and the scenario table printed at the end of the session.

* ``scenario_table`` — ``record(name, report, **extra)`` adds a row (events sent, delivered,
  dead-lettered, duplicates, lost, recovery time) to the table ``pytest_terminal_summary`` prints;
* ``http`` — an aiohttp client session for sending to ingest;
* ``recorder`` — a :class:`~observe.WebhookRecorder` on a free loopback port;
* ``stack`` — ``await stack(destinations, workers=1, **workspace)`` starts a :class:`~harness.Stack`
  (ingest + workers on the session broker, or on ``bootstrap=`` another one) and stops it afterwards.
"""

from __future__ import annotations

import aiohttp
import pytest

from harness import Stack
from observe import WebhookRecorder
from oracle import Report

ROWS: list[dict] = []
COLUMNS = ("scenario", "sent", "acked", "delivered", "dead-lettered", "duplicates", "lost", "recovery s")


@pytest.fixture
def scenario_table():
    """``record(name, report, **overrides)``: one row of the end-of-session table."""

    def record(name: str, report: Report, **overrides) -> None:
        ROWS.append({"scenario": name, "sent": report.sent, "acked": report.acked,
                     "delivered": report.delivered, "dead-lettered": report.dead_lettered,
                     "duplicates": report.duplicates, "lost": len(report.lost),
                     "recovery s": "-" if report.recovery_seconds is None else report.recovery_seconds,
                     **overrides})

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the scenario table (only when reliability scenarios ran)."""
    if not ROWS:
        return
    widths = {c: max(len(c), *(len(str(row.get(c, ""))) for row in ROWS)) for c in COLUMNS}
    terminalreporter.section("reliability scenarios")
    terminalreporter.write_line("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    for row in ROWS:
        terminalreporter.write_line("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in COLUMNS))
    lost = sum(row["lost"] for row in ROWS)
    terminalreporter.write_line(f"total lost across {len(ROWS)} scenarios: {lost} (must be 0)")


@pytest.fixture
async def http():
    """A client session for ingest (15 s per request)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


@pytest.fixture
async def recorder():
    """A local webhook endpoint the test controls."""
    endpoint = await WebhookRecorder().start()
    yield endpoint
    await endpoint.stop()


@pytest.fixture
async def stack(workspace_factory, bootstrap, tmp_path):
    """Start stacks on demand; every process is stopped at the end of the test."""
    started: list[Stack] = []

    async def start(destinations: list[dict], workers: int = 1, bootstrap_servers: str | None = None,
                    with_ingest: bool = True, **workspace) -> Stack:
        directory = workspace_factory(destinations=destinations, **workspace)
        logs = tmp_path / f"logs-{len(started)}"
        logs.mkdir()
        running = Stack(directory, bootstrap_servers or bootstrap, logs)
        started.append(running)
        for _ in range(workers):
            await running.start_worker()
        if with_ingest:
            await running.start_ingest()
        return running

    yield start
    for running in started:
        await running.stop()
