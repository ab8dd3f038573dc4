"""The ``webhook`` destination: POSTs events as JSON to an HTTP(S) endpoint, like Segment's Webhooks.

Contract:

* ``mode: single`` (default, as Segment's classic Webhooks destination) sends one request per event whose
  body is the event JSON; ``mode: batch`` (as Segment's Webhooks Actions "batch" option) sends the events
  as one JSON array per request, at most ``batch_size`` events, and every event of a request shares its
  outcome.
* ``X-Signature`` is the hex HMAC-SHA1 of the exact body bytes, keyed with the secret held by the
  environment variable named in ``secret_env``; the secret never appears in configuration or outcomes.
* SSRF guard: the target must resolve only to public addresses, unless an address lies in
  ``allow_private`` or in the workspace's ``allow_private_targets``.  Hostnames are checked by the
  connector's resolver on every fresh resolution (so DNS rebinding is caught), IP literals before the
  request; nothing is sent to a refused address and its events get ``Fail(error_class="ssrf_refused")``.
* Statuses and transport errors are classified by :class:`~eventyard.destinations.retry.RetryLogic`;
  outcomes carry request/response samples of at most 1 KB.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
import socket
from collections.abc import Iterable
from typing import Literal

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from pydantic import Field, field_validator
from yarl import URL

from eventyard.destinations.base import Destination, Event, Fail, Health, Outcome
from eventyard.destinations.retry import SAMPLE_LIMIT, RetryLogic, RetrySettings, truncate_sample


class TargetRefused(OSError):
    """The target resolves to an address the SSRF policy refuses."""


class AddressPolicy:
    """Decides which IP addresses a destination may connect to."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allowed)

    def permits(self, address: str) -> bool:
        """True for a public unicast address or one inside an allowed network."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self.allowed):
            return True
        mapped = getattr(ip, "ipv4_mapped", None)
        candidate = mapped or ip
        return candidate.is_global and not (
            candidate.is_multicast or candidate.is_reserved or candidate.is_unspecified
        )

    def check(self, host: str, addresses: Iterable[str]) -> None:
        """Raise :class:`TargetRefused` unless every address ``host`` resolved to is permitted."""
        for address in addresses:
            if not self.permits(address):
                raise TargetRefused(f"target {host!r} resolves to {address}, which is not a public address "
                                    "and not in the allow-list")


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses hostnames resolving to addresses the policy forbids."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        """Resolve ``host`` and check every address before aiohttp may connect to it."""
        results = await self._inner.resolve(host, port, family)
        self._policy.check(host, (result["host"] for result in results))
        return results

    async def close(self) -> None:
        """Release the wrapped resolver."""
        await self._inner.close()


def _refusal(exc: BaseException | None) -> TargetRefused | None:
    """Find a :class:`TargetRefused` in the cause chain of an aiohttp error."""
    while exc is not None:
        if isinstance(exc, TargetRefused):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class WebhookSettings(RetrySettings):
    """Settings of the ``webhook`` destination."""

    url: str
    mode: Literal["single", "batch"] = "single"
    batch_size: int = Field(100, ge=1, le=10_000)
    concurrency: int = Field(10, ge=1, le=1000, description="requests in flight in single mode")
    timeout_seconds: float = Field(5.0, gt=0)
    secret_env: str | None = Field(None, description="environment variable holding the HMAC secret")
    headers: dict[str, str] = Field(default_factory=dict)
    allow_private: list[str] = Field(default_factory=list, description="CIDRs exempt from the SSRF guard")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("url must be an absolute http(s) URL")
        return value

    @field_validator("allow_private")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value


class WebhookDestination(Destination):
    """POSTs events to ``settings.url``; see the module docstring for the contract."""

    type_name = "webhook"
    Settings = WebhookSettings
    settings: WebhookSettings

    async def setup(self) -> None:
        """Read the secret from the environment and open the one HTTP session of this destination."""
        self._secret: bytes | None = None
        if self.settings.secret_env:
            secret = os.environ.get(self.settings.secret_env)
            if not secret:
                raise ValueError(f"environment variable {self.settings.secret_env} (webhook secret) is not set")
            self._secret = secret.encode()
        self._url = URL(self.settings.url)
        self._policy = AddressPolicy([*self.context.allow_private_targets, *self.settings.allow_private])
        self._resolver = GuardedResolver(self._policy)
        self._retry = RetryLogic.from_settings(self.settings)
        self._limit = asyncio.Semaphore(self.settings.concurrency)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self._resolver, limit=self.settings.concurrency),
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
        )

    def _check_literal(self) -> None:
        literal = _ip_literal(self._url.host or "")
        if literal is not None:
            self._policy.check(self._url.host or "", [literal])

    async def send_batch(self, events: list[Event]) -> list[Outcome]:
        """POST the events (one request each, or JSON arrays in batch mode); one outcome per event."""
        try:
            self._check_literal()
        except TargetRefused as exc:
            return [Fail(str(exc), error_class="ssrf_refused")] * len(events)
        if self.settings.mode == "single":
            return list(await asyncio.gather(*(self._post(orjson.dumps(event)) for event in events)))
        size = self.settings.batch_size
        chunks = [events[i : i + size] for i in range(0, len(events), size)]
        results = await asyncio.gather(*(self._post(orjson.dumps(chunk)) for chunk in chunks))
        return [outcome for chunk, outcome in zip(chunks, results) for _ in chunk]

    async def _post(self, body: bytes) -> Outcome:
        headers = {**self.settings.headers, "Content-Type": "application/json"}
        if self._secret is not None:
            headers["X-Signature"] = hmac.new(self._secret, body, hashlib.sha1).hexdigest()
        async with self._limit:
            try:
                async with self._session.post(self._url, data=body, headers=headers, allow_redirects=False) as resp:
                    sample = await _read_sample(resp)
                    return self._retry.status_outcome(resp.status, resp.headers.get("Retry-After"), body, sample)
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
                refused = _refusal(exc)
                if refused is not None:
                    return Fail(str(refused), error_class="ssrf_refused", request_sample=truncate_sample(body))
                return self._retry.exception_outcome(exc, body)

    async def healthcheck(self) -> Health:
        """Resolve the target and apply the SSRF policy, without sending a request."""
        host = self._url.host or ""
        try:
            self._check_literal()
            if _ip_literal(host) is None:
                await self._resolver.resolve(host, self._url.port or 0, socket.AF_UNSPEC)
        except TargetRefused as exc:
            return Health(False, f"ssrf_refused: {exc}")
        except OSError as exc:
            return Health(False, f"cannot resolve {host}: {exc}")
        return Health(True, f"{host} resolves to permitted addresses")

    async def close(self) -> None:
        """Close the HTTP session and the resolver it was given."""
        await self._session.close()
        await self._resolver.close()


async def _read_sample(resp: aiohttp.ClientResponse) -> bytes:
    """Read at most ``SAMPLE_LIMIT + 1`` bytes of the response body (enough to know it was cut)."""
    data = bytearray()
    while len(data) <= SAMPLE_LIMIT:
        chunk = await resp.content.read(SAMPLE_LIMIT + 1 - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)
