"""The child process that runs user-defined Python functions (``python -m ...function_runner``).

Contract: the parent (:class:`eventyard.transforms.functions.FunctionPool`) writes one request frame
``{"path", "function", "ctx", "events"}`` to our stdin and reads one reply frame per event, in order:
``{"i": n, "ok": [event, ...]}`` (``None`` from the function → ``[]``) or ``{"i": n, "error": text,
"class": "function_error" | "function_bad_result"}``.  A frame is a 4-byte big-endian length and an
orjson body.  User code's ``print`` goes to stderr: the protocol owns the original stdout.  Modules are
imported once per (path, mtime) and kept.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
import traceback
from typing import Any, BinaryIO

import orjson

_HEADER = struct.Struct(">I")
_modules: dict[tuple[str, float], Any] = {}


def read_frame(stream: BinaryIO) -> Any:
    """One frame from a blocking stream, or None at end of input."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    return orjson.loads(stream.read(_HEADER.unpack(header)[0]))


def frame(doc: Any) -> bytes:
    """Encode ``doc`` as one frame."""
    body = orjson.dumps(doc)
    return _HEADER.pack(len(body)) + body


def load(path: str, function: str):
    """The user function ``function`` of the file at ``path`` (imported once per mtime)."""
    key = (path, os.stat(path).st_mtime)
    module = _modules.get(key)
    if module is None:
        spec = importlib.util.spec_from_file_location(f"eventyard_user_{len(_modules)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[key] = module
    return getattr(module, function)


def result_events(result: Any) -> list[dict]:
    """Check a function's return value: dict, list of dicts or None; JSON-clean."""
    if result is None:
        return []
    events = [result] if isinstance(result, dict) else result
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise TypeError(f"transform returned {type(result).__name__}; "
                        "expected a dict, a list of dicts or None")
    return orjson.loads(orjson.dumps(events))


def run_request(request: dict, out: BinaryIO) -> None:
    """Run the function on each event of ``request``; write one reply per event."""
    try:
        fn = load(request["path"], request["function"])
    except BaseException:  # noqa: BLE001 - the user's module may raise anything
        text = traceback.format_exc()
        for i in range(len(request["events"])):
            out.write(frame({"i": i, "error": text, "class": "function_error"}))
        out.flush()
        return
    for i, event in enumerate(request["events"]):
        try:
            result = fn(event, request["ctx"])
        except BaseException:  # noqa: BLE001
            reply = {"i": i, "error": traceback.format_exc(), "class": "function_error"}
        else:
            try:
                reply = {"i": i, "ok": result_events(result)}
            except (TypeError, orjson.JSONEncodeError) as exc:
                reply = {"i": i, "error": f"{type(exc).__name__}: {exc}", "class": "function_bad_result"}
        out.write(frame(reply))
        out.flush()


MEMORY_ENV = "EVENTYARD_FUNCTION_MEMORY_BYTES"
DEFAULT_MEMORY_BYTES = 1 << 30


def limit_memory() -> None:
    """Cap this process's address space (``$EVENTYARD_FUNCTION_MEMORY_BYTES``, default 1 GiB; 0: none).

    A function that allocates past it gets ``MemoryError`` — reported like any exception — instead of
    taking the machine's memory before its timeout fires.
    """
    import resource

    limit = int(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_BYTES))
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    """Serve requests until stdin closes."""
    limit_memory()
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    while (request := read_frame(stdin)) is not None:
        run_request(request, proto)


if __name__ == "__main__":
    main()
