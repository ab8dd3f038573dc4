"""What the Tracking API answers, byte for byte, without a broker: the success body, CORS on every
answer (no middleware does it any more), the JSON 404 for unknown calls, the bytes handed to the
publisher when the privacy gate changes events, and the garbage-collector tuning at startup.

The app runs in-process with :class:`RecordingPublisher`, which acknowledges every publish at once.
"""

from __future__ import annotations

import base64
import gc

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eventyard.config.loader import load_workspace
from eventyard.ingest.app import create_ingest_app
from eventyard.serving import GC_YOUNG_THRESHOLD

BASIC = {"Authorization": "Basic " + base64.b64encode(b"web-key:").decode()}
ORIGIN = "https://shop.example"


class RecordingPublisher:
    """Stands in for EnvelopePublisher: keeps what it is asked to publish."""

    coalesce_seconds = 0.0

    def __init__(self) -> None:
        self.published: list[tuple[str, list[dict], list[bytes]]] = []

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to close."""

    async def ready(self) -> bool:
        return True

    async def publish(self, source: str, events: list[dict], encoded: list[bytes]) -> None:
        self.published.append((source, events, encoded))

    async def reject(self, source: str, rejected: list, received_at: str) -> None:
        """Rejects are not looked at here."""


@pytest.fixture
def gc_settings():
    """Restore the test process's garbage collector after the app tuned it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def start(workspace_dir) -> tuple[TestClient, RecordingPublisher]:
    publisher = RecordingPublisher()
    client = TestClient(TestServer(create_ingest_app(load_workspace(workspace_dir).model, publisher),
                                   auto_decompress=False))
    await client.start_server()
    return client, publisher


async def test_success_is_the_same_json_as_before_and_cors_follows_the_origin(workspace_factory,
                                                                              gc_settings):
    client, publisher = await start(workspace_factory())
    try:
        resp = await client.post("/v1/track", json={"userId": "u", "event": "E"}, headers=BASIC)
        assert resp.status == 200 and await resp.read() == b'{"success": true}'
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert "Access-Control-Allow-Origin" not in resp.headers
        for method, path, status in (("POST", "/v1/t", 200), ("POST", "/v1/nope", 404),
                                     ("GET", "/health", 200), ("OPTIONS", "/v1/batch", 204)):
            resp = await client.request(method, path, json={"userId": "u", "event": "E"},
                                        headers={**BASIC, "Origin": ORIGIN})
            assert resp.status == status, path
            assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
            assert resp.headers["Access-Control-Allow-Credentials"] == "true"
            assert resp.headers["Vary"] == "Origin" and "POST" in resp.headers["Access-Control-Allow-Methods"]
        resp = await client.post("/v1/track", json={"userId": "u", "event": "E"}, headers={"Origin": ORIGIN})
        assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert [events[0]["type"] for _, events, _ in publisher.published] == ["track", "track"]
    finally:
        await client.close()


async def test_unknown_call_is_a_json_404(workspace_factory, gc_settings):
    client, publisher = await start(workspace_factory())
    try:
        resp = await client.post("/v1/launch", json={"userId": "u"}, headers=BASIC)
        assert resp.status == 404
        assert await resp.json() == {"success": False, "error": "unknown call 'launch'",
                                     "reason": "unknown_call"}
        assert not publisher.published
    finally:
        await client.close()


async def test_published_bytes_are_the_events_after_the_privacy_gate(workspace_factory, gc_settings):
    sources = [{"name": "web", "write_key": "web-key"},
               {"name": "shop", "write_key": "shop-key",
                "privacy": {"fields": [{"path": "properties.email", "action": "block"}]}}]
    client, publisher = await start(workspace_factory(sources=sources))
    event = {"userId": "u", "event": "E", "properties": {"email": "a@b.example", "plan": "pro"}}
    try:
        for key in ("web-key", "shop-key"):
            resp = await client.post("/v1/track", json={**event, "writeKey": key})
            assert resp.status == 200
    finally:
        await client.close()
    (_, [kept], [kept_bytes]), (_, [blocked], [blocked_bytes]) = publisher.published
    assert kept["properties"]["email"] == "a@b.example" and kept_bytes == orjson.dumps(kept)
    assert "email" not in blocked["properties"] and blocked_bytes == orjson.dumps(blocked)


async def test_startup_freezes_the_heap_and_raises_the_young_generation_threshold(workspace_factory,
                                                                                   gc_settings):
    gc.unfreeze()
    client, _ = await start(workspace_factory())
    try:
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        await client.close()
