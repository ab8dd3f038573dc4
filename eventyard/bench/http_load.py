"""Closed-loop HTTP load with ``wrk`` (Debian's package; a separate C process, so the load generator
costs the ingest process as little CPU as possible).

:func:`run_wrk` POSTs one fixed body for ``duration`` seconds over ``connections`` connections and returns
requests/s, latency p50/p99 and the count of non-200 answers parsed from wrk's ``--latency`` report.
The body carries no messageId: ingest assigns one per event, so repeated bodies are distinct events.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
local file = io.open("{body}", "rb")
wrk.body = file:read("*a")
file:close()
"""
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, p50, p99 and errors from wrk's report."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    quantiles = {q: _seconds(v) * 1000 for q, v in re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return WrkResult(float(rate.group(1)), quantiles.get("50"), quantiles.get("99"), errors)


def run_wrk(url: str, body: bytes, write_key: str, duration: float, connections: int) -> WrkResult:
    """Load ``url`` with ``body`` for ``duration`` seconds."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (tests/deps/install.sh does it)")
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    with tempfile.TemporaryDirectory(prefix="eventyard-wrk-") as tmp:
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(auth=auth, body=body_path))
        seconds = max(1, round(duration))
        proc = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                               "--latency", "-s", str(script), url],
                              capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return parse_wrk(proc.stdout)
