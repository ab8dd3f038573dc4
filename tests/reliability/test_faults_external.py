"""Faults outside the worker: the broker restarted, destinations down, slow, or their database cut off.

* broker restart — Tansu on durable ``s3://`` storage (a local S3 emulator) is stopped for a few seconds
  while ingest and the worker run: ingest answers non-200 meanwhile, the sender retries like an SDK, and
  every event answered 200 arrives;
* destination outage shorter than the retry window → delivered once it is back (per-user order kept);
  longer than the window → dead-lettered with ``retry_window_exceeded``, and delivery resumes after it;
* a slow destination (and one slower than its client timeout, which duplicates) does not hold up another;
* PostgreSQL unreachable mid-load (a TCP proxy cut and restored — the machine's shared PostgreSQL is never
  restarted) → every event lands once (primary key on messageId).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from harness import DurableBroker, Load, TcpProxy, send
from observe import WebhookRecorder, file_ids, postgres_ids
from oracle import Ledger, wait_resolved
from scenarios import file_destination, observer_for, resolve, webhook_destination

FAST_INGEST = {"ingest": {"ack_timeout_seconds": 2.0}}


async def test_broker_restart_with_durable_storage(stack, http, tmp_path, scenario_table):
    durable = await asyncio.to_thread(DurableBroker(tmp_path).start)
    try:
        running = await stack([file_destination()], bootstrap_servers=durable.bootstrap, **FAST_INGEST)
        ledger = Ledger(["archive"])
        load = Load(ledger, http, running.ingest.port, retry_for=60).start()
        await load.until_acked(300)
        await asyncio.to_thread(durable.broker.kill)
        down_since = time.monotonic()
        # ingest must refuse while the broker is away: a request made during the outage gets non-200
        probe = [ledger.event("u-probe")]
        during_outage = await send(ledger, http, running.ingest.port, probe)
        probe_seconds = time.monotonic() - down_since
        while time.monotonic() - down_since < 5:
            await asyncio.sleep(0.2)
        await asyncio.to_thread(durable.broker.start)
        restarted = time.monotonic()
        await load.until_acked(len(ledger.acked) + 200, timeout=60)
        await load.stop()
        observer = observer_for(running, files=("archive",))
        await resolve("broker restart (s3 storage)", ledger, observer, scenario_table, restarted, bound=60.0,
                  ordered=["archive"], max_duplicates=len(ledger.acked) // 2)
        assert during_outage != 200, "ingest must answer non-200 while the broker is down"
        assert probe_seconds < 2.0 + 3, f"a request during the outage took {probe_seconds:.1f} s (ack timeout 2 s)"
        assert not running.crashed()
        print(f"during the outage ingest answered {during_outage} in {probe_seconds:.1f} s; "
              f"non-200 answers retried by the sender: {sum(1 for s in load.statuses if s != 200)}")
        await running.stop()
    finally:
        await asyncio.to_thread(durable.stop)


async def test_destination_outage_shorter_and_longer_than_retry_window(stack, http, recorder, scenario_table):
    long_down = await WebhookRecorder().start()
    try:
        running = await stack([webhook_destination(recorder, "brief", window=60.0),
                               {**webhook_destination(long_down, "long", window=2.0)},
                               file_destination()])
        for hook in (recorder, long_down):
            hook.status = 503
        ledger = Ledger(["brief", "long", "archive"])
        for n in range(10):
            await send(ledger, http, running.ingest.port, [ledger.event(f"u{(n + i) % 5}") for i in range(30)])
        await asyncio.sleep(3)  # both are down; "long" passes its 2 s window
        recorder.status = 200
        cleared = time.monotonic()
        observer = observer_for(running, files=("archive",), hooks={"brief": recorder, "long": long_down})
        report = await wait_resolved(ledger, observer, 30, since=cleared)
        dead_long = set((await observer()).dead["long"])
        assert dead_long == set(ledger.acked), "every event outlived the long outage's window"
        headers = {dict(r.headers).get("eventyard.error.class")
                   for r in observer.tail.records[f"{running.prefix}.dlq.long"]}
        assert headers == {b"retry_window_exceeded"}, headers
        long_down.status = 200  # the long outage ends: new events are delivered again
        control = [ledger.event("u-control", targets=["brief", "long", "archive"]) for _ in range(20)]
        await send(ledger, http, running.ingest.port, control)
        await resolve("destination outage < and > retry window", ledger, observer, scenario_table, cleared,
                       bound=30.0, ordered=["archive"])
        assert set(long_down.delivered) == {e["messageId"] for e in control}
        assert report.recovery_seconds is not None
        assert not running.crashed()
    finally:
        await long_down.stop()


async def test_slow_destination_does_not_hold_up_others(stack, http, recorder, scenario_table):
    running = await stack([webhook_destination(recorder, "slow", timeout=1.0, batch_size=50),
                           file_destination()])
    recorder.delay = 1.5  # slower than the client timeout: requests time out, are retried → duplicates
    ledger = Ledger(["slow", "archive"])
    started = time.monotonic()
    for n in range(10):
        await send(ledger, http, running.ingest.port, [ledger.event(f"u{(n + i) % 5}") for i in range(40)])
    archive = running.directory / "archive"
    while len(set(file_ids(archive))) < len(ledger.acked) and time.monotonic() - started < 20:
        await asyncio.sleep(0.05)
    archive_done = time.monotonic() - started
    assert len(set(file_ids(archive))) == len(ledger.acked), "the file destination waited for the slow one"
    recorder.delay = 0.3  # slow but within the timeout
    since = time.monotonic()
    observer = observer_for(running, files=("archive",), hooks={"slow": recorder})
    report = await resolve("slow destination (timeouts, then 0.3 s)", ledger, observer, scenario_table,
                            since, bound=45.0, ordered=["archive"], max_duplicates=len(ledger.acked))
    print(f"archive complete after {archive_done:.1f} s while the webhook answered in 1.5 s; "
          f"webhook duplicates from timeouts: {report.duplicates}")
    assert archive_done < 15


async def test_postgres_unreachable_mid_load(stack, http, postgres_dsn, monkeypatch, scenario_table):
    proxy = await TcpProxy(5432).start()
    schema = f"rel_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EVENTYARD_REL_PG_DSN", f"postgresql://postgres:pw-not-logged@127.0.0.1:{proxy.port}/test")
    destination = {"name": "warehouse", "type": "postgres",
                   "settings": {"dsn_env": "EVENTYARD_REL_PG_DSN", "schema": schema, "command_timeout": 5},
                   "delivery": {"retry": {"base_seconds": 0.2, "cap_seconds": 1.0}}}
    try:
        running = await stack([destination])
        ledger = Ledger(["warehouse"])
        load = Load(ledger, http, running.ingest.port, size=25, interval=0.05).start()

        async def rows() -> list[str]:
            return await postgres_ids(postgres_dsn, schema)

        deadline = time.monotonic() + 30
        while len(await rows()) < 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await proxy.cut()
        await asyncio.sleep(4)
        await proxy.restore()
        restored = time.monotonic()
        await load.until_acked(len(ledger.acked) + 200)
        await load.stop()
        observer = observer_for(running, readers={"warehouse": rows})
        await resolve("PostgreSQL cut 4 s mid-load", ledger, observer, scenario_table, restored, bound=45.0)
        assert not running.crashed()
    finally:
        await proxy.cut()
        conn = await asyncpg.connect(postgres_dsn)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
