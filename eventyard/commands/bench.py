"""``eventyard bench``: the performance benchmark (see ``docs/performance.md``).

Starts its own embedded broker, runs the phases of :mod:`eventyard.bench.runner`, prints one table (our
figure, the raw limit measured in the same run, the ratio) and writes the same figures as JSON under
``--out``.  ``--quick`` runs a seconds-long version with tiny volumes (what the smoke test runs).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click


@click.command()
@click.option("--quick", is_flag=True, help="Seconds and tiny volumes: check that the benchmark works.")
@click.option("--duration", type=float, default=None,
              help="Seconds of the fixed-rate end-to-end run (memory is compared over it).")
@click.option("--out", default="bench/results", show_default=True, help="Directory of the JSON results.")
@click.option("--workers", default=2, show_default=True,
              help="Worker processes end to end (the worker-alone line uses one).")
@click.option("--partitions", default=4, show_default=True, help="Partitions of every topic.")
@click.option("--rate", type=float, default=None, help="Offered rate of the fixed-rate run (events/s).")
@click.option("--phase", "phases", multiple=True,
              type=click.Choice(["ingest", "worker", "e2e", "warehouse"]),
              help="Run only these phases (repeatable); the raw limits always run.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="Keep the processes' logs here (default: a temporary directory).")
def bench(quick: bool, duration: float | None, out: str, workers: int, partitions: int,
          rate: float | None, phases: tuple[str, ...], state_dir: Path | None) -> None:
    """Measure ingest, worker, end to end and warehouse beside the raw limits."""
    from eventyard.bench.runner import PHASES, Options, run_bench

    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # the table is the output, not client chatter
    options = Options.quick_run() if quick else Options()
    options.workers, options.partitions = workers, partitions
    if duration is not None:
        options.fixed_seconds = duration
    if rate is not None:
        options.fixed_rate = rate
    if phases:
        options.phases = tuple(p for p in PHASES if p in phases or p == "raw")
    report = asyncio.run(run_bench(options, state_dir))
    click.echo(report.table())
    click.echo(f"\nwritten: {report.write(Path(out))}")
