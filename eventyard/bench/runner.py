"""The order of the benchmark's phases on one embedded broker, and the lines each phase adds.

Phases: raw limits → the pipeline's work in process, without Kafka (the worker's floor) → worker alone
(one process) → end to end (``workers`` processes: stepped rates up to the first one not sustained, a wait
for the backlog to drain, one bare aiokafka hop at the fixed rate for as long as the fixed-rate run (its
raw limit, on the broker as the steps left it), then the fixed-rate run: a warm-up at the same rate, after
which memory is sampled, and the measured duration, at whose end it is sampled again) →
warehouse; ingest alone runs after the raw limits.  Each phase uses its own topics (a fresh prefix) and
deletes them afterwards, since the in-memory broker keeps every record.
:class:`Options` holds the sizes; :meth:`Options.quick_run` is the seconds-long version the smoke test runs.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from eventyard.bench import e2e, floor, http_load, pipeline, raw, warehouse
from eventyard.bench.probes import OutputTap, WorkerCounters, sample_output
from eventyard.bench.procs import Service, rss_mb, start_ingest
from eventyard.bench.report import Line, Report
from eventyard.bench.workload import http_batch_body, make_event
from eventyard.bench.workspace import WRITE_KEY, write_workspace
from eventyard.broker import EmbeddedBroker
from eventyard.config.loader import load_workspace
from eventyard.streams.topics import TopicNames

PHASES = ("raw", "ingest", "worker", "e2e", "warehouse")


@dataclass
class Options:
    """Sizes and shape of one run."""

    raw_events: int = 200_000
    wrk_seconds: float = 10.0
    worker_events: int = 200_000
    fixed_rate: float = 8_000.0
    fixed_seconds: float = 60.0
    warmup_seconds: float = 60.0
    step_rates: list[float] = field(default_factory=lambda: [2_000.0, 4_000.0, 8_000.0, 12_000.0, 16_000.0,
                                                             20_000.0, 24_000.0, 32_000.0])
    step_seconds: float = 10.0
    warehouse_events: int = 20_000
    partitions: int = 4
    workers: int = 2
    """Worker processes end to end; the worker-alone line always drains with one."""
    phases: tuple[str, ...] = PHASES

    @classmethod
    def quick_run(cls) -> "Options":
        """Seconds, tiny volume: proves the benchmark works, measures nothing."""
        return cls(raw_events=5_000, wrk_seconds=1, worker_events=5_000, fixed_rate=2_000,
                   fixed_seconds=3, warmup_seconds=1, step_rates=[1_000], step_seconds=2,
                   warehouse_events=1_000)


class Bench:
    """One run: a broker, a state directory and the report being filled."""

    def __init__(self, options: Options, state_dir: Path) -> None:
        self.options = options
        self.state_dir = state_dir
        self.report = Report(settings=asdict(options))
        self.limits: dict[str, float] = {}
        self.broker = EmbeddedBroker(log_file=state_dir / "broker.log")

    async def run(self) -> Report:
        """Run every selected phase; the broker is stopped at the end whatever happens."""
        self.broker.start()
        try:
            await self.raw_limits()
            if "ingest" in self.options.phases:
                await self.ingest_alone()
            if {"worker", "e2e"} & set(self.options.phases):
                await self.pipeline()
            if "warehouse" in self.options.phases:
                await self.warehouse()
        finally:
            self.broker.stop()
        return self.report

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return self.broker.bootstrap_servers

    async def raw_limits(self) -> None:
        """Lines 1: aiokafka produce and passthrough on this broker."""
        count, partitions = self.options.raw_events, self.options.partitions
        produce, topic = await raw.produce_rate(self.bootstrap, count, partitions)
        passthrough = await raw.passthrough_rate(self.bootstrap, topic, count, partitions)
        await raw.delete_topics(self.bootstrap, [topic])
        self.limits = {"produce": produce, "passthrough": passthrough}
        self.report.add(Line("raw: aiokafka produce (linger 10 ms, 256 KB)", produce, "events/s",
                             notes={"events": count, "partitions": partitions}))
        self.report.add(Line("raw: aiokafka consume→produce→commit", passthrough, "events/s"))

    def _workspace(self, name: str, with_features: bool) -> tuple[Path, list[str], str]:
        prefix = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        directory = self.state_dir / prefix
        output = f"{prefix}.out"
        features = write_workspace(directory, prefix, self.options.partitions, output, self.bootstrap,
                                   with_features)
        return directory, features, output

    async def _cleanup(self, workspace: Path, extra: list[str] = ()) -> None:
        model = load_workspace(str(workspace)).model
        await raw.delete_topics(self.bootstrap, TopicNames(model.topics.prefix).all_for(model) + list(extra))

    async def ingest_alone(self) -> None:
        """Lines 2: wrk against one ingest process, 100-event batches then single events."""
        workspace, _, _ = self._workspace("ingest", with_features=False)
        ingest = await asyncio.to_thread(start_ingest, workspace, self.bootstrap, self.state_dir)
        base = f"http://127.0.0.1:{ingest.port}/v1"
        try:
            seconds = self.options.wrk_seconds
            batch = await asyncio.to_thread(http_load.run_wrk, f"{base}/batch", http_batch_body(0, 100),
                                            WRITE_KEY, seconds, 16)
            single = await asyncio.to_thread(http_load.run_wrk, f"{base}/track",
                                             orjson.dumps(make_event(1)), WRITE_KEY, seconds, 64)
        finally:
            ingest.stop()
            await self._cleanup(workspace)
        produce = self.limits["produce"]
        self.report.add(Line("ingest: HTTP 100-event batches", batch.requests_per_second * 100, "events/s",
                             produce, "raw produce", "≥ 60 % of raw produce",
                             _wrk_notes(batch)))
        self.report.add(Line("ingest: single-event requests", single.requests_per_second, "requests/s",
                             produce, "raw produce", "≥ 5,000 requests/s", _wrk_notes(single)))

    async def pipeline(self) -> None:
        """Lines 3 and 4 (and 6): the pipeline's work in process (the worker's floor), one worker alone,
        then end to end through ``workers`` of them."""
        workspace, features, output = self._workspace("pipe", with_features=True)
        work = floor.pipeline_work(workspace, self.options.worker_events, self.options.partitions)
        self.report.add(Line(
            "pipeline work in process, no Kafka", work.events_per_second, "events/s",
            self.limits["passthrough"], "raw passthrough", "the worker-alone line's ceiling",
            {"events": work.events, "routed": work.routed, **{f"µs_{step}": micros
                                                           for step, micros in work.micros_per_event.items()}}))
        drained = await pipeline.drain(workspace, self.bootstrap, self.state_dir, output,
                                       self.options.worker_events, 1, "bench")
        try:
            sample = await sample_output(self.bootstrap, output, 2000)
            active = pipeline.active_features(features, drained.discarded, sample)
            self.report.add(Line(
                "worker alone (1 process)", drained.events_per_second, "events/s", self.limits["passthrough"],
                "raw passthrough", "≥ 50 % of raw passthrough",
                {"events": self.options.worker_events, "seconds": round(drained.seconds, 2),
                 "partitions": self.options.partitions, "configured": "+".join(features) or "none",
                 "active": "+".join(active) or "none",
                 "delivered_kafka_topic": drained.delivered, "discarded": dict(drained.discarded),
                 "resolved": dict(drained.resolved)}))
            if "e2e" in self.options.phases:
                drained.workers += await pipeline.add_workers(workspace, self.bootstrap, self.state_dir,
                                                              self.options.workers - 1)
                await self.end_to_end(workspace, output, drained.workers)
        finally:
            for worker in drained.workers:
                worker.stop()
            await self._cleanup(workspace, [output])

    async def end_to_end(self, workspace: Path, output: str, workers: list[Service]) -> None:
        """Lines 4 and 6: fixed rate with memory at start and end, then the highest sustained rate."""
        ingest = await asyncio.to_thread(start_ingest, workspace, self.bootstrap, self.state_dir)
        tap = OutputTap(self.bootstrap, output)
        await tap.start()
        url = f"http://127.0.0.1:{ingest.port}/v1/batch"
        try:
            processes = {"ingest": ingest.pid, "broker": self.broker.process.pid,
                         **{f"worker{n + 1}": w.pid for n, w in enumerate(workers)}}
            steps = await e2e.highest_sustained(tap, url, self.options.step_rates, self.options.step_seconds)
            await e2e.settle_backlog(tap, WorkerCounters([w.port for w in workers]))  # a backlog of the steps
            warmup, seconds = self.options.warmup_seconds, self.options.fixed_seconds
            hop = await raw.hop_latency(self.bootstrap, self.options.fixed_rate, warmup + seconds,
                                        self.options.partitions)
            memory_start = asyncio.ensure_future(_rss_after(processes, warmup))
            memory_end = asyncio.ensure_future(_rss_after(processes, warmup + seconds - 0.5))
            fixed = await e2e.offered_run(tap, url, self.options.fixed_rate, warmup + seconds)
            memory = {"start": await memory_start, "end": await memory_end}
        finally:
            await tap.stop()
            ingest.stop()
        at_rate = f"p99 at {self.options.fixed_rate:,.0f} events/s"
        self.report.add(Line(f"raw: one aiokafka hop, {at_rate}", hop["p99_ms"], "ms", notes=hop))
        self.report.add(Line(f"end to end: {at_rate}", fixed.p99_ms, "ms", hop["p99_ms"], "raw hop p99",
                             "≤ 250 ms", notes=fixed.as_dict()))
        sustained = [s.offered for s in steps if s.sustained]
        self.report.add(Line("end to end: highest sustained rate", max(sustained, default=0.0), "events/s",
                             self.limits["passthrough"], "raw passthrough", "≥ 16,000 events/s",
                             {f"{s.offered:,.0f}/s": _step_note(s) for s in steps}))
        for name in processes:
            target = "± 10 %" if name != "broker" else "— (memory:// keeps every record)"
            self.report.add(Line(f"memory: {name} (end vs start)", memory["end"][name], "MiB",
                                 memory["start"][name], "after warm-up", target,
                                 {"seconds": seconds, "warm_up_seconds": warmup}))

    async def warehouse(self) -> None:
        """Line 5: the postgres destination vs raw COPY."""
        try:
            rates = await warehouse.warehouse_rates(self.options.warehouse_events)
        except (OSError, asyncio.TimeoutError) as exc:
            self.report.add(Line("warehouse: rows/s into PostgreSQL", None, "rows/s",
                                 notes={"skipped": f"PostgreSQL unreachable: {exc!r}"}))
            return
        self.report.add(Line("warehouse: rows/s into PostgreSQL", rates["rows_per_second"], "rows/s",
                             rates["copy_rows_per_second"], "raw COPY", "≥ 70 % of raw COPY",
                             {"events": rates["events"], "rows": rates["rows"],
                              "regrouped_copy_rows_per_second": rates.get("regrouped_copy_rows_per_second")}))


async def _rss_after(processes: dict[str, int], delay: float) -> dict[str, float | None]:
    """Resident memory (MiB) of each process ``delay`` seconds from now."""
    await asyncio.sleep(delay)
    return {name: rss_mb(pid) for name, pid in processes.items()}


def _wrk_notes(result: http_load.WrkResult) -> dict:
    return {"requests_per_second": round(result.requests_per_second), "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms, "errors": result.errors}


def _step_note(step: e2e.RateResult) -> str:
    verdict = "sustained" if step.sustained else "NOT sustained"
    p99 = "—" if step.p99_ms is None else f"{step.p99_ms:.0f}"
    return f"{verdict} (achieved {step.achieved:,.0f}, p99 {p99} ms, errors {step.errors})"


async def run_bench(options: Options, state_dir: Path | None = None) -> Report:
    """Run the benchmark; process logs go to ``state_dir`` (a temporary directory by default)."""
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        return await Bench(options, state_dir).run()
    with tempfile.TemporaryDirectory(prefix="eventyard-bench-") as tmp:
        return await Bench(options, Path(tmp)).run()
