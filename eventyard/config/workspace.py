"""The workspace model: what ``eventyard.yaml`` may say, validated by pydantic.

A workspace is a directory users keep in git.  Its ``eventyard.yaml`` declares sources (who may send,
with which write key) and destinations (where events go, with which settings).  Every model forbids
unknown keys so a typo is an error, not a silently ignored setting.  Names of sources and destinations
become topic names and metric labels, so they are restricted to a small safe alphabet.

Secrets never live in the file: a write key may be a literal (it is public in browser sources anyway)
or an ``${ENV_VAR}`` / ``${ENV_VAR:-default}`` reference resolved when the workspace is loaded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from eventyard.transforms.filters import MAX_FILTERS_PER_DESTINATION, DestinationFilter
from eventyard.transforms.privacy.fields import PrivacySettings
from eventyard.transforms.protocols.enforce import ProtocolsSettings
from eventyard.transforms.transformation import Transformation

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Strict(BaseModel):
    """Base of every workspace model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]
"""Kafka record compression codecs (aiokafka's, through ``cramjam``)."""


class TopicsConfig(Strict):
    """Names and sizes of the internal topics."""

    prefix: str = Field(default="eventyard", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=7)
    compression: Compression = Field(
        default="zstd", description="compression of the records eventyard writes to its own topics")
    dest_linger_ms: float = Field(
        default=50.0, ge=0, le=1000,
        description="how long the pipeline gathers a destination partition's events into one dest envelope")

    @property
    def compression_type(self) -> str | None:
        """:attr:`compression` as aiokafka's ``compression_type``."""
        return None if self.compression == "none" else self.compression


class IngestConfig(Strict):
    """Limits of the HTTP gateway (Segment's by default)."""

    max_event_bytes: int = Field(default=32 * 1024, ge=1024)
    max_request_bytes: int = Field(default=500 * 1024, ge=1024)
    max_batch_events: int = Field(default=2500, ge=1)
    ack_timeout_seconds: float = Field(default=10.0, gt=0)
    coalesce_ms: float = Field(default=0.0, ge=0, le=50)


class RateLimitConfig(Strict):
    """A source's ingest rate limit: a token bucket refilled at ``events_per_second``."""

    events_per_second: float = Field(gt=0)
    burst: int = Field(default=1000, ge=1)


class FunctionConfig(Strict):
    """A user-defined Python function ``def transform(event, ctx)`` run out of process."""

    file: str = Field(min_length=1)
    function: str = Field(default="transform", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_seconds: float = Field(default=5.0, gt=0, le=300)


class NamingLintConfig(Strict):
    """Naming lint of a source's events (observe only: findings are counted, never block)."""

    enabled: bool = True
    case: Literal["snake", "camel", "pascal", "kebab", "any"] = "snake"


class DedupConfig(Strict):
    """messageId deduplication in the worker (state on the ``<prefix>.dedup`` topic)."""

    enabled: bool = True
    window_seconds: float = Field(default=24 * 3600.0, gt=0)


class SourceConfig(Strict):
    """One source: something that sends events with a write key."""

    name: str = Field(pattern=NAME_PATTERN)
    write_key: str = Field(min_length=1)
    enabled: bool = True
    rate_limit: RateLimitConfig | None = None
    tracking_plan: str | None = None
    protocols: ProtocolsSettings = ProtocolsSettings()
    naming_lint: NamingLintConfig = NamingLintConfig()
    violation_event_labels: int = Field(default=0, ge=0, le=1000)
    transforms: list[Transformation] = Field(default_factory=list)
    functions: list[FunctionConfig] = Field(default_factory=list)
    privacy: PrivacySettings = PrivacySettings()


class RetryConfig(Strict):
    """How a destination retries (defaults as Segment: full jitter, 1 s base, 10 min cap, 4 h window)."""

    base_seconds: float = Field(default=1.0, gt=0)
    cap_seconds: float = Field(default=600.0, gt=0)
    window_seconds: float = Field(default=4 * 3600.0, gt=0)


class DeliveryConfig(Strict):
    """Batching and retries of one destination's delivery agent."""

    batch_size: int = Field(default=500, ge=1, le=100_000)
    linger_ms: float = Field(
        default=20.0, ge=0, le=60_000,
        description="how long new events wait for more envelopes to fill a batch (0: send each envelope alone)")
    retry: RetryConfig = RetryConfig()
    ordering: Literal["per_user", "none"] = Field(
        default="per_user", description="per_user: a user's events wait behind that user's pending retry")
    max_pending_envelopes: int = Field(
        default=256, ge=1, le=100_000,
        description="envelopes per partition with unresolved events before the agent waits for the oldest")


class DestinationConfig(Strict):
    """One destination: a typed sink with its own settings, topic and delivery agent."""

    name: str = Field(pattern=NAME_PATTERN)
    type: str
    enabled: bool = True
    sources: list[str] | None = None
    integration_name: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    delivery: DeliveryConfig = DeliveryConfig()
    filters: list[DestinationFilter] = Field(default_factory=list,
                                             max_length=MAX_FILTERS_PER_DESTINATION)
    transforms: list[Transformation] = Field(default_factory=list)
    functions: list[FunctionConfig] = Field(default_factory=list)

    @property
    def answers_to(self) -> str:
        """The key this destination answers to in an event's ``integrations`` object."""
        return self.integration_name or self.name


class Workspace(Strict):
    """The whole workspace file."""

    version: Literal[1] = 1
    name: str = "default"
    topics: TopicsConfig = TopicsConfig()
    ingest: IngestConfig = IngestConfig()
    dedup: DedupConfig = DedupConfig()
    sources: list[SourceConfig] = Field(min_length=1)
    destinations: list[DestinationConfig] = Field(default_factory=list)

    @field_validator("sources", "destinations")
    @classmethod
    def _unique_names(cls, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"duplicate name {item.name!r}")
            seen.add(item.name)
        return items

    @model_validator(mode="after")
    def _known_sources(self) -> "Workspace":
        names = {s.name for s in self.sources}
        for dest in self.destinations:
            for src in dest.sources or ():
                if src not in names:
                    raise ValueError(f"destination {dest.name!r} names unknown source {src!r}")
        for source in self.sources:
            settings = source.protocols
            for target in (settings.forwarding_blocked_events_to, settings.forwarding_violations_to):
                if target is not None and target not in names:
                    raise ValueError(f"source {source.name!r} forwards to unknown source {target!r}")
        keys = [s.write_key for s in self.sources]
        if len(set(keys)) != len(keys):
            raise ValueError("two sources share a write key")
        return self

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``."""
        return next(s for s in self.sources if s.name == name)

    def destination(self, name: str) -> DestinationConfig:
        """The destination called ``name``."""
        return next(d for d in self.destinations if d.name == name)
