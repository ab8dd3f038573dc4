"""``eventyard filters test --workspace DIR --destination D EVENTS.jsonl``: what each filter does.

For every event of the file, one line per enabled filter of destination D (whether its ``if``
matched, and its actions) and a result line: ``kept`` with the fields the filters removed, or
``dropped (<reason>)``.  The same :class:`~eventyard.transforms.filters.FilterChain` as the worker
decides, so sampling by path gives the same answer.  Exit 0, or 2 when the workspace, the destination
or a line of the file is unusable.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from eventyard.cli import load_or_exit, workspace_option


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        out = set()
        for key, child in value.items():
            out |= _paths(child, f"{prefix}.{key}" if prefix else str(key)) | {
                f"{prefix}.{key}" if prefix else str(key)}
        return out
    return set()


@click.group()
def filters() -> None:
    """Destination filters."""


@filters.command("test")
@workspace_option
@click.option("--destination", "-d", required=True, help="Destination name.")
@click.argument("events_file", metavar="EVENTS.jsonl", type=click.Path(dir_okay=False))
def test(workspace: str, destination: str, events_file: str) -> None:
    """Show what each filter of a destination does to each event of a JSON Lines file."""
    import orjson

    from eventyard.transforms.filters import FilterChain

    model = load_or_exit(workspace).model
    config = next((d for d in model.destinations if d.name == destination), None)
    if config is None:
        click.echo(f"error: no destination {destination!r} in the workspace", err=True)
        sys.exit(2)
    chain = FilterChain(config.filters)
    try:
        with open(events_file, "rb") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        click.echo(f"error: cannot read {events_file}: {exc.strerror}", err=True)
        sys.exit(2)
    if not chain.filters:
        click.echo(f"destination {destination} has no enabled filters: every event is kept")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            click.echo(f"error: {events_file}:{number}: invalid JSON: {exc}", err=True)
            sys.exit(2)
        name = event.get("event") or event.get("type") if isinstance(event, dict) else None
        click.echo(f"{number}: {event.get('messageId', '-') if isinstance(event, dict) else '-'} {name!r}")
        for index, flt in enumerate(chain.filters):
            label = flt.title or flt.id or f"#{index}"
            try:
                verdict = "matched" if flt.matches(event) else "no match"
            except Exception as exc:  # the chain fails closed on the same error
                verdict = f"error: {exc}"
            actions = ", ".join(a.type for a in flt.actions)
            click.echo(f"   filter {label} ({flt.if_!r} → {actions}): {verdict}")
        result = chain.apply(event)
        if result.event is None:
            click.echo(f"   → dropped ({result.reason}{': ' + result.detail if result.detail else ''})")
        else:
            removed = sorted(_paths(event) - _paths(result.event))
            click.echo("   → kept" + (f"; removed {', '.join(removed)}" if removed else ""))
