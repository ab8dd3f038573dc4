"""Regulations: what eventyard must do about one user, and the fold that answers questions about them.

A regulation is one record on ``<prefix>.regulations``, keyed by ``userId``; the newest record of a key
wins (the topic is compacted on Apache Kafka; Tansu does not compact, so readers fold the whole topic,
which gives the same answer).  Kinds, as Segment names them:

=========================  =====================  ================================================
kind                       new events dropped     stored data purged
=========================  =====================  ================================================
``suppress``               yes                    no
``suppress_with_delete``   yes                    yes
``delete``                 yes                    yes (eventyard also suppresses: accepting new
                                                  events of an erased user would re-collect them)
``unsuppress``             no                     no (earlier deletions stay in force for old data)
=========================  =====================  ================================================

``deleted_at`` is carried forward by every later record of the user, so after ``unsuppress`` an event
received before the deletion is still never re-delivered (:meth:`RegulationBook.may_redeliver`) while new
events flow again.  ``purge`` maps each data store to what the purge did there (see ``docs/privacy.md``).
Records never hold event payloads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

KINDS = ("suppress", "suppress_with_delete", "delete", "unsuppress")
SUPPRESSING = frozenset({"suppress", "suppress_with_delete", "delete"})
PURGING = frozenset({"suppress_with_delete", "delete"})


@dataclass
class Regulation:
    """The current regulation of one user."""

    user_id: str
    kind: str
    regulation_id: str
    created_at: float
    actor: str
    deleted_at: float | None = None
    purge: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def suppressed(self) -> bool:
        """Whether new events of this user are dropped."""
        return self.kind in SUPPRESSING

    def pending(self) -> list[str]:
        """The purge targets not done yet."""
        return sorted(t for t, r in self.purge.items() if r.get("status") not in ("done", "masked"))

    def encode(self) -> bytes:
        """The record value on the regulations topic."""
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> "Regulation":
        """Parse a record value; raise ``ValueError`` when it is not a regulation."""
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or doc.get("kind") not in KINDS or not isinstance(doc.get("user_id"), str):
            raise ValueError("not a regulation record")
        return cls(doc["user_id"], doc["kind"], str(doc.get("regulation_id") or ""),
                   float(doc.get("created_at") or 0), str(doc.get("actor") or ""),
                   doc.get("deleted_at"), dict(doc.get("purge") or {}))


def received_at_seconds(event: dict[str, Any]) -> float | None:
    """An event's ``receivedAt`` as UNIX seconds, or None when absent or unreadable."""
    value = event.get("receivedAt")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class RegulationBook:
    """The fold of the regulations topic: the newest regulation per user."""

    def __init__(self) -> None:
        self.by_user: dict[str, Regulation] = {}
        self.suppressed: frozenset[str] = frozenset()

    def apply(self, regulation: Regulation) -> None:
        """Take one record, in topic order."""
        self.by_user[regulation.user_id] = regulation
        self.suppressed = frozenset(u for u, r in self.by_user.items() if r.suppressed)

    def get(self, user_id: str) -> Regulation | None:
        """The current regulation of ``user_id``, if any."""
        return self.by_user.get(user_id)

    def is_suppressed(self, user_id: Any) -> bool:
        """Whether new events of ``user_id`` must be dropped."""
        return isinstance(user_id, str) and user_id in self.suppressed

    def may_redeliver(self, event: dict[str, Any]) -> bool:
        """Whether replay or dead-letter tools may deliver ``event`` again.

        False for a suppressed user, and for an event of a deleted user received before (or without a
        readable ``receivedAt`` relative to) the deletion.
        """
        user_id = event.get("userId")
        regulation = self.by_user.get(user_id) if isinstance(user_id, str) else None
        if regulation is None:
            return True
        if regulation.suppressed:
            return False
        if regulation.deleted_at is None:
            return True
        received = received_at_seconds(event)
        return received is not None and received > regulation.deleted_at
