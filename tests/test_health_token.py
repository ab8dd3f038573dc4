"""The health server can require a bearer token (from the environment) on every request."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from eventyard.config.loader import load_workspace
from eventyard.streams.health.server import COOKIE, HealthOptions, create_health_app
from eventyard.streams.topics import ensure_topics


async def test_every_request_needs_the_token(workspace_factory, bootstrap):
    loaded = load_workspace(workspace_factory())
    await ensure_topics(bootstrap, loaded.model)
    app = create_health_app(loaded.model, HealthOptions(bootstrap, token="s3cret-token"))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for path in ("/", "/api/summary", "/metrics"):
            assert (await client.get(path)).status == 401
        assert (await client.get("/api/summary", headers={"Authorization": "Bearer nope"})).status == 401
        ok = await client.get("/api/summary", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status == 200 and "destinations" in await ok.json()
        first = await client.get("/?token=s3cret-token")
        assert first.status == 200 and first.cookies[COOKIE].value == "s3cret-token"
        assert first.cookies[COOKIE]["httponly"]
        again = await client.get("/api/summary")
        assert again.status == 200, "the cookie set by ?token= authorizes the browser's next requests"
    finally:
        await client.close()
