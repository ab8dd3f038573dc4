"""The real Segment and RudderStack SDKs against a real ingest process and worker.

The SDKs are installed by ``tests/deps/install.sh`` into ``tests/.clients`` (each Python SDK version in
its own directory, since 2.4.0 and 2.3.6 conflict) and run as subprocesses with their own
``PYTHONPATH`` / ``NODE_PATH``: ``tests/compat/segment_python_client.py`` and
``tests/compat/node_client.js``.  Each client sends every call type; the events must arrive in a file
destination with their fields intact.  A missing client fails the test (run ``tests/deps/install.sh``).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from eventyard.broker import EmbeddedBroker
from eventyard.config.loader import load_workspace
from eventyard.streams.envelope import decode_envelope
from eventyard.streams.topics import ensure_topics
from support import read_jsonl, read_topic, start_ingest, start_worker, wait_for

TESTS = Path(__file__).resolve().parent
CLIENTS = TESTS / ".clients"
COMPAT = TESTS / "compat"
WRITE_KEY = "compat-write-key"
SDKS = ["python-2.4.0", "python-2.3.6", "segment-node", "rudder-node"]


def segment_calls(run: str) -> list[dict]:
    """One call of each type, in the HTTP API's JSON form, with nested and unicode fields."""
    context = {"ip": "10.1.2.3", "campaign": {"name": "spring", "source": "newsletter"},
               "locale": "fr-FR"}
    common = {"context": context, "integrations": {"All": True, "Mixpanel": False},
              "timestamp": "2024-05-01T12:00:00.250Z"}
    return [
        {"type": "track", "userId": f"{run}-track", "event": "Order Completed",
         "properties": {"revenue": 42.5, "items": [{"sku": "a-1", "qty": 2}], "coupon": None,
                        "note": "héllo ✓ \"quoted\""}, "messageId": f"{run}-m-track", **common},
        {"type": "identify", "userId": f"{run}-identify", "traits": {"email": "a@example.com",
                                                                     "plan": "pro", "seats": 3},
         "messageId": f"{run}-m-identify", **common},
        {"type": "page", "userId": f"{run}-page", "name": "Pricing", "category": "Docs",
         "properties": {"path": "/pricing", "referrer": "https://example.com/"},
         "messageId": f"{run}-m-page", **common},
        {"type": "screen", "userId": f"{run}-screen", "name": "Home",
         "properties": {"variant": "b"}, "messageId": f"{run}-m-screen", **common},
        {"type": "group", "userId": f"{run}-group", "groupId": "acme", "traits": {"employees": 120},
         "messageId": f"{run}-m-group", **common},
        {"type": "alias", "userId": f"{run}-alias", "previousId": f"{run}-anon",
         "messageId": f"{run}-m-alias", **common},
    ]


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_intact(sent: dict, got: dict) -> None:
    """Every field sent arrives unchanged; SDKs may add keys to objects (``context.library``;
    analytics-node copies a page's ``name`` and ``category`` into ``properties``)."""
    for key, value in sent.items():
        if isinstance(value, dict):
            assert {k: got[key].get(k) for k in value} == value, (key, got[key])
        elif key == "timestamp":  # the worker keeps it as originalTimestamp and corrects clock skew
            arrived = got["originalTimestamp"]
            assert abs((instant(arrived) - instant(value)).total_seconds()) < 0.002, (arrived, value)
        else:
            assert got.get(key) == value, (key, got.get(key), value)
    assert got["receivedAt"] and got["sentAt"]


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    """One workspace with a file destination, an ingest process and a worker, shared by the module."""
    directory = tmp_path_factory.mktemp("compat")
    doc = {"version": 1, "topics": {"prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 2},
           "sources": [{"name": "sdks", "write_key": WRITE_KEY}],
           "destinations": [{"name": "archive", "type": "file",
                             "settings": {"directory": str(directory / "archive")}}]}
    (directory / "eventyard.yaml").write_text(yaml.safe_dump(doc))
    ingest = start_ingest(directory, broker.bootstrap_servers, directory)
    worker = start_worker(directory, broker.bootstrap_servers, directory)
    yield f"http://127.0.0.1:{ingest.port}", directory / "archive"
    worker.stop()
    ingest.stop()


def run_client(command: list[str], env: dict[str, str], calls: list[dict]) -> None:
    """Run an SDK client subprocess and require that it reports no error."""
    done = subprocess.run(command, input=json.dumps(calls).encode(), capture_output=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", **env})
    assert done.returncode == 0, (done.stdout.decode()[-2000:], done.stderr.decode()[-4000:])


def python_sdk(version: str) -> tuple[list[str], dict[str, str]]:
    target = CLIENTS / f"py-{version}"
    assert (target / "segment" / "analytics").is_dir(), f"{target} missing: run tests/deps/install.sh"
    return [sys.executable, str(COMPAT / "segment_python_client.py")], {"PYTHONPATH": str(target)}


def node_sdk(name: str) -> tuple[list[str], dict[str, str]]:
    modules = CLIENTS / "node" / "node_modules"
    assert modules.is_dir() and shutil.which("node"), f"{modules} or node missing: run tests/deps/install.sh"
    return ["node", str(COMPAT / "node_client.js"), name], {"NODE_PATH": str(modules)}


def sdk_command(client: str) -> tuple[list[str], dict[str, str]]:
    """Command and environment of a client named in ``SDKS``."""
    name, version = client.split("-", 1)
    return python_sdk(version) if name == "python" else node_sdk(name)


async def check_arrival(archive: Path, calls: list[dict]) -> None:
    wanted = {c["messageId"] for c in calls}

    def arrived() -> dict[str, dict]:
        events = read_jsonl(archive) if archive.exists() else []
        found = {e["messageId"]: e for e in events if e.get("messageId") in wanted}
        return found if len(found) == len(wanted) else {}

    found = await wait_for(arrived, timeout=30)
    assert found, "not every event reached the destination"
    for call in calls:
        assert_intact(call, found[call["messageId"]])


@pytest.mark.parametrize("client", SDKS)
async def test_sdk_sends_every_call_type_intact(stack, client):
    host, archive = stack
    calls = segment_calls(f"{client}-{uuid.uuid4().hex[:6]}")
    if client == "rudder-node":  # it stamps originalTimestamp itself, which then wins over timestamp
        calls = [{k: v for k, v in call.items() if k != "timestamp"} for call in calls]
    command, env = sdk_command(client)
    run_client([*command, host, WRITE_KEY], env, calls)
    await check_arrival(archive, calls)


def ingest_503_count(port: int) -> float:
    """How many 503 answers the ingest process at ``port`` gave so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('eventyard_ingest_requests_total{status_code="503"}'))


@pytest.mark.parametrize("client", ["python-2.3.6", "segment-node"])
async def test_broker_down_sdk_retries_and_nothing_is_lost(tmp_path, client):
    """The broker dies before the SDK sends: ingest answers 503, the SDK retries until a new broker is
    up on the same address, and every event is then on the raw topic.  (Tansu's memory storage loses
    records with the broker, so events acknowledged before the outage cannot be checked here.)"""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    doc = {"version": 1, "topics": {"prefix": prefix, "partitions": 2},
           "ingest": {"ack_timeout_seconds": 1.5},
           "sources": [{"name": "sdks", "write_key": WRITE_KEY}], "destinations": []}
    (tmp_path / "eventyard.yaml").write_text(yaml.safe_dump(doc))
    first = EmbeddedBroker(log_file=tmp_path / "broker.log").start()
    ingest = start_ingest(tmp_path, first.bootstrap_servers, tmp_path)
    second = EmbeddedBroker(port=first.port, log_file=tmp_path / "broker.log")
    calls = segment_calls(f"{client}-{uuid.uuid4().hex[:6]}")
    (tmp_path / "calls.json").write_text(json.dumps(calls))
    command, env = sdk_command(client)
    first.kill()
    with open(tmp_path / "calls.json", "rb") as stdin:
        sender = subprocess.Popen([*command, f"http://127.0.0.1:{ingest.port}", WRITE_KEY],
                                  stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={"PATH": "/usr/bin:/bin", **env})
    try:
        assert await wait_for(lambda: ingest_503_count(ingest.port) >= 1, timeout=30, interval=0.2)
        assert sender.poll() is None, "the SDK gave up instead of retrying"
        # Tansu's memory storage forgets topics with the broker, and acknowledges (then loses) the first
        # write to a forgotten topic; Kafka keeps them.  So ingest is paused while the new broker gets
        # the topics back, as they would be on Kafka; the SDK's retries meanwhile time out or wait.
        ingest.popen.send_signal(signal.SIGSTOP)
        try:
            second.start()
            await ensure_topics(second.bootstrap_servers, load_workspace(tmp_path).model)
        finally:
            ingest.popen.send_signal(signal.SIGCONT)
        out, err = sender.communicate(timeout=90)
        assert sender.returncode == 0, (out.decode()[-2000:], err.decode()[-4000:])
        records = await read_topic(second.bootstrap_servers, f"{prefix}.raw", len(calls), timeout=20)
        arrived = {item["event"]["messageId"] for r in records for item in decode_envelope(r.value).items}
        assert arrived >= {c["messageId"] for c in calls}
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.communicate()
        ingest.stop()
        second.stop()
        first.stop()
