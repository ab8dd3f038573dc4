"""The Faust application of a worker process, built from a workspace.

``create_app(workspace, options)`` returns a ``faust.App`` whose agents are registered by
``eventyard.streams.agents``: one pipeline agent on ``<prefix>.raw`` and one delivery agent per enabled
destination on ``<prefix>.dest.<name>``.  Every topic uses the ``raw`` codec: agents decode records
themselves (``eventyard.streams.envelope``), so a bad record can never make Faust raise before our
code sees it.

Settings that matter for correctness and for the embedded Tansu broker:

* ``stream_buffer_maxsize`` is small because each record is an envelope of up to hundreds of events;
  Faust pauses a partition whose buffer is full, so a slow destination does not stall the others.
* short session / rebalance timeouts (``WorkerOptions.session_timeout``) because Tansu holds a JoinGroup
  for about half the session timeout; production may raise them.
* agents write through their own aiokafka producer (``eventyard.streams.output``) so that producer
  idempotence is an option (``--idempotent``): on for Apache Kafka, off for Tansu, which lacks it.
* the web server (``/metrics``, ``/health``) binds 127.0.0.1 on the worker's health port.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import faust

from eventyard.config.loader import LoadedWorkspace
from eventyard.streams.consumer import EventyardTransport
from eventyard.streams.topics import TopicNames


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker process connects and behaves."""

    bootstrap_servers: str
    health_port: int = 6066
    health_host: str = "127.0.0.1"
    session_timeout: float = 10.0
    idempotent: bool = False
    commit_interval: float = 1.0


def broker_urls(bootstrap_servers: str) -> list[str]:
    """``host:port,host:port`` → Faust broker URLs."""
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server.strip()]


class EventyardApp(faust.App):
    """A Faust app whose stop and rebalance wait a *bounded* time for in-flight records.

    Faust either waits for every started record to be acked before committing (``stream_wait_empty``,
    unbounded: a record whose events wait hours for a retry would hold a rebalance that long) or does
    not wait at all (then records whose outputs were a few milliseconds from done are committed by the
    next owner instead, as duplicates).  eventyard waits up to ``drain_seconds`` — enough for queued
    outputs and linger batches — commits what was acked, and leaves the rest uncommitted.
    """

    drain_seconds: float = 5.0
    intake_topics: frozenset[str] = frozenset()
    """Topics whose records the consumer hands out after the destination topics' (``streams.consumer``)."""

    def _new_transport(self) -> Any:
        """Faust's aiokafka transport with a bounded fetch wait (``eventyard.streams.consumer``)."""
        return EventyardTransport(self.conf.broker_consumer, self)

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        try:
            await asyncio.wait_for(consumer.wait_empty(), self.drain_seconds)
        except asyncio.TimeoutError:
            logger.info("records still in flight after %.1f s stay uncommitted", self.drain_seconds)
            await consumer.commit()


def create_app(loaded: LoadedWorkspace, options: WorkerOptions) -> faust.App:
    """Build the worker's Faust app with every agent of the workspace registered."""
    from eventyard.streams.agents import register_agents

    prefix = loaded.model.topics.prefix
    app = EventyardApp(
        f"{prefix}-worker",
        broker=broker_urls(options.bootstrap_servers),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        autodiscover=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=16,
        # envelopes with pending retries or unacknowledged outputs hold a reference on their message;
        # stop and rebalance wait for them only a bounded time (EventyardApp._consumer_wait_empty)
        stream_wait_empty=False,
        broker_commit_interval=options.commit_interval,
        broker_session_timeout=options.session_timeout,
        broker_rebalance_timeout=options.session_timeout,
        broker_heartbeat_interval=max(0.5, options.session_timeout / 6),
        broker_request_timeout=max(30.0, options.session_timeout * 2),
        producer_acks=-1,
        web_enabled=True,
        web_bind=options.health_host,
        web_host=options.health_host,
        web_port=options.health_port,
        worker_redirect_stdouts=False,
    )
    app.drain_seconds = min(10.0, options.session_timeout / 2)
    app.intake_topics = frozenset({TopicNames(prefix).raw})
    register_agents(app, loaded, options)
    return app
