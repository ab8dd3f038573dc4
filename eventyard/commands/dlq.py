"""``eventyard dlq list|show|replay``: inspect a destination's dead letters and deliver them again.

Every subcommand takes the workspace (for the topic prefix and destination names), the bootstrap
servers, ``--destination D`` and the selection options ``--since``/``--until`` (ISO-8601 or a duration
ago such as ``2h``), ``--error-class C`` and ``--where FQL``.  ``list`` prints one line per dead letter,
``show`` prints each as JSON (headers and event), ``replay`` writes the selected events to the
destination's topic — or, with ``--to OTHER``, to another destination's — where the normal delivery
agent delivers them.  Exit codes: 0 success, 2 usage (unknown destination, bad FQL or time).
The logic lives in ``eventyard.streams.replay``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from eventyard.cli import bootstrap_option, load_or_exit, workspace_option


def selection_options(command: Any) -> Any:
    """The destination and selection options shared by the subcommands."""
    for option in reversed([
        workspace_option, bootstrap_option,
        click.option("--destination", "-d", required=True, help="Destination whose dead letters to read."),
        click.option("--since", help="Dead-lettered at or after (ISO-8601 or e.g. 2h ago)."),
        click.option("--until", help="Dead-lettered before (ISO-8601 or e.g. 30m ago)."),
        click.option("--error-class", help="Only this eventyard.error.class."),
        click.option("--where", help="FQL condition on the event."),
    ]):
        command = option(command)
    return command


def _select(workspace: str, bootstrap_servers: str, destination: str, since: str | None,
            until: str | None, error_class: str | None, where: str | None):
    from eventyard.streams.replay import Selection, parse_time, read_dead_letters
    from eventyard.streams.topics import TopicNames
    from eventyard.transforms.fql import FQLError

    loaded = load_or_exit(workspace)
    names = {d.name for d in loaded.model.destinations}
    if destination not in names:
        _usage(f"unknown destination {destination!r}; known: {', '.join(sorted(names))}")
    try:
        selection = Selection(parse_time(since) if since else None, parse_time(until) if until else None,
                              error_class, where)
        selection.matcher()
    except (ValueError, FQLError) as exc:
        _usage(str(exc))
    topics = TopicNames(loaded.model.topics.prefix)
    records = asyncio.run(read_dead_letters(bootstrap_servers, topics.dlq(destination), selection))
    return loaded, topics, records


def _usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def dlq() -> None:
    """Inspect and replay a destination's dead-letter topic."""


@dlq.command("list")
@selection_options
def list_dead_letters(**options: Any) -> None:
    """One line per selected dead letter: partition:offset, time, class, status, messageId, message."""
    from eventyard.streams.deadletter import iso

    _, _, records = _select(**options)
    for r in records:
        h = r.headers
        click.echo(f"{r.partition}:{r.offset}  {iso(r.timestamp)}  {r.error_class}  "
                   f"{h.get('eventyard.error.status', '-')}  {r.event.get('messageId', '-')}  "
                   f"{h.get('eventyard.error.message', '')[:120]}")
    click.echo(f"{len(records)} dead letter(s)", err=True)


@dlq.command()
@selection_options
def show(**options: Any) -> None:
    """Each selected dead letter as one JSON object with its headers and event."""
    _, _, records = _select(**options)
    for r in records:
        click.echo(json.dumps({"partition": r.partition, "offset": r.offset, "headers": r.headers,
                               "event": r.event}, ensure_ascii=False))


@dlq.command("replay")
@selection_options
@click.option("--to", "target", help="Deliver to this destination instead of the original one.")
def replay_dead_letters(target: str | None, **options: Any) -> None:
    """Re-inject the selected events into the destination's topic (or --to's)."""
    from eventyard.streams.replay import replay
    from eventyard.transforms.privacy.regulation_log import read_regulations

    loaded, topics, records = _select(**options)
    target = target or options["destination"]
    if target not in {d.name for d in loaded.model.destinations}:
        _usage(f"unknown target destination {target!r}")
    book = asyncio.run(read_regulations(options["bootstrap_servers"], loaded.model.topics.prefix))
    refused = sum(not book.may_redeliver(r.event) for r in records)  # privacy: never resurrect
    if refused:
        click.echo(f"refused {refused} event(s) of suppressed or deleted users", err=True)
        records = [r for r in records if book.may_redeliver(r.event)]
    count = asyncio.run(replay(options["bootstrap_servers"], records, topics.dest(target)))
    click.echo(f"replayed {count} event(s) into {topics.dest(target)}")
