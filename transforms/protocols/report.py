"""Offline reports behind ``eventyard plan check`` and ``eventyard plan lint``.

Contract
--------
Both functions return ``(report_text, exit_code)`` and never raise for bad input:

* ``check_events(plan_path, events_path, settings)``: one line per event of a JSONL file
  (``ok`` / ``blocked`` / ``omitted …`` / violations), then a summary.  Exit 0 when every event
  is clean, 1 when any event is blocked, loses properties or has violations, 2 when the plan
  or the events file cannot be read (an unparseable line counts as 2 too).
* ``lint_plan_file(plan_path, case="snake")``: naming findings per rule.  Exit 0 without
  findings, 1 with findings, 2 when the plan cannot be loaded.

Events are normalized first when they carry ``receivedAt`` (as stored events do); names over
255 characters are reported as errors.
"""

from __future__ import annotations

import orjson

from .enforce import Verdict, enforce
from .naming import lint_plan
from .normalize import NormalizationError, check_names, normalize
from .plan import PlanError, load_plan
from .settings import ProtocolsSettings


def _describe(verdict: Verdict, observe: bool) -> str:
    parts = []
    if verdict.blocked or verdict.would_block:
        parts.append("would block" if observe else "blocked")
    omitted = verdict.would_omit if observe else verdict.omitted + verdict.omitted_on_violation
    if omitted:
        parts.append(("would omit " if observe else "omitted ") + ", ".join(omitted))
    parts += [f"{v['type']} {v['field'] or '-'}: {v['description']}" for v in verdict.violations]
    return "; ".join(parts) or "ok"


def check_events(plan_path: str, events_path: str,
                 settings: ProtocolsSettings | dict | None = None) -> tuple[str, int]:
    """Run every event of a JSONL file through ``plan_path`` with ``settings``."""
    try:
        plan = load_plan(plan_path)
        if not isinstance(settings, ProtocolsSettings):
            settings = ProtocolsSettings(**(settings or {}))
        with open(events_path, "rb") as fh:
            lines = fh.read().splitlines()
    except (PlanError, OSError, ValueError) as exc:
        return f"error: {exc}\n", 2
    observe = settings.mode == "observe"
    out, counts, code = [], {"ok": 0, "problem": 0, "error": 0}, 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
            if isinstance(event.get("receivedAt"), str):
                event = normalize(event, event["receivedAt"])
            else:
                check_names(event)
        except (ValueError, NormalizationError) as exc:
            out.append(f"{number}: error: {exc}")
            counts["error"] += 1
            code = 2
            continue
        verdict = enforce(plan, settings, event)
        label = event.get("event") or event.get("name") or event.get("type") or "?"
        text = _describe(verdict, observe)
        out.append(f"{number}: {label}: {text}")
        if text == "ok":
            counts["ok"] += 1
        else:
            counts["problem"] += 1
            code = max(code, 1)
    out.append(f"{counts['ok']} ok, {counts['problem']} with problems, "
               f"{counts['error']} unreadable ({settings.mode} mode)")
    return "\n".join(out) + "\n", code


def lint_plan_file(plan_path: str, case: str = "snake") -> tuple[str, int]:
    """Naming lint of a plan file, one line per finding."""
    try:
        findings = lint_plan(load_plan(plan_path), case)
    except PlanError as exc:
        return f"error: {exc}\n", 2
    lines = [f"{f['rule']}: {f['field']}: {f['description']}" for f in findings]
    lines.append(f"{len(findings)} naming finding(s)")
    return "\n".join(lines) + "\n", 1 if findings else 0
