"""The ``file`` destination: a JSON Lines archive, one event per line, rotated by size and age.

Events are appended to ``<directory>/<name>.jsonl`` (``.jsonl.gz`` with ``gzip: true``; each batch is one
gzip member, which every gzip reader concatenates).  A batch is flushed and ``fsync``-ed before
``send_batch`` answers ``Delivered``, so an acknowledged event survives a crash.  When the current file
passes ``max_bytes`` or ``max_age_seconds`` it is renamed to ``<name>-<UTC time>-<n>.jsonl[.gz]`` and a new
one is started.  ``directory`` is relative to the workspace unless absolute.  This archive is also what
users replay from (``eventyard replay`` reads it back).

Writes run in a thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from pathlib import Path

import orjson
from pydantic import Field

from eventyard.destinations.base import (DELIVERED, Destination, DestinationSettings, EncodedEvent, Event,
                                         Health, Outcome, Retry)
from eventyard.transforms.privacy.purge_stores import open_locked_for_append


class FileSettings(DestinationSettings):
    """Settings of the ``file`` destination."""

    directory: str = "archive"
    name: str = Field(default="events", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    gzip: bool = False
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_age_seconds: float = Field(default=3600.0, gt=0)
    fsync: bool = True


class FileDestination(Destination):
    """Appends events to a rotating JSON Lines file."""

    type_name = "file"
    Settings = FileSettings
    settings: FileSettings

    async def setup(self) -> None:
        """Create the directory and note when the current file was started."""
        base = Path(self.settings.directory)
        self.directory = base if base.is_absolute() else Path(self.context.workspace_dir) / base
        self.directory.mkdir(parents=True, exist_ok=True)
        suffix = ".jsonl.gz" if self.settings.gzip else ".jsonl"
        self.current = self.directory / f"{self.settings.name}{suffix}"
        self.started = time.time()
        self.rotations = 0
        self._lock = asyncio.Lock()

    async def send_batch(self, events: list[Event]) -> list[Outcome]:
        """Append every event; all delivered, or all retried if the disk refuses."""
        return await self._write(b"".join(orjson.dumps(e) + b"\n" for e in events), len(events))

    async def send_encoded(self, batch: list[EncodedEvent]) -> list[Outcome]:
        """Append the events' JSON as the pipeline encoded it (no parsing, no re-encoding)."""
        return await self._write(b"\n".join([e.json for e in batch]) + b"\n", len(batch))

    async def _write(self, data: bytes, count: int) -> list[Outcome]:
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, data)
            except OSError as exc:
                return [Retry(f"cannot write {self.current}: {exc.strerror}",
                              error_class="io_error")] * count
        return [DELIVERED] * count

    def _append(self, data: bytes) -> None:
        if self.settings.gzip:
            data = gzip.compress(data, compresslevel=6)
        with open_locked_for_append(self.current) as fh:  # the lock privacy purges rewrite under
            fh.write(data)
            fh.flush()
            if self.settings.fsync:
                os.fsync(fh.fileno())
            if fh.tell() >= self.settings.max_bytes or time.time() - self.started >= self.settings.max_age_seconds:
                self._rotate()

    def _rotate(self) -> None:
        self.rotations += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        suffix = ".jsonl.gz" if self.settings.gzip else ".jsonl"
        os.replace(self.current, self.directory / f"{self.settings.name}-{stamp}-{self.rotations}{suffix}")
        self.started = time.time()

    async def healthcheck(self) -> Health:
        """Healthy when the directory is writable."""
        ok = os.access(self.directory, os.W_OK)
        return Health(ok=ok, detail="" if ok else f"{self.directory} is not writable")
