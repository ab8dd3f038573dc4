"""Field controls of a source: block, hash or allow fields by path, and act on detected PII.

Workspace form (under a source)::

    privacy:
      fields:
        - {path: properties.email, action: hash}      # exact dotted path
        - {path: "traits.*ssn*", action: block}        # fnmatch glob; ``*`` also crosses dots
        - {path: context.traits.phone, action: allow}  # exempt from the detector
      salt_env: EVENTYARD_PRIVACY_SALT                 # secret salt, from the environment
      pii_detector: observe                            # off | observe | enforce
      pii_action: block                                # what enforce does: block | hash

Paths start at ``properties``, ``traits`` or ``context`` and name a key at any depth.  An exact path wins,
then the first matching glob; ``block`` removes the key, ``hash`` replaces its value by the hex HMAC-SHA-256 of its JSON text
keyed with the salt, ``allow`` keeps it and stops the detector there.  Keys no rule names are checked by
:mod:`~eventyard.transforms.privacy.detector` (outside ``EXPECTED_PATHS``): ``observe`` only reports,
``enforce`` applies ``pii_action``.  :meth:`FieldPolicy.apply` edits the event in place and returns what it
did, so the caller counts it; nothing here logs or keeps a value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from fnmatch import fnmatchcase
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventyard.transforms.privacy.detector import EXPECTED_PATHS, detect

ROOTS = ("properties", "traits", "context")


class FieldRule(BaseModel):
    """One field rule: a dotted path or glob and what to do with the value there."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(pattern=r"^(properties|traits|context)\..+$")
    action: Literal["block", "hash", "allow"]


class PrivacySettings(BaseModel):
    """The ``privacy`` block of a source."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FieldRule] = Field(default_factory=list)
    salt_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    pii_detector: Literal["off", "observe", "enforce"] = "off"
    pii_action: Literal["block", "hash"] = "block"

    @model_validator(mode="after")
    def _salt_for_hashing(self) -> "PrivacySettings":
        hashing = any(r.action == "hash" for r in self.fields) or (
            self.pii_detector == "enforce" and self.pii_action == "hash")
        if hashing and not self.salt_env:
            raise ValueError("hashing fields needs salt_env (the environment variable holding the salt)")
        return self

    @property
    def active(self) -> bool:
        """Whether anything has to look at events."""
        return bool(self.fields) or self.pii_detector != "off"


class FieldPolicy:
    """Applies one source's :class:`PrivacySettings` to events."""

    def __init__(self, settings: PrivacySettings, salt: bytes | None) -> None:
        self.settings = settings
        self.salt = salt or b""
        self.exact: dict[str, str] = {}
        self.globs: list[tuple[str, str]] = []
        for rule in settings.fields:
            if any(c in rule.path for c in "*?["):
                self.globs.append((rule.path, rule.action))
            else:
                self.exact.setdefault(rule.path, rule.action)
        self.mode = settings.pii_detector

    def hash_value(self, value: Any) -> str:
        """The hex HMAC-SHA-256 of ``value`` (strings as such, anything else as JSON) under the salt."""
        data = value.encode() if isinstance(value, str) else orjson.dumps(value)
        return hmac.new(self.salt, data, hashlib.sha256).hexdigest()

    def _rule(self, path: str) -> str | None:
        action = self.exact.get(path)
        if action is None:
            action = next((a for pattern, a in self.globs if fnmatchcase(path, pattern)), None)
        return action

    def apply(self, event: dict[str, Any], findings: list[tuple[str, str]] | None = None) -> Counter[str]:
        """Apply the rules to ``event`` in place; return counts of ``blocked``, ``hashed``, ``pii_<kind>``.

        ``findings``, when given, receives ``(path, kind)`` for every detection (paths, never values).
        """
        done: Counter[str] = Counter()
        for root in ROOTS:
            value = event.get(root)
            if isinstance(value, dict):
                self._walk(value, root, done, findings)
        return done

    def _walk(self, obj: dict[str, Any], prefix: str, done: Counter[str],
              findings: list[tuple[str, str]] | None) -> None:
        for key in list(obj):
            path = f"{prefix}.{key}"
            action = self._rule(path)
            if action is None and isinstance(obj[key], dict):
                self._walk(obj[key], path, done, findings)
                continue
            if action is None and self.mode != "off" and path not in EXPECTED_PATHS:
                action = self._detected(obj[key], done, findings, path)
            if action == "block":
                del obj[key]
                done["blocked"] += 1
            elif action == "hash":
                obj[key] = self.hash_value(obj[key])
                done["hashed"] += 1

    def _detected(self, value: Any, done: Counter[str], findings: list[tuple[str, str]] | None,
                  path: str) -> str | None:
        values = value if isinstance(value, list) else [value]
        kinds = sorted({kind for item in values for kind in detect(item)})
        for kind in kinds:
            done[f"pii_{kind}"] += 1
            if findings is not None:
                findings.append((path, kind))
        if kinds and self.mode == "enforce":
            return self.settings.pii_action
        return None
