"""The pipeline agent's work for one raw envelope: dedup window → stages → user functions → outputs.

:class:`PipelineRunner.handle` is what the Faust agent calls per record (inside ``_guarded``):

0. events of users under a suppress or delete regulation are dropped and counted (privacy gate);
1. the dedup window of the record's partition (caught up from ``<prefix>.dedup`` after a rebalance);
2. ``Pipeline.source_phase``; then source functions (out of process, one request per source per
   envelope): an error rejects the event (stage ``source_function``, with the traceback);
3. ``Pipeline.destination_phase``; then destination functions: an error dead-letters the event on
   ``<prefix>.dlq.<name>`` with the traceback;
4. the dedup record, routed envelopes, rejects, blocked records and dead letters are queued in that
   order (:meth:`PipelineRunner.submit`); the agent acks the raw record only when all of them are
   acknowledged by the broker, so it may submit the next envelopes meanwhile;
5. the envelope's counts are added to the Prometheus metrics (one increment per key).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson

from eventyard.streams import metrics
from eventyard.streams.deadletter import DeadLetter, Origin
from eventyard.streams.dedup_log import DedupLog
from eventyard.streams.envelope import decode_envelope
from eventyard.streams.output import OutputProducer
from eventyard.streams.pipeline import Pipeline
from eventyard.streams.pipeline_output import DestinationDeadLetter, Item, PipelineOutput, reject_record
from eventyard.transforms.functions import FunctionPool, UserFunction
from eventyard.transforms.privacy.gate import PrivacyGate


class PipelineRunner:
    """Runs the pipeline for raw records and writes its outputs."""

    def __init__(self, pipeline: Pipeline, output: OutputProducer, dedup: DedupLog | None,
                 pool: FunctionPool | None, privacy: PrivacyGate | None = None) -> None:
        self.pipeline = pipeline
        self.output = output
        self.dedup = dedup
        self.pool = pool
        self.privacy = privacy

    async def handle(self, value: bytes | None, origin: Origin) -> None:
        """Process one raw record and return once every output is acknowledged."""
        counts, acks = await self.submit(value, origin)
        await asyncio.gather(*acks)
        count(counts)

    async def submit(self, value: bytes | None, origin: Origin) -> tuple[Tally, list]:
        """Process one raw record and queue its outputs; return its counts and the outputs' ack futures.

        Every record of this envelope is queued before this returns, in envelope order, so calling
        ``submit`` for envelopes one after another keeps per-partition (per-user) order even while
        the acknowledgements of earlier envelopes are still outstanding.
        """
        items = decode_envelope(value).items
        if self.privacy is not None:
            items = self.privacy.filter_items(items)
        out = PipelineOutput()
        is_duplicate = None
        if self.dedup is not None:
            window = await self.dedup.window(origin.partition)
            is_duplicate = window.checker(origin.offset)
        accepted = self.pipeline.source_phase(items, out, is_duplicate)
        if self.pool is not None and self.pipeline.has_source_functions:
            accepted = await self._source_functions(accepted, out)
        self.pipeline.destination_phase(accepted, out)
        if self.pool is not None and self.pipeline.has_destination_functions:
            await self._destination_functions(out)
        acks = []
        if self.dedup is not None and out.message_ids:
            acks.append(await self.dedup.enqueue_record(origin.partition, origin.offset,
                                                        out.message_ids))
            metrics.child(metrics.DEDUP_WINDOW_IDS, str(origin.partition)).set(
                len(self.dedup.windows[origin.partition]))
        acks += await self._enqueue(out, origin)
        return tally(out), acks

    async def _run(self, functions: list[UserFunction], events: list[dict], ctx: dict[str, Any]):
        """Apply ``functions`` in turn; yields per input event its events or its first error."""
        results: list[list[dict] | tuple[str, str]] = [[e] for e in events]
        for fn in functions:
            flat = [(i, e) for i, r in enumerate(results) if isinstance(r, list) for e in r]
            outcomes = await self.pool.run(fn, [e for _, e in flat], ctx)
            results = [r if isinstance(r, tuple) else [] for r in results]
            for (i, _), outcome in zip(flat, outcomes):
                if isinstance(results[i], tuple):
                    continue
                results[i] = ((outcome.error_class, outcome.error) if outcome.error is not None
                              else results[i] + outcome.events)
        return results

    async def _source_functions(self, accepted: list[Item], out: PipelineOutput) -> list[Item]:
        by_source: dict[str, list[int]] = {}
        for i, item in enumerate(accepted):
            if self.pipeline.sources[item["source"]].functions:
                by_source.setdefault(item["source"], []).append(i)
        replaced: dict[int, list[Item]] = {}
        for source, indexes in by_source.items():
            stages = self.pipeline.sources[source]
            results = await self._run(stages.functions, [accepted[i]["event"] for i in indexes],
                                      {"source": source, "destination": None})
            for i, result in zip(indexes, results):
                if isinstance(result, tuple):
                    out.rejects.append(reject_record(accepted[i], "source_function", result[0], result[1]))
                elif not result:
                    out.discarded[(source, "source_function", "dropped")] += 1
                replaced[i] = [] if isinstance(result, tuple) else [
                    {"source": source, "event": e} for e in result]
        return [new for i, item in enumerate(accepted) for new in replaced.get(i, [item])]

    async def _destination_functions(self, out: PipelineOutput) -> None:
        for name, items in list(out.routes.items()):
            stages = self.pipeline.destinations[name]
            if not stages.functions:
                continue
            kept: list[Item] = []
            results = await self._run(stages.functions, [item["event"] for item in items],
                                      {"source": None, "destination": name})
            for item, result in zip(items, results):
                if isinstance(result, tuple):
                    out.dead_letters.append(DestinationDeadLetter(name, item, *result))
                elif not result:
                    out.filtered[(item["source"], name, "destination_function", "dropped")] += 1
                else:
                    kept += [{"source": item["source"], "event": e} for e in result]
            out.routes[name] = kept

    async def _enqueue(self, out: PipelineOutput, origin: Origin) -> list:
        acks = await self.output.enqueue_routed(out.routes)
        if out.rejects:
            acks += await self.output.enqueue_rejects(out.rejects)
        producer, blocked_topic = self.output.producer, self.output.topics.blocked
        for record in out.blocked:
            acks.append(await producer.send(blocked_topic, orjson.dumps(record, default=repr),
                                            key=(record.get("messageId") or "").encode() or None))
        now = time.time()
        for letter in out.dead_letters:
            acks.append(await self.output.enqueue_dead_letter(letter.item, DeadLetter(
                letter.item["source"], letter.destination, letter.error_class, letter.message,
                attempts=0, first_attempt=now, last_attempt=now, origin=origin)))
        return acks


Tally = list[tuple[Any, int]]
"""One envelope's metric increments: (metric child, amount) pairs."""


def tally(out: PipelineOutput) -> Tally:
    """One envelope's counts as metric increments, to apply once its outputs are acknowledged.

    Taken when the envelope is submitted, so that its decoded events are freed as soon as their outputs
    are queued instead of living until the broker acknowledges them (up to 16 MB of envelopes are in
    flight at once).
    """
    out_tally: Tally = [(metrics.child(metrics.PIPELINE_DISCARDED, *key), n)
                        for key, n in out.discarded.items()]
    per_destination: Counter[str] = Counter()
    for (source, destination, stage, reason), n in out.filtered.items():
        out_tally.append((metrics.child(metrics.DESTINATION_FILTERED, source, destination, stage, reason), n))
        if stage != "integrations":
            out_tally.append((metrics.child(metrics.PIPELINE_DISCARDED, source, stage, reason), n))
            per_destination[destination] += n
    for destination, n in per_destination.items():
        out_tally.append((metrics.child(metrics.DELIVERY_EVENTS, destination, "filtered"), n))
    for key, n in out.violations.items():
        out_tally.append((metrics.child(metrics.PROTOCOLS_VIOLATIONS, *key), n))
    for key, n in out.event_violations.items():
        out_tally.append((metrics.child(metrics.PROTOCOLS_EVENT_VIOLATIONS, *key), n))
    for key, n in out.protocol_actions.items():
        out_tally.append((metrics.child(metrics.PROTOCOLS_ACTIONS, *key), n))
    routed: Counter[tuple[str, str]] = Counter()
    for destination, items in out.routes.items():
        for item in items:
            routed[(item["source"], destination)] += 1
    for key, n in routed.items():
        out_tally.append((metrics.child(metrics.PIPELINE_ROUTED, *key), n))
    for letter in out.dead_letters:
        out_tally.append((metrics.child(metrics.DELIVERY_EVENTS, letter.destination, "dead_lettered"), 1))
    return out_tally


def count(counts: Tally) -> None:
    """Add one envelope's counts (from :func:`tally`) to the Prometheus metrics."""
    for child, n in counts:
        child.inc(n)
