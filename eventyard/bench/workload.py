"""The benchmark workload: ~900-byte Segment track events, raw envelopes and a 50-event tracking plan.

Events are deterministic functions of their index so every phase and every run offers the same data.
The plan names ``Bench Event 00`` … ``Bench Event 49``; the mix sent through the pipeline is
:data:`UNPLANNED_SHARE` events with an unplanned name, :data:`INVALID_SHARE` with a plan violation
(``price`` as a string), and — in pre-filled raw topics — :data:`DUPLICATE_SHARE` exact re-sends of an
earlier event (same messageId and user), which dedup should absorb.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

from eventyard.streams.envelope import encode_envelope, partition_for, user_key

PLAN_EVENTS = [f"Bench Event {n:02d}" for n in range(50)]
UNPLANNED_SHARE = 0.03
INVALID_SHARE = 0.05
DUPLICATE_SHARE = 0.02
USERS = 1_999  # not a multiple of the duplicate step, so duplicates repeat events that were sent
USER_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")


def iso_now() -> str:
    """Now in Segment's timestamp format (milliseconds, ``Z``)."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def make_event(index: int, message_id: str | None = None) -> dict[str, Any]:
    """Event number ``index`` (about 900 bytes as JSON); no messageId unless given."""
    bucket = index % 100
    if bucket < UNPLANNED_SHARE * 100:
        name = "Bench Unplanned"
    else:
        name = PLAN_EVENTS[index % len(PLAN_EVENTS)]
    price: Any = round(5 + (index % 997) / 10, 2)
    if UNPLANNED_SHARE * 100 <= bucket < (UNPLANNED_SHARE + INVALID_SHARE) * 100:
        price = str(price)
    product = f"p-{index % 5000:05d}"
    event: dict[str, Any] = {
        "type": "track", "event": name, "userId": f"user-{index % USERS:06d}",
        "timestamp": "2024-05-01T11:59:58.000Z", "sentAt": "2024-05-01T11:59:59.000Z",
        "properties": {
            "product_id": product, "sku": f"SKU-{index % 5000:05d}-XL-BLUE", "name": f"Product {product}",
            "category": "Apparel / Outerwear / Jackets", "brand": "Eventyard Outfitters",
            "price": price, "quantity": 1 + index % 4, "currency": "USD", "position": index % 24,
            "coupon": "SPRING24", "url": f"https://shop.example.com/products/{product}"},
        "context": {
            "library": {"name": "analytics.js", "version": "5.2.1"}, "ip": "203.0.113.7",
            "locale": "en-US", "userAgent": USER_AGENT,
            "page": {"path": f"/products/{product}", "referrer": "https://www.example.org/search?q=jacket",
                     "title": "Winter Jacket",
                     "url": f"https://shop.example.com/products/{product}?utm_source=newsletter"}},
    }
    if message_id is not None:
        event["messageId"] = message_id
    return event


def http_batch_body(start: int, count: int) -> bytes:
    """A ``/v1/batch`` body of ``count`` events (ingest assigns messageIds)."""
    return orjson.dumps({"batch": [make_event(start + n) for n in range(count)]})


def raw_envelopes(count: int, partitions: int, source: str, run: str,
                  per_envelope: int = 100) -> list[tuple[int, bytes]]:
    """``count`` events as ``raw`` envelopes ``(partition, value)``, as ingest would write them.

    Every fiftieth event (:data:`DUPLICATE_SHARE`) repeats the previous event of the same user.
    """
    received = iso_now()
    groups: dict[int, list[dict[str, Any]]] = {}
    out: list[tuple[int, bytes]] = []
    step = round(1 / DUPLICATE_SHARE)
    for index in range(count):
        source_index = index - USERS if index % step == step - 1 and index >= USERS else index
        event = make_event(source_index, f"{run}-{source_index}")
        event["receivedAt"] = received
        partition = partition_for(user_key(event), partitions)
        group = groups.setdefault(partition, [])
        group.append({"source": source, "event": event})
        if len(group) == per_envelope:
            out.append((partition, encode_envelope("raw", group)))
            groups[partition] = []
    out += [(p, encode_envelope("raw", g)) for p, g in groups.items() if g]
    return out


def fifty_event_plan() -> dict[str, Any]:
    """A tracking plan (Segment's rules shape) of the 50 :data:`PLAN_EVENTS`."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"product_id": {"type": "string"}, "sku": {"type": "string"},
                       "price": {"type": "number"}, "quantity": {"type": "integer", "minimum": 1},
                       "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                       "position": {"type": "integer"}, "category": {"type": "string"}},
        "required": ["product_id", "price", "currency"]}
    rules = [{"type": "TRACK", "key": name, "version": 1,
              "jsonSchema": {**schema, "description": name}} for name in PLAN_EVENTS]
    return {"name": "Bench 50", "rules": rules}
