"""``eventyard plan check PLAN EVENTS.jsonl`` and ``eventyard plan lint PLAN``: tracking plans offline.

Thin click wrappers over ``eventyard.transforms.protocols.report`` (which documents the output):
exit 0 when clean, 1 when an event or the plan has a problem, 2 when a file cannot be read.
"""

from __future__ import annotations

import sys

import click


@click.group()
def plan() -> None:
    """Tracking plans (Segment Protocols): check events, lint a plan."""


@plan.command()
@click.argument("plan_file", metavar="PLAN")
@click.argument("events_file", metavar="EVENTS.jsonl")
@click.option("--settings", "settings_json", default=None,
              help='Schema controls as JSON, e.g. \'{"track_violations": "BLOCK"}\' (default: allow all).')
def check(plan_file: str, events_file: str, settings_json: str | None) -> None:
    """Validate every event of a JSON Lines file against PLAN; one line per event."""
    import json

    from eventyard.transforms.protocols import check_events

    try:
        settings = json.loads(settings_json) if settings_json else None
    except json.JSONDecodeError as exc:
        click.echo(f"error: --settings is not JSON: {exc}", err=True)
        sys.exit(2)
    text, code = check_events(plan_file, events_file, settings)
    click.echo(text, nl=False)
    sys.exit(code)


@plan.command()
@click.argument("plan_file", metavar="PLAN")
@click.option("--case", default="snake", show_default=True,
              type=click.Choice(["snake", "camel", "pascal", "kebab", "any"]),
              help="Expected case of property and trait keys.")
def lint(plan_file: str, case: str) -> None:
    """Lint PLAN's event names and planned keys (naming conventions, Spec duplicates)."""
    from eventyard.transforms.protocols import lint_plan_file

    text, code = lint_plan_file(plan_file, case)
    click.echo(text, nl=False)
    sys.exit(code)
