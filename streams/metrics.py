"""Prometheus metrics of every eventyard process (names from ``docs/metrics.md``).

One registry per process (prometheus-client's default); ingest and workers serve it at ``/metrics``.
Names follow Prometheus conventions: ``eventyard_`` prefix, base units (seconds), ``_total`` counters.
Label values come from the workspace (source and destination names) or from small fixed sets (reasons,
outcomes, stages) — never from events — so cardinality stays bounded.

Hot paths do not look labels up per event: they count per batch, or hold children obtained once with
``.labels(...)``.

Latency buckets span 5 ms to 4 h: delivery latency is measured from ``receivedAt`` (Segment's
end-to-end definition), and events retried for hours must still land in a finite bucket.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   300.0, 900.0, 3600.0, 14400.0)
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

EVENTS_RECEIVED = Counter(
    "eventyard_events_received_total", "Events accepted by ingest and written to the raw topic.",
    ["source", "type"])
INGEST_REJECTED = Counter(
    "eventyard_ingest_rejected_total", "Events or requests refused by ingest, by reason.",
    ["source", "reason"])
INGEST_REQUESTS = Counter(
    "eventyard_ingest_requests_total", "HTTP requests answered by ingest, by status code.",
    ["status_code"])
PIPELINE_DISCARDED = Counter(
    "eventyard_pipeline_discarded_total",
    "Events the pipeline did not pass on, by stage and reason (deduplicated, blocked, ...).",
    ["source", "stage", "reason"])
PIPELINE_ROUTED = Counter(
    "eventyard_pipeline_routed_total", "Events routed by the pipeline to a destination topic.",
    ["source", "destination"])
DELIVERY_EVENTS = Counter(
    "eventyard_delivery_events_total",
    "Events resolved by a destination's delivery agent, by outcome "
    "(delivered, retried, dead_lettered, filtered).",
    ["destination", "outcome"])
DELIVERY_ERRORS = Counter(
    "eventyard_delivery_errors_total", "Delivery errors by class and status code.",
    ["destination", "error_class", "status_code"])
DELIVERY_LATENCY = Histogram(
    "eventyard_delivery_latency_seconds", "Time from receivedAt to delivered, per destination.",
    ["destination"], buckets=LATENCY_BUCKETS)
STAGE_DURATION = Histogram(
    "eventyard_stage_duration_seconds", "Processing time of one envelope per stage.",
    ["stage"], buckets=STAGE_BUCKETS)
RETRY_PENDING = Gauge(
    "eventyard_retry_pending", "Events waiting for a retry, per destination.", ["destination"])
DEAD_LETTERS = Counter(
    "eventyard_dead_letters_total", "Records written to dead-letter or rejects topics.",
    ["topic_kind", "reason"])

# --- Funnel and health additions (see docs/metrics.md for who increments what) --------------------
DESTINATION_FILTERED = Counter(
    "eventyard_destination_filtered_total",
    "Events a destination did not receive because of its own settings, by stage "
    "(integrations, filters, transforms) and reason.",
    ["source", "destination", "stage", "reason"])
PROTOCOLS_VIOLATIONS = Counter(
    "eventyard_protocols_violations_total",
    "Tracking-plan violations found, by violation type (required, invalid_type, enum, ...).",
    ["source", "violation_type"])
CONSUMER_LAG = Gauge(
    "eventyard_consumer_lag",
    "Records of a partition this worker owns that it has not read yet (high watermark - position).",
    ["topic", "partition"])
DEAD_LETTER_TOPIC_RECORDS = Gauge(
    "eventyard_dead_letter_topic_records",
    "Records in a destination's dead-letter topic, as counted by the health server.",
    ["destination"])
BLOCKED_TOPIC_RECORDS = Gauge(
    "eventyard_blocked_topic_records",
    "Records in the blocked topic (Protocols BLOCK), as counted by the health server.")

# --- Pipeline stages: Protocols, dedup, user functions (eventyard.streams.pipeline_agent) ---------
PROTOCOLS_EVENT_VIOLATIONS = Counter(
    "eventyard_protocols_event_violations_total",
    "Tracking-plan violations per event name, for sources that opt in with violation_event_labels "
    "(at most that many names per source; the rest count as _other).",
    ["source", "event"])
PROTOCOLS_ACTIONS = Counter(
    "eventyard_protocols_actions_total",
    "Events a tracking plan acted on: blocked, omitted; in observe mode would_block, would_omit.",
    ["source", "action"])
DEDUP_WINDOW_IDS = Gauge(
    "eventyard_dedup_window_ids", "messageIds held in the dedup window of a raw partition.",
    ["partition"])

# --- Privacy (transforms/privacy; see docs/privacy.md) ---------------------------------------------
PRIVACY_FIELDS = Counter(
    "eventyard_privacy_fields_total",
    "Event fields a source's privacy settings removed or hashed (action: blocked, hashed).",
    ["source", "action"])
PRIVACY_PII_DETECTED = Counter(
    "eventyard_privacy_pii_detected_total",
    "Values that look like personal data outside the expected fields, by kind (email, phone, card, ip).",
    ["source", "kind"])


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """``histogram.observe(v)`` for every value of ``values``, with one increment per bucket touched.

    prometheus-client has no bulk observe, and ``observe`` walks the bucket bounds under a lock per call;
    here each value's bucket is found by bisection and every bucket (and the sum) is incremented once.
    Uses the child's ``_upper_bounds`` / ``_buckets`` / ``_sum`` (stable across prometheus-client 0.x;
    ``tests/test_health_metrics.py`` checks the exposition).
    """
    if not values:
        return
    bounds = histogram._upper_bounds
    counts: dict[int, int] = {}
    for value in values:
        index = bisect_left(bounds, value)
        counts[index] = counts.get(index, 0) + 1
    for index, count in counts.items():
        histogram._buckets[index].inc(count)
    histogram._sum.inc(sum(values))


@lru_cache(maxsize=8192)
def child(metric: Counter | Gauge | Histogram, *labels: str):
    """``metric.labels(*labels)``, remembered: per-envelope counting without prometheus-client's label
    validation and lock each time (label values are bounded, see the module docstring)."""
    return metric.labels(*labels)
