"""Property-based test of a real ingest process: no input crashes it or gets a 5xx while the broker is up.

Hypothesis generates requests to every route of the OpenAPI document with arbitrary JSON documents,
near-valid Segment calls (wrong types, huge and odd values), arbitrary bytes, gzip (valid, truncated,
bombs), odd content types and encodings, and valid, invalid and malformed auth headers.  Every answer
must be below 500 and, on the Tracking API, a JSON object with ``success``; the process must still be
alive and ready at the end.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventyard.ingest.app import OPENAPI_FILE
from support import start_ingest

POST_PATHS = [p for p, ops in yaml.safe_load(OPENAPI_FILE.read_text())["paths"].items() if "post" in ops]
KEY = "fuzz-key"

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=30)
field_values = json_values | st.text(min_size=90, max_size=120) | st.integers(min_value=2**63)
call = st.fixed_dictionaries({}, optional={
    name: field_values for name in ("userId", "anonymousId", "event", "type", "messageId", "groupId",
                                    "previousId", "properties", "traits", "context", "integrations",
                                    "timestamp", "sentAt", "writeKey")})
documents = (call | st.fixed_dictionaries({"batch": st.lists(call | json_values, max_size=8)},
                                          optional={"context": json_values,
                                                    "integrations": json_values})
             | json_values)


def encode(document) -> bytes:
    return json.dumps(document).encode()


bodies = (documents.map(encode)
          | documents.map(lambda d: gzip.compress(encode(d)))
          | documents.map(lambda d: gzip.compress(encode(d))[:-5])
          | st.just(gzip.compress(b" " * 2_000_000))
          | st.binary(max_size=300)
          | st.text(max_size=200).map(str.encode))
auth = st.sampled_from([
    None, "Basic " + base64.b64encode(f"{KEY}:".encode()).decode(), "Basic !!!", "Basic ",
    "Bearer x", "Basic " + base64.b64encode(b"\xff\xfe:").decode(), "basic " + base64.b64encode(
        b"wrong:").decode()])
headers = st.fixed_dictionaries({
    "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "", "garbage/;;"]),
}, optional={"Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity", "x"]),
             "Origin": st.just("https://shop.example")})


@pytest.fixture
def ingest_process(workspace_factory, bootstrap, tmp_path):
    workspace = workspace_factory(sources=[{"name": "web", "write_key": KEY}], destinations=[])
    proc = start_ingest(workspace, bootstrap, tmp_path)
    yield proc
    proc.stop()


def test_no_input_crashes_ingest_or_gets_5xx(ingest_process):
    conn = http.client.HTTPConnection("127.0.0.1", ingest_process.port, timeout=30)
    seen: set[int] = set()

    @settings(max_examples=1500, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(path=st.sampled_from(POST_PATHS + ["/v1/nope", "/v1/", "/health", "/openapi.json"]),
           method=st.sampled_from(["POST", "POST", "POST", "GET", "OPTIONS", "PUT"]),
           body=bodies, auth_header=auth, extra=headers)
    def check(path, method, body, auth_header, extra):
        sent = dict(extra)
        if auth_header is not None:
            sent["Authorization"] = auth_header
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        seen.add(response.status)
        assert response.status < 500, (response.status, payload[:300])
        if method == "POST" and path in POST_PATHS:
            answer = json.loads(payload)
            assert isinstance(answer, dict) and isinstance(answer["success"], bool)
        if response.getheader("Connection", "").lower() == "close":
            conn.close()

    try:
        check()
    finally:
        conn.close()
    assert 200 in seen and 400 in seen and 401 in seen, seen
    assert ingest_process.popen.poll() is None
    probe = http.client.HTTPConnection("127.0.0.1", ingest_process.port, timeout=5)
    probe.request("GET", "/ready")
    assert probe.getresponse().status == 200
