"""The worker's Faust agents: the pipeline agent and one delivery agent per destination.

Contract shared by every agent here:

* records are consumed as bytes and decoded by us (``eventyard.streams.envelope``);
* **no exception escapes an agent body** — Faust would ack the record of an agent that raised.  A record
  that cannot be decoded goes to the rejects topic with the error; an unexpected error while handling a
  record is logged with its origin and the record is written to the rejects topic too, so nothing
  vanishes.  Only cancellation (shutdown) propagates, leaving the record uncommitted;
* an agent returns to Faust (which then acks the record) only after every output of that record is
  acknowledged by the broker or, for delivery agents, every event is resolved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

import faust
from aiokafka.errors import KafkaError

from eventyard.config.loader import LoadedWorkspace
from eventyard.destinations.base import Destination, DestinationContext
from eventyard.destinations.registry import destination_class
from eventyard.streams import metrics
from eventyard.streams.app import WorkerOptions
from eventyard.streams.deadletter import Origin
from eventyard.streams.delivery import Deliverer
from eventyard.streams.envelope import EnvelopeError, decode_envelope
from eventyard.streams.output import OutputProducer
from eventyard.streams.pipeline import Pipeline, reject_record
from eventyard.streams.topics import TopicNames
from eventyard.streams.web import register_views

log = logging.getLogger("eventyard.worker")


def _origin(event: faust.EventT) -> Origin:
    message = event.message
    return Origin(message.topic, message.partition, message.offset)


def _failed_record(event: faust.EventT, exc: Exception) -> dict[str, Any]:
    origin = _origin(event)
    reason = "invalid_envelope" if isinstance(exc, EnvelopeError) else "agent_error"
    record = reject_record(None, "decode", reason, f"{type(exc).__name__}: {exc}")
    record["item"] = (event.value or b"")[:4096].decode("utf-8", "replace")
    record["origin"] = {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset}
    return record


def register_agents(app: faust.App, loaded: LoadedWorkspace, options: WorkerOptions) -> None:
    """Register the pipeline agent and the delivery agents of ``loaded`` on ``app``."""
    workspace = loaded.model
    topics = TopicNames(workspace.topics.prefix)
    output = OutputProducer(options.bootstrap_servers, topics, options.idempotent)
    app.service(output)
    register_views(app)
    _register_pipeline(app, workspace, topics, output)
    for dest in workspace.destinations:
        if dest.enabled:
            cls = destination_class(dest.type)
            context = DestinationContext(str(loaded.directory), dest.name)
            destination = cls(dest.name, loaded.destination_settings[dest.name], context)
            deliverer = Deliverer(destination, dest.delivery, output.send_dead_letter)
            _register_delivery(app, topics.dest(dest.name), destination, deliverer, output)


def _register_pipeline(app: faust.App, workspace, topics: TopicNames, output: OutputProducer) -> None:
    pipeline = Pipeline(workspace)
    topic = app.topic(topics.raw, value_serializer="raw", key_serializer="raw")
    stage = metrics.STAGE_DURATION.labels("pipeline")

    async def handle(event: faust.EventT) -> None:
        started = time.perf_counter()
        result = pipeline.process(decode_envelope(event.value).items)
        await output.send_routed(result.routes)
        if result.rejects:
            await output.send_rejects(result.rejects)
        for (source, stage_name, reason), count in result.discarded.items():
            metrics.PIPELINE_DISCARDED.labels(source, stage_name, reason).inc(count)
        stage.observe(time.perf_counter() - started)

    async def pipeline_agent(stream: faust.StreamT) -> None:
        await output.ensure_started()
        async for event in stream.events():
            await _guarded(handle, event, output, "pipeline")

    app.agent(topic, name="eventyard.pipeline")(pipeline_agent)


async def _guarded(handle: Callable[[faust.EventT], Awaitable[None]], event: faust.EventT,
                   output: OutputProducer, agent: str) -> None:
    """Run ``handle(event)`` so that no exception escapes.

    Broker errors are transient for a worker: the record is handled again after a pause, as long as it
    takes, since nothing downstream can progress without the broker.  Any other error sends the record
    to the rejects topic with the error.
    """
    pause = 0.5
    while True:
        try:
            try:
                await handle(event)
            except KafkaError:
                raise
            except Exception as exc:
                if not isinstance(exc, EnvelopeError):
                    log.exception("%s agent failed on record %s", agent, _origin(event))
                await output.send_rejects([_failed_record(event, exc)])
            return
        except KafkaError as exc:
            log.warning("%s agent: broker error %r; retrying record %s in %.1f s",
                        agent, exc, _origin(event), pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)


def _register_delivery(app: faust.App, topic_name: str, destination: Destination,
                       deliverer: Deliverer, output: OutputProducer) -> None:
    topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")
    stage = metrics.STAGE_DURATION.labels("delivery")

    async def handle(event: faust.EventT) -> None:
        started = time.perf_counter()
        await deliverer.resolve(decode_envelope(event.value).items, _origin(event))
        stage.observe(time.perf_counter() - started)

    async def delivery_agent(stream: faust.StreamT) -> None:
        await output.ensure_started()
        await destination.setup()
        try:
            async for event in stream.events():
                await _guarded(handle, event, output, f"delivery.{destination.name}")
        finally:
            await destination.close()

    app.agent(topic, name=f"eventyard.delivery.{destination.name}")(delivery_agent)
