"""``eventyard fql 'EXPR' [--event FILE.json]``: compile FQL, or test it against one event.

Without ``--event`` it prints the compiled IR (the JSON ``@segment/tsub`` evaluates).  With an event it
prints ``match`` (exit 0) or ``no match`` (exit 1).  Syntax errors, evaluation errors and unreadable
events exit 2; a syntax error shows the expression with a caret under the position.
"""

from __future__ import annotations

import sys

import click


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.command("fql")
@click.argument("expression", metavar="EXPR")
@click.option("--event", "event_file", type=click.Path(dir_okay=False),
              help="A JSON file holding one event to evaluate EXPR against.")
def fql(expression: str, event_file: str | None) -> None:
    """Print the IR of an FQL expression, or whether an event matches it."""
    import orjson

    from eventyard.transforms.fql import FQLError, FQLSyntaxError, compile_fql, compile_matcher

    try:
        ir = compile_fql(expression)
    except FQLSyntaxError as exc:
        click.echo(f"  {expression}\n  {' ' * exc.position}^", err=True)
        _fail(str(exc))
    if event_file is None:
        click.echo(orjson.dumps(ir).decode())
        return
    try:
        with open(event_file, "rb") as fh:
            event = orjson.loads(fh.read())
    except (OSError, orjson.JSONDecodeError) as exc:
        _fail(f"cannot read event {event_file}: {exc}")
    try:
        matched = expression.strip() == "all" or compile_matcher(ir)(event)
    except FQLError as exc:
        _fail(f"evaluation failed: {exc}")
    click.echo("match" if matched else "no match")
    sys.exit(0 if matched else 1)
