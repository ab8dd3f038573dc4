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
with reason ``filter_error`` and the error in ``detail``. :meth:`FilterChain.decide` is
``apply`` as a plain ``(event, reason, detail)`` tuple, for the pipeline; conditions are compiled
once and ``all`` is not evaluated. Property edits copy only the containers they change; when
they remove nothing the incoming event itself is passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from .fql.condition import MATCH_ALL, FQLText, compile_condition
from .fql.paths import lookup, split_path
from .fql.tsub import keep_fields_at, sample_keep

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
        _ = self.condition  # compile now, so a broken condition fails at load

    @cached_property
    def condition(self) -> Callable[[Any], bool]:
        """The compiled ``if`` (``all`` matches every event)."""
        return compile_condition(self.if_)

    def matches(self, event: Any) -> bool:
        """True when this filter's ``if`` holds for ``event`` (may raise on evaluation errors)."""
        return self.condition(event)


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


class _CompiledFilter:
    """One enabled filter as the chain runs it: its condition and its actions, grouped by kind."""

    __slots__ = ("matches", "name", "samples", "drop", "drop_fields", "allow_fields")

    def __init__(self, flt: DestinationFilter, index: int) -> None:
        self.matches = None if flt.if_.strip() == MATCH_ALL else flt.condition
        self.name = flt.title or flt.id or f"#{index}"
        self.samples = [(split_path(a.path) if a.path else None, a.percent)
                        for a in flt.actions if isinstance(a, SampleAction)]
        self.drop = any(isinstance(a, DropAction) for a in flt.actions)
        self.drop_fields = _field_edits(flt.actions, DropPropertiesAction)
        self.allow_fields = _field_edits(flt.actions, AllowPropertiesAction)


def _field_edits(actions: list[Any], kind: type) -> list[tuple[tuple[str, ...], frozenset[str]]]:
    return [(split_path(path), frozenset(names))
            for action in actions if isinstance(action, kind) for path, names in action.fields.items()]


class FilterChain:
    """The validated, compiled filters of one destination."""

    def __init__(self, filters: list[DestinationFilter]) -> None:
        self.filters = [f for f in filters if f.enabled]
        self._compiled = [_CompiledFilter(f, index) for index, f in enumerate(self.filters)]
        self._samples = any(f.samples for f in self._compiled)
        self._drops = any(f.drop for f in self._compiled)
        self._allows = any(f.allow_fields for f in self._compiled)

    @classmethod
    def from_config(cls, config: list[dict]) -> FilterChain:
        """Validate and compile filter dicts; raises ``pydantic.ValidationError``."""
        return cls(_FILTER_LIST.validate_python(config))

    def apply(self, event: Any) -> FilterResult:
        """Run the chain on ``event`` (see module docstring); never mutates ``event``."""
        return FilterResult(*self.decide(event))

    def decide(self, event: Any) -> tuple[Any, str | None, str | None]:
        """:meth:`apply` as a plain ``(event, reason, detail)`` tuple (the pipeline's hot path)."""
        matched = []
        for flt in self._compiled:
            matches = flt.matches
            if matches is not None:
                try:
                    if not matches(event):
                        continue
                except Exception as exc:  # fail closed: a broken filter must not leak data
                    return None, REASON_ERROR, f"filter {flt.name}: {type(exc).__name__}: {exc}"
            matched.append(flt)
        if not matched:
            return event, None, None
        if self._samples:
            for flt in matched:
                for segments, percent in flt.samples:
                    value = lookup(event, segments) if segments is not None else None
                    if not sample_keep(value, percent):
                        return None, REASON_SAMPLED_OUT, None
        if self._drops:
            for flt in matched:
                if flt.drop:
                    return None, REASON_DROP, None
        for flt in matched:
            for segments, names in flt.drop_fields:
                event = keep_fields_at(event, segments, names, False)
        if self._allows:
            for flt in matched:
                for segments, names in flt.allow_fields:
                    event = keep_fields_at(event, segments, names, True)
        return event, None, None
