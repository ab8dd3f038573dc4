"""Security basics: write-key checks, secrets never in logs, endpoints bound to loopback by default.

* a write key differing from a real one in its last character, a prefix of it, or it plus one character,
  is refused with 401 — keys are looked up by SHA-256 digest (``ingest/auth.py``), so how much of a
  guess matches never changes the path taken;
* after a run at debug log level that exercises error paths (a PostgreSQL destination whose DSN, with a password, points at a
  closed port; a webhook signing with a secret and answered 500; refused write keys), no process log holds
  the write key, a guessed key, the webhook secret or the DSN password, and neither do the dead-letter
  headers (which carry error messages and request samples);
* ingest and the worker's health/metrics server listen on 127.0.0.1 when not told otherwise.
"""

from __future__ import annotations

import socket
from pathlib import Path

from eventyard.broker import free_port
from harness import auth_header, post, send
from oracle import Ledger, wait_resolved
from scenarios import file_destination, observer_for, webhook_destination

WRITE_KEY = "wk-7Hq2ZrLx9Vb3Nc8Md4"
WEBHOOK_SECRET = "whsec-Pq8Lk2Jx7Rt5Yv1"
DSN_PASSWORD = "pgpw-Zx4Cv6Bn8Mm2"


def _listen_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
                          if len(address) == 8 else address)
    return found


async def test_secrets_never_logged_and_near_miss_keys_refused(stack, http, recorder, monkeypatch,
                                                                scenario_table):
    monkeypatch.setenv("EVENTYARD_LOG_LEVEL", "debug")  # the most the processes ever log
    monkeypatch.setenv("EVENTYARD_REL_HOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("EVENTYARD_REL_BAD_DSN", f"postgresql://postgres:{DSN_PASSWORD}@127.0.0.1:{free_port()}/x")
    hook = webhook_destination(recorder, window=1.0)
    hook["settings"]["secret_env"] = "EVENTYARD_REL_HOOK_SECRET"
    unreachable_db = {"name": "warehouse", "type": "postgres",
                      "settings": {"dsn_env": "EVENTYARD_REL_BAD_DSN", "command_timeout": 2},
                      "delivery": {"retry": {"base_seconds": 0.2, "cap_seconds": 0.5, "window_seconds": 2}}}
    running = await stack([file_destination(), hook, unreachable_db],
                          sources=[{"name": "web", "write_key": WRITE_KEY}])
    port = running.ingest.port
    near_misses = [WRITE_KEY[:-1] + "X", WRITE_KEY[:-1], WRITE_KEY + "0", WRITE_KEY.upper(), " " + WRITE_KEY]
    for guess in near_misses:
        assert await post(http, port, {"batch": [{"type": "track", "userId": "u", "event": "e"}]},
                          headers=auth_header(guess)) == 401, guess
    recorder.status = 500
    ledger = Ledger(["archive", "hook", "warehouse"])
    events = [ledger.event(f"u{i}") for i in range(20)]
    ledger.answered(events, await post(http, port, {"batch": events}, headers=auth_header(WRITE_KEY)))
    assert await send(ledger, http, port, []) == 401, "the harness default key is not this workspace's"
    observer = observer_for(running, files=("archive",), hooks={"hook": recorder},
                            readers={"warehouse": _nothing})
    report = await wait_resolved(ledger, observer, 30)
    dead_letters = [r for name in ("hook", "warehouse") for r in observer.tail.records[f"{running.prefix}.dlq.{name}"]]
    await observer.close()
    scenario_table("secrets & auth (errors everywhere)", report)
    report.assert_ok()
    assert report.dead_lettered == 40, "the webhook (500) and the warehouse (down) dead-letter every event"
    logs = running.logs()
    headers = b"".join(value for record in dead_letters for _, value in record.headers).decode(errors="replace")
    assert "Connect" in headers or "connect" in headers, "the dead letters carry the connection error"
    for secret in [WRITE_KEY, WEBHOOK_SECRET, DSN_PASSWORD, *near_misses[:3]]:
        assert secret not in logs, f"a secret reached the process logs: {secret[:6]}..."
        assert secret not in headers, f"a secret reached the dead-letter headers: {secret[:6]}..."
    assert _listen_addresses(port) == {"127.0.0.1"}
    assert _listen_addresses(running.workers[0].port) == {"127.0.0.1"}


async def _nothing() -> list[str]:
    return []
