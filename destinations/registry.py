"""Registry of destination types: maps the ``type:`` of ``eventyard.yaml`` to a Destination class.

Built-in destinations are listed by import path and imported on first use, so a worker only loads the
libraries of the destinations its workspace uses.  ``register`` adds third-party types at run time.
"""

from __future__ import annotations

import importlib

from eventyard.destinations.base import Destination

BUILTIN: dict[str, str] = {
    "file": "eventyard.destinations.file:FileDestination",
    "webhook": "eventyard.destinations.webhook:WebhookDestination",
    "kafka_topic": "eventyard.destinations.kafka_topic:KafkaTopicDestination",
    "postgres": "eventyard.destinations.postgres:PostgresDestination",
}

_registered: dict[str, type[Destination]] = {}


def register(cls: type[Destination]) -> type[Destination]:
    """Class decorator that makes ``cls`` available under ``cls.type_name``."""
    _registered[cls.type_name] = cls
    return cls


def known_types() -> list[str]:
    """Every destination type name a workspace may use."""
    return sorted(set(BUILTIN) | set(_registered))


def destination_class(type_name: str) -> type[Destination]:
    """Return the class for ``type_name``; raise ``KeyError`` naming the known types otherwise."""
    if type_name in _registered:
        return _registered[type_name]
    target = BUILTIN.get(type_name)
    if target is None:
        raise KeyError(f"unknown destination type {type_name!r}; known: {', '.join(known_types())}")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    _registered[type_name] = cls
    return cls
