"""Load a workspace directory: YAML → environment references → pydantic models → destination settings.

``load_workspace(path)`` returns a :class:`LoadedWorkspace` or raises
:class:`~eventyard.config.errors.WorkspaceError` listing *every* problem found, each naming the file,
the line of the offending YAML node and the field path.  Environment references in write keys
(``${NAME}`` or ``${NAME:-default}``) are resolved here, so the rest of the code never sees them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from eventyard.config.errors import Problem, WorkspaceError, format_loc, yaml_line_of
from eventyard.config.files import referenced_file_problems
from eventyard.config.workspace import Workspace
from eventyard.destinations.base import DestinationSettings
from eventyard.destinations.registry import destination_class

WORKSPACE_FILE = "eventyard.yaml"
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\}$")


@dataclass
class LoadedWorkspace:
    """A validated workspace and where it came from."""

    directory: Path
    file: Path
    model: Workspace
    destination_settings: dict[str, DestinationSettings] = field(default_factory=dict)


def workspace_file(path: str | os.PathLike[str]) -> Path:
    """Accept a workspace directory or its ``eventyard.yaml`` and return the file path."""
    p = Path(path)
    return p / WORKSPACE_FILE if p.is_dir() else p


def load_workspace(path: str | os.PathLike[str], env: dict[str, str] | None = None) -> LoadedWorkspace:
    """Load and validate the workspace at ``path`` (directory or file)."""
    env = dict(os.environ) if env is None else env
    file = workspace_file(path)
    shown = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkspaceError([Problem(shown, None, "", f"cannot read workspace file: {exc.strerror}")])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise WorkspaceError([Problem(shown, line, "", f"invalid YAML: {getattr(exc, 'problem', exc)}")])
    if not isinstance(data, dict):
        raise WorkspaceError([Problem(shown, 1, "", "the workspace file must be a mapping")])

    problems = _resolve_env_refs(data, root, shown, env)
    try:
        model = Workspace.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(shown, root, err["loc"], err["msg"]) for err in exc.errors()]
        raise WorkspaceError(problems)
    settings = _validate_destination_settings(model, root, shown, problems)
    problems += [_problem(shown, root, loc, message)
                 for loc, message in referenced_file_problems(model, file.parent)]
    if problems:
        raise WorkspaceError(problems)
    return LoadedWorkspace(file.parent.resolve(), file.resolve(), model, settings)


def _problem(shown: str, root: yaml.Node | None, loc: tuple[Any, ...], message: str) -> Problem:
    return Problem(shown, yaml_line_of(root, loc), format_loc(loc), message)


def _resolve_env_refs(data: dict[str, Any], root: yaml.Node | None, shown: str,
                      env: dict[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    for i, source in enumerate(data.get("sources") or []):
        if not isinstance(source, dict) or not isinstance(source.get("write_key"), str):
            continue
        match = _ENV_REF.match(source["write_key"])
        if not match:
            continue
        name, default = match.group(1), match.group(2)
        value = env.get(name, default)
        if value is None or value == "":
            problems.append(_problem(shown, root, ("sources", i, "write_key"),
                                     f"environment variable {name} is not set"))
        else:
            source["write_key"] = value
    return problems


def _validate_destination_settings(model: Workspace, root: yaml.Node | None, shown: str,
                                   problems: list[Problem]) -> dict[str, DestinationSettings]:
    settings: dict[str, DestinationSettings] = {}
    for i, dest in enumerate(model.destinations):
        try:
            cls = destination_class(dest.type)
        except KeyError as exc:
            problems.append(_problem(shown, root, ("destinations", i, "type"), exc.args[0]))
            continue
        try:
            settings[dest.name] = cls.Settings.model_validate(dest.settings)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("destinations", i, "settings", *err["loc"])
                problems.append(_problem(shown, root, loc, err["msg"]))
    return settings
