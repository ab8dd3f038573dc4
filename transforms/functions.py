"""User-defined Python transformations: ``def transform(event, ctx) -> dict | list[dict] | None``.

Contract:

* :func:`check_function_file` validates a function file without running it (syntax, a top-level
  ``def`` of that name taking ``(event, ctx)``); :class:`FunctionLoadError` names the file and line.
* :class:`FunctionPool` runs user code in a separate process (``eventyard.transforms.function_runner``)
  so it can never block the worker's event loop: ``await pool.run(fn, events, ctx)`` sends a whole
  envelope's events in one request and returns one :class:`FunctionOutcome` per event, in order.
  A function that raises, returns something other than a dict / list of dicts / None, or takes longer
  than ``fn.timeout_seconds`` gives an outcome with ``error`` (the traceback) and ``error_class``
  (``function_error``, ``function_bad_result``, ``function_timeout``); the other events go on.  On a
  timeout the child is killed and a fresh one runs the remaining events.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from eventyard.transforms.function_runner import _HEADER, frame

log = logging.getLogger("eventyard.functions")


class FunctionLoadError(ValueError):
    """A function file that cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class UserFunction:
    """A function to run: absolute file path, function name and per-event timeout."""

    path: str
    function: str = "transform"
    timeout_seconds: float = 5.0


@dataclass
class FunctionOutcome:
    """What a function did to one event: ``events`` (empty: dropped) or an error."""

    events: list[dict] = field(default_factory=list)
    error: str | None = None
    error_class: str | None = None


def check_function_file(path: str | Path, function: str = "transform") -> None:
    """Raise :class:`FunctionLoadError` unless ``path`` defines ``def function(event, ctx)``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FunctionLoadError(f"{path}: cannot read function file: {exc.strerror}") from None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise FunctionLoadError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            args = node.args
            if len(args.posonlyargs + args.args) < 2 and args.vararg is None:
                raise FunctionLoadError(
                    f"{path}:{node.lineno}: {function}() must take (event, ctx)")
            return
    raise FunctionLoadError(f"{path}:1: no top-level function {function!r}")


class FunctionPool:
    """One child process running user functions; requests are served one at a time."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def _child(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "eventyard.transforms.function_runner",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return self._proc

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    async def close(self) -> None:
        """Stop the child process."""
        await self._kill()

    async def run(self, fn: UserFunction, events: list[dict], ctx: dict[str, Any]) -> list[FunctionOutcome]:
        """Run ``fn`` on each event; one outcome per event, in order (see module contract)."""
        outcomes: list[FunctionOutcome] = []
        async with self._lock:
            while len(outcomes) < len(events):
                outcomes += await self._run_some(fn, events[len(outcomes):], ctx)
        return outcomes

    async def _run_some(self, fn: UserFunction, events: list[dict],
                        ctx: dict[str, Any]) -> list[FunctionOutcome]:
        """Run until every event answered or one failed hard (timeout, child died)."""
        proc = await self._child()
        request = {"path": fn.path, "function": fn.function, "ctx": ctx, "events": events}
        proc.stdin.write(frame(request))
        outcomes: list[FunctionOutcome] = []
        try:
            await proc.stdin.drain()
            for _ in events:
                reply = await asyncio.wait_for(self._read(proc), fn.timeout_seconds)
                if "ok" in reply:
                    outcomes.append(FunctionOutcome(reply["ok"]))
                else:
                    outcomes.append(FunctionOutcome([], reply["error"], reply["class"]))
        except asyncio.TimeoutError:
            log.warning("user function timed out; restarting its process",
                        extra={"file": fn.path, "function": fn.function})
            await self._kill()
            outcomes.append(FunctionOutcome([], f"{fn.function}() in {fn.path} took longer than "
                                                f"{fn.timeout_seconds} s", "function_timeout"))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self._kill()
            outcomes.append(FunctionOutcome([], f"function process exited: {exc!r}", "function_error"))
        return outcomes

    @staticmethod
    async def _read(proc: asyncio.subprocess.Process) -> dict:
        header = await proc.stdout.readexactly(_HEADER.size)
        return orjson.loads(await proc.stdout.readexactly(_HEADER.unpack(header)[0]))
