"""Dead letters: reading a destination's dead-letter topic, selecting records, replaying them.

``read_dead_letters`` consumes ``<prefix>.dlq.<destination>`` from the beginning up to the end offsets
it saw when it started (so it terminates), without a consumer group (nothing is committed, reading
never changes what a later reader sees).  :class:`Selection` keeps the records that match every
criterion given: dead-lettered at or after ``since`` and before ``until`` (the record's Kafka
timestamp, i.e. when it was dead-lettered), ``error_class`` (the ``eventyard.error.class`` header) and
an FQL condition on the event (``where``, e.g. ``type = 'track' and userId = 'u1'``).

``replay`` re-injects the selected events into ``<prefix>.dest.<target>`` as ``dest`` envelopes,
partitioned by user key like the pipeline's output, so the target's normal delivery agent handles them
(batching, retries, dead letters).  The target may be the original destination or another one.  Replay
does not remove records from the dead-letter topic: replaying the same selection twice sends the events
twice, and a destination idempotent by messageId (the warehouse: ``id`` is unique) absorbs that.

Events the pipeline skipped because their destination was disabled are dead-lettered with class
``destination_disabled`` (see ``eventyard.streams.deadletter.disabled_letter``) and replay the same way
once the destination is enabled.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from eventyard.streams.deadletter import HEADER_PREFIX, decode_headers
from eventyard.streams.envelope import encode_dest_envelope, group_by_partition, user_key
from eventyard.transforms.fql import compile_fql, compile_matcher

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now: float | None = None) -> float:
    """``2026-05-01T12:00:00Z``, ``2026-05-01`` or a duration ago (``30m``, ``2h``, ``7d``) → UNIX time."""
    match = _RELATIVE.match(text.strip())
    if match:
        return (time.time() if now is None else now) - float(match[1]) * _UNITS[match[2]]
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class DeadRecord:
    """One record of a dead-letter topic."""

    partition: int
    offset: int
    timestamp: float
    headers: dict[str, str]
    event: dict[str, Any]

    @property
    def error_class(self) -> str:
        """The ``eventyard.error.class`` header."""
        return self.headers.get(HEADER_PREFIX + "class", "")

    @property
    def source(self) -> str:
        """The source the event came from."""
        return self.headers.get("eventyard.source", "")


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; an unset criterion matches everything."""

    since: float | None = None
    until: float | None = None
    error_class: str | None = None
    where: str | None = None

    def matcher(self) -> Callable[[DeadRecord], bool]:
        """Compile the criteria (the FQL once) into a predicate; raises FQLSyntaxError for bad FQL."""
        condition = compile_matcher(compile_fql(self.where)) if self.where else None

        def matches(record: DeadRecord) -> bool:
            return ((self.since is None or record.timestamp >= self.since)
                    and (self.until is None or record.timestamp < self.until)
                    and (self.error_class is None or record.error_class == self.error_class)
                    and (condition is None or condition(record.event)))

        return matches


async def read_dead_letters(bootstrap_servers: str, topic: str, selection: Selection) -> list[DeadRecord]:
    """Every record of ``topic`` present when called that ``selection`` matches, in partition order."""
    matches = selection.matcher()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or
                                                               await _partitions(consumer, topic))]
        ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items() if end > 0}
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        found: list[DeadRecord] = []
        while ends:
            for tp, messages in (await consumer.getmany(*ends, timeout_ms=1000)).items():
                for message in messages:
                    if message.offset < ends.get(tp, 0):
                        record = _dead_record(message)
                        if matches(record):
                            found.append(record)
                if messages and messages[-1].offset + 1 >= ends.get(tp, 0):
                    ends.pop(tp, None)
        return sorted(found, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise LookupError(f"topic {topic} does not exist")
    return partitions


def _dead_record(message: Any) -> DeadRecord:
    try:
        event = orjson.loads(message.value or b"null")
    except orjson.JSONDecodeError:
        event = None
    return DeadRecord(message.partition, message.offset, message.timestamp / 1000.0,
                      decode_headers(message.headers), event if isinstance(event, dict) else {})


async def replay(bootstrap_servers: str, records: list[DeadRecord], target_topic: str,
                 batch_size: int = 500) -> int:
    """Write the events of ``records`` to ``target_topic`` as dest envelopes; return how many."""
    items = [{"source": r.source, "event": r.event} for r in records if r.event]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                                max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        partitions = len(await producer.partitions_for(target_topic))
        futures = []
        groups = group_by_partition(items, partitions, lambda item: user_key(item["event"]))
        for partition, group in groups.items():
            for start in range(0, len(group), batch_size):
                envelope = encode_dest_envelope(group[start:start + batch_size])
                futures.append(await producer.send(target_topic, envelope, partition=partition))
        for future in futures:
            await future
    finally:
        await producer.stop()
    return len(items)
