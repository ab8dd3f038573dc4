"""The processes under test: ``eventyard ingest`` and ``eventyard worker`` as subprocesses, and the
resident memory (VmRSS from ``/proc``) of any process.

Each process logs to a file in the run's state directory; a process that exits early raises with the
end of its log so a broken benchmark says why.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from eventyard.broker import free_port


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def http_get(url: str, timeout: float = 2.0) -> bytes | None:
    """The body of a GET, or None on any connection error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except OSError:
        return None


@dataclass
class Service:
    """A running eventyard process listening on ``port``."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        """Process id."""
        return self.popen.pid

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready()`` until true; raise with the log's tail if the process dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}: {self.tail()}")
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {timeout} s: {self.tail()}")

    def tail(self) -> str:
        """The end of the process's log."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _spawn(name: str, args: list[str], state_dir: Path, port: int) -> Service:
    log = state_dir / f"{name}-{port}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen([sys.executable, "-m", "eventyard", "--log-level", "warning", *args],
                                 stdout=out, stderr=subprocess.STDOUT)
    return Service(name, popen, port, log)


def start_ingest(workspace: Path, bootstrap: str, state_dir: Path, timeout: float = 30) -> Service:
    """An ingest process, once it answers ``/ready``."""
    port = free_port()
    service = _spawn("ingest", ["ingest", "-w", str(workspace), "-b", bootstrap, "--port", str(port)],
                     state_dir, port)
    service.wait_ready(lambda: http_get(f"http://127.0.0.1:{port}/ready") is not None, timeout)
    return service


def start_worker(workspace: Path, bootstrap: str, state_dir: Path, timeout: float = 60) -> Service:
    """A worker process, once its web server answers (it joins the group in the background)."""
    port = free_port()
    service = _spawn("worker", ["worker", "-w", str(workspace), "-b", bootstrap, "--health-port", str(port),
                                "--session-timeout", "6"], state_dir, port)
    service.wait_ready(lambda: _assigned(port), timeout)
    return service


def _assigned(port: int) -> bool:
    body = http_get(f"http://127.0.0.1:{port}/health")
    if body is None:
        return False
    try:
        health = json.loads(body)
    except ValueError:
        return False
    return bool(health.get("assigned")) if isinstance(health, dict) and "assigned" in health else True
