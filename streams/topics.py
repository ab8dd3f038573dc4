"""Topic names and topic creation.

Every internal topic name starts with the workspace's prefix so several workspaces can share a cluster:

============================  =================================  =====================================
topic                         partitioned by                     value
============================  =================================  =====================================
``<prefix>.raw``              hash(userId or anonymousId)        ``raw`` envelope
``<prefix>.rejects``          key = messageId (or none)          one rejected item + reason (JSON)
``<prefix>.dest.<name>``      hash(userId or anonymousId)        ``dest`` envelope
``<prefix>.dlq.<name>``       key = userId or anonymousId        one event, ``eventyard.error.*`` headers
``<prefix>.blocked``          key = messageId                    event + violations (Protocols BLOCK)
``<prefix>.dedup``            same partition number as raw       messageIds of one raw envelope
============================  =================================  =====================================

:func:`ensure_topics` creates whatever is missing (idempotent) with the workspace's partition count.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from eventyard.config.workspace import Workspace


@dataclass(frozen=True)
class TopicNames:
    """Computes the names of a workspace's internal topics."""

    prefix: str

    @property
    def raw(self) -> str:
        """Raw envelopes from ingest."""
        return f"{self.prefix}.raw"

    @property
    def rejects(self) -> str:
        """Items refused by ingest or by the decoder."""
        return f"{self.prefix}.rejects"

    @property
    def blocked(self) -> str:
        """Events blocked by a tracking plan, with their violations."""
        return f"{self.prefix}.blocked"

    @property
    def dedup(self) -> str:
        """messageId dedup log, co-partitioned with raw."""
        return f"{self.prefix}.dedup"

    def dest(self, destination: str) -> str:
        """Envelopes of events routed to ``destination``."""
        return f"{self.prefix}.dest.{destination}"

    def dlq(self, destination: str) -> str:
        """Dead letters of ``destination``."""
        return f"{self.prefix}.dlq.{destination}"

    def all_for(self, workspace: Workspace) -> list[str]:
        """Every topic the workspace needs."""
        names = [self.raw, self.rejects, self.blocked, self.dedup]
        for dest in workspace.destinations:
            names += [self.dest(dest.name), self.dlq(dest.name)]
        return names


async def ensure_topics(bootstrap_servers: str, workspace: Workspace) -> list[str]:
    """Create the workspace's topics that do not exist yet; return the names created."""
    names = TopicNames(workspace.topics.prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in names.all_for(workspace) if n not in existing]
        if not wanted:
            return []
        new = [NewTopic(n, workspace.topics.partitions, workspace.topics.replication_factor)
               for n in wanted]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
        return wanted
    finally:
        await admin.close()
