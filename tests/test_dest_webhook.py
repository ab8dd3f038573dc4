"""The webhook destination against a real local aiohttp server (only loopback traffic, allow-listed)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from eventyard.destinations.base import DELIVERED, DestinationContext, Fail, Retry
from eventyard.destinations.webhook import WebhookDestination, WebhookSettings

SECRET_ENV = "EVENTYARD_TEST_WEBHOOK_SECRET"
SECRET = "s3cret-for-tests"
LOOPBACK = ("127.0.0.1/32",)

pytestmark = pytest.mark.asyncio(loop_scope="session")  # fixtures run on the session loop


def _event(i: int) -> dict:
    return {"type": "track", "messageId": f"m{i}", "userId": "u1", "event": "Clicked", "properties": {"i": i}}


class Hook:
    """A local endpoint recording what it receives; the path picks the answer."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.path, body, dict(request.headers)))
        status = int(request.match_info["status"])
        if status == 599:
            await asyncio.sleep(2)
            status = 200
        headers = {"Retry-After": "12"} if status == 429 else {}
        return web.Response(status=status, text="r" * 3000 if status == 400 else "ok", headers=headers)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[Hook, int]]:
    state = Hook()
    app = web.Application()
    app.router.add_post("/{status}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield state, port
    await runner.cleanup()


async def _destination(url: str, allow: tuple[str, ...] = LOOPBACK, **settings) -> WebhookDestination:
    dest = WebhookDestination(
        "hook", WebhookSettings(url=url, **settings), DestinationContext("/tmp", "hook", allow)
    )
    await dest.setup()
    return dest


async def _send(url: str, events: list[dict], allow: tuple[str, ...] = LOOPBACK, **settings) -> list:
    dest = await _destination(url, allow, **settings)
    try:
        return await dest.send_batch(events)
    finally:
        await dest.close()


async def test_single_mode_delivers_signed_event_bodies(hook, monkeypatch) -> None:
    state, port = hook
    monkeypatch.setenv(SECRET_ENV, SECRET)
    events = [_event(1), _event(2)]
    outcomes = await _send(f"http://127.0.0.1:{port}/200", events, secret_env=SECRET_ENV, headers={"X-Team": "a"})
    assert outcomes == [DELIVERED, DELIVERED]
    assert sorted(json.loads(body)["messageId"] for _, body, _ in state.requests) == ["m1", "m2"]
    for _, body, headers in state.requests:
        assert headers["X-Signature"] == hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        assert headers["X-Team"] == "a" and headers["Content-Type"] == "application/json"


async def test_batch_mode_sends_json_arrays(hook) -> None:
    state, port = hook
    outcomes = await _send(f"http://127.0.0.1:{port}/200", [_event(i) for i in range(5)], mode="batch", batch_size=2)
    assert outcomes == [DELIVERED] * 5
    sizes = sorted(len(json.loads(body)) for _, body, _ in state.requests)
    assert sizes == [1, 2, 2]


async def test_missing_secret_is_a_setup_error(monkeypatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(ValueError, match=SECRET_ENV):
        await _destination("http://127.0.0.1:9/200", secret_env=SECRET_ENV)


async def test_429_retries_with_retry_after(hook) -> None:
    _, port = hook
    [outcome] = await _send(f"http://127.0.0.1:{port}/429", [_event(1)])
    assert isinstance(outcome, Retry) and outcome.status_code == 429 and outcome.retry_after == 12.0
    assert json.loads(outcome.request_sample)["messageId"] == "m1"


@pytest.mark.parametrize(("status", "kind"), [(500, Retry), (503, Retry), (400, Fail), (501, Fail)])
async def test_status_classification(hook, status: int, kind: type) -> None:
    _, port = hook
    [outcome] = await _send(f"http://127.0.0.1:{port}/{status}", [_event(1)])
    assert isinstance(outcome, kind) and outcome.status_code == status
    assert len(outcome.response_sample.encode()) <= 1024


async def test_configured_permanent_status(hook) -> None:
    _, port = hook
    [outcome] = await _send(f"http://127.0.0.1:{port}/503", [_event(1)], permanent_status=[503])
    assert isinstance(outcome, Fail)


async def test_timeout_retries(hook) -> None:
    _, port = hook
    [outcome] = await _send(f"http://127.0.0.1:{port}/599", [_event(1)], timeout_seconds=0.3)
    assert isinstance(outcome, Retry) and outcome.error_class == "timeout"


async def test_connection_refused_retries(unused_tcp_port: int) -> None:
    [outcome] = await _send(f"http://127.0.0.1:{unused_tcp_port}/200", [_event(1)])
    assert isinstance(outcome, Retry) and outcome.error_class == "connection_error"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/200",
        "http://localhost:{port}/200",
        "http://[::1]:{port}/200",
        "http://10.0.0.1/200",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:{port}/200",
        "http://[fd00::1]/200",
        "http://[::ffff:127.0.0.1]:{port}/200",
        "http://224.0.0.1/200",
    ],
)
async def test_ssrf_refusals_happen_before_any_connection(hook, url: str) -> None:
    state, port = hook
    dest = await _destination(url.format(port=port), allow=())
    try:
        outcomes = await dest.send_batch([_event(1), _event(2)])
        health = await dest.healthcheck()
    finally:
        await dest.close()
    assert all(isinstance(o, Fail) and o.error_class == "ssrf_refused" for o in outcomes), outcomes
    assert not health.ok and health.detail.startswith("ssrf_refused")
    assert state.requests == []


async def test_allow_private_setting_admits_a_cidr(hook) -> None:
    state, port = hook
    dest = await _destination(f"http://localhost:{port}/200", allow=(), allow_private=["127.0.0.0/8", "::1/128"])
    try:
        assert await dest.send_batch([_event(1)]) == [DELIVERED]
        assert (await dest.healthcheck()).ok
    finally:
        await dest.close()
    assert len(state.requests) == 1


async def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValueError):
        WebhookSettings(url="ftp://example.com/")
    with pytest.raises(ValueError):
        WebhookSettings(url="https://example.com/", allow_private=["not-a-cidr"])
    with pytest.raises(ValueError):
        WebhookSettings(url="https://example.com/", secret="inline")
