"""A local aiohttp webhook receiver whose answers follow a script, for delivery tests.

``ScriptedWebhook(answer)`` serves ``POST /<name>`` on 127.0.0.1; ``answer(name, event, attempt)``
returns ``(status, headers, delay_seconds)`` for each event (batch bodies are answered by their first
event).  ``accepted[name]`` counts, per messageId, the events answered 2xx — what the destination
durably received; ``attempts`` counts every request per messageId.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any, Callable

import orjson
from aiohttp import web

from eventyard.broker import free_port

Answer = Callable[[str, dict[str, Any], int], tuple[int, dict[str, str], float]]


class ScriptedWebhook:
    """The receiving end of webhook destinations."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.accepted: dict[str, Counter[str]] = defaultdict(Counter)
        self.attempts: Counter[str] = Counter()
        self.port = free_port()

    def url(self, name: str) -> str:
        """The URL a destination called ``name`` posts to."""
        return f"http://127.0.0.1:{self.port}/{name}"

    async def __aenter__(self) -> "ScriptedWebhook":
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = orjson.loads(await request.read())
        events = body if isinstance(body, list) else [body]
        for event in events:
            self.attempts[event["messageId"]] += 1
        status, headers, delay = self.answer(name, events[0], self.attempts[events[0]["messageId"]])
        if delay:
            await asyncio.sleep(delay)
        if 200 <= status < 300:
            for event in events:
                self.accepted[name][event["messageId"]] += 1
        return web.Response(status=status, headers=headers, text=f"scripted {status}")
