"""A fixed-rate (open-loop) HTTP load process: ``python -m eventyard.bench.loadgen URL KEY RATE SECONDS``.

It POSTs ``/v1/batch`` bodies of ``--batch`` events at ``RATE`` events/s for ``SECONDS`` seconds — requests
start on schedule whether or not earlier ones were answered (up to ``--max-inflight``), so a slow server
shows up as latency and errors, not as a lower offered rate — and prints one JSON object: events answered
200, errors, the achieved rate and request latency p50/p99.  It runs as its own process so the load does
not share an event loop with the measuring side.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time

import aiohttp
import orjson

from eventyard.bench.report import percentile
from eventyard.bench.workload import http_batch_body


async def offer(url: str, write_key: str, rate: float, seconds: float, batch: int,
                max_inflight: int) -> dict:
    """Offer ``rate`` events/s for ``seconds``; return the figures."""
    bodies = [http_batch_body(n * batch, batch) for n in range(20)]
    headers = {"Content-Type": "application/json",
               "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
    interval = batch / rate
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "skipped": 0}
    inflight = asyncio.Semaphore(max_inflight)
    connector = aiohttp.TCPConnector(limit=max_inflight)

    async def post(session: aiohttp.ClientSession, body: bytes) -> None:
        started = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                counts["ok" if resp.status == 200 else "errors"] += 1
        except (aiohttp.ClientError, asyncio.TimeoutError):
            counts["errors"] += 1
        finally:
            latencies.append(time.perf_counter() - started)
            inflight.release()

    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        tasks = []
        started = time.perf_counter()
        due = started
        for n in range(int(seconds * rate / batch)):
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due += interval
            if inflight.locked():
                counts["skipped"] += 1
                continue
            await inflight.acquire()
            tasks.append(asyncio.ensure_future(post(session, bodies[n % len(bodies)])))
        offered_seconds = time.perf_counter() - started
        await asyncio.gather(*tasks)
    return {"events_ok": counts["ok"] * batch, "errors": counts["errors"], "skipped": counts["skipped"],
            "seconds": offered_seconds, "achieved_rate": counts["ok"] * batch / offered_seconds,
            "p50_ms": (percentile(latencies, 0.5) or 0) * 1000,
            "p99_ms": (percentile(latencies, 0.99) or 0) * 1000}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; prints the result as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("write_key")
    parser.add_argument("rate", type=float)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-inflight", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        from uvloop import run
    except ImportError:
        run = asyncio.run
    result = run(offer(args.url, args.write_key, args.rate, args.seconds, args.batch, args.max_inflight))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
