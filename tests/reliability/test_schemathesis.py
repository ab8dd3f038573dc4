"""A time-boxed schemathesis run of the ingest API, driven by the OpenAPI document the service serves.

Schemathesis generates requests for every operation of ``/openapi.json`` (coverage, fuzzing and stateful
phases) against a real ingest process writing to the session broker.  With a healthy broker no request
may get a 5xx, and the process must still be ready afterwards.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import urllib.request
from pathlib import Path

from support import start_ingest


def test_schemathesis_finds_no_server_error(workspace_factory, bootstrap, tmp_path):
    workspace = workspace_factory()
    ingest = start_ingest(workspace, bootstrap, tmp_path)
    try:
        token = base64.b64encode(b"web-key:").decode()
        result = subprocess.run(
            [str(Path(sys.executable).parent / "st"), "run",
             f"http://127.0.0.1:{ingest.port}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "25", "--seed", "1", "--no-color", "--request-timeout", "20",
             "-H", f"Authorization: Basic {token}"],
            capture_output=True, text=True, timeout=240)
        summary = result.stdout[-1500:]
        print(summary)
        assert result.returncode == 0, summary + result.stderr[-2000:]
        assert " passed" in summary and "generated" in summary
        with urllib.request.urlopen(f"http://127.0.0.1:{ingest.port}/ready", timeout=5) as resp:
            assert resp.status == 200
        assert ingest.popen.poll() is None, "ingest must still run"
    finally:
        ingest.stop()
