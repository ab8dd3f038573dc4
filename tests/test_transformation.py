"""Segment Public API transformations (TransformationV1)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac

import pytest
from pydantic import ValidationError

from eventyard.transforms.transformation import Transformation

TRACK = {
    "type": "track",
    "event": "Order Completed",
    "properties": {"old": 1, "email": "A@B.com", "keep": True, "nested": {"x": 1}},
    "context": {"ip": "1.2.3.4"},
}
IDENTIFY = {"type": "identify", "userId": "u1", "traits": {"first_name": "Ada", "plan": "pro"}}


def make(**config) -> Transformation:
    config.setdefault("if", "all")
    return Transformation.model_validate(config)


def test_if_false_returns_the_event_untouched():
    t = make(**{"if": "event = 'Other'", "drop": True})
    assert t.apply(TRACK) is TRACK


def test_disabled_transformation_does_nothing():
    assert make(enabled=False, drop=True).apply(TRACK) is TRACK


def test_drop():
    assert make(**{"if": "type = 'track'", "drop": True}).apply(TRACK) is None


def test_new_event_name():
    assert make(newEventName="Purchased").apply(TRACK)["event"] == "Purchased"


def test_property_renames_use_properties_or_traits():
    out = make(propertyRenames=[{"oldName": "old", "newName": "new"}, {"oldName": "absent", "newName": "x"}]).apply(TRACK)
    assert out["properties"]["new"] == 1 and "old" not in out["properties"] and "x" not in out["properties"]
    out = make(propertyRenames=[{"oldName": "first_name", "newName": "firstName"}]).apply(IDENTIFY)
    assert out["traits"] == {"firstName": "Ada", "plan": "pro"}


def test_property_value_transformations():
    out = make(propertyValueTransformations=[
        {"propertyPaths": ["properties.currency", "context.locale", "new_top"], "propertyValue": "USD"}
    ]).apply(TRACK)
    assert out["properties"]["currency"] == out["context"]["locale"] == out["new_top"] == "USD"


def test_fql_defined_properties_read_the_incoming_event():
    out = make(
        newEventName="Purchased",
        fqlDefinedProperties=[
            {"fql": "lowercase(properties.email)", "newPropertyName": "properties.email_lc"},
            {"fql": "event = 'Order Completed'", "propertyName": "properties.was_order"},
        ],
    ).apply(TRACK)
    assert out["properties"]["email_lc"] == "a@b.com"
    assert out["properties"]["was_order"] is True


def test_allow_properties():
    assert make(allowProperties=["keep"]).apply(TRACK)["properties"] == {"keep": True}
    assert make(allowProperties=["plan"]).apply(IDENTIFY)["traits"] == {"plan": "pro"}


def test_hash_properties_default_sha256_hex():
    out = make(hashPropertiesConfiguration={"paths": ["properties.email", "properties.nested", "properties.none"]}).apply(TRACK)
    assert out["properties"]["email"] == hashlib.sha256(b"A@B.com").hexdigest()
    assert out["properties"]["nested"] == hashlib.sha256(b'{"x":1}').hexdigest()
    assert "none" not in out["properties"]


def test_hash_properties_hmac_and_encodings():
    key = "secret"
    raw = hmac.new(key.encode(), b"A@B.com", "sha256").digest()
    out = make(hashPropertiesConfiguration={"paths": ["properties.email"], "key": key, "encoding": "BASE64"}).apply(TRACK)
    assert out["properties"]["email"] == base64.b64encode(raw).decode()
    out = make(hashPropertiesConfiguration={"paths": ["properties.email"], "algorithm": "MD5", "encoding": "BASE16"}).apply(TRACK)
    assert out["properties"]["email"] == hashlib.md5(b"A@B.com").hexdigest().upper()


def test_apply_never_mutates_the_input():
    before = copy.deepcopy(TRACK)
    make(
        newEventName="X",
        propertyRenames=[{"oldName": "old", "newName": "new"}],
        propertyValueTransformations=[{"propertyPaths": ["properties.nested.x"], "propertyValue": 2}],
        fqlDefinedProperties=[{"fql": "[1, 2]", "newPropertyName": "properties.list"}],
        allowProperties=["new", "nested", "list", "email"],
        hashPropertiesConfiguration={"paths": ["properties.email"]},
    ).apply(TRACK)
    assert TRACK == before


@pytest.mark.parametrize(("config", "field"), [
    ({"if": "event ="}, "if"),
    ({"if": "all", "fqlDefinedProperties": [{"fql": "lower(x)", "newPropertyName": "p"}]}, "fql"),
    ({"if": "all", "propertyRenames": [{"oldName": "a"}]}, "newName"),
    ({"if": "all", "hashPropertiesConfiguration": {"paths": ["a"], "algorithm": "CRC32"}}, "algorithm"),
    ({"if": "all", "surprise": True}, "surprise"),
])
def test_config_errors_name_the_field(config, field):
    with pytest.raises(ValidationError) as info:
        Transformation.model_validate(config)
    assert any(field in map(str, error["loc"]) for error in info.value.errors())
