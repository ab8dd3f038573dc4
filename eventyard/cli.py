"""The ``eventyard`` command line.

Commands: ``dev`` (the whole stack on an embedded broker), ``broker``, ``ingest``, ``worker`` (the parts,
against any Kafka), ``check`` (validate a workspace).  Exit codes: 0 success, 1 runtime failure,
2 invalid workspace or usage — with one line per problem naming the file, line and field.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from eventyard import logs
from eventyard.config.errors import WorkspaceError
from eventyard.config.loader import LoadedWorkspace, load_workspace

DEFAULT_WORKSPACE = "examples/workspace"

workspace_option = click.option(
    "--workspace", "-w", default=DEFAULT_WORKSPACE, show_default=True, envvar="EVENTYARD_WORKSPACE",
    help="Workspace directory (or its eventyard.yaml).")
bootstrap_option = click.option(
    "--bootstrap-servers", "-b", envvar="EVENTYARD_BOOTSTRAP_SERVERS", default="127.0.0.1:9092",
    show_default=True, help="Kafka bootstrap servers, comma-separated.")
idempotent_option = click.option(
    "--idempotent/--no-idempotent", envvar="EVENTYARD_IDEMPOTENT_PRODUCER", default=False,
    show_default=True, help="Enable producer idempotence (Apache Kafka: yes; Tansu lacks it).")


def load_or_exit(path: str) -> LoadedWorkspace:
    """Load the workspace or print its problems and exit with code 2."""
    try:
        return load_workspace(path)
    except WorkspaceError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)


@click.group()
@click.option("--log-level", default="info", envvar="EVENTYARD_LOG_LEVEL", show_default=True)
def main(log_level: str) -> None:
    """eventyard: a self-hosted, Segment-compatible event pipeline."""
    logs.configure(log_level)


@main.command()
@workspace_option
def check(workspace: str) -> None:
    """Validate a workspace; exit 2 with one line per problem."""
    loaded = load_or_exit(workspace)
    model = loaded.model
    click.echo(f"ok: {loaded.file} — {len(model.sources)} source(s), "
               f"{len(model.destinations)} destination(s)")


@main.command()
@workspace_option
@click.option("--ingest-port", default=8088, show_default=True)
@click.option("--health-port", default=8089, show_default=True)
@click.option("--state-dir", default=".eventyard", show_default=True, help="Logs of the dev stack.")
def dev(workspace: str, ingest_port: int, health_port: int, state_dir: str) -> None:
    """Run broker, ingest and a worker locally with the example workspace."""
    from eventyard.run import run_dev

    loaded = load_or_exit(workspace)
    sys.exit(run_dev(loaded, workspace, ingest_port, health_port, Path(state_dir)))


@main.command()
@click.option("--port", default=9092, show_default=True)
@click.option("--storage", default="memory://tansu/", show_default=True)
def broker(port: int, storage: str) -> None:
    """Run the embedded Tansu broker in the foreground."""
    from eventyard.broker import EmbeddedBroker

    with EmbeddedBroker(port=port, storage=storage) as running:
        click.echo(f"broker listening on {running.bootstrap_servers}; Ctrl-C to stop")
        try:
            while running.process and running.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


@main.command()
@workspace_option
@bootstrap_option
@idempotent_option
@click.option("--host", default="127.0.0.1", envvar="EVENTYARD_INGEST_HOST", show_default=True)
@click.option("--port", default=8088, envvar="EVENTYARD_INGEST_PORT", show_default=True)
def ingest(workspace: str, bootstrap_servers: str, idempotent: bool, host: str, port: int) -> None:
    """Serve Segment's Tracking API and write events to Kafka."""
    from eventyard.run import run_ingest

    run_ingest(load_or_exit(workspace), bootstrap_servers, host, port, idempotent)


@main.command()
@workspace_option
@bootstrap_option
@idempotent_option
@click.option("--health-port", default=6066, envvar="EVENTYARD_HEALTH_PORT", show_default=True)
@click.option("--health-host", default="127.0.0.1", envvar="EVENTYARD_HEALTH_HOST", show_default=True)
@click.option("--session-timeout", default=10.0, envvar="EVENTYARD_SESSION_TIMEOUT", show_default=True,
              help="Consumer-group session timeout in seconds.")
def worker(workspace: str, bootstrap_servers: str, idempotent: bool, health_port: int,
           health_host: str, session_timeout: float) -> None:
    """Run a stream worker (pipeline and delivery agents)."""
    from eventyard.run import run_worker
    from eventyard.streams.app import WorkerOptions

    options = WorkerOptions(bootstrap_servers, health_port, health_host, session_timeout, idempotent)
    run_worker(load_or_exit(workspace), options)


def _add_command_modules() -> None:
    import importlib

    from eventyard.commands import COMMAND_MODULES

    for module, attribute in COMMAND_MODULES:
        main.add_command(getattr(importlib.import_module(module), attribute))


_add_command_modules()

if __name__ == "__main__":
    main()
