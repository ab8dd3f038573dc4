"""The benchmark's floor line: the pipeline's own work, in process, over the drain's raw envelopes.

The figure is only meaningful if the floor does the worker's work: the benchmark workspace's stages with a
dedup window across envelopes, every destination's events encoded and read back.  Its routed count must
therefore equal what the pipeline routes when it is run directly with dedup across envelopes, and every
step must be timed; the process's collector settings are the same afterwards.  No speed is asserted.
"""

from __future__ import annotations

import gc

from eventyard.bench.floor import STEPS, pipeline_work
from eventyard.bench.workload import raw_envelopes
from eventyard.bench.workspace import SOURCE, write_workspace
from eventyard.config.loader import load_workspace
from eventyard.streams.envelope import decode_envelope
from eventyard.streams.pipeline import Pipeline

EVENTS = 3_000  # more than workload.USERS, so the drain's re-sent events (dedup's work) are among them


def routed_directly(workspace, events: int, partitions: int) -> tuple[int, int]:
    """Events the pipeline routes over the floor's envelopes, and the duplicates it drops."""
    loaded = load_workspace(str(workspace))
    pipeline = Pipeline(loaded.model, loaded.directory)
    seen: set[str] = set()
    routed = duplicates = 0
    for _, value in raw_envelopes(events, partitions, SOURCE, "floor"):
        out = pipeline.process(decode_envelope(value).items, seen.__contains__)
        seen.update(out.message_ids)
        routed += sum(len(items) for items in out.routes.values())
        duplicates += sum(n for (_, stage, _), n in out.discarded.items() if stage == "dedup")
    return routed, duplicates


def test_floor_routes_what_the_pipeline_routes_and_times_every_step(tmp_path):
    features = write_workspace(tmp_path, "floor", 4, "floor.out", "127.0.0.1:9")
    assert {"dedup", "tracking_plan", "filters"} <= set(features)

    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    work = pipeline_work(tmp_path, EVENTS, 4, passes=2)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)  # the worker's GC, then back

    routed, duplicates = routed_directly(tmp_path, EVENTS, 4)
    assert duplicates > 0  # the workload re-sends events: dedup has work to do
    assert work.routed == routed
    assert 0 < routed < 2 * EVENTS  # two destinations, minus what dedup, the plan and filters dropped
    assert set(work.micros_per_event) == set(STEPS)
    assert all(micros > 0 for micros in work.micros_per_event.values()), work.micros_per_event
    assert work.events == EVENTS
    expected_rate = 1e6 / sum(work.micros_per_event.values())
    assert abs(work.events_per_second - expected_rate) / expected_rate < 0.01
