"""The benchmark's result: lines of (our figure, the raw limit, the ratio), printed as one table and
written as JSON.

A line's ``ours`` and ``limit`` share ``unit``; ``ratio`` is ours/limit when both are known.  ``notes``
holds the details of a line (latencies, counts, active features) and ``target`` the issue's goal for it,
so the JSON is enough to judge a run without its console output.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Line:
    """One row of the table."""

    name: str
    ours: float | None
    unit: str
    limit: float | None = None
    limit_name: str = ""
    target: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """ours / limit, when both are known."""
        if self.ours is None or not self.limit:
            return None
        return self.ours / self.limit


@dataclass
class Report:
    """Every line of one run plus how it was run."""

    settings: dict[str, Any]
    lines: list[Line] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def add(self, line: Line) -> Line:
        """Append ``line`` and return it."""
        self.lines.append(line)
        return line

    def as_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "seconds": round(time.time() - self.started, 1),
                "machine": {"python": platform.python_version(), "cpus": _cpus(),
                            "platform": platform.platform()},
                "settings": self.settings,
                "lines": [{**asdict(line), "ratio": line.ratio} for line in self.lines]}

    def write(self, directory: Path) -> Path:
        """Write the JSON under ``directory`` (one file per run, plus ``latest.json``)."""
        directory.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2)
        path = directory / time.strftime("bench-%Y%m%dT%H%M%S.json", time.gmtime(self.started))
        path.write_bytes(data)
        (directory / "latest.json").write_bytes(data)
        return path

    def table(self) -> str:
        """The table, one line per figure, then each line's notes."""
        head = f"{'line':<44} {'ours':>12} {'raw limit':>12} {'ratio':>7}  {'unit':<10} target"
        rows = [head, "-" * len(head)]
        for line in self.lines:
            ratio = "" if line.ratio is None else f"{line.ratio:.0%}"
            rows.append(f"{line.name:<44} {_num(line.ours):>12} {_num(line.limit):>12} {ratio:>7}  "
                        f"{line.unit:<10} {line.target}")
        rows.append("")
        for line in self.lines:
            if line.notes:
                details = ", ".join(f"{k}={_num(v) if isinstance(v, float) else v}"
                                    for k, v in line.notes.items())
                rows.append(f"  {line.name}: {details}")
        return "\n".join(rows)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (nearest rank) of ``values``, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]
