"""End to end: a user's events in the warehouse, a file archive and a webhook's dead letters; then
``eventyard privacy delete`` erases them, replay refuses them and ingest drops the user's new events.

Real processes (ingest, worker, the CLI) on the session broker and the local PostgreSQL; the webhook is
a local HTTP server answering 400, so every event it gets is dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import pytest
import yaml

from support import read_jsonl, read_topic, start_ingest, start_worker, wait_for
from test_end_to_end import post


class Refusing(BaseHTTPRequestHandler):
    """Answers every POST with 400 and remembers the userIds it was sent."""

    received: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Refusing.received.append(body.get("userId"))
        self.send_response(400)
        self.end_headers()
        self.wfile.write(b'{"error": "rejected"}')

    def log_message(self, *args) -> None:
        """Quiet."""


@pytest.fixture
def refusing_webhook():
    """A local webhook endpoint answering 400."""
    Refusing.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``eventyard ARGS`` and return the finished process."""
    return subprocess.run([sys.executable, "-m", "eventyard", *args], capture_output=True, text=True,
                          timeout=120)


def events_of(user: str, tag: str) -> list[dict]:
    """A track, a page and an identify of ``user``."""
    return [{"type": "track", "userId": user, "event": "Order Completed", "messageId": f"{tag}-{user}-t",
             "properties": {"total": 12.5, "note": f"for {user}"}},
            {"type": "page", "userId": user, "name": "Home", "messageId": f"{tag}-{user}-p"},
            {"type": "identify", "userId": user, "traits": {"plan": "pro"}, "messageId": f"{tag}-{user}-i"}]


async def user_rows(dsn: str, schema: str, user: str) -> dict[str, int]:
    """Rows of ``user`` per table of ``schema`` (``user_id`` columns and ``users.id``)."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch("SELECT table_name, bool_or(column_name = 'user_id') AS has_user FROM"
                                  " information_schema.columns WHERE table_schema = $1 GROUP BY table_name",
                                  schema)
        counts = {}
        for t in tables:
            column = "id" if t["table_name"] == "users" else "user_id" if t["has_user"] else None
            if column:
                counts[t["table_name"]] = await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}"."{t["table_name"]}" WHERE {column} = $1', user)
        return counts
    finally:
        await conn.close()


def suppressed_count(port: int, source: str) -> float:
    """``eventyard_ingest_rejected_total{reason="suppressed"}`` of one ingest process."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    match = re.search(r'eventyard_ingest_rejected_total\{reason="suppressed",source="%s"\} (\S+)' % source, text)
    return float(match.group(1)) if match else 0.0


async def test_delete_erases_user_everywhere_and_blocks_new_events(
        workspace_factory, bootstrap, postgres_dsn, refusing_webhook, tmp_path):
    source = f"p{uuid.uuid4().hex[:8]}"
    workspace = workspace_factory(
        sources=[{"name": source, "write_key": "web-key"}],
        destinations=[
            {"name": "warehouse", "type": "postgres", "settings": {"default_schema": source}},
            {"name": "archive", "type": "file", "settings": {"directory": "archive"}},
            {"name": "hook", "type": "webhook",
             "settings": {"url": refusing_webhook, "allow_private": ["127.0.0.1/32"]}}])
    prefix = f"--workspace={workspace}", f"--bootstrap-servers={bootstrap}"
    worker = start_worker(workspace, bootstrap, tmp_path)
    ingest = start_ingest(workspace, bootstrap, tmp_path)
    try:
        status, _ = post(ingest.port, "/v1/batch", {"batch": events_of("U", "a") + events_of("V", "a")})
        assert status == 200
        archive = workspace / "archive"
        assert await wait_for(lambda: len(read_jsonl(archive)) == 6 if archive.exists() else False, 30)
        assert len(await read_topic(bootstrap, f"{workspace_prefix(workspace)}.dlq.hook", 6)) == 6
        wanted = {"tracks": 1, "pages": 1, "identifies": 1, "users": 1, "order_completed": 1}
        for _ in range(200):
            rows = await user_rows(postgres_dsn, source, "U")
            if rows == wanted:
                break
            await asyncio.sleep(0.1)
        assert rows == wanted

        done = cli("privacy", "delete", "--user-id", "U", "--actor", "dpo", "--grace-seconds", "1", *prefix)
        assert done.returncode == 0, done.stdout + done.stderr

        assert not any((await user_rows(postgres_dsn, source, "U")).values())
        assert (await user_rows(postgres_dsn, source, "V"))["tracks"] == 1
        assert sorted(e["userId"] for e in read_jsonl(archive)) == ["V"] * 3

        before = len(Refusing.received)
        replayed = cli("dlq", "replay", "--destination", "hook", *prefix)
        assert replayed.returncode == 0, replayed.stderr
        assert "refused 3 event(s)" in replayed.stderr and "replayed 3 event(s)" in replayed.stdout
        assert await wait_for(lambda: len(Refusing.received) >= before + 3, 30)
        assert Refusing.received[before:] == ["V"] * 3

        status, _ = post(ingest.port, "/v1/batch", {"batch": events_of("U", "b") + events_of("V", "b")})
        assert status == 200
        assert suppressed_count(ingest.port, source) == 3
        assert await wait_for(lambda: len(read_jsonl(archive)) >= 6, 30)
        assert sorted(e["userId"] for e in read_jsonl(archive)) == ["V"] * 6

        report = cli("privacy", "status", *prefix)
        assert "U: delete" in report.stdout and "by dpo" in report.stdout and "pending: none" in report.stdout
        assert "warehouse:warehouse: done" in report.stdout and "archive:archive: done, 3 removed" in report.stdout
        assert f"topic:{workspace_prefix(workspace)}.dlq.hook: masked 3 record(s)" in report.stdout
    finally:
        ingest.stop()
        worker.stop()


def workspace_prefix(workspace) -> str:
    """The topic prefix written by ``workspace_factory``."""
    return yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
