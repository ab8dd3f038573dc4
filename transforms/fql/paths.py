"""Dot-separated field paths and copy-on-write edits of event dicts.

Contract: a path is text such as ``context.library.version``; a segment containing a
literal ``.`` or ``\\`` is written with a backslash escape (``a\\.b``), which is how the
parser encodes escaped FQL identifiers into IR paths. The empty path ``""`` names the
event itself. Reads never fail: a missing field, or stepping into a non-container, reads
as ``None`` (FQL ``null``); list elements are addressed by decimal index segments.
The edit helpers never mutate their input: they copy each dict/list on the way to the
change and share everything else, so the caller's event stays intact.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

MISSING = object()
"""Sentinel returned by :func:`lookup` for a field that is absent (as opposed to null)."""


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """Split a dot path into its segments, honouring backslash escapes; ``""`` → ``()``."""
    if not path:
        return ()
    if "\\" not in path:
        return tuple(path.split("."))
    segments, current, i = [], [], 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            current.append(path[i + 1])
            i += 2
            continue
        if ch == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    segments.append("".join(current))
    return tuple(segments)


def join_path(segments: list[str] | tuple[str, ...]) -> str:
    """Inverse of :func:`split_path`: escape ``\\`` and ``.`` in each segment and join."""
    return ".".join(s.replace("\\", "\\\\").replace(".", "\\.") for s in segments)


def lookup(obj: Any, segments: tuple[str, ...]) -> Any:
    """Return the value at ``segments`` inside ``obj``, or :data:`MISSING` if absent."""
    for seg in segments:
        if isinstance(obj, dict):
            obj = obj.get(seg, MISSING)
            if obj is MISSING:
                return MISSING
        elif isinstance(obj, list) and seg.isdigit() and int(seg) < len(obj):
            obj = obj[int(seg)]
        else:
            return MISSING
    return obj


def get_path(obj: Any, segments: tuple[str, ...]) -> Any:
    """Return the value at ``segments`` inside ``obj``; absent fields read as ``None``."""
    value = lookup(obj, segments)
    return None if value is MISSING else value


def rewrite_at(obj: Any, segments: tuple[str, ...], fn: Callable[[dict], dict]) -> Any:
    """Return a copy of ``obj`` where every dict found at ``segments`` is replaced by ``fn(dict)``.

    Lists met on the way (or at the end) fan out: ``fn`` applies to each dict element, as
    tsub's ``drop_properties``/``allow_properties`` do. Absent paths leave ``obj`` unchanged.
    """
    if isinstance(obj, list):
        return [rewrite_at(item, segments, fn) for item in obj]
    if not isinstance(obj, dict):
        return obj
    if not segments:
        return fn(obj)
    head = segments[0]
    if head not in obj:
        return obj
    copy = dict(obj)
    copy[head] = rewrite_at(obj[head], segments[1:], fn)
    return copy


def set_path(obj: dict, segments: tuple[str, ...], value: Any) -> dict:
    """Return a copy of ``obj`` with ``value`` stored at ``segments``, creating dicts as needed.

    A non-dict found on the way is replaced by a new dict. ``segments`` must be non-empty.
    """
    out = node = dict(obj)
    for segment in segments[:-1]:
        child = node.get(segment)
        child = dict(child) if isinstance(child, dict) else {}
        node[segment] = child
        node = child
    node[segments[-1]] = value
    return out


def delete_path(obj: dict, segments: tuple[str, ...]) -> dict:
    """Return a copy of ``obj`` without the field at ``segments`` (``obj`` itself if absent)."""
    parent_path, leaf = segments[:-1], segments[-1]
    parent = lookup(obj, parent_path)
    if not isinstance(parent, dict) or leaf not in parent:
        return obj
    return rewrite_at(obj, parent_path, lambda d: {k: v for k, v in d.items() if k != leaf})
