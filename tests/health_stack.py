"""A real stack for the health tests: ingest + worker + health server on the session broker.

The workspace has two destinations: ``archive`` (file) and ``hook`` (webhook to a local aiohttp server
that answers 400 to events named ``Bad Event`` and 200 otherwise), so a run produces deliveries, dead
letters with request/response samples, and rejects.  Imported by tests/test_health_*.py and
tests/test_ops_*.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from eventyard.broker import free_port
from support import Proc, serve_app, start_ingest, start_worker

BAD_EVENT = "Bad Event"


async def start_hook() -> tuple[web.AppRunner, int]:
    """A webhook target in this test's event loop: 400 for ``Bad Event``, else 200."""
    async def receive(request: web.Request) -> web.Response:
        event = await request.json()
        if event.get("event") == BAD_EVENT:
            return web.json_response({"error": "event rejected by test hook"}, status=400)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", receive)
    return await serve_app(app)


def health_workspace(workspace_factory, hook_port: int) -> Path:
    """A workspace with the ``archive`` and ``hook`` destinations."""
    return workspace_factory(destinations=[
        {"name": "archive", "type": "file", "settings": {"directory": "archive"}},
        {"name": "hook", "type": "webhook",
         "settings": {"url": f"http://127.0.0.1:{hook_port}/hook", "allow_private": ["127.0.0.0/8"]},
         "delivery": {"retry": {"window_seconds": 5}}}])


def start_health_server(workspace: Path, bootstrap: str, log_dir: Path, scrape: list[str]) -> Proc:
    """Run ``eventyard health-server`` and wait until it answers /api/summary."""
    port = free_port()
    args = ["health-server", "-w", str(workspace), "-b", bootstrap, "--port", str(port)]
    for url in scrape:
        args += ["--scrape", url]
    log = log_dir / f"health-{port}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen([sys.executable, "-m", "eventyard", *args], stdout=out,
                                 stderr=subprocess.STDOUT)
    proc = Proc(popen, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"health server exited:\n{proc.output()[-3000:]}")
        try:
            get_json(port, "/api/summary")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"health server not ready:\n{proc.output()[-3000:]}")


def get_json(port: int, path: str) -> dict:
    """GET a JSON document from a local process."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return json.loads(resp.read())


def get_text(url: str) -> str:
    """GET a text document."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def send_batch(ingest_port: int, events: list[dict], write_key: str = "web-key") -> int:
    """POST /v1/batch like an SDK; returns the status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{ingest_port}/v1/batch", data=json.dumps({"batch": events}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()})
    with urllib.request.urlopen(request, timeout=15) as resp:
        return resp.status


@dataclass
class Stack:
    """The running processes of one health test."""

    workspace: Path
    ingest: Proc
    worker: Proc
    health: Proc
    hook: web.AppRunner

    @property
    def scrape_urls(self) -> list[str]:
        """The /metrics URLs of ingest and worker."""
        return [f"http://127.0.0.1:{self.ingest.port}/metrics",
                f"http://127.0.0.1:{self.worker.port}/metrics"]

    async def stop(self) -> None:
        """Stop every process and the hook server."""
        for proc in (self.health, self.ingest, self.worker):
            proc.stop()
        await self.hook.cleanup()


async def start_stack(workspace_factory, bootstrap: str, log_dir: Path) -> Stack:
    """Hook server, worker, ingest and health server for a fresh workspace."""
    hook, hook_port = await start_hook()
    workspace = health_workspace(workspace_factory, hook_port)
    worker = start_worker(workspace, bootstrap, log_dir)
    ingest = start_ingest(workspace, bootstrap, log_dir)
    scrape = [f"http://127.0.0.1:{ingest.port}/metrics", f"http://127.0.0.1:{worker.port}/metrics"]
    health = start_health_server(workspace, bootstrap, log_dir, scrape)
    return Stack(workspace, ingest, worker, health, hook)
