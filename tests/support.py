"""Test helpers: eventyard processes as real subprocesses, and reading topics with aiokafka.

``start_ingest`` / ``start_worker`` run ``python -m eventyard ingest|worker`` against the session broker
on free ports and wait until they are ready (the worker: until it owns partitions).  ``read_topic``
consumes a topic from the beginning until ``count`` records arrived or ``timeout`` passed.
``serve_app`` runs an aiohttp app on a free loopback port; ``count_lines`` counts a file destination's
events without parsing them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaConsumer

from eventyard.broker import free_port


@dataclass
class Proc:
    """A running eventyard process."""

    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal the process and wait for it."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        """What the process wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _spawn(args: list[str], log: Path, port: int) -> Proc:
    out = open(log, "ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    popen = subprocess.Popen([sys.executable, "-m", "eventyard", *args], stdout=out,
                             stderr=subprocess.STDOUT, env=env)
    out.close()
    return Proc(popen, port, log)


def _get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def _wait(proc: Proc, ready, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.popen.returncode}:\n{proc.output()[-4000:]}")
        if ready():
            return
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"{what} not ready after {timeout} s:\n{proc.output()[-4000:]}")


def start_ingest(workspace: Path, bootstrap: str, log_dir: Path, timeout: float = 30) -> Proc:
    """Run an ingest process and wait until it answers /ready."""
    port = free_port()
    proc = _spawn(["ingest", "-w", str(workspace), "-b", bootstrap, "--port", str(port)],
                  log_dir / f"ingest-{port}.log", port)
    _wait(proc, lambda: (_get_json(f"http://127.0.0.1:{port}/ready") or {}).get("status") == "ready",
          timeout, "ingest")
    return proc


def start_worker(workspace: Path, bootstrap: str, log_dir: Path, timeout: float = 60,
                 wait_assigned: bool = True) -> Proc:
    """Run a worker process and wait until it owns partitions."""
    port = free_port()
    proc = _spawn(["worker", "-w", str(workspace), "-b", bootstrap, "--health-port", str(port),
                   "--session-timeout", "6"], log_dir / f"worker-{port}.log", port)

    def ready() -> bool:
        health = _get_json(f"http://127.0.0.1:{port}/health")
        return bool(health and (health.get("assigned") or not wait_assigned))

    _wait(proc, ready, timeout, "worker")
    return proc


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 20.0):
    """Consume ``topic`` from the start until ``count`` records or ``timeout``; return the records."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


def read_jsonl(directory: Path) -> list[dict]:
    """Every event in the JSON Lines files under ``directory``."""
    events = []
    for path in sorted(directory.glob("*.jsonl")):
        events += [json.loads(line) for line in path.read_text().splitlines() if line]
    return events


async def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Poll ``predicate()`` until truthy or ``timeout``; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        value = predicate()
    return value


async def serve_app(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on a free 127.0.0.1 port in this event loop; return its runner (to clean up) and port."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def count_lines(directory: Path) -> int:
    """Events in the JSON Lines files under ``directory`` (one per line), counted without parsing."""
    return sum(path.read_bytes().count(b"\n") for path in directory.glob("*.jsonl"))
