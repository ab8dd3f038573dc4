"""Regulations: the fold's semantics, following the topic from live processes, the CLI's audit trail,
and the store purges (archive rewrite under the append lock, the live debugger buffer)."""

from __future__ import annotations

import gzip
import threading
import time
from collections import deque

import orjson

from eventyard.transforms.privacy.purge import purge_debugger
from eventyard.transforms.privacy.purge_stores import open_locked_for_append, purge_archive
from eventyard.transforms.privacy.regulation_log import (RegulationsFollower, audit_topic, read_regulations,
                                                         write_regulation)
from eventyard.transforms.privacy.regulations import Regulation, RegulationBook
from support import read_topic, wait_for
from test_privacy_end_to_end import cli, workspace_prefix


def regulation(user: str, kind: str, at: float = 1000.0, deleted_at: float | None = None) -> Regulation:
    """A regulation record."""
    return Regulation(user, kind, f"r-{kind}", at, "tester", deleted_at)


def test_newest_record_wins_and_deletion_outlives_unsuppress():
    book = RegulationBook()
    book.apply(regulation("u1", "suppress"))
    assert book.is_suppressed("u1") and not book.may_redeliver({"userId": "u1"})
    book.apply(regulation("u1", "delete", 2000.0, deleted_at=2000.0))
    book.apply(regulation("u1", "unsuppress", 3000.0, deleted_at=2000.0))
    assert not book.is_suppressed("u1")
    assert not book.may_redeliver({"userId": "u1", "receivedAt": "1970-01-01T00:30:00.000Z"})  # 1800 s
    assert book.may_redeliver({"userId": "u1", "receivedAt": "1970-01-01T00:40:00.000Z"})      # 2400 s
    assert not book.may_redeliver({"userId": "u1"}), "no receivedAt: cannot prove it is newer"
    assert book.may_redeliver({"userId": "u2"}) and not book.is_suppressed(None)


async def test_follower_applies_new_regulations_within_seconds(bootstrap):
    prefix = f"t{time.time_ns()}"
    await write_regulation(bootstrap, prefix, regulation("early", "suppress"))
    seen: list[str] = []
    follower = RegulationsFollower(bootstrap, prefix, on_regulation=lambda r: seen.append(r.user_id))
    await follower.start()
    try:
        assert follower.is_suppressed("early"), "start() returns only after reading the topic to its end"
        await write_regulation(bootstrap, prefix, regulation("late", "suppress_with_delete", deleted_at=1.0))
        started = time.monotonic()
        assert await wait_for(lambda: follower.is_suppressed("late"), 5)
        print(f"\nregulation applied by the follower after {time.monotonic() - started:.2f} s")
        await write_regulation(bootstrap, prefix, regulation("late", "unsuppress", deleted_at=1.0))
        assert await wait_for(lambda: not follower.is_suppressed("late"), 5)
        assert seen == ["late", "late"]
    finally:
        await follower.stop()


async def test_cli_suppress_from_file_is_audited_without_payloads(workspace_factory, bootstrap, tmp_path):
    workspace = workspace_factory()
    users = tmp_path / "users.txt"
    users.write_text("# to suppress\nalice\nbob\n\nalice\n")
    done = cli("privacy", "suppress", "--file", str(users), "--user-id", "carol", "--actor", "dpo",
               "-w", str(workspace), "-b", bootstrap)
    assert done.returncode == 0, done.stderr
    prefix = workspace_prefix(workspace)
    book = await read_regulations(bootstrap, prefix)
    assert sorted(book.suppressed) == ["alice", "bob", "carol"]
    audit = [orjson.loads(r.value) for r in await read_topic(bootstrap, audit_topic(prefix), 3)]
    assert sorted(a["user_id"] for a in audit) == ["alice", "bob", "carol"]
    assert {(a["action"], a["actor"]) for a in audit} == {("suppress", "dpo")}
    assert set(audit[0]) == {"action", "user_id", "regulation_id", "actor", "at"}
    status = cli("privacy", "status", "-w", str(workspace), "-b", bootstrap).stdout
    assert "bob: suppress at " in status and "(suppressed; pending: none)" in status


def test_archive_purge_rewrites_plain_and_gzip_files(tmp_path):
    lines = [orjson.dumps({"userId": u, "messageId": f"m{i}"}) + b"\n" for i, u in enumerate("UVUW")]
    (tmp_path / "events.jsonl").write_bytes(b"".join(lines) + b"not json\n")
    (tmp_path / "events-1.jsonl.gz").write_bytes(gzip.compress(b"".join(lines)))
    assert purge_archive(tmp_path, "U") == {"events.jsonl": 2, "events-1.jsonl.gz": 2}
    assert (tmp_path / "events.jsonl").read_bytes() == lines[1] + lines[3] + b"not json\n"
    assert gzip.decompress((tmp_path / "events-1.jsonl.gz").read_bytes()) == lines[1] + lines[3]
    assert not list(tmp_path.glob(".*purge")), "no temporary file left behind"


def test_archive_purge_never_loses_a_concurrent_append(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"userId": "U"}) + b"\n" for _ in range(2000)))
    stop = threading.Event()
    written = []

    def append() -> None:
        while not stop.is_set():
            with open_locked_for_append(path) as handle:
                handle.write(orjson.dumps({"userId": "V", "n": len(written)}) + b"\n")
            written.append(1)

    writer = threading.Thread(target=append)
    writer.start()
    for _ in range(20):
        purge_archive(tmp_path, "U")
    stop.set()
    writer.join()
    kept = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["n"] for e in kept] == list(range(len(written))) and all(e["userId"] == "V" for e in kept)


def test_debugger_buffers_lose_the_user():
    buffers = {"web": deque([{"event": {"userId": u}} for u in "UVU"], maxlen=500), "app": deque()}
    assert purge_debugger(buffers, "U") == 2
    assert [e["event"]["userId"] for e in buffers["web"]] == ["V"] and buffers["web"].maxlen == 500


async def test_worker_gate_drops_suppressed_items_and_counts_them(bootstrap):
    from eventyard.config.workspace import Workspace
    from eventyard.streams import metrics
    from eventyard.transforms.privacy.gate import PrivacyGate

    prefix = f"t{time.time_ns()}"
    await write_regulation(bootstrap, prefix, regulation("gone", "delete", deleted_at=1.0))
    gate = PrivacyGate(Workspace(topics={"prefix": prefix}, sources=[{"name": "web", "write_key": "k"}]),
                       bootstrap)
    await gate.start()
    try:
        counter = metrics.PIPELINE_DISCARDED.labels("web", "privacy", "suppressed")
        before = counter._value.get()
        items = [{"source": "web", "event": {"userId": u}} for u in ("gone", "kept", "gone")]
        assert gate.filter_items(items) == [items[1]]
        assert counter._value.get() - before == 2
    finally:
        await gate.stop()
