"""The shared HTTP retry classifier (pure)."""

from __future__ import annotations

import asyncio
import email.utils

import aiohttp
import pytest

from eventyard.destinations.base import DELIVERED, Fail, Retry
from eventyard.destinations.retry import RetryLogic, Verdict, parse_retry_after, truncate_sample


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.SUCCESS), (204, Verdict.SUCCESS),
        (408, Verdict.RETRY), (423, Verdict.RETRY), (429, Verdict.RETRY),
        (500, Verdict.RETRY), (502, Verdict.RETRY), (503, Verdict.RETRY), (599, Verdict.RETRY),
        (501, Verdict.PERMANENT), (400, Verdict.PERMANENT), (401, Verdict.PERMANENT),
        (404, Verdict.PERMANENT), (413, Verdict.PERMANENT), (302, Verdict.PERMANENT), (100, Verdict.PERMANENT),
    ],
)
def test_default_status_classification(status: int, verdict: Verdict) -> None:
    assert RetryLogic().classify_status(status) is verdict


def test_configured_statuses_override_defaults() -> None:
    logic = RetryLogic(retry_status=[404, 501], permanent_status=[503])
    assert logic.classify_status(404) is Verdict.RETRY
    assert logic.classify_status(501) is Verdict.RETRY
    assert logic.classify_status(503) is Verdict.PERMANENT
    assert logic.classify_status(500) is Verdict.RETRY


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "-5", "1.5x"):
        assert parse_retry_after(bad) is None


def test_status_outcomes_carry_samples_and_retry_after() -> None:
    logic = RetryLogic()
    assert logic.status_outcome(200) is DELIVERED
    retry = logic.status_outcome(429, "7", b'{"a":1}', b"slow down")
    assert retry == Retry("HTTP 429", 7.0, 429, "rate_limited", '{"a":1}', "slow down")
    fail = logic.status_outcome(400, None, b"x" * 5000, b"bad")
    assert isinstance(fail, Fail) and fail.status_code == 400 and fail.error_class == "client_error"
    assert len(fail.request_sample.encode()) <= 1024 and fail.request_sample.endswith("...")
    assert logic.status_outcome(503).error_class == "server_error"


def test_truncate_sample_respects_utf8_byte_limit() -> None:
    assert truncate_sample(None) is None
    assert truncate_sample("short") == "short"
    cut = truncate_sample("é" * 2000)
    assert len(cut.encode()) <= 1024


def test_exception_outcomes() -> None:
    assert RetryLogic.exception_outcome(asyncio.TimeoutError()).error_class == "timeout"
    assert RetryLogic.exception_outcome(aiohttp.ServerTimeoutError("read")).error_class == "timeout"
    conn = RetryLogic.exception_outcome(ConnectionRefusedError(111, "refused"), b"body")
    assert isinstance(conn, Retry) and conn.error_class == "connection_error" and conn.request_sample == "body"
    assert isinstance(RetryLogic.exception_outcome(aiohttp.ServerDisconnectedError()), Retry)
    assert isinstance(RetryLogic.exception_outcome(aiohttp.InvalidURL("x")), Fail)
