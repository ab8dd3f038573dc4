"""Command groups of the ``eventyard`` CLI beyond the core process commands.

Each module defines one click command or group; ``eventyard.cli`` adds them to the main group in
``COMMAND_MODULES`` order.  Heavy imports stay inside command functions so ``eventyard --help`` is fast.
"""

COMMAND_MODULES: list[tuple[str, str]] = [
    # (module, attribute) — one line per command module.
    ("eventyard.commands.plan", "plan"),
    ("eventyard.commands.fql", "fql"),
    ("eventyard.commands.filters", "filters"),
    ("eventyard.commands.health", "health_server"),
    ("eventyard.commands.health", "health"),
    ("eventyard.commands.privacy", "privacy"),
    ("eventyard.commands.dlq", "dlq"),
    ("eventyard.commands.bench", "bench"),
]
