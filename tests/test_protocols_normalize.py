"""Normalization: Segment clock-skew correction and the 255-character name limit."""

import pytest

from eventyard.transforms.protocols import NormalizationError, normalize
from eventyard.transforms.protocols.normalize import format_ms, parse_ms

RECEIVED = "2024-01-01T12:00:10.000Z"


def test_skew_corrected_from_sent_at():
    # Client clock is 1 h fast; the event happened 2 s before it was sent.
    event = {"type": "track", "event": "A", "timestamp": "2024-01-01T13:00:00.000Z",
             "sentAt": "2024-01-01T13:00:02.000Z"}
    out = normalize(event, RECEIVED)
    assert out["originalTimestamp"] == "2024-01-01T13:00:00.000Z"
    assert out["timestamp"] == "2024-01-01T12:00:08.000Z"
    assert out["receivedAt"] == RECEIVED
    assert "originalTimestamp" not in event and event["timestamp"].startswith("2024-01-01T13")


def test_offsets_and_formats_are_normalized_to_utc_millis():
    event = {"timestamp": "2024-01-01T14:00:00+02:00", "sentAt": "2024-01-01T12:00:00.5Z"}
    out = normalize(event, "2024-01-01T12:00:01Z")
    assert out["receivedAt"] == "2024-01-01T12:00:01.000Z"
    assert out["timestamp"] == "2024-01-01T12:00:00.500Z"
    assert out["originalTimestamp"] == "2024-01-01T14:00:00+02:00"


def test_equal_sent_at_and_timestamp_means_received_at():
    stamp = "2030-05-05T00:00:00.000Z"
    assert normalize({"timestamp": stamp, "sentAt": stamp}, RECEIVED)["timestamp"] == RECEIVED


def test_no_sent_at_keeps_timestamp():
    out = normalize({"timestamp": "2024-01-01T11:59:00.123Z"}, RECEIVED)
    assert out["timestamp"] == "2024-01-01T11:59:00.123Z"
    assert out["originalTimestamp"] == "2024-01-01T11:59:00.123Z"
    out = normalize({"timestamp": "2024-01-01T11:59:00"}, RECEIVED)  # naive → UTC
    assert out["timestamp"] == "2024-01-01T11:59:00.000Z"


def test_no_timestamp_gets_received_at():
    out = normalize({"type": "track", "sentAt": "2024-01-01T12:00:00.000Z"}, RECEIVED)
    assert out["timestamp"] == RECEIVED and "originalTimestamp" not in out


def test_existing_original_timestamp_wins():
    event = {"originalTimestamp": "2024-01-01T12:00:00.000Z",
             "timestamp": "2024-01-01T12:00:05.000Z", "sentAt": "2024-01-01T12:00:01.000Z"}
    assert normalize(event, RECEIVED)["timestamp"] == "2024-01-01T12:00:09.000Z"


def test_unparseable_values_fall_back():
    out = normalize({"timestamp": "yesterday", "sentAt": "now"}, RECEIVED)
    assert out["timestamp"] == RECEIVED and out["originalTimestamp"] == "yesterday"
    out = normalize({"timestamp": "2024-01-01T12:00:00.000Z", "sentAt": 5}, RECEIVED)
    assert out["timestamp"] == "2024-01-01T12:00:00.000Z"
    with pytest.raises(NormalizationError) as err:
        normalize({}, "not a date")
    assert err.value.field == "receivedAt"


def test_format_round_trip_across_days_and_before_epoch():
    for text in ("1969-12-31T23:59:59.999Z", "2000-02-29T00:00:00.000Z", "2099-12-31T23:59:59.001Z"):
        assert format_ms(parse_ms(text)) == text


@pytest.mark.parametrize("event, field, reason", [
    ({"type": "track", "event": "E" * 256}, "event", "event name too long"),
    ({"type": "page", "name": "P" * 256}, "name", "event name too long"),
    ({"properties": {"k" * 256: 1}}, "properties.", "property name too long"),
    ({"traits": {"address": {"k" * 300: 1}}}, "traits.address.", "property name too long"),
    ({"properties": {"items": [{"k" * 256: 1}]}}, "properties.items.", "property name too long"),
])
def test_names_over_255_chars_raise(event, field, reason):
    with pytest.raises(NormalizationError) as err:
        normalize(event, RECEIVED)
    assert err.value.reason == reason and err.value.field.startswith(field)


def test_names_of_exactly_255_chars_pass():
    event = {"type": "track", "event": "E" * 255, "properties": {"k" * 255: 1}}
    assert normalize(event, RECEIVED)["event"] == "E" * 255
