"""``eventyard privacy``: record user regulations (suppress, delete, ...) and report their state.

``eventyard privacy suppress|delete|suppress-with-delete|unsuppress --user-id U [--user-id V]
[--file users.txt]`` writes one regulation per user to ``<prefix>.regulations`` (with an audit record
naming ``--actor``, default ``$USER``); every ingest and worker process follows that topic and applies it
within about a second.  ``delete`` and ``suppress-with-delete`` then wait ``--grace-seconds`` (so events
already in flight land first) and purge the user from every store (see
``eventyard.transforms.privacy.purge``), recording per target what was done.  Exit 1 when a target
failed; running the command again retries it.  ``eventyard privacy status`` prints, per regulated user,
the regulation and each target's result, and what is still pending.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import time
import uuid

import click

from eventyard.cli import bootstrap_option, load_or_exit, workspace_option

KIND_OF_COMMAND = {"suppress": "suppress", "delete": "delete", "suppress-with-delete": "suppress_with_delete",
                   "unsuppress": "unsuppress"}


@click.group()
def privacy() -> None:
    """User regulations (suppress, delete) and their purge status."""


def _user_ids(user_id: tuple[str, ...], file) -> list[str]:
    users = list(user_id)
    if file is not None:
        users += [line.strip() for line in file if line.strip() and not line.startswith("#")]
    if not users:
        raise click.UsageError("give --user-id or --file")
    return list(dict.fromkeys(users))


async def _regulate(loaded, bootstrap: str, kind: str, users: list[str], actor: str, grace: float) -> bool:
    from eventyard.transforms.privacy.purge import purge_targets, run_purge
    from eventyard.transforms.privacy.regulation_log import read_regulations, write_regulation
    from eventyard.transforms.privacy.regulations import PURGING, Regulation

    prefix = loaded.model.topics.prefix
    book = await read_regulations(bootstrap, prefix)
    purging = kind in PURGING
    targets = await purge_targets(loaded, bootstrap) if purging else {}
    regulations = []
    for user in users:
        previous, now = book.get(user), time.time()
        regulation = Regulation(user, kind, uuid.uuid4().hex, now, actor,
                                now if purging else (previous.deleted_at if previous else None),
                                {t: {"status": "pending"} for t in targets} if purging
                                else (previous.purge if previous else {}))
        await write_regulation(bootstrap, prefix, regulation, _audit(regulation, kind))
        regulations.append(regulation)
        click.echo(f"{kind}: {user} (regulation {regulation.regulation_id})")
    if not purging:
        return True
    await asyncio.sleep(grace)
    ok = True
    for regulation in regulations:
        regulation.purge = await run_purge(targets, regulation.user_id)
        audit = _audit(regulation, "purge")
        audit["results"] = {t: r["status"] for t, r in regulation.purge.items()}
        await write_regulation(bootstrap, prefix, regulation, audit)
        for target, result in regulation.purge.items():
            ok &= result["status"] != "failed"
            click.echo(f"  {regulation.user_id} {target}: {_describe(result)}")
    return ok


def _audit(regulation, action: str) -> dict:
    return {"action": action, "user_id": regulation.user_id, "regulation_id": regulation.regulation_id,
            "actor": regulation.actor, "at": time.time()}


def _describe(result: dict) -> str:
    status = result.get("status", "?")
    if status == "failed":
        return f"failed ({result.get('error')})"
    if status == "masked":
        return f"masked {result.get('records', 0)} record(s): {result.get('detail')}"
    if status == "done":
        return f"done, {result.get('removed', 0)} removed"
    return status


def _regulation_command(name: str) -> click.Command:
    @click.command(name, help=f"Record a {name} regulation for the given users.")
    @workspace_option
    @bootstrap_option
    @click.option("--user-id", "user_id", multiple=True, help="A userId (repeatable).")
    @click.option("--file", type=click.File("r"), help="A file of userIds, one per line.")
    @click.option("--actor", default=lambda: getpass.getuser(), help="Who asks (audit); default $USER.")
    @click.option("--grace-seconds", default=2.0, show_default=True,
                  help="Wait before purging, so events in flight land first.")
    def command(workspace, bootstrap_servers, user_id, file, actor, grace_seconds) -> None:
        loaded = load_or_exit(workspace)
        users = _user_ids(user_id, file)
        ok = asyncio.run(_regulate(loaded, bootstrap_servers, KIND_OF_COMMAND[name], users, actor,
                                   grace_seconds))
        sys.exit(0 if ok else 1)

    return command


for _name in KIND_OF_COMMAND:
    privacy.add_command(_regulation_command(_name))


@privacy.command()
@workspace_option
@bootstrap_option
def status(workspace: str, bootstrap_servers: str) -> None:
    """Print every regulated user, their regulation and each purge target's result."""
    from eventyard.transforms.privacy.regulation_log import read_regulations

    loaded = load_or_exit(workspace)
    book = asyncio.run(read_regulations(bootstrap_servers, loaded.model.topics.prefix))
    if not book.by_user:
        click.echo("no regulations")
    for user, regulation in sorted(book.by_user.items()):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(regulation.created_at))
        pending = regulation.pending()
        click.echo(f"{user}: {regulation.kind} at {when} by {regulation.actor} "
                   f"({'suppressed' if regulation.suppressed else 'not suppressed'}; "
                   f"pending: {', '.join(pending) if pending else 'none'})")
        for target, result in sorted(regulation.purge.items()):
            click.echo(f"  {target}: {_describe(result)}")
