"""Configuration errors that name the file, the line (where known) and the field.

``WorkspaceError`` is what every loader raises; ``str(err)`` is one line per problem in the form
``path/to/file.yaml:12: sources[0].write_key: environment variable WEB_KEY is not set`` so editors and
CI logs can jump to the spot.  ``yaml_line_of`` maps a pydantic error location (a tuple of keys and
indexes) back to the line of the YAML node it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import yaml


@dataclass(frozen=True)
class Problem:
    """One configuration problem."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class WorkspaceError(Exception):
    """A workspace could not be loaded; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def format_loc(loc: Iterable[Any]) -> str:
    """Render a pydantic location tuple as ``sources[0].write_key``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def yaml_line_of(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """Return the 1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
