"""Entry points of the long-running processes: ingest, worker and the ``dev`` stack.

Each function blocks until the process is told to stop (SIGINT/SIGTERM).  ``run_dev`` starts an
embedded broker, creates the topics and runs ingest, one worker and the health server as child processes
(so a crash of one is visible and Ctrl-C stops all of them, broker last).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web

from eventyard.broker import EmbeddedBroker, free_port
from eventyard.config.loader import LoadedWorkspace
from eventyard.serving import serve_until_stopped, tune_gc
from eventyard.streams.topics import TopicNames, ensure_topics


def run_ingest(loaded: LoadedWorkspace, bootstrap_servers: str, host: str, port: int,
               idempotent: bool = False) -> None:
    """Serve the Tracking API until interrupted."""
    from eventyard.ingest.app import create_ingest_app
    from eventyard.ingest.publisher import EnvelopePublisher
    from eventyard.transforms.privacy.gate import PrivacyGate

    asyncio.run(ensure_topics(bootstrap_servers, loaded.model))
    publisher = EnvelopePublisher(bootstrap_servers, TopicNames(loaded.model.topics.prefix),
                                  ack_timeout=loaded.model.ingest.ack_timeout_seconds,
                                  idempotent=idempotent,
                                  compression_type=loaded.model.topics.compression_type)
    privacy = PrivacyGate(loaded.model, bootstrap_servers)
    _quiet_client_loggers()
    app = create_ingest_app(loaded.model, publisher, privacy)
    _use_uvloop()
    runner = web.AppRunner(app, auto_decompress=False, access_log=None)

    asyncio.run(serve_until_stopped(runner, host, port, "ingest", backlog=1024))


def run_worker(loaded: LoadedWorkspace, options) -> None:
    """Run a Faust worker for the workspace until interrupted."""
    import faust

    from eventyard.streams.app import create_app

    asyncio.run(ensure_topics(options.bootstrap_servers, loaded.model))
    _use_uvloop()
    app = create_app(loaded, options)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    _quiet_client_loggers()
    tune_gc()
    worker.execute_from_commandline()


def _quiet_client_loggers() -> None:
    """Keep the Kafka client's per-request debug logging off the hot path, whatever the root level."""
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _child(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "eventyard", *args], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def run_dev(loaded: LoadedWorkspace, workspace_dir: str, ingest_port: int, health_port: int,
            state_dir: Path) -> int:
    """Broker + topics + ingest + one worker, until Ctrl-C; returns the exit code."""
    state_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(log_file=state_dir / "broker.log").start()
    children: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers, loaded.model))
        common = ["--workspace", workspace_dir, "--bootstrap-servers", broker.bootstrap_servers]
        children.append(_child(["ingest", *common, "--port", str(ingest_port)],
                               state_dir / "ingest.log"))
        worker_port = free_port()
        children.append(_child(["worker", *common, "--health-port", str(worker_port),
                                "--session-timeout", "6"], state_dir / "worker.log"))
        children.append(_child(["health-server", *common, "--port", str(health_port),
                                "--scrape", f"http://127.0.0.1:{ingest_port}/metrics",
                                "--scrape", f"http://127.0.0.1:{worker_port}/metrics"],
                               state_dir / "health.log"))
        _print_banner(loaded, broker, ingest_port, health_port, worker_port, state_dir)
        stop = {"flag": False}
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.update(flag=True))
        while not stop["flag"]:
            for child in children:
                if child.poll() is not None:
                    print(f"a child process exited with code {child.returncode}; see {state_dir}")
                    return 1
            time.sleep(0.2)
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        broker.stop()
        print("eventyard dev stopped", flush=True)


def _print_banner(loaded: LoadedWorkspace, broker: EmbeddedBroker, ingest_port: int,
                  health_port: int, worker_port: int, state_dir: Path) -> None:
    lines = [f"eventyard dev — workspace {loaded.file}",
             f"  broker   {broker.bootstrap_servers} (embedded Tansu, in memory)",
             f"  ingest   http://127.0.0.1:{ingest_port}/v1/track",
             f"  worker   http://127.0.0.1:{worker_port}/metrics",
             f"  health   http://127.0.0.1:{health_port}/  (source debugger, lookup by messageId)",
             f"  logs     {state_dir}"]
    for source in loaded.model.sources:
        lines.append(f"  source {source.name!r}: write key {source.write_key}")
    for dest in loaded.model.destinations:
        lines.append(f"  destination {dest.name!r} ({dest.type})")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
