"""Server-side normalization of a Segment event before Protocols runs.

Contract
--------
``normalize(event, received_at)`` returns a *new* dict (the input is not mutated; nested
objects are shared) with Segment's clock-skew correction applied:

* ``receivedAt`` is set to ``received_at`` (the server clock).
* A client-set ``timestamp`` is kept verbatim as ``originalTimestamp`` (an existing
  ``originalTimestamp`` wins when both are present).
* With ``sentAt`` present: ``timestamp = receivedAt - (sentAt - originalTimestamp)``.
* Without ``sentAt`` (or when a value does not parse): ``timestamp`` is the client's
  timestamp, or ``receivedAt`` when there is none.

Timestamps are ISO-8601 in; ``timestamp`` and ``receivedAt`` are always written in Segment's
format ``2024-01-01T00:00:00.000Z`` (UTC, milliseconds).  Naive inputs are read as UTC.

Event names (``event`` for track, ``name`` for page/screen) and property/trait names (at any
depth of ``properties``/``traits``) longer than 255 characters raise ``NormalizationError``;
``check_keys=False`` leaves the property/trait names to a caller that checked them
(the pipeline, with ``key_scan.scan_event``).  Parsed timestamps are remembered per string
(bounded): a batch shares its ``sentAt`` and ``receivedAt``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

MAX_NAME_LENGTH = 255
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HOUR_MINUTE = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(24 * 60)]
_SECOND = [f"{s:02d}." for s in range(60)]
_MILLIS = [f"{ms:03d}Z" for ms in range(1000)]
_DAY_MS = 86_400_000
_day_prefix_cache: dict[int, str] = {}
_received_cache: tuple[str, int, str] = ("", 0, "")
_parsed: dict[str, int | None] = {}
_PARSED_MAX = 4096
_UNPARSED = object()
_SCALARS = frozenset({str, int, float, bool, type(None)})


class NormalizationError(ValueError):
    """An event that cannot enter the pipeline: ``reason`` is short, ``field`` a dotted path."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.reason = reason
        self.field = field


def _is_canonical(value: str) -> bool:
    """True when ``value`` already has Segment's exact shape (checked before parsing)."""
    return len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T"


def parse_ms(value: object) -> int | None:
    """Epoch milliseconds (sub-millisecond digits rounded) of an ISO-8601 string, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return round(parsed.timestamp() * 1000)  # exact for millisecond inputs


def _parse_cached(value: object) -> int | None:
    """:func:`parse_ms` remembered per string (a batch shares its ``sentAt``); bounded."""
    if not isinstance(value, str):
        return None
    ms = _parsed.get(value, _UNPARSED)
    if ms is _UNPARSED:
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        ms = _parsed[value] = parse_ms(value)
    return ms


def format_ms(ms: int) -> str:
    """Segment-format UTC string of epoch milliseconds (date prefix cached per day)."""
    day, rem = divmod(ms, _DAY_MS)
    prefix = _day_prefix_cache.get(day)
    if prefix is None:
        prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        _day_prefix_cache[day] = prefix
    secs, millis = divmod(rem, 1000)
    minutes, sec = divmod(secs, 60)
    return prefix + _HOUR_MINUTE[minutes] + _SECOND[sec] + _MILLIS[millis]


def _received(received_at: str) -> tuple[int, str]:
    """Parse the server clock once per distinct value (a batch shares one)."""
    global _received_cache
    if _received_cache[0] == received_at:
        return _received_cache[1], _received_cache[2]
    ms = parse_ms(received_at)
    if ms is None:
        raise NormalizationError("receivedAt is not ISO-8601", "receivedAt")
    text = received_at if _is_canonical(received_at) else format_ms(ms)
    _received_cache = (received_at, ms, text)
    return ms, text


def _check_keys(obj: object, path: str) -> None:
    """Raise on any dict key longer than the limit, walking nested dicts and lists in order."""
    if isinstance(obj, dict):
        if not obj or (max(map(len, obj)) <= MAX_NAME_LENGTH
                       and _SCALARS.issuperset(map(type, obj.values()))):
            return  # the common flat payload: nothing to walk
        for key, value in obj.items():
            if len(key) > MAX_NAME_LENGTH:
                raise NormalizationError("property name too long", f"{path}.{key[:32]}…")
            if isinstance(value, (dict, list)):
                _check_keys(value, f"{path}.{key}")
    elif isinstance(obj, list) and not _SCALARS.issuperset(map(type, obj)):
        for item in obj:
            if isinstance(item, (dict, list)):
                _check_keys(item, path)


def check_names(event: dict, check_keys: bool = True) -> None:
    """Raise ``NormalizationError`` when an event or property name exceeds 255 chars."""
    for field in ("event", "name"):
        name = event.get(field)
        if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
            raise NormalizationError("event name too long", field)
    if check_keys:
        for field in ("properties", "traits"):
            _check_keys(event.get(field), field)


def normalize(event: dict, received_at: str, check_keys: bool = True) -> dict:
    """Return a copy of ``event`` with Segment's timestamp skew correction applied.

    Raises ``NormalizationError`` for over-long names or an unparseable ``received_at``.
    ``check_keys=False`` skips the walk over property/trait keys, for a caller that checked them
    (the pipeline does, with ``key_scan.scan_event``).
    """
    check_names(event, check_keys)
    received_ms, received_text = _received(received_at)
    out = dict(event)
    out["receivedAt"] = received_text
    original = out.get("originalTimestamp", out.get("timestamp"))
    if original is None:
        out["timestamp"] = received_text
        return out
    out["originalTimestamp"] = original
    sent_at = out.get("sentAt")
    if sent_at is not None and sent_at == original:
        # No skew between the client's two clocks readings: the event happened on receipt.
        out["timestamp"] = received_text
        return out
    original_ms = _parse_cached(original)
    sent_ms = _parse_cached(sent_at) if sent_at is not None else None
    if original_ms is None:
        out["timestamp"] = received_text
    elif sent_ms is None:
        canonical = isinstance(original, str) and _is_canonical(original)
        out["timestamp"] = original if canonical else format_ms(original_ms)
    else:
        out["timestamp"] = format_ms(received_ms - (sent_ms - original_ms))
    return out
