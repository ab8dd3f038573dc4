"""Building blocks shared by the fault scenarios: destination configs and an observer for a stack.

Every scenario uses real processes; these helpers only spell the workspace and the readers once.
"""

from __future__ import annotations

from harness import Stack
from observe import Observer, WebhookRecorder, file_ids
from oracle import Ledger, Report, wait_resolved


def file_destination(name: str = "archive") -> dict:
    """A JSON Lines archive inside the workspace directory."""
    return {"name": name, "type": "file", "settings": {"directory": name}}


def kafka_destination(bootstrap: str, topic: str, name: str = "mirror") -> dict:
    """A ``kafka_topic`` destination writing to ``topic`` on the given broker."""
    return {"name": name, "type": "kafka_topic", "settings": {"topic": topic, "bootstrap_servers": bootstrap}}


def webhook_destination(recorder: WebhookRecorder, name: str = "hook", window: float = 30.0,
                        timeout: float = 5.0, **delivery) -> dict:
    """A webhook destination posting to ``recorder`` (loopback allow-listed) with a short retry window."""
    return {"name": name, "type": "webhook",
            "settings": {"url": recorder.url, "allow_private": ["127.0.0.1/32"], "timeout_seconds": timeout},
            "delivery": {"retry": {"base_seconds": 0.2, "cap_seconds": 1.0, "window_seconds": window},
                         **delivery}}


def observer_for(stack: Stack, files: tuple[str, ...] = (), hooks: dict[str, WebhookRecorder] | None = None,
                 kafka: dict[str, str] | None = None, readers: dict | None = None) -> Observer:
    """An :class:`Observer` over the named file archives, webhook recorders and kafka_topic topics."""
    sinks = {name: _file_reader(stack, name) for name in files}
    sinks.update({name: hook.ids for name, hook in (hooks or {}).items()})
    sinks.update(readers or {})
    return Observer(stack.bootstrap, stack.prefix, sinks, kafka)


def _file_reader(stack: Stack, name: str):
    async def read() -> list[str]:
        return file_ids(stack.directory / name)

    return read


async def resolve(name: str, ledger: Ledger, observer: Observer, scenario_table, since: float, bound: float,
                  ordered: tuple[str, ...] | list[str] = (), max_duplicates: int = 0) -> Report:
    """Wait until I1 holds (at most ``bound`` s after ``since``), add the table row, assert every invariant."""
    try:
        report = await wait_resolved(ledger, observer, bound, ordered=ordered, since=since)
    finally:
        await observer.close()
    scenario_table(name, report)
    print(f"{name}: sent={report.sent} acked={report.acked} duplicates={report.duplicates} "
          f"recovery={report.recovery_seconds}s")
    report.assert_ok(max_duplicates=max_duplicates)
    assert report.recovery_seconds is not None and report.recovery_seconds < bound
    return report
