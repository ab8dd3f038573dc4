"""The health view in a real headless browser (Debian chromium driven by playwright-core).

A real stack runs a batch first, so the pages load with data; then the browser script
(tests/health_browser.js) sends a new event and must see it in the live source debugger within 2 s,
search and raw view must work, and the messageId lookup must show the event's path to both
destinations.  Screenshots land in tests/artifacts/health/.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from health_stack import BAD_EVENT, get_json, send_batch, start_stack
from support import wait_for

TESTS = Path(__file__).resolve().parent
NODE_MODULES = TESTS / ".clients" / "browser" / "node_modules"
SHOTS = TESTS / "artifacts" / "health"


async def test_pages_debugger_and_lookup_in_chromium(workspace_factory, bootstrap, tmp_path):
    assert (NODE_MODULES / "playwright-core").is_dir() and Path("/usr/bin/chromium").exists(), \
        "run tests/deps/install.sh (chromium and playwright-core)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    stack = await start_stack(workspace_factory, bootstrap, tmp_path)
    try:
        batch = [{"type": "track", "userId": f"u{i}", "event": "Order Completed", "properties": {"i": i}}
                 for i in range(5)] + [{"type": "track", "userId": "b0", "event": BAD_EVENT}]
        assert send_batch(stack.ingest.port, batch) == 200
        def hook_settled() -> bool:
            hook = get_json(stack.health.port, "/api/summary")["destinations"][1]
            return (hook["delivered"], hook["not_delivered"]) == (5, 1)

        assert await wait_for(hook_settled, 20, 0.2)
        process = await asyncio_run_node(
            ["node", str(TESTS / "health_browser.js"), f"http://127.0.0.1:{stack.health.port}",
             f"http://127.0.0.1:{stack.ingest.port}", str(SHOTS)])
        assert process.returncode == 0, process.stdout + process.stderr
        result = json.loads(process.stdout.strip().splitlines()[-1])
    finally:
        await stack.stop()
    assert "Funnel — hook" in result["overview"] and "83.3 %" in result["overview"]
    assert "client_error" in result["overview"]
    assert result["initialEvents"] == 6
    assert result["debuggerMs"] <= 2000, result["debuggerMs"]
    assert result["visibleAfterSearch"] == 1
    assert f'"messageId":"{result["messageId"]}"' in result["rawText"]
    for step in ("received", "routed to archive", "delivered to archive", "routed to hook",
                 "delivered to hook"):
        assert step in result["lookup"], result["lookup"]
    for name in ("overview", "debugger", "lookup"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000


async def asyncio_run_node(args: list[str]) -> subprocess.CompletedProcess:
    """Run the node script without blocking this loop (the webhook target lives in it)."""
    import asyncio

    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())
