"""The PII detector: unit cases, and precision on Segment's spec examples and the e2e-tester fixtures.

The corpus test runs the detector the way ingest does (``FieldPolicy`` in ``observe`` mode) over every
event of ``../shared/conformance/segment_spec_examples.json`` (calls and payloads), ``events/*.json`` and
the 503 hostile strings of ``evilStrings.json``; it prints every finding and every false positive, and
compares the findings with the reviewed list of real personal data in unexpected places below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventyard.transforms.privacy.detector import detect, luhn_valid
from eventyard.transforms.privacy.fields import FieldPolicy, PrivacySettings

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"

# Reviewed by hand: each is an email, phone or IP address outside the fields the spec reserves for them.
TRUE_FINDINGS = {
    ("best-practices-identify.md", "properties.email", "email"),
    ("v2.md", "properties.recipient", "email"),
    ("b2b-saas.md", "properties.email", "email"),
    ("b2b-saas.md", "properties.phone", "phone"),
    ("simple.json", "properties.phoneNumber", "phone"),
    ("track_advance-track.json", "context.trackingData.context.ip", "ip"),
}


@pytest.mark.parametrize("value, kinds", [
    ("write to jane.doe+news@mail.example.co.uk please", ["email"]),
    ("+44 20 7946 0958", ["phone"]),
    ("(555) 555-1234", ["phone"]),
    ("call 1-800-555-0199 now", ["phone"]),
    ("4111 1111 1111 1111", ["card"]),
    ("378282246310005", ["card"]),
    (5555555555554444, ["card"]),
    ("10.0.0.1", ["ip"]),
    ("2001:db8::1", ["ip"]),
    ("192.168.0.1, 192.168.0.44", ["ip"]),
])
def test_detects_personal_data(value, kinds):
    assert detect(value) == kinds


@pytest.mark.parametrize("value", [
    "4111111111111112",            # Visa prefix, wrong check digit
    "1234567890123452",            # Luhn-valid, no issuer prefix: an order id
    "0000000000000000",
    "2024-01-05T12:00:00.000Z",
    "12:30:45",
    "v1.2.3.4.5",
    "999.1.1.1",
    "3.14159265",
    "SKU-123-456-7890",
    "5551234567",                  # bare digits: an id, not a phone
    "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "not an email @ all",
    True,
    12345678,
])
def test_ignores_lookalikes(value):
    assert detect(value) == []


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def corpus() -> list[tuple[str, dict]]:
    """(file name, event) of every conformance example, hostile strings wrapped as properties."""
    spec = json.loads((CONFORMANCE / "segment_spec_examples.json").read_text())
    docs = [(e["file"].rsplit("/", 1)[-1], e["event"]) for e in spec["events"]]
    docs += [(p["file"].rsplit("/", 1)[-1], p["payload"]) for p in spec["json_payloads"]]
    for path in sorted((CONFORMANCE / "events").glob("*.json")):
        doc = json.loads(path.read_text())
        if isinstance(doc, list):
            docs += [(path.name, {"properties": {"text": s}}) for s in doc]
        else:
            docs.append((path.name, doc))
    return [(name, event) for name, event in docs if isinstance(event, dict)]


def test_precision_on_spec_examples():
    policy = FieldPolicy(PrivacySettings(pii_detector="observe"), None)
    found = set()
    for name, event in corpus():
        findings: list[tuple[str, str]] = []
        policy.apply(json.loads(json.dumps(event)), findings)
        found |= {(name, path, kind) for path, kind in findings}
    false_positives = found - TRUE_FINDINGS
    missed = TRUE_FINDINGS - found
    print(f"\ndetector on {len(corpus())} examples: {len(found)} finding(s), "
          f"{len(false_positives)} false positive(s), {len(missed)} missed")
    for finding in sorted(found):
        print("  finding:", *finding, "(FALSE POSITIVE)" if finding in false_positives else "")
    assert not false_positives and not missed


def test_expected_places_are_not_reported():
    policy = FieldPolicy(PrivacySettings(pii_detector="observe"), None)
    event = {"traits": {"email": "a@b.example", "phone": "+1 415 555 0100"}, "context": {"ip": "8.8.8.8"}}
    assert policy.apply(event) == {}
