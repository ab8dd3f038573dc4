"""The health web server: aiohttp app, background topic reader, and ``run_health_server``.

Routes: ``/`` overview, ``/debugger?source=`` live source debugger, ``/debugger/stream?source=``
Server-Sent Events of new events, ``/lookup?messageId=`` lineage, ``/api/summary`` and
``/api/lookup?messageId=`` (JSON), ``/metrics`` (this process's registry, including the dead-letter topic
sizes it counts).  Binds 127.0.0.1 by default.  When a token is configured (from an environment
variable, never a file), every request needs ``Authorization: Bearer <token>``; a browser may pass
``?token=`` once and gets it back as an HTTP-only cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from eventyard.config.workspace import Workspace
from eventyard.streams.health import pages
from eventyard.serving import serve_until_stopped
from eventyard.streams.health.reader import TopicReader, new_state
from eventyard.streams.health.scrape import scrape
from eventyard.streams.health.summary import build_summary, lookup

log = logging.getLogger("eventyard.health")
COOKIE = "eventyard_health_token"


@dataclass
class HealthOptions:
    """How the health server connects and listens."""

    bootstrap_servers: str
    host: str = "127.0.0.1"
    port: int = 8090
    scrape_urls: list[str] = field(default_factory=list)
    token: str | None = None


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    offered = (header.removeprefix("Bearer ") if header.startswith("Bearer ") else
               request.query.get("token") or request.cookies.get(COOKIE, ""))
    return hmac.compare_digest(offered.encode(), token.encode())


def create_health_app(workspace: Workspace, options: HealthOptions) -> web.Application:
    """The aiohttp application; its reader task starts and stops with the app."""
    state = new_state(workspace)
    reader = TopicReader(workspace, options.bootstrap_servers, state)
    sources = [s.name for s in workspace.sources]

    @web.middleware
    async def auth(request: web.Request, handler):
        if options.token and not _authorized(request, options.token):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"})
        response = await handler(request)
        if options.token and request.query.get("token"):
            response.set_cookie(COOKIE, options.token, httponly=True, samesite="Strict")
        return response

    async def summary() -> dict:
        return build_summary(workspace, state, await scrape(options.scrape_urls))

    async def overview(request: web.Request) -> web.Response:
        return web.Response(text=pages.overview_page(await summary()), content_type="text/html")

    async def api_summary(request: web.Request) -> web.Response:
        return web.json_response(body=orjson.dumps(await summary(), default=str))

    def chosen_source(request: web.Request) -> str:
        source = request.query.get("source") or sources[0]
        if source not in state.debugger:
            raise web.HTTPNotFound(text=f"unknown source {source!r}")
        return source

    async def debugger(request: web.Request) -> web.Response:
        source = chosen_source(request)
        page = pages.debugger_page(sources, source, list(state.debugger[source]))
        return web.Response(text=page, content_type="text/html")

    async def debugger_stream(request: web.Request) -> web.StreamResponse:
        source = chosen_source(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        state.subscribers.add(queue)
        try:
            while True:
                try:
                    entry = await asyncio.wait_for(queue.get(), 15)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if entry["source"] == source:
                    await response.write(b"data: " + orjson.dumps(entry) + b"\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        finally:
            state.subscribers.discard(queue)

    async def lookup_view(request: web.Request) -> web.Response:
        message_id = request.query.get("messageId", "").strip()
        steps = lookup(state, message_id) if message_id else None
        return web.Response(text=pages.lookup_page(message_id, steps), content_type="text/html")

    async def api_lookup(request: web.Request) -> web.Response:
        message_id = request.query.get("messageId", "")
        return web.json_response({"messageId": message_id, "steps": lookup(state, message_id)})

    async def metrics_view(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def reader_task(app: web.Application):
        task = asyncio.create_task(reader.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app = web.Application(middlewares=[auth])
    app.cleanup_ctx.append(reader_task)
    app.router.add_get("/", overview)
    app.router.add_get("/api/summary", api_summary)
    app.router.add_get("/debugger", debugger)
    app.router.add_get("/debugger/stream", debugger_stream)
    app.router.add_get("/lookup", lookup_view)
    app.router.add_get("/api/lookup", api_lookup)
    app.router.add_get("/metrics", metrics_view)
    return app


def run_health_server(workspace: Workspace, options: HealthOptions) -> None:
    """Serve the health view until SIGINT/SIGTERM."""

    async def serve() -> None:
        runner = web.AppRunner(create_health_app(workspace, options), access_log=None,
                                shutdown_timeout=2.0)
        await serve_until_stopped(runner, options.host, options.port, "health")

    asyncio.run(serve())
