"""One pass over an event's names for the pipeline's hot path: over-long keys and naming findings.

Contract
--------
``scan_event(event, case) -> (too_long, findings)``:

* ``too_long`` is True when a key of ``properties`` or ``traits``, at any depth (dicts inside dicts
  and lists), is longer than :data:`~.normalize.MAX_NAME_LENGTH` — the keys ``normalize`` rejects
  (call ``check_names`` to get the error naming the field);
* ``findings`` is the number of naming-lint findings ``lint_event(event, case)`` reports (track event
  name, and every such key); 0 when ``case`` is None (lint off).

Both facts are remembered per event name and per *sequence of keys* of each dict (bounded caches),
so an event whose payload has the keys of an earlier one costs one tuple, one cache lookup and one
check that its values hold no nested containers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .naming import lint_event_name, lint_key
from .normalize import MAX_NAME_LENGTH

_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = (dict, list)


@lru_cache(maxsize=8192)
def _name_findings(name: str) -> int:
    return len(lint_event_name(name))


@lru_cache(maxsize=16384)
def _key_findings(key: str, case: str) -> int:
    return len(lint_key(key, "", case))


@lru_cache(maxsize=4096)
def _keys_facts(keys: tuple, case: str | None) -> tuple[bool, int]:
    too_long = any(len(key) > MAX_NAME_LENGTH for key in keys)
    findings = sum(_key_findings(str(key), case) for key in keys) if case is not None else 0
    return too_long, findings


def _scan(obj: Any, case: str | None) -> tuple[bool, int]:
    if isinstance(obj, dict):
        too_long, findings = _keys_facts(tuple(obj), case)
        values = obj.values()
    elif isinstance(obj, list):
        too_long, findings, values = False, 0, obj
    else:
        return False, 0
    if not _SCALARS.issuperset(map(type, values)):
        for value in values:
            if isinstance(value, _CONTAINERS):
                nested_long, nested_findings = _scan(value, case)
                too_long = too_long or nested_long
                findings += nested_findings
    return too_long, findings


def scan_event(event: dict, case: str | None) -> tuple[bool, int]:
    """(a property/trait key is too long, naming findings in ``case``) — see the module contract."""
    properties = event.get("properties")
    if type(properties) is dict and _SCALARS.issuperset(map(type, properties.values())):
        too_long, findings = _keys_facts(tuple(properties), case)  # the common flat payload
    else:
        too_long, findings = _scan(properties, case)
    traits = event.get("traits")
    if traits is not None:
        traits_long, traits_findings = _scan(traits, case)
        too_long, findings = too_long or traits_long, findings + traits_findings
    if case is not None and event.get("type") == "track":
        name = event.get("event")
        if isinstance(name, str):
            findings += _name_findings(name)
    return too_long, findings
