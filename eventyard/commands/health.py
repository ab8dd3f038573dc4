"""``eventyard health-server`` (the health web view) and ``eventyard health`` (the same summary as a table).

Both read the workspace's topics themselves (no consumer group) and, for the figures only counters can
give (ingest rejects, dedup and Protocols discards, filters, retries, latency), scrape the ``/metrics``
URLs passed with ``--scrape`` (repeatable: one per ingest and worker process).
"""

from __future__ import annotations

import os

import click

from eventyard.cli import bootstrap_option, load_or_exit, workspace_option

scrape_option = click.option("--scrape", "scrape_urls", multiple=True, envvar="EVENTYARD_HEALTH_SCRAPE",
                             help="A process's /metrics URL to read counters from (repeatable).")


@click.command("health-server")
@workspace_option
@bootstrap_option
@scrape_option
@click.option("--host", default="127.0.0.1", envvar="EVENTYARD_HEALTH_SERVER_HOST", show_default=True)
@click.option("--port", default=8090, envvar="EVENTYARD_HEALTH_SERVER_PORT", show_default=True)
@click.option("--token-env", default="EVENTYARD_HEALTH_TOKEN", show_default=True,
              help="Environment variable holding the bearer token required by every request (if set).")
def health_server(workspace: str, bootstrap_servers: str, scrape_urls: tuple[str, ...], host: str,
                  port: int, token_env: str) -> None:
    """Serve the health view: volumes, delivery, errors, funnel, live debugger, lookup."""
    from eventyard.streams.health.server import HealthOptions, run_health_server

    options = HealthOptions(bootstrap_servers, host, port, list(scrape_urls),
                            os.environ.get(token_env) or None)
    run_health_server(load_or_exit(workspace).model, options)


@click.command("health")
@workspace_option
@bootstrap_option
@scrape_option
@click.option("--idle", default=1.0, show_default=True,
              help="Stop reading topics after this many seconds without a new record.")
def health(workspace: str, bootstrap_servers: str, scrape_urls: tuple[str, ...], idle: float) -> None:
    """Print the health summary of a workspace as tables."""
    import asyncio

    from eventyard.streams.health.reader import TopicReader, new_state
    from eventyard.streams.health.scrape import scrape
    from eventyard.streams.health.summary import build_summary

    model = load_or_exit(workspace).model
    state = new_state(model)

    async def collect() -> dict:
        await TopicReader(model, bootstrap_servers, state).run(until_idle=idle)
        return build_summary(model, state, await scrape(list(scrape_urls)))

    click.echo(render_tables(asyncio.run(collect())))


def _table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [["—" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_tables(summary: dict) -> str:
    """The summary as plain-text tables (sources, destinations, funnels, errors)."""
    def percent(v):
        return None if v is None else f"{100 * v:.1f}%"

    parts = ["SOURCES", _table(["source", "received", "last_60_min", "trend_5min", "rejected"], [
        [s["name"], s["received"], s["last_hour"],
         None if s["trend_percent"] is None else f"{s['trend_percent']:+.1f}%", s["rejected"]]
        for s in summary["sources"]])]
    parts += ["", "DESTINATIONS", _table(
        ["destination", "routed", "delivered", "not_delivered", "pending", "success_rate", "p95_latency_s"],
        [[d["name"], d["routed"], d["delivered"], d["not_delivered"], d["pending"],
          percent(d["success_rate"]), d["p95_latency_seconds"]] for d in summary["destinations"]])]
    for d in summary["destinations"]:
        parts += ["", f"FUNNEL {d['name']}", _table(["stage", "events"], [list(r) for r in d["funnel"]])]
    if summary["errors"]:
        parts += ["", "ERRORS", _table(["destination", "error_class", "status", "count", "latest_message"], [
            [e["destination"], e["error_class"], e["status"], e["count"], (e["sample"].get("message") or "")[:60]]
            for e in summary["errors"]])]
    for url, error in summary["scrape_errors"].items():
        parts.append(f"warning: could not scrape {url}: {error}")
    return "\n".join(parts)
