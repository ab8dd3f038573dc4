"""Files a workspace refers to: tracking plans and user-function files, checked at load time.

``referenced_file_problems(model, directory)`` returns ``(location, message)`` pairs, the location being
the field path in ``eventyard.yaml`` (mapped to a YAML line by the loader) and the message naming the
referenced file — and, for function files, the line — so ``eventyard check`` reports them like any other
configuration error.  Paths are relative to the workspace directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventyard.config.workspace import FunctionConfig, Workspace
from eventyard.transforms.functions import FunctionLoadError, check_function_file
from eventyard.transforms.protocols import PlanError, load_plan


def _function_problems(functions: list[FunctionConfig], directory: Path,
                       where: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    problems = []
    for j, fn in enumerate(functions):
        try:
            check_function_file(directory / fn.file, fn.function)
        except FunctionLoadError as exc:
            problems.append(((*where, "functions", j, "file"), str(exc)))
    return problems


def referenced_file_problems(model: Workspace, directory: Path) -> list[tuple[tuple[Any, ...], str]]:
    """Problems with the plan and function files of ``model`` (empty when all load)."""
    problems = []
    for i, source in enumerate(model.sources):
        if source.tracking_plan:
            try:
                load_plan(directory / source.tracking_plan)
            except PlanError as exc:
                problems.append((("sources", i, "tracking_plan"), str(exc)))
        problems += _function_problems(source.functions, directory, ("sources", i))
    for i, dest in enumerate(model.destinations):
        problems += _function_problems(dest.functions, directory, ("destinations", i))
    return problems
