"""Envelope format, partitioning, routing by the integrations object, and the pure pipeline stage."""

from __future__ import annotations

import orjson
import pytest

from eventyard.config.workspace import Workspace
from eventyard.streams.envelope import (DEST_PREFIX, EnvelopeError, decode_dest_events, decode_envelope,
                                        encode_dest_envelope, encode_envelope, group_by_partition,
                                        partition_for, user_key)
from eventyard.streams.pipeline import Pipeline
from eventyard.streams.routing import Router, integrations_allow


def test_envelope_round_trip_and_version():
    items = [{"source": "web", "event": {"type": "track", "messageId": "m"}}]
    data = encode_envelope("raw", items)
    assert orjson.loads(data) == {"v": 1, "kind": "raw", "items": items}
    envelope = decode_envelope(data)
    assert (envelope.version, envelope.kind, envelope.items) == (1, "raw", items)


@pytest.mark.parametrize("data,message", [
    (b"", "empty"), (b"{", "invalid JSON"), (b"[]", "not a JSON object"),
    (b'{"v": 2, "kind": "raw", "items": []}', "unknown envelope version 2"),
    (b'{"v": 1, "kind": "x", "items": []}', "unknown envelope kind"),
    (b'{"v": 1, "kind": "raw", "items": {}}', "not a list"),
])
def test_bad_envelopes_say_why(data, message):
    with pytest.raises(EnvelopeError, match=message):
        decode_envelope(data)


def test_dest_envelope_lines_carry_json_and_delivery_fields():
    hostile = {"type": "track", "messageId": "m1", "userId": "u\t1\n", "receivedAt": "2024-05-01T12:00:00.000Z",
               "properties": {"text": "tab\there\nnewline", "n": 1}}
    other = {"type": "identify", "messageId": "m2", "anonymousId": 7}
    shared: dict[int, bytes] = {}
    data = encode_dest_envelope([{"source": "web", "event": hostile}, {"source": "app", "event": other}], shared)
    header, first_line, second_line, end = data.split(b"\n")
    assert header.startswith(DEST_PREFIX) and end == b"", "one header line and one line per event"
    assert orjson.loads(header)["meta"] == [["web", 1714564800000, "u\t1\n", None], ["app", None, None, 7]]
    assert orjson.loads(first_line) == hostile and orjson.loads(second_line) == other
    assert shared[id(hostile)] == first_line, "an event routed to several destinations is encoded once"
    first, second = decode_dest_events(data)
    assert (first.source, first.received_ms, first.user_id, first.user_key) == ("web", 1714564800000, "u\t1\n", "u\t1\n")
    assert first.json == first_line and first.event == hostile
    assert (second.source, second.received_ms, second.anonymous_id, second.user_key) == ("app", None, 7, "7")
    assert decode_envelope(data).items == [{"source": "web", "event": hostile}, {"source": "app", "event": other}]
    assert decode_dest_events(encode_dest_envelope([])) == []


def test_dest_events_read_version_one_and_reject_broken_envelopes():
    v1 = encode_envelope("dest", [{"source": "web", "event": {"messageId": "m", "userId": "u"}}])
    (event,) = decode_dest_events(v1)
    assert (event.source, event.user_key, event.event) == ("web", "u", {"messageId": "m", "userId": "u"})
    for broken, message in ((DEST_PREFIX + b"[]}", "invalid dest envelope header"),
                            (DEST_PREFIX + b"{}}\n", "invalid dest envelope header"),
                            (DEST_PREFIX + b'[["web",null,null,null]]}\n', "lists 1 events but holds 0"),
                            (DEST_PREFIX + b'[["web",null,null,null]]}\n{}\n{}\n', "lists 1 events but holds 2"),
                            (DEST_PREFIX + b'[[1,null,null,null]]}\n{}\n', "invalid dest envelope meta")):
        with pytest.raises(EnvelopeError, match=message):
            decode_dest_events(broken)
    with pytest.raises(EnvelopeError, match="not {source, event}"):
        decode_dest_events(encode_envelope("dest", ["not an item"]))


def test_partitioning_is_stable_and_by_user():
    assert partition_for("user-1", 4) == partition_for("user-1", 4)
    assert {partition_for(f"u{i}", 4) for i in range(100)} == {0, 1, 2, 3}
    assert user_key({"userId": "u", "anonymousId": "a"}) == "u"
    assert user_key({"anonymousId": "a"}) == "a"
    items = [{"event": {"userId": f"u{i % 3}"}} for i in range(30)]
    groups = group_by_partition(items, 4, lambda it: user_key(it["event"]))
    for partition, group in groups.items():
        assert all(partition_for(user_key(it["event"]), 4) == partition for it in group)
    assert sum(len(g) for g in groups.values()) == 30


@pytest.mark.parametrize("integrations,key,expected", [
    (None, "Webhook", True), ({}, "Webhook", True), ({"All": False}, "Webhook", False),
    ({"All": False, "Webhook": True}, "Webhook", True), ({"Webhook": False}, "Webhook", False),
    ({"All": False, "Webhook": {"opt": 1}}, "Webhook", True), ({"webhook": False}, "Webhook", True),
    ({"All": True, "Webhook": False}, "Webhook", False), ("garbage", "Webhook", True),
])
def test_integrations_object(integrations, key, expected):
    assert integrations_allow(integrations, key) is expected


def workspace() -> Workspace:
    return Workspace.model_validate({
        "sources": [{"name": "web", "write_key": "a"}, {"name": "app", "write_key": "b"}],
        "destinations": [
            {"name": "archive", "type": "file"},
            {"name": "hook", "type": "file", "integration_name": "Webhooks", "sources": ["web"]},
            {"name": "off", "type": "file", "enabled": False}]})


def test_router_uses_sources_enabled_and_integration_name():
    router = Router(workspace())
    assert router.route("web", {}) == ["archive", "hook"]
    assert router.route("app", {}) == ["archive"]
    assert router.route("web", {"integrations": {"All": False, "Webhooks": True}}) == ["hook"]
    assert router.route("web", {"integrations": {"hook": False}}) == ["archive", "hook"]


RECEIVED = "2024-05-01T10:00:00.000Z"


def test_pipeline_routes_rejects_and_counts():
    out = Pipeline(workspace()).process([
        {"source": "web", "event": {"userId": "u", "type": "track", "receivedAt": RECEIVED}},
        {"source": "app", "event": {"userId": "u", "integrations": {"All": False},
                                    "receivedAt": RECEIVED}},
        {"source": "nope", "event": {}},
        "not an item",
    ])
    assert {k: len(v) for k, v in out.routes.items()} == {"archive": 1, "hook": 1}
    assert [r["reason"] for r in out.rejects] == ["unknown_source", "malformed_item"]
    assert out.discarded == {("app", "routing", "no_destination"): 1}


def test_disabled_destination_parks_events_on_its_dead_letter_topic():
    out = Pipeline(workspace()).process([
        {"source": "web", "event": {"userId": "u", "type": "track", "messageId": "m1",
                                    "receivedAt": RECEIVED}},
        {"source": "web", "event": {"userId": "u", "type": "track", "messageId": "m2",
                                    "integrations": {"off": False}, "receivedAt": RECEIVED}},
    ])
    parked = [(letter.destination, letter.item["event"]["messageId"], letter.error_class)
              for letter in out.dead_letters]
    assert parked == [("off", "m1", "destination_disabled")]
    assert "off" not in out.routes
