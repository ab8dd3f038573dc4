"""The Tracking API against a real broker: auth, paths, bodies, limits, partial rejects, broker down.

The aiohttp application runs in-process (with ``auto_decompress=False``, as in production) and writes to
the session's Tansu broker; records are read back from the topics.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from eventyard.config.loader import load_workspace
from eventyard.ingest.app import create_ingest_app
from eventyard.ingest.publisher import EnvelopePublisher
from eventyard.ingest.validate import CALL_TYPES, SHORT_PATHS
from eventyard.streams.envelope import decode_envelope
from eventyard.streams.topics import TopicNames, ensure_topics
from support import read_topic

BASIC = {"Authorization": "Basic " + base64.b64encode(b"web-key:").decode()}


async def make_client(workspace_dir, bootstrap: str, ack_timeout: float = 10.0):
    loaded = load_workspace(workspace_dir)
    await ensure_topics(bootstrap, loaded.model)
    topics = TopicNames(loaded.model.topics.prefix)
    publisher = EnvelopePublisher(bootstrap, topics, ack_timeout=ack_timeout)
    app = create_ingest_app(loaded.model, publisher)
    client = TestClient(TestServer(app, auto_decompress=False))
    await client.start_server()
    return client, topics


@pytest.fixture
async def api(workspace_factory, bootstrap):
    workspace = workspace_factory(sources=[{"name": "web", "write_key": "web-key"},
                                           {"name": "old", "write_key": "old-key", "enabled": False}])
    client, topics = await make_client(workspace, bootstrap)
    yield client, topics, bootstrap
    await client.close()


async def raw_events(bootstrap: str, topics: TopicNames, count: int) -> list[dict]:
    events = []
    for record in await read_topic(bootstrap, topics.raw, count, timeout=10):
        envelope = decode_envelope(record.value)
        events += [item["event"] for item in envelope.items]
        assert {item["source"] for item in envelope.items} == {"web"}
    return events


async def test_track_with_basic_auth_is_written_to_raw(api):
    client, topics, bootstrap = api
    resp = await client.post("/v1/track", json={"userId": "u1", "event": "Signed Up",
                                                "sentAt": "2024-01-01T00:00:00.000Z"}, headers=BASIC)
    assert resp.status == 200 and await resp.json() == {"success": True}
    [event] = await raw_events(bootstrap, topics, 1)
    assert event["type"] == "track" and event["event"] == "Signed Up"
    assert event["messageId"].startswith("api-") and event["receivedAt"].endswith("Z")
    assert event["sentAt"] == "2024-01-01T00:00:00.000Z"


@pytest.mark.parametrize("path,body,type_", [
    ("/v1/i", {"userId": "u", "traits": {"a": 1}}, "identify"),
    ("/v1/p", {"anonymousId": "a", "name": "Home"}, "page"),
    ("/v1/s", {"userId": "u", "name": "Home"}, "screen"),
    ("/v1/g", {"userId": "u", "groupId": "g1"}, "group"),
    ("/v1/a", {"userId": "u", "previousId": "a"}, "alias"),
    ("/v1/t", {"userId": "u", "event": "E"}, "track"),
])
async def test_short_paths_and_text_plain_with_body_write_key(api, path, body, type_):
    client, topics, bootstrap = api
    data = json.dumps({**body, "writeKey": "web-key", "messageId": "m1"})
    resp = await client.post(path, data=data, headers={"Content-Type": "text/plain"})
    assert resp.status == 200
    [event] = await raw_events(bootstrap, topics, 1)
    assert event["type"] == type_ and "writeKey" not in event


async def test_gzip_body_labelled_as_form_is_accepted(api):
    client, topics, bootstrap = api
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "E"}]}))
    resp = await client.post("/v1/batch", data=body, headers={
        **BASIC, "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"})
    assert resp.status == 200
    assert len(await raw_events(bootstrap, topics, 1)) == 1


async def test_gzip_bomb_is_refused_with_400(api):
    client, _, _ = api
    bomb = gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]")
    assert len(bomb) < 500 * 1024
    resp = await client.post("/v1/batch", data=bomb, headers={**BASIC, "Content-Encoding": "gzip"})
    assert resp.status == 400
    assert (await resp.json())["reason"] == "request_too_large"


@pytest.mark.parametrize("headers,body,status,reason", [
    ({}, {"userId": "u", "event": "E"}, 401, "unauthorized"),
    ({"Authorization": "Basic " + base64.b64encode(b"nope:").decode()}, {"userId": "u", "event": "E"},
     401, "unauthorized"),
    ({"Authorization": "Basic " + base64.b64encode(b"old-key:").decode()}, {"userId": "u", "event": "E"},
     404, "disabled"),
    (BASIC, {"event": "E"}, 400, "missing_user"),
    (BASIC, {"userId": "u"}, 400, "missing_field"),
    (BASIC, {"userId": "u", "event": "E", "messageId": "x" * 101}, 400, "message_id_too_long"),
    (BASIC, {"userId": "u", "event": "E", "properties": "no"}, 400, "wrong_type"),
    (BASIC, {"userId": "u", "event": "E", "properties": {"big": "x" * 33000}}, 400, "event_too_large"),
])
async def test_errors_are_json_with_a_reason(api, headers, body, status, reason):
    client, _, _ = api
    resp = await client.post("/v1/track", json=body, headers=headers)
    assert resp.status == status
    answer = await resp.json()
    assert answer["success"] is False and answer["reason"] == reason and answer["error"]


async def test_invalid_json_and_oversize_request(api):
    client, _, _ = api
    resp = await client.post("/v1/track", data=b"{nope", headers=BASIC)
    assert resp.status == 400 and (await resp.json())["reason"] == "invalid_json"
    resp = await client.post("/v1/batch", data=b" " * (501 * 1024), headers=BASIC)
    assert resp.status == 400 and "limit" in (await resp.json())["error"]
    too_many = {"batch": [{"type": "track", "userId": "u", "event": "E"}] * 2501}
    resp = await client.post("/v1/batch", json=too_many, headers=BASIC)
    assert resp.status == 400 and (await resp.json())["reason"] in ("batch_too_large", "request_too_large")


async def test_partial_rejects_go_to_rejects_topic_and_batch_fields_merge(api):
    client, topics, bootstrap = api
    batch = [{"type": "track", "userId": "u1", "event": "Good", "messageId": "good-1",
              "context": {"page": {"path": "/"}}},
             {"type": "track", "userId": "u1", "messageId": "bad-1"},
             {"type": "launch", "userId": "u1", "messageId": "bad-2"},
             {"type": "identify", "anonymousId": "a1", "messageId": "good-2",
              "integrations": {"All": True}}]
    resp = await client.post("/v1/batch", json={
        "batch": batch, "context": {"library": {"name": "test"}, "page": {"path": "/x"}},
        "integrations": {"All": False}, "sentAt": "2024-01-01T00:00:00.000Z"}, headers=BASIC)
    assert resp.status == 200
    answer = await resp.json()
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(1, "missing_field"),
                                                                       (2, "invalid_type")]
    events = {e["messageId"]: e for e in await raw_events(bootstrap, topics, 2)}
    assert set(events) == {"good-1", "good-2"}
    assert events["good-1"]["context"] == {"library": {"name": "test"}, "page": {"path": "/"}}
    assert events["good-1"]["integrations"] == {"All": False}
    assert events["good-2"]["integrations"] == {"All": True}
    assert events["good-2"]["sentAt"] == "2024-01-01T00:00:00.000Z"
    rejects = [orjson.loads(r.value) for r in await read_topic(bootstrap, topics.rejects, 2)]
    assert sorted((r["item"]["messageId"], r["reason"], r["stage"]) for r in rejects) == [
        ("bad-1", "missing_field", "ingest"), ("bad-2", "invalid_type", "ingest")]


async def test_cors_preflight_and_health(api):
    client, _, _ = api
    resp = await client.options("/v1/t", headers={"Origin": "https://shop.example",
                                                  "Access-Control-Request-Method": "POST"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert (await client.get("/health")).status == 200
    assert (await (await client.get("/ready")).json()) == {"status": "ready"}


async def test_broker_down_answers_503_never_200(workspace_factory, tmp_path):
    from eventyard.broker import EmbeddedBroker

    workspace = workspace_factory()
    with EmbeddedBroker(log_file=tmp_path / "b.log") as own:
        client, _ = await make_client(workspace, own.bootstrap_servers, ack_timeout=2.0)
        try:
            resp = await client.post("/v1/track", json={"userId": "u", "event": "E"}, headers=BASIC)
            assert resp.status == 200
            own.kill()
            resp = await client.post("/v1/track", json={"userId": "u", "event": "E"}, headers=BASIC)
            assert resp.status == 503 and resp.headers["Retry-After"]
            assert (await client.get("/ready")).status == 503
        finally:
            await client.close()


async def test_openapi_document_is_valid_and_lists_every_route(api):
    client, _, _ = api
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    document = await resp.json()
    validate(document)
    served = set()
    for resource in client.server.app.router.resources():
        path = resource.canonical
        calls = [*CALL_TYPES, "batch", *SHORT_PATHS] if path == "/v1/{call}" else [None]
        methods = {route.method.lower() for route in resource}
        served |= {(path.replace("{call}", c) if c else path, m) for c in calls for m in methods}
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == {(p, m) for p, m in served if m != "head"}


async def test_per_source_rate_limit_answers_429_with_retry_after(workspace_factory, bootstrap):
    workspace = workspace_factory(sources=[
        {"name": "web", "write_key": "web-key", "rate_limit": {"events_per_second": 1, "burst": 3}},
        {"name": "bulk", "write_key": "bulk-key", "rate_limit": {"events_per_second": 1, "burst": 2}},
        {"name": "free", "write_key": "free-key"}])
    client, _ = await make_client(workspace, bootstrap)
    item = {"type": "track", "userId": "u", "event": "E"}
    try:
        resp = await client.post("/v1/batch", json={"batch": [item] * 3, "writeKey": "web-key"})
        assert resp.status == 200
        resp = await client.post("/v1/track", json={**item, "writeKey": "web-key"})
        assert resp.status == 429 and (await resp.json())["reason"] == "rate_limited"
        assert int(resp.headers["Retry-After"]) == 1
        assert 0 < int(resp.headers["X-RateLimit-Reset"]) - time.time() <= 2
        # a batch larger than the burst is admitted on a full bucket, then the debt is paid back
        resp = await client.post("/v1/batch", json={"batch": [item] * 5, "writeKey": "bulk-key"})
        assert resp.status == 200
        resp = await client.post("/v1/track", json={**item, "writeKey": "bulk-key"})
        assert resp.status == 429 and int(resp.headers["Retry-After"]) == 4
        for _ in range(5):
            resp = await client.post("/v1/track", json={**item, "writeKey": "free-key"})
            assert resp.status == 200
    finally:
        await client.close()


async def test_coalescing_puts_concurrent_small_requests_in_shared_envelopes(workspace_factory,
                                                                              bootstrap):
    client, topics = await make_client(workspace_factory(ingest={"coalesce_ms": 20}), bootstrap)
    try:
        answers = await asyncio.gather(*(client.post("/v1/track", headers=BASIC, json={
            "userId": "same-user", "event": "E", "messageId": f"c-{n}"}) for n in range(20)))
        assert [resp.status for resp in answers] == [200] * 20
        records = await read_topic(bootstrap, topics.raw, 20, timeout=5)
        ids = [item["event"]["messageId"] for r in records for item in decode_envelope(r.value).items]
        assert sorted(ids) == sorted(f"c-{n}" for n in range(20)) and len(records) < 20
    finally:
        await client.close()
