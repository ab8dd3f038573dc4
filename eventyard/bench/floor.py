"""The pipeline's own work per event, in process and without Kafka: the floor under the worker-alone line.

:func:`pipeline_work` runs the benchmark workspace's :class:`~eventyard.streams.pipeline.Pipeline` over
the raw envelopes the drain uses, one envelope at a time as the pipeline agent does, and times each step:

* ``decode`` — the raw envelope's JSON;
* ``source`` — the source phase with a dedup window per partition (shape, dedup, normalize, tracking plan,
  source transformation), plus expiring the window and recording the envelope's messageIds in it;
* ``destination`` — the destination phase (routing, filters, destination transformation);
* ``dest_encode`` — each destination's events as a ``dest`` envelope, as the pipeline agent writes them;
* ``dest_decode`` — those envelopes read back, as the delivery agents read them.

Left out is everything a worker does around that work: fetching and producing records, dedup records,
acknowledgements and commits, Faust's stream, metrics, and the destinations' own writes (one Kafka
record per event for ``kafka_topic``, which is what the raw passthrough does per event, and a line per
event for ``file``).  A worker process can therefore never drain faster than this rate; the distance
between the two lines is what the framework, the client and the destinations cost.  The passes run under
the worker's collector settings (:func:`~eventyard.serving.tune_gc`), restored afterwards: with CPython's
defaults, young-generation collections while an envelope's events are alive made decoding 1.5–1.9× slower.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eventyard.bench.workload import raw_envelopes
from eventyard.bench.workspace import SOURCE
from eventyard.config.loader import load_workspace
from eventyard.serving import tune_gc
from eventyard.streams.dedup import DedupWindow
from eventyard.streams.envelope import decode_dest_events, decode_envelope, encode_dest_envelope
from eventyard.streams.pipeline import Pipeline
from eventyard.streams.pipeline_output import PipelineOutput

STEPS = ("decode", "source", "destination", "dest_encode", "dest_decode")


@dataclass
class PipelineWork:
    """The fastest of the passes: raw events per second, and microseconds per raw event for each step."""

    events_per_second: float
    micros_per_event: dict[str, float]
    events: int
    routed: int
    """Events written to ``dest`` envelopes in one pass (every destination counted)."""


def _one_pass(pipeline: Pipeline, envelopes: list[tuple[int, bytes]], window_seconds: float,
              ) -> tuple[dict[str, float], int]:
    """Seconds spent in each step over every envelope, and the events routed."""
    seconds = dict.fromkeys(STEPS, 0.0)
    windows: dict[int, DedupWindow] = {}
    routed, clock = 0, time.perf_counter
    for offset, (partition, value) in enumerate(envelopes):
        window = windows.setdefault(partition, DedupWindow(window_seconds))
        started = clock()
        items = decode_envelope(value).items
        decoded = clock()
        out = PipelineOutput()
        now_ms = int(time.time() * 1000)
        window.expire(now_ms)
        accepted = pipeline.source_phase(items, out, window.checker(offset))
        window.add(out.message_ids, offset, now_ms)
        sourced = clock()
        pipeline.destination_phase(accepted, out)
        destined = clock()
        encoded = {}  # an event routed unchanged to several destinations is encoded once, as in the agent
        bodies = [encode_dest_envelope(items, encoded) for items in out.routes.values() if items]
        written = clock()
        routed += sum(len(decode_dest_events(body)) for body in bodies)
        read = clock()
        for step, (begin, end) in zip(STEPS, [(started, decoded), (decoded, sourced), (sourced, destined),
                                              (destined, written), (written, read)]):
            seconds[step] += end - begin
    return seconds, routed


@contextmanager
def _worker_gc():
    """The worker's collector settings for the duration of the block; the previous ones afterwards
    (a heap that was not frozen before is unfrozen again)."""
    thresholds, was_frozen = gc.get_threshold(), gc.get_freeze_count() > 0
    tune_gc()
    try:
        yield
    finally:
        if not was_frozen:
            gc.unfreeze()
        gc.set_threshold(*thresholds)


def pipeline_work(workspace: Path, events: int, partitions: int, passes: int = 3) -> PipelineWork:
    """Time ``passes`` runs of the workspace's pipeline over ``events`` raw events; keep the fastest.

    The fastest pass is the one least disturbed by the rest of the machine; every pass does the same work.
    """
    loaded = load_workspace(str(workspace))
    pipeline = Pipeline(loaded.model, loaded.directory)
    envelopes = raw_envelopes(events, partitions, SOURCE, "floor")
    window_seconds = loaded.model.dedup.window_seconds
    with _worker_gc():
        runs = [_one_pass(pipeline, envelopes, window_seconds) for _ in range(max(1, passes))]
    seconds, routed = min(runs, key=lambda run: sum(run[0].values()))
    return PipelineWork(events / max(1e-9, sum(seconds.values())),
                        {step: round(s / events * 1e6, 2) for step, s in seconds.items()}, events, routed)
