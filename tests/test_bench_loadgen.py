"""The benchmark's fixed-rate load client: prepared requests on keep-alive connections.

A real aiohttp server answers 200, or 503 for every fifth request, with and without chunked bodies.  The
client must count each answer right, send intact bodies with the write key, reuse its connections, and
keep the offered rate.
"""

from __future__ import annotations

import base64

import orjson
from aiohttp import web

from eventyard.bench.loadgen import offer

from support import serve_app


async def serve(chunked: bool):
    seen = {"requests": 0, "events": 0, "auth": set(), "peers": set()}

    async def batch(request: web.Request) -> web.StreamResponse:
        seen["requests"] += 1
        seen["events"] += len(orjson.loads(await request.read())["batch"])
        seen["auth"].add(request.headers["Authorization"])
        seen["peers"].add(request.transport.get_extra_info("peername"))
        status = 503 if seen["requests"] % 5 == 0 else 200
        if not chunked:
            return web.json_response({"success": status == 200}, status=status)
        response = web.StreamResponse(status=status)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"success":')
        await response.write(b"true}" if status == 200 else b"false}")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/batch", batch)
    return (*await serve_app(app), seen)


async def test_load_client_counts_answers_and_keeps_the_rate():
    for chunked in (False, True):
        runner, port, seen = await serve(chunked)
        try:
            result = await offer(f"http://127.0.0.1:{port}/v1/batch", "key", 2000, 1.0, 10, 8)
        finally:
            await runner.cleanup()
        assert seen["requests"] == 200 and seen["events"] == 2000
        assert result["events_ok"] == 160 * 10 and result["errors"] == 40 and result["skipped"] == 0
        assert seen["auth"] == {"Basic " + base64.b64encode(b"key:").decode()}
        assert len(seen["peers"]) <= 8, "connections are reused"
        assert 0.9 <= result["seconds"] <= 1.5 and result["p99_ms"] > 0
