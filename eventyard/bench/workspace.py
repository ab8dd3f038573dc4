"""The benchmark workspace: one source, a ``kafka_topic`` and a ``file`` destination, and every pipeline
feature the workspace model accepts.

Features (dedup, a 50-event tracking plan with blocking settings, a source transformation, three
destination filters, a destination transformation) are added one at a time and kept only when the
workspace still loads (what ``eventyard check`` validates), so the benchmark runs against whatever the
pipeline supports today and says which features were configured; :mod:`eventyard.bench.pipeline`
reports from the worker's metrics which of them acted.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import orjson
import yaml

from eventyard.bench.workload import fifty_event_plan
from eventyard.config.errors import WorkspaceError
from eventyard.config.loader import load_workspace

SOURCE = "web"
WRITE_KEY = "bench-write-key"
KAFKA_DEST = "stream"
FILE_DEST = "archive"
PLAN_FILE = "plans/bench-50.json"

FILTERS = [
    {"if": "event = 'Bench Event 49'", "actions": [{"type": "drop"}], "title": "drop one event"},
    {"if": "event = 'Bench Event 48'", "actions": [{"type": "sample", "percent": 0.5, "path": "userId"}],
     "title": "sample one event by user"},
    {"if": "all", "actions": [{"type": "drop_properties", "fields": {"context": ["ip"]}}],
     "title": "drop the IP address"},
]
DEST_TRANSFORM = {"name": "rename", "if": "event = 'Bench Event 00'", "newEventName": "Bench Event Zero",
                  "propertyRenames": [{"oldName": "sku", "newName": "stock_keeping_unit"}]}
SOURCE_TRANSFORM = {"name": "hash coupon", "if": "all",
                    "hashPropertiesConfiguration": {"paths": ["properties.coupon"]}}
DEDUP_WINDOW_SECONDS = 60.0
"""The dedup window of the benchmark workspace: short enough that the window's memory (one entry per
messageId seen, docs/performance.md) is at its steady state within the fixed-rate run's warm-up, so the
memory lines show growth that is not the window filling (the default window is 24 h)."""
PROTOCOLS = {"track_unplanned_events": "block", "track_violations": "OMIT_PROPERTIES"}


def _source(doc: dict) -> dict:
    return doc["sources"][0]


def _kafka(doc: dict) -> dict:
    return doc["destinations"][0]


FEATURES: list[tuple[str, Callable[[dict], None]]] = [
    ("dedup", lambda doc: doc.update(dedup={"enabled": True, "window_seconds": DEDUP_WINDOW_SECONDS})),
    ("tracking_plan", lambda doc: _source(doc).update(tracking_plan=PLAN_FILE)),
    ("protocols", lambda doc: _source(doc).update(protocols=dict(PROTOCOLS))),
    ("source_transform", lambda doc: _source(doc).update(transforms=[dict(SOURCE_TRANSFORM)])),
    ("filters", lambda doc: _kafka(doc).update(filters=copy.deepcopy(FILTERS))),
    ("dest_transform", lambda doc: _kafka(doc).update(transforms=[dict(DEST_TRANSFORM)])),
]


def base_document(prefix: str, partitions: int, output_topic: str, bootstrap: str) -> dict[str, Any]:
    """The workspace without optional features."""
    return {
        "version": 1, "name": "bench",
        "topics": {"prefix": prefix, "partitions": partitions},
        "sources": [{"name": SOURCE, "write_key": WRITE_KEY}],
        "destinations": [
            {"name": KAFKA_DEST, "type": "kafka_topic",
             "settings": {"topic": output_topic, "bootstrap_servers": bootstrap, "compression": "zstd"}},
            {"name": FILE_DEST, "type": "file",
             "settings": {"directory": "archive", "fsync": False,
                          "max_bytes": 64 * 1024 * 1024}},
        ],
    }


def _loads(directory: Path, doc: dict) -> bool:
    (directory / "eventyard.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        load_workspace(str(directory))
        return True
    except WorkspaceError:
        return False


def write_workspace(directory: Path, prefix: str, partitions: int, output_topic: str,
                    bootstrap: str, with_features: bool = True) -> list[str]:
    """Write the workspace into ``directory``; return the optional features it configures."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plans").mkdir(exist_ok=True)
    (directory / PLAN_FILE).write_bytes(orjson.dumps(fifty_event_plan(), option=orjson.OPT_INDENT_2))
    doc = base_document(prefix, partitions, output_topic, bootstrap)
    accepted: list[str] = []
    for name, apply in FEATURES if with_features else ():
        candidate = copy.deepcopy(doc)
        apply(candidate)
        if _loads(directory, candidate):
            doc = candidate
            accepted.append(name)
    if not _loads(directory, doc):
        raise RuntimeError(f"the benchmark workspace in {directory} does not load")
    return accepted
