"""Destination filters in Segment's Public API shape, applied to one event at a time.

Contract: :meth:`FilterChain.from_config` validates a list of at most
:data:`MAX_FILTERS_PER_DESTINATION` filter dicts (pydantic, unknown keys rejected, errors
name the offending field) and compiles each ``if`` once. :meth:`FilterChain.apply` returns
a :class:`FilterResult` with the event to deliver (``None`` when it must not be sent) and
a ``reason`` from :data:`FILTER_REASONS` — a small fixed set usable as a Prometheus label.
The input event is never mutated.

A filter is ``{"if": "<FQL>" | "all", "actions": [...], "enabled"?: bool, "title"?: str,
"description"?: str, "id"?: str}``; actions (``type`` in any letter case, Segment's API
uses upper case) are ``drop``, ``sample`` (``percent`` 0..1, optional ``path``),
``drop_properties`` and ``allow_properties`` (``fields``: ``{path: [name, ...]}``, ``""``
meaning the top level). Every enabled filter's ``if`` is evaluated once against the
incoming event; the actions of the matching filters then run in Segment's order: all
samples, then drops, then property drops, then property allow-lists. Sampling by
``path`` is deterministic (see :func:`eventyard.transforms.fql.tsub.sample_keep`). An
``if`` that raises while evaluating drops the event for this destination (fail closed)
with reason ``filter_error`` and the error in ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, field_validator

from .fql.condition import FQLText, compile_condition
from .fql.paths import lookup, split_path
from .fql.tsub import keep_fields, sample_keep

MAX_FILTERS_PER_DESTINATION = 10

REASON_DROP = "filter_drop"
REASON_SAMPLED_OUT = "sampled_out"
REASON_ERROR = "filter_error"
FILTER_REASONS = (REASON_DROP, REASON_SAMPLED_OUT, REASON_ERROR)
"""Every value :attr:`FilterResult.reason` can take besides None."""


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DropAction(_Action):
    """Drop the event."""

    type: Literal["drop"]


class SampleAction(_Action):
    """Keep ``percent`` (0..1) of events; deterministic by the value at ``path`` if given."""

    type: Literal["sample"]
    percent: float = Field(ge=0, le=1)
    path: str = ""


class DropPropertiesAction(_Action):
    """Remove the listed fields: ``fields = {"properties": ["email"], "context": ["ip"]}``."""

    type: Literal["drop_properties"]
    fields: dict[str, list[str]]


class AllowPropertiesAction(_Action):
    """Keep only the listed fields under each named path."""

    type: Literal["allow_properties"]
    fields: dict[str, list[str]]


FilterAction = Annotated[
    Union[DropAction, SampleAction, DropPropertiesAction, AllowPropertiesAction],
    Field(discriminator="type"),
]


class DestinationFilter(BaseModel):
    """One destination filter (Segment Public API ``DestinationFilterV1`` shape)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    if_: FQLText = Field(alias="if")
    actions: list[FilterAction] = Field(min_length=1)
    enabled: bool = True
    id: str | None = None
    title: str | None = None
    description: str | None = None
    _matches: Callable[[Any], bool] = PrivateAttr()

    @field_validator("actions", mode="before")
    @classmethod
    def _lowercase_types(cls, actions: Any) -> Any:
        if isinstance(actions, list):
            return [
                {**a, "type": a["type"].lower()} if isinstance(a, dict) and isinstance(a.get("type"), str) else a
                for a in actions
            ]
        return actions

    def model_post_init(self, _context: Any) -> None:
        self._matches = compile_condition(self.if_)

    def matches(self, event: Any) -> bool:
        """True when this filter's ``if`` holds for ``event`` (may raise on evaluation errors)."""
        return self._matches(event)


_FILTER_LIST = TypeAdapter(
    Annotated[list[DestinationFilter], Field(max_length=MAX_FILTERS_PER_DESTINATION)]
)


@dataclass(frozen=True, slots=True)
class FilterResult:
    """Outcome of a filter chain: the event to send (None: do not send) and why not."""

    event: Any
    reason: str | None = None
    detail: str | None = None

    @property
    def kept(self) -> bool:
        """True when the event should be delivered."""
        return self.event is not None


class FilterChain:
    """The validated, compiled filters of one destination."""

    def __init__(self, filters: list[DestinationFilter]) -> None:
        self.filters = [f for f in filters if f.enabled]

    @classmethod
    def from_config(cls, config: list[dict]) -> FilterChain:
        """Validate and compile filter dicts; raises ``pydantic.ValidationError``."""
        return cls(_FILTER_LIST.validate_python(config))

    def apply(self, event: Any) -> FilterResult:
        """Run the chain on ``event`` (see module docstring); never mutates ``event``."""
        actions: list[Any] = []
        for index, flt in enumerate(self.filters):
            try:
                matched = flt.matches(event)
            except Exception as exc:  # fail closed: a broken filter must not leak data
                name = flt.title or flt.id or f"#{index}"
                return FilterResult(None, REASON_ERROR, f"filter {name}: {type(exc).__name__}: {exc}")
            if matched:
                actions.extend(flt.actions)
        for action in actions:
            if isinstance(action, SampleAction):
                value = lookup(event, split_path(action.path)) if action.path else None
                if not sample_keep(value, action.percent):
                    return FilterResult(None, REASON_SAMPLED_OUT)
        if any(isinstance(action, DropAction) for action in actions):
            return FilterResult(None, REASON_DROP)
        for kind, allow in ((DropPropertiesAction, False), (AllowPropertiesAction, True)):
            for action in actions:
                if isinstance(action, kind):
                    event = keep_fields(event, action.fields, allow=allow)
        return FilterResult(event)
