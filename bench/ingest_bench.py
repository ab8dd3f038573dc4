"""Ingest throughput benchmark: one ingest process, a separate load process, the raw client limit beside it.

Run: ``.venv/bin/python bench/ingest_bench.py [--seconds 10] [--connections 32]``.  It starts a private
embedded broker (memory storage) and one ``eventyard ingest`` process, then measures, in the same run:

* the raw aiokafka produce rate of ~890-byte events to that broker (one record per event, batched by
  the client) — the ceiling a gateway on this machine could approach;
* ingest with 100-event ``/v1/batch`` requests and with single-event ``/v1/track`` requests, driven by
  ``wrk`` (Debian package) when it is installed, else by an aiohttp client in a separate process;
  events/s and p50/p99 request latency;
* the single-event case again on a second ingest process with coalescing off (``coalesce_ms: 0``),
  alternating with the first, to show what coalescing small requests into shared envelopes gives.

Prints a Markdown table.  Not a test: figures depend on the machine (see docs/ingest.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from aiokafka import AIOKafkaProducer

from eventyard.broker import EmbeddedBroker, free_port

WRITE_KEY = "bench-key"
AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


def sample_event(i: int = 0) -> dict:
    """A realistic ~890-byte track call without messageId (ingest generates one per event)."""
    return {"type": "track", "userId": f"user-{i % 5000}", "event": "Order Completed",
            "timestamp": "2024-05-01T12:00:00.000Z",
            "properties": {"order_id": f"o-{i}", "revenue": 42.5, "currency": "EUR", "coupon": "SPRING",
                           "products": [{"sku": f"sku-{k}", "name": "Blue Shirt", "price": 14.5,
                                         "quantity": 1} for k in range(3)]},
            "context": {"ip": "10.1.2.3", "locale": "fr-FR", "library": {"name": "bench", "version": "1"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120",
                        "page": {"path": "/checkout", "url": "https://shop.example/checkout"}}}


async def raw_produce_rate(bootstrap: str, count: int = 60_000) -> float:
    """Events/s of aiokafka producing ``count`` events, one record each, acks=all."""
    value = json.dumps(sample_event()).encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        await (await producer.send("bench-raw", value))
        started = time.perf_counter()
        futures = [await producer.send("bench-raw", value) for _ in range(count)]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


def run_wrk(url: str, body: bytes, seconds: int, connections: int, workdir: Path) -> dict:
    """Drive ``url`` with wrk; return requests/s and latency percentiles in ms."""
    script = workdir / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = io.open("%s", "rb"):read("*a")\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      'wrk.headers["Authorization"] = "%s"\n' % (workdir / "body.json", AUTH))
    (workdir / "body.json").write_bytes(body)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"ingest answered errors:\n{out}")

    def millis(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50": millis("50%"), "p99": millis("99%")}


def run_aiohttp_load(url: str, body: bytes, seconds: int, connections: int) -> dict:
    """Fallback load generator: one separate process of aiohttp clients (see ``_load_worker``)."""
    done = subprocess.run([sys.executable, __file__, "--load-worker", url, str(seconds), str(connections)],
                          input=body, capture_output=True, check=True)
    return json.loads(done.stdout)


async def _load_worker(url: str, seconds: int, connections: int, body: bytes) -> dict:
    import aiohttp

    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json", "Authorization": AUTH}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        async def loop() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"ingest answered {resp.status}")
                latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.gather(*(loop() for _ in range(connections)))
    latencies.sort()
    return {"rps": len(latencies) / seconds, "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(len(latencies) * 0.99)]}


def start_ingest(workdir: Path, bootstrap: str, coalesce_ms: float) -> tuple[subprocess.Popen, int]:
    """One ingest process on a free port, ready."""
    workdir.mkdir()
    doc = {"version": 1, "topics": {"prefix": "bench", "partitions": 4},
           "ingest": {"coalesce_ms": coalesce_ms},
           "sources": [{"name": "bench", "write_key": WRITE_KEY}], "destinations": []}
    (workdir / "eventyard.yaml").write_text(yaml.safe_dump(doc))
    port = free_port()
    log = open(workdir / "ingest.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "eventyard", "ingest", "-w", str(workdir), "-b",
                             bootstrap, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    import urllib.request
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError((workdir / "ingest.log").read_text())


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    load = "wrk" if shutil.which("wrk") else "aiohttp"
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(log_file=Path(tmp) / "broker.log") as broker:
        workdir = Path(tmp)
        raw = asyncio.run(raw_produce_rate(broker.bootstrap_servers))
        ingests = {ms: start_ingest(workdir / f"ingest-{ms}", broker.bootstrap_servers, ms)
                   for ms in (1.0, 0.0)}
        rows = [("aiokafka produce, one record per event (raw limit)", raw, None)]
        cases = [("ingest, 100-event /v1/batch", "/v1/batch", 100, 1.0)] + [
            (f"ingest, single-event /v1/track, coalesce {ms:g} ms (run {n})", "/v1/track", 1, ms)
            for n in (1, 2) for ms in (1.0, 0.0)]
        try:
            for label, path, batch, ms in cases:
                events = [sample_event(i) for i in range(batch)]
                body = json.dumps({"batch": events} if batch > 1 else events[0]).encode()
                url = f"http://127.0.0.1:{ingests[ms][1]}{path}"
                result = (run_wrk(url, body, args.seconds, args.connections, workdir) if load == "wrk"
                          else run_aiohttp_load(url, body, args.seconds, args.connections))
                rows.append((label, result["rps"] * batch, result))
        finally:
            for proc, _ in ingests.values():
                proc.terminate()
                proc.wait()
    print(f"\nload: {load}, {args.connections} connections, {args.seconds} s per case, "
          f"{os.cpu_count()} cores\n")
    print("| case | events/s | requests/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|")
    for label, rate, result in rows:
        extra = (f"{result['rps']:,.0f} | {result['p50']:.1f} | {result['p99']:.1f}" if result
                 else "– | – | –")
        print(f"| {label} | {rate:,.0f} | {extra} |")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--load-worker":
        print(json.dumps(asyncio.run(_load_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                                                  sys.stdin.buffer.read()))))
    else:
        main()
