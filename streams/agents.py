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
from collections import deque
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
from eventyard.streams.delivery_agent import InFlightEnvelopes, setup_with_retry
from eventyard.streams.envelope import EnvelopeError
from eventyard.streams.dedup_log import DedupLog
from eventyard.streams.output import OutputProducer
from eventyard.streams.pipeline import Pipeline
from eventyard.streams.pipeline_agent import PipelineRunner, Tally, count
from eventyard.streams.pipeline_output import reject_record
from eventyard.streams.topics import TopicNames
from eventyard.streams.web import register_views
from eventyard.transforms.functions import FunctionPool
from eventyard.transforms.privacy.gate import PrivacyGate

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
    output = OutputProducer(options.bootstrap_servers, topics, options.idempotent,
                            workspace.topics.compression_type, workspace.topics.dest_linger_ms / 1000)
    app.service(output)
    register_views(app)
    _register_pipeline(app, loaded, options, topics, output)
    for dest in workspace.destinations:
        if dest.enabled:
            cls = destination_class(dest.type)
            context = DestinationContext(str(loaded.directory), dest.name,
                                         bootstrap_servers=options.bootstrap_servers)
            destination = cls(dest.name, loaded.destination_settings[dest.name], context)
            deliverer = Deliverer(destination, dest.delivery, output.send_dead_letter)
            _register_delivery(app, topics.dest(dest.name), destination, deliverer, output)


MAX_IN_FLIGHT = 1024
"""Raw envelopes whose outputs may be awaiting acknowledgement at once (each is acked only after)."""
MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024
"""…and their raw records' bytes at most: the throughput of the pipeline agent is bounded by what is in
flight over the broker's acknowledgement time, and ingest's envelopes can be small (a 100-event request
over 4 partitions is 4 envelopes of 25), so the bound is in bytes: with 64 envelopes, e2e stalled at
4,000 events/s while the worker used 40 % of a core."""


def _register_pipeline(app: faust.App, loaded: LoadedWorkspace, options: WorkerOptions,
                       topics: TopicNames, output: OutputProducer) -> None:
    workspace = loaded.model
    pipeline = Pipeline(workspace, loaded.directory)
    dedup = (DedupLog(options.bootstrap_servers, topics.dedup, workspace.dedup.window_seconds, output)
             if workspace.dedup.enabled else None)
    pool = FunctionPool() if pipeline.has_source_functions or pipeline.has_destination_functions else None
    privacy = PrivacyGate(workspace, options.bootstrap_servers)
    runner = PipelineRunner(pipeline, output, dedup, pool, privacy)
    topic = app.topic(topics.raw, value_serializer="raw", key_serializer="raw")
    stage = metrics.STAGE_DURATION.labels("pipeline")

    async def handle(event: faust.EventT) -> None:
        await runner.handle(event.value, _origin(event))

    async def submit(event: faust.EventT) -> tuple[Tally, list]:
        """Queue the outputs of one record; on a non-broker error, reject it (nothing queued)."""
        started = time.perf_counter()
        try:
            counts, acks = await runner.submit(event.value, _origin(event))
        except KafkaError:
            raise
        except Exception as exc:
            if not isinstance(exc, EnvelopeError):
                log.exception("pipeline agent failed on record %s", _origin(event))
            return [], await output.enqueue_rejects([_failed_record(event, exc)])
        stage.observe(time.perf_counter() - started)
        return counts, acks

    async def complete(event: faust.EventT, counts: Tally, acks: list) -> None:
        """Wait for one record's outputs; if one failed, handle the record again (``_guarded``: broker
        errors are retried, anything else rejects the record) — never release it without its outputs."""
        try:
            await asyncio.gather(*acks)
            count(counts)
        except Exception as exc:  # noqa: BLE001 - an escaping error would release the record unwritten
            log.warning("pipeline agent: output of %s failed (%r); handling it again", _origin(event), exc)
            await _guarded(handle, event, output, "pipeline")

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: set, **kwargs: Any) -> None:
        if dedup is not None:
            dedup.mark_stale(tp.partition for tp in assigned if tp.topic == topics.raw)

    async def pipeline_agent(stream: faust.StreamT) -> None:
        """Submit records in order; each holds one extra reference until its outputs are acked.

        Faust marks an offset committable when its message's references reach zero and commits only
        up to the first gap (``faust/transport/consumer.py``), so a record is committed only after its
        outputs — and every earlier record's — are acknowledged, while up to ``MAX_IN_FLIGHT`` records
        (and ``MAX_IN_FLIGHT_BYTES`` of record bytes) overlap their round trips to the broker.
        """
        await output.ensure_started()
        await privacy.start()
        in_flight: deque[tuple[asyncio.Future, int]] = deque()
        in_flight_bytes = 0
        try:
            async for event in stream.events():
                backoff = BrokerBackoff()
                while True:
                    try:
                        counts, acks = await submit(event)
                        break
                    except KafkaError as exc:
                        log.warning("pipeline agent: broker error %r on %s; retrying in %.1f s",
                                    exc, _origin(event), backoff.pause)
                        await backoff.wait()
                message = event.message
                message.incref()
                task = asyncio.ensure_future(complete(event, counts, acks))
                task.add_done_callback(lambda done, m=message: done.cancelled() or m.ack(app.consumer))
                size = len(event.value or b"")
                in_flight.append((task, size))
                in_flight_bytes += size
                while in_flight and (in_flight[0][0].done() or len(in_flight) >= MAX_IN_FLIGHT
                                     or in_flight_bytes >= MAX_IN_FLIGHT_BYTES):
                    oldest, size = in_flight.popleft()
                    in_flight_bytes -= size
                    await oldest
        finally:
            for task, _ in in_flight:
                task.cancel()
            await privacy.stop()
            if pool is not None:
                await pool.close()

    app.agent(topic, name="eventyard.pipeline")(pipeline_agent)


class BrokerBackoff:
    """The pause before handling a record again after a broker error: 0.5 s, doubling up to 10 s."""

    def __init__(self) -> None:
        self.pause = 0.5

    async def wait(self) -> None:
        """Sleep the current pause, then double it (capped)."""
        await asyncio.sleep(self.pause)
        self.pause = min(self.pause * 2, 10.0)


async def _guarded(handle: Callable[[faust.EventT], Awaitable[None]], event: faust.EventT,
                   output: OutputProducer, agent: str) -> None:
    """Run ``handle(event)`` so that no exception escapes.

    Broker errors are transient for a worker: the record is handled again after a pause, as long as it
    takes, since nothing downstream can progress without the broker.  Any other error sends the record
    to the rejects topic with the error.
    """
    backoff = BrokerBackoff()
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
                        agent, exc, _origin(event), backoff.pause)
            await backoff.wait()


def _register_delivery(app: faust.App, topic_name: str, destination: Destination,
                       deliverer: Deliverer, output: OutputProducer) -> None:
    topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")
    stage = metrics.STAGE_DURATION.labels("delivery")
    in_flight = InFlightEnvelopes(app, deliverer)

    async def handle(event: faust.EventT) -> None:
        started = time.perf_counter()
        await in_flight.handle(event)
        stage.observe(time.perf_counter() - started)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: set, **kwargs: Any) -> None:
        in_flight.revoked(revoked)

    async def delivery_agent(stream: faust.StreamT) -> None:
        await output.ensure_started()
        await setup_with_retry(destination)
        try:
            async for event in stream.events():
                await _guarded(handle, event, output, f"delivery.{destination.name}")
        finally:
            await deliverer.close()
            await destination.close()

    app.agent(topic, name=f"eventyard.delivery.{destination.name}")(delivery_agent)
