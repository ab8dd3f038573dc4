"""What ingest (and the worker) call on events: drop suppressed users, apply each source's field controls.

:class:`PrivacyGate` is built from the workspace.  With a bootstrap address it runs a
:class:`~eventyard.transforms.privacy.regulation_log.RegulationsFollower` (``start()`` / ``stop()`` with the
process); without one nobody is suppressed and only field controls apply (in-process tools and tests).

* :meth:`PrivacyGate.admit` — ingest's call: drops the events of suppressed users (counted as
  ``eventyard_ingest_rejected_total{reason="suppressed"}``) and applies the field controls;
* :meth:`PrivacyGate.filter_items` — the worker's call on envelope items: drops suppressed users' items,
  counted as ``eventyard_pipeline_discarded_total{stage="privacy",reason="suppressed"}``;
* :meth:`PrivacyGate.apply_fields` — field rules and the PII detector, in place, counted in
  ``eventyard_privacy_fields_total`` and ``eventyard_privacy_pii_detected_total``.  A finding is logged
  with source, kind and count only: never the value, never the event.

A salt named by ``salt_env`` must be set when the gate is built, or it raises ``ValueError`` naming the
variable, so a process never starts hashing with an empty salt.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from eventyard.config.workspace import Workspace
from eventyard.streams import metrics
from eventyard.transforms.privacy.fields import FieldPolicy
from eventyard.transforms.privacy.regulation_log import RegulationsFollower

log = logging.getLogger("eventyard.privacy")
Event = dict[str, Any]


def policies_for(workspace: Workspace) -> dict[str, FieldPolicy]:
    """The field policy of every source that has active privacy settings."""
    policies = {}
    for source in workspace.sources:
        settings = source.privacy
        if not settings.active:
            continue
        salt = None
        if settings.salt_env:
            salt = os.environ.get(settings.salt_env, "").encode()
            if not salt:
                raise ValueError(f"source {source.name!r}: environment variable {settings.salt_env} "
                                 "(privacy salt) is not set")
        policies[source.name] = FieldPolicy(settings, salt)
    return policies


class PrivacyGate:
    """Suppression and field controls for one workspace."""

    def __init__(self, workspace: Workspace, bootstrap: str | None = None) -> None:
        self.policies = policies_for(workspace)
        self.follower = RegulationsFollower(bootstrap, workspace.topics.prefix) if bootstrap else None

    async def start(self) -> None:
        """Start following the regulations topic (when connected)."""
        if self.follower:
            await self.follower.start()

    async def stop(self) -> None:
        """Stop following."""
        if self.follower:
            await self.follower.stop()

    def filter_suppressed(self, events: list[Event]) -> list[Event]:
        """``events`` without those of suppressed users (the same list when nobody is suppressed)."""
        if self.follower is None or not self.follower.book.suppressed:
            return events
        suppressed = self.follower.book.suppressed
        return [e for e in events if e.get("userId") not in suppressed]

    def filter_items(self, items: list[Any]) -> list[Any]:
        """The worker's call on an envelope's items (``{"source", "event"}``): drop suppressed users'
        items, counted as ``eventyard_pipeline_discarded_total{stage="privacy",reason="suppressed"}``."""
        if self.follower is None or not self.follower.book.suppressed:
            return items
        suppressed = self.follower.book.suppressed
        kept = []
        for item in items:
            event = item.get("event") if isinstance(item, dict) else None
            if isinstance(event, dict) and event.get("userId") in suppressed:
                metrics.PIPELINE_DISCARDED.labels(str(item.get("source")), "privacy", "suppressed").inc()
            else:
                kept.append(item)
        return kept

    def apply_fields(self, source: str, events: list[Event]) -> None:
        """Apply ``source``'s field controls to ``events`` in place and count what was done."""
        policy = self.policies.get(source)
        if policy is None:
            return
        totals: dict[str, int] = {}
        for event in events:
            for name, count in policy.apply(event).items():
                totals[name] = totals.get(name, 0) + count
        for name, count in totals.items():
            if name.startswith("pii_"):
                metrics.PRIVACY_PII_DETECTED.labels(source, name[4:]).inc(count)
                log.info("likely personal data outside expected fields",
                         extra={"source": source, "kind": name[4:], "count": count, "mode": policy.mode})
            else:
                metrics.PRIVACY_FIELDS.labels(source, name).inc(count)

    def admit(self, source: str, events: list[Event]) -> list[Event]:
        """Ingest's call: drop suppressed users' events (counted), apply field controls to the rest."""
        kept = self.filter_suppressed(events)
        if len(kept) != len(events):
            metrics.INGEST_REJECTED.labels(source, "suppressed").inc(len(events) - len(kept))
        self.apply_fields(source, kept)
        return kept
