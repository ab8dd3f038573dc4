"""Segment Public API transformations (``TransformationV1``) applied to one event.

Contract: :class:`Transformation` validates a transformation dict (pydantic, unknown keys
rejected, FQL compiled at load with errors naming the field) and
:meth:`Transformation.apply` returns the transformed event, the same event when the
transformation is disabled or its ``if`` does not hold, or ``None`` when ``drop`` is set.
The input event is never mutated. Steps, in order, all reading the *incoming* event:

1. ``if`` (FQL or ``all``) — when false, nothing else happens;
2. ``drop`` — the event is discarded;
3. ``fqlDefinedProperties`` — each ``fql`` is evaluated (on the incoming event);
4. ``newEventName`` — replaces ``event``;
5. ``propertyRenames`` — ``oldName``/``newName`` are paths inside the event's property
   object (``traits`` for identify/group calls, ``properties`` otherwise); absent
   ``oldName`` is a no-op;
6. ``propertyValueTransformations`` — ``propertyValue`` is stored at each of
   ``propertyPaths`` (paths from the event root, e.g. ``properties.currency``);
7. the values from step 3 are stored at ``newPropertyName`` (a path from the root);
8. ``allowProperties`` — only the listed names are kept in the property object;
9. ``hashPropertiesConfiguration`` — each value at ``paths`` is replaced by its digest
   (``algorithm`` SHA256 by default, HMAC when ``key`` is set, ``encoding`` HEX by
   default); strings are hashed as UTF-8, other values as canonical JSON; null and absent
   values are left alone.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr

from .fql.condition import FQLText, compile_condition, compile_value
from .fql.functions import canonical_json
from .fql.paths import MISSING, delete_path, lookup, rewrite_at, set_path, split_path

_TRAITS_CALLS = frozenset({"identify", "group"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PropertyRename(_Model):
    """Rename a property: ``oldName`` → ``newName`` (paths inside the property object)."""

    oldName: str = Field(min_length=1)
    newName: str = Field(min_length=1)


class PropertyValueTransformation(_Model):
    """Store ``propertyValue`` at every path of ``propertyPaths``."""

    propertyPaths: list[str] = Field(min_length=1)
    propertyValue: str | int | float | bool | None


class FQLDefinedProperty(_Model):
    """Store the value of FQL expression ``fql`` at ``newPropertyName`` (``propertyName`` accepted)."""

    fql: FQLText
    newPropertyName: str = Field(
        min_length=1, validation_alias=AliasChoices("newPropertyName", "propertyName")
    )


class HashPropertiesConfiguration(_Model):
    """Replace the values at ``paths`` by a digest of them."""

    paths: list[str] = Field(min_length=1)
    algorithm: Literal["MD5", "SHA1", "SHA256", "SHA384", "SHA512"] = "SHA256"
    encoding: Literal["HEX", "BASE16", "BASE64", "BASE64URL"] = "HEX"
    key: str | None = None

    def digest(self, value: Any) -> str:
        """Digest of one value, encoded as configured."""
        data = value if isinstance(value, str) else canonical_json(value)
        name = self.algorithm.lower()
        raw = (
            hmac.new(self.key.encode("utf-8"), data.encode("utf-8"), name).digest()
            if self.key is not None
            else hashlib.new(name, data.encode("utf-8")).digest()
        )
        if self.encoding == "HEX":
            return raw.hex()
        if self.encoding == "BASE16":
            return raw.hex().upper()
        if self.encoding == "BASE64":
            return base64.b64encode(raw).decode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii")


class Transformation(_Model):
    """A Segment ``TransformationV1`` (see module docstring for the order of steps)."""

    if_: FQLText = Field(alias="if")
    enabled: bool = True
    drop: bool = False
    newEventName: str | None = None
    propertyRenames: list[PropertyRename] = []
    propertyValueTransformations: list[PropertyValueTransformation] = []
    fqlDefinedProperties: list[FQLDefinedProperty] = []
    allowProperties: list[str] | None = None
    hashPropertiesConfiguration: HashPropertiesConfiguration | None = None
    id: str | None = None
    name: str | None = None
    sourceId: str | None = None
    destinationMetadataId: str | None = None
    _matches: Callable[[Any], bool] = PrivateAttr()
    _defined: list[tuple[tuple[str, ...], Callable[[Any], Any]]] = PrivateAttr()

    def model_post_init(self, _context: Any) -> None:
        self._matches = compile_condition(self.if_)
        self._defined = [
            (split_path(p.newPropertyName), compile_value(p.fql)) for p in self.fqlDefinedProperties
        ]

    def apply(self, event: dict) -> dict | None:
        """Return the transformed event (or None when dropped); ``event`` is not mutated."""
        if not self.enabled or not self._matches(event):
            return event
        if self.drop:
            return None
        # deep copies: a computed list/object must not be shared between output events
        defined = [(path, copy.deepcopy(fn(event))) for path, fn in self._defined]
        out = event
        if self.newEventName is not None:
            out = {**out, "event": self.newEventName}
        root = ("traits",) if event.get("type") in _TRAITS_CALLS else ("properties",)
        for rename in self.propertyRenames:
            old = root + split_path(rename.oldName)
            value = lookup(out, old)
            if value is not MISSING:
                out = set_path(delete_path(out, old), root + split_path(rename.newName), value)
        for change in self.propertyValueTransformations:
            for path in change.propertyPaths:
                out = set_path(out, split_path(path), change.propertyValue)
        for path, value in defined:
            out = set_path(out, path, value)
        if self.allowProperties is not None:
            allowed = frozenset(self.allowProperties)
            out = rewrite_at(out, root, lambda d: {k: v for k, v in d.items() if k in allowed})
        if self.hashPropertiesConfiguration is not None:
            out = self._hash(out, self.hashPropertiesConfiguration)
        return out

    @staticmethod
    def _hash(event: dict, config: HashPropertiesConfiguration) -> dict:
        for path in config.paths:
            segments = split_path(path)
            value = lookup(event, segments)
            if value is not MISSING and value is not None:
                event = set_path(event, segments, config.digest(value))
        return event
