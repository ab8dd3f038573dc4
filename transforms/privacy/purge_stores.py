"""Erasing one user from the stores eventyard writes: the PostgreSQL warehouse and file archives.

* :func:`purge_warehouse` — in each schema, ``DELETE`` every row whose ``user_id`` is the user from every
  table that has that column (``tracks``, ``identifies``, per-event tables, ...), the user's ``users`` row
  (``id`` = userId), and the ``discards`` rows of those rows (they hold column values).  One transaction
  per schema; returns the rows deleted per ``schema.table``.
* :func:`purge_archive` — rewrite every ``*.jsonl`` and ``*.jsonl.gz`` file of a directory without the
  lines whose ``userId`` is the user.  The rewrite holds an exclusive ``flock`` on the file (the ``file``
  destination takes the same lock to append), writes a temporary file in the same directory, ``fsync``-s
  it and ``os.replace``-s the original, so a reader sees the old or the new file, never a half-written one.
  A line that is not JSON is kept as it is (it cannot be attributed).
"""

from __future__ import annotations

import fcntl
import gzip
import os
import tempfile
from pathlib import Path

import asyncpg
import orjson

from eventyard.destinations.warehouse.schema import quote

ARCHIVE_PATTERNS = ("*.jsonl", "*.jsonl.gz")


async def purge_warehouse(dsn: str, schemas: list[str], user_id: str) -> dict[str, int]:
    """Delete ``user_id``'s rows from ``schemas``; return rows deleted per ``schema.table``."""
    deleted: dict[str, int] = {}
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        for schema in schemas:
            tables = await conn.fetch(
                "SELECT table_name, bool_or(column_name = 'user_id') AS has_user"
                " FROM information_schema.columns WHERE table_schema = $1 GROUP BY table_name", schema)
            async with conn.transaction():
                row_ids: list[str] = []
                for table in tables:
                    name = table["table_name"]
                    if name == "users":
                        where = "id = $1"
                    elif table["has_user"]:
                        where = "user_id = $1"
                    else:
                        continue
                    ids = await conn.fetch(
                        f"DELETE FROM {quote(schema)}.{quote(name)} WHERE {where} RETURNING id", user_id)
                    row_ids += [r["id"] for r in ids]
                    deleted[f"{schema}.{name}"] = len(ids)
                if row_ids and any(t["table_name"] == "discards" for t in tables):
                    status = await conn.execute(
                        f"DELETE FROM {quote(schema)}.discards WHERE row_id = ANY($1::text[])", row_ids)
                    deleted[f"{schema}.discards"] = int(status.split()[-1])
    finally:
        await conn.close()
    return deleted


def _lines_of(data: bytes, user_id: str) -> tuple[list[bytes], int]:
    kept, dropped = [], 0
    for line in data.splitlines(keepends=True):
        try:
            event = orjson.loads(line) if line.strip() else None
        except orjson.JSONDecodeError:
            event = None
        if isinstance(event, dict) and event.get("userId") == user_id:
            dropped += 1
        else:
            kept.append(line)
    return kept, dropped


def open_locked_for_append(path: Path):
    """Open ``path`` for appending under an exclusive ``flock``, reopening if a purge replaced it meanwhile.

    The ``file`` destination appends through this, so a purge's rewrite never loses a concurrent append.
    """
    while True:
        handle = open(path, "ab")
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def purge_file(path: Path, user_id: str) -> int:
    """Rewrite one archive file without ``user_id``'s lines; return the lines removed."""
    zipped = path.name.endswith(".gz")
    with open(path, "rb+") as locked:
        fcntl.flock(locked, fcntl.LOCK_EX)
        if os.fstat(locked.fileno()).st_ino != os.stat(path).st_ino:
            return purge_file(path, user_id)  # rotated or rewritten while we waited: take the new file
        raw = locked.read()
        kept, dropped = _lines_of(gzip.decompress(raw) if zipped and raw else raw, user_id)
        if not dropped:
            return 0
        data = b"".join(kept)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".purge")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(gzip.compress(data) if zipped and data else data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    return dropped


def purge_archive(directory: Path, user_id: str) -> dict[str, int]:
    """Rewrite every archive file under ``directory``; return lines removed per file name (non-zero only)."""
    removed = {}
    if not directory.is_dir():
        return removed
    for pattern in ARCHIVE_PATTERNS:
        for path in sorted(directory.glob(pattern)):
            try:
                count = purge_file(path, user_id)
            except FileNotFoundError:  # rotated away meanwhile: its new name is purged by a rerun
                continue
            if count:
                removed[path.name] = count
    return removed
