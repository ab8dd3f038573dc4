"""Per-source Protocols schema controls (Segment's Schema Configuration, snake_case).

Contract
--------
:class:`ProtocolsSettings` is a frozen pydantic model (unknown keys rejected); every field defaults
to letting events through.  :meth:`ProtocolsSettings.from_segment` reads Segment's Config API
``schema-config`` booleans; :meth:`ProtocolsSettings.actions` gives the four actions that apply to
one call type.  See docs/protocols.md "Enforcement" for what each setting does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ProtocolsSettings(BaseModel):
    """Per-source schema controls (Segment's Schema Configuration, snake_case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["enforce", "observe"] = "enforce"
    track_unplanned_events: Literal["allow", "block"] = "allow"
    track_unplanned_properties: Literal["allow", "omit"] = "allow"
    track_violations: Literal["ALLOW", "BLOCK", "OMIT_PROPERTIES"] = "ALLOW"
    identify_unplanned_traits: Literal["allow", "omit"] = "allow"
    identify_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    group_unplanned_traits: Literal["allow", "omit"] = "allow"
    group_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    common_track_event_on_violations: Literal["ALLOW", "BLOCK", "OMIT_PROPERTIES"] = "ALLOW"
    common_identify_event_on_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    common_group_event_on_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    forwarding_blocked_events_to: str | None = None
    forwarding_violations_to: str | None = None

    @classmethod
    def from_segment(cls, config: dict, mode: str = "enforce") -> "ProtocolsSettings":
        """Build from Segment's source ``schema-config`` (booleans, snake_case Config API)."""
        def pick(allow_event: str, allow_payload: str, omit: str) -> str:
            if not config.get(allow_event, True):
                return "BLOCK"
            return "ALLOW" if config.get(allow_payload, True) else omit

        def unplanned(key: str, no: str) -> str:
            return "allow" if config.get(key, True) else no
        common = {k: config[k] for k in ("common_track_event_on_violations",
                  "common_identify_event_on_violations", "common_group_event_on_violations",
                  "forwarding_blocked_events_to", "forwarding_violations_to") if config.get(k)}
        return cls(
            mode=mode,
            track_unplanned_events=unplanned("allow_unplanned_track_events", "block"),
            track_unplanned_properties=unplanned("allow_unplanned_track_event_properties", "omit"),
            track_violations=pick("allow_track_event_on_violations",
                                  "allow_track_properties_on_violations", "OMIT_PROPERTIES"),
            identify_unplanned_traits=unplanned("allow_unplanned_identify_traits", "omit"),
            identify_violations="ALLOW" if config.get("allow_identify_traits_on_violations", True)
            else "BLOCK",
            group_unplanned_traits=unplanned("allow_unplanned_group_traits", "omit"),
            group_violations="ALLOW" if config.get("allow_group_traits_on_violations", True)
            else "BLOCK",
            **common,
        )

    def actions(self, call: str) -> tuple[str, str, str, str]:
        """(unplanned event, unplanned payload, violations, common violations) for a call type."""
        if call == "track":
            return (self.track_unplanned_events, self.track_unplanned_properties,
                    self.track_violations, self.common_track_event_on_violations)
        if call in ("identify", "group"):
            return ("allow", getattr(self, f"{call}_unplanned_traits"),
                    getattr(self, f"{call}_violations"),
                    getattr(self, f"common_{call}_event_on_violations"))
        return "allow", "allow", "ALLOW", "ALLOW"
