"""Field controls: blocked and hashed fields in properties, traits and context; globs; the detector's
enforce mode; salts; and the same rules applied by a real ingest process before events reach Kafka."""

from __future__ import annotations

import copy
import hashlib
import hmac

import orjson
import pytest
from pydantic import ValidationError

from eventyard.config.workspace import Workspace
from eventyard.transforms.privacy.fields import FieldPolicy, PrivacySettings
from eventyard.transforms.privacy.gate import PrivacyGate
from support import read_topic, start_ingest
from test_end_to_end import post
from test_privacy_end_to_end import workspace_prefix

SALT = b"pepper"
EVENT = {
    "type": "identify", "userId": "u1",
    "properties": {"email": "a@b.example", "billing": {"card_holder": "Jane Doe"}, "plan": "pro"},
    "traits": {"ssn": "078-05-1120", "tax": {"ssn_last4": "1120"}, "name": "Jane"},
    "context": {"traits": {"email": "a@b.example"}, "location": {"city": "Paris"}, "locale": "fr-FR"},
}
POSITIONS = ["properties.email", "properties.billing.card_holder", "traits.ssn", "context.traits.email",
             "context.location.city"]


def get(event: dict, path: str):
    """The value at a dotted path, or KeyError."""
    for key in path.split("."):
        event = event[key]
    return event


def policy(rules: list[dict], **settings) -> FieldPolicy:
    """A policy with a salt."""
    return FieldPolicy(PrivacySettings(fields=rules, salt_env="SALT", **settings), SALT)


@pytest.mark.parametrize("path", POSITIONS)
def test_blocked_field_is_removed_and_nothing_else(path):
    event = copy.deepcopy(EVENT)
    assert policy([{"path": path, "action": "block"}]).apply(event) == {"blocked": 1}
    with pytest.raises(KeyError):
        get(event, path)
    parent, _, leaf = path.rpartition(".")
    expected = copy.deepcopy(EVENT)
    del get(expected, parent)[leaf]
    assert event == expected


@pytest.mark.parametrize("path", POSITIONS)
def test_hashed_field_is_salted_sha256(path):
    event = copy.deepcopy(EVENT)
    assert policy([{"path": path, "action": "hash"}]).apply(event) == {"hashed": 1}
    original = get(EVENT, path)
    assert get(event, path) == hmac.new(SALT, original.encode(), hashlib.sha256).hexdigest()
    other = copy.deepcopy(EVENT)
    FieldPolicy(PrivacySettings(fields=[{"path": path, "action": "hash"}], salt_env="S"), b"salt2").apply(other)
    assert get(other, path) != get(event, path), "a different workspace salt gives a different hash"


def test_glob_crosses_levels_and_exact_path_wins():
    event = copy.deepcopy(EVENT)
    done = policy([{"path": "traits.*ssn*", "action": "block"},
                   {"path": "traits.tax.ssn_last4", "action": "hash"}]).apply(event)
    assert done == {"blocked": 1, "hashed": 1}
    assert "ssn" not in event["traits"] and len(event["traits"]["tax"]["ssn_last4"]) == 64


def test_non_string_values_hash_as_json():
    event = {"properties": {"age": 41, "tags": ["a", "b"]}}
    policy([{"path": "properties.*", "action": "hash"}]).apply(event)
    assert event["properties"]["age"] == hmac.new(SALT, b"41", hashlib.sha256).hexdigest()
    assert event["properties"]["tags"] == hmac.new(SALT, b'["a","b"]', hashlib.sha256).hexdigest()


@pytest.mark.parametrize("action, check", [
    ("block", lambda props: "note" not in props),
    ("hash", lambda props: len(props["note"]) == 64),
])
def test_enforce_mode_acts_on_detected_values_outside_allowed_fields(action, check):
    event = {"properties": {"note": "mail me: x@y.example", "contact": "x@y.example", "plan": "pro"}}
    findings: list = []
    done = policy([{"path": "properties.contact", "action": "allow"}], pii_detector="enforce",
                  pii_action=action).apply(event, findings)
    assert findings == [("properties.note", "email")]
    assert check(event["properties"]) and event["properties"]["contact"] == "x@y.example"
    assert done[{"block": "blocked", "hash": "hashed"}[action]] == 1


def test_observe_mode_changes_nothing():
    event = {"properties": {"card": "4111 1111 1111 1111"}}
    assert policy([], pii_detector="observe").apply(event) == {"pii_card": 1}
    assert event == {"properties": {"card": "4111 1111 1111 1111"}}


def test_hashing_needs_a_salt_variable_and_its_value(monkeypatch):
    with pytest.raises(ValidationError, match="salt_env"):
        PrivacySettings(fields=[{"path": "properties.email", "action": "hash"}])
    monkeypatch.delenv("EVENTYARD_TEST_SALT", raising=False)
    workspace = Workspace(sources=[{"name": "web", "write_key": "k", "privacy": {
        "fields": [{"path": "properties.email", "action": "hash"}], "salt_env": "EVENTYARD_TEST_SALT"}}])
    with pytest.raises(ValueError, match="EVENTYARD_TEST_SALT"):
        PrivacyGate(workspace)


async def test_ingest_applies_field_controls_before_kafka(workspace_factory, bootstrap, tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTYARD_TEST_SALT", "pepper")
    workspace = workspace_factory(sources=[{"name": "web", "write_key": "web-key", "privacy": {
        "fields": [{"path": "properties.email", "action": "hash"}, {"path": "traits.*ssn*", "action": "block"},
                   {"path": "context.traits.phone", "action": "block"}],
        "salt_env": "EVENTYARD_TEST_SALT", "pii_detector": "enforce"}}])
    ingest = start_ingest(workspace, bootstrap, tmp_path)
    try:
        status, _ = post(ingest.port, "/v1/identify", {
            "userId": "u1", "messageId": "f-1", "traits": {"ssn": "078-05-1120", "plan": "pro"},
            "properties": {"email": "a@b.example", "comment": "card 4111-1111-1111-1111"},
            "context": {"traits": {"phone": "+1 415 555 0100"}, "ip": "8.8.8.8"}})
        assert status == 200
        records = await read_topic(bootstrap, f"{workspace_prefix(workspace)}.raw", 1)
        event = orjson.loads(records[0].value)["items"][0]["event"]
        assert event["traits"] == {"plan": "pro"}
        assert event["properties"] == {"email": hmac.new(b"pepper", b"a@b.example", hashlib.sha256).hexdigest()}
        assert event["context"] == {"traits": {}, "ip": "8.8.8.8"}
    finally:
        ingest.stop()
