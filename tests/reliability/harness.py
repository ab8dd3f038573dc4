"""Fault-injection harness: stacks of real processes, senders, a cuttable TCP proxy, a durable broker.

* :class:`Stack` — one workspace with ingest and workers as subprocesses (``tests/support.py``), started
  off the event loop so in-process endpoints (the webhook recorder) keep answering meanwhile;
* :func:`send` / :class:`Load` — POST batches to ingest like an SDK (optionally retrying non-200 answers
  with the same messageIds) and record every answer in the :class:`~oracle.Ledger`;
* :class:`TcpProxy` — a loopback proxy that can be cut (connections reset, new ones refused) and restored;
* :class:`DurableBroker` — Tansu on ``s3://`` against a local S3 emulator, so it can be restarted without
  losing topics or committed offsets;
* :func:`rss_kib`, :func:`scrape` — a process's resident memory, and a Prometheus page as a dict.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from eventyard.broker import EmbeddedBroker, free_port
from oracle import Ledger
from support import Proc, start_ingest, start_worker

WRITE_KEY = "web-key"
HERE = Path(__file__).resolve().parent


@dataclass
class Stack:
    """A workspace with its ingest and worker processes."""

    directory: Path
    bootstrap: str
    log_dir: Path
    ingest: Proc | None = None
    workers: list[Proc] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        """The workspace's topic prefix."""
        return yaml.safe_load((self.directory / "eventyard.yaml").read_text())["topics"]["prefix"]

    async def start_ingest(self) -> Proc:
        """Start (or replace) the ingest process."""
        self.ingest = await asyncio.to_thread(start_ingest, self.directory, self.bootstrap, self.log_dir)
        return self.ingest

    async def start_worker(self) -> Proc:
        """Start one more worker and wait until it owns partitions."""
        worker = await asyncio.to_thread(start_worker, self.directory, self.bootstrap, self.log_dir)
        self.workers.append(worker)
        return worker

    async def stop(self) -> None:
        """SIGTERM every process still running."""
        for proc in [*self.workers, *([self.ingest] if self.ingest else [])]:
            await asyncio.to_thread(proc.stop)

    def crashed(self) -> list[str]:
        """Processes that exited without being told to (with the tail of their output)."""
        procs = [*self.workers, *([self.ingest] if self.ingest else [])]
        return [f"{p.log.name} exited {p.popen.returncode}: {p.output()[-2000:]}"
                for p in procs if p.popen.returncode not in (None, 0, -9, -15)]

    def logs(self) -> str:
        """Everything the processes of this stack wrote."""
        return "".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log")))


def auth_header(write_key: str = WRITE_KEY) -> dict[str, str]:
    """HTTP Basic auth as Segment SDKs send the write key."""
    return {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}


async def post(session: aiohttp.ClientSession, port: int, body: bytes | dict, path: str = "/v1/batch",
               headers: dict[str, str] | None = None) -> int:
    """POST one request to ingest; return the status (599 when the connection failed)."""
    data = body if isinstance(body, bytes) else None
    try:
        async with session.post(f"http://127.0.0.1:{port}{path}", data=data,
                                json=None if data is not None else body,
                                headers={**auth_header(), **(headers or {})}) as resp:
            await resp.read()
            return resp.status
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return 599


async def send(ledger: Ledger, session: aiohttp.ClientSession, port: int, events: list[dict],
               retry_for: float = 0.0, answers: list[int] | None = None) -> int:
    """POST ``events`` as one batch and record the answer; retry non-200 answers for ``retry_for`` s.

    Every answer (retries included) is appended to ``answers`` when given; the last one is returned.
    """
    deadline = time.monotonic() + retry_for
    while True:
        status = await post(session, port, {"batch": events})
        ledger.answered(events, status)
        if answers is not None:
            answers.append(status)
        if status == 200 or time.monotonic() >= deadline:
            return status
        await asyncio.sleep(0.2)


class Load:
    """Sends batches of ``size`` events over ``users`` users, one request at a time, until stopped."""

    def __init__(self, ledger: Ledger, session: aiohttp.ClientSession, port: int, size: int = 20,
                 users: int = 7, interval: float = 0.02, retry_for: float = 0.0) -> None:
        self.ledger, self.session, self.port = ledger, session, port
        self.size, self.users, self.interval, self.retry_for = size, users, interval, retry_for
        self.statuses: list[int] = []  # every answer, retries included
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> "Load":
        """Begin sending in the background."""
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            events = [self.ledger.event(f"u{(n + i) % self.users}") for i in range(self.size)]
            n += self.size
            await send(self.ledger, self.session, self.port, events, self.retry_for, self.statuses)
            await asyncio.sleep(self.interval)

    async def until_acked(self, count: int, timeout: float = 30) -> None:
        """Wait until at least ``count`` events were answered 200."""
        deadline = time.monotonic() + timeout
        while len(self.ledger.acked) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Finish the request in flight and stop."""
        self._stop.set()
        if self._task:
            await self._task


class TcpProxy:
    """A loopback TCP proxy to ``target_port`` that can be cut and restored on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> "TcpProxy":
        """Accept connections and forward them."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            target_r, target_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, target_w}
        await asyncio.gather(self._pipe(client_r, target_w), self._pipe(target_r, client_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones, as a crashed server would."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        """Listen again on the same port."""
        await self.start()


class DurableBroker:
    """Tansu with ``s3://`` storage on a local S3 emulator: topics and offsets survive a restart."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.s3_port = free_port()
        self.emulator: subprocess.Popen[bytes] | None = None
        self.broker: EmbeddedBroker | None = None

    def start(self) -> "DurableBroker":
        """Start the emulator, create the bucket, start the broker."""
        log = open(self.log_dir / "s3.log", "ab")
        self.emulator = subprocess.Popen([sys.executable, str(HERE / "s3_emulator.py"), str(self.s3_port)],
                                         stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{self.s3_port}/tansu", method="PUT"), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.emulator.poll() is not None:
                    raise RuntimeError(f"S3 emulator did not start: {(self.log_dir / 's3.log').read_text()}")
                time.sleep(0.1)
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT": f"http://127.0.0.1:{self.s3_port}", "AWS_ALLOW_HTTP": "true"}
        self.broker = EmbeddedBroker(storage="s3://tansu/", log_file=self.log_dir / "broker.log", env=env)
        self.broker.start()
        return self

    @property
    def bootstrap(self) -> str:
        """The broker's bootstrap address."""
        assert self.broker is not None
        return self.broker.bootstrap_servers

    def stop(self) -> None:
        """Stop the broker, then the emulator."""
        if self.broker is not None:
            self.broker.stop()
        if self.emulator is not None and self.emulator.poll() is None:
            self.emulator.terminate()
            self.emulator.wait(10)


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The Prometheus page of a process as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def delivered_metric(port: int, destination: str) -> float:
    """``eventyard_delivery_events_total{outcome="delivered"}`` of one destination in one worker."""
    key = ("eventyard_delivery_events_total", (("destination", destination), ("outcome", "delivered")))
    return scrape(port).get(key, 0.0)

