"""The per-destination stages, run in the pipeline's fan-out: filters → destination transformations.

They run before an event is written to ``<prefix>.dest.<name>`` (cheaper than writing events that would
be dropped; same semantics as running them in the delivery agent — see docs/architecture.md).
:meth:`DestinationStages.apply` returns the event for the destination, or ``None``; what it dropped is
counted in ``PipelineOutput.filtered`` per (source, destination, stage, reason):

* ``filters`` (≤ 10, :class:`~eventyard.transforms.filters.FilterChain`): reasons ``filter_drop``,
  ``sampled_out``, ``filter_error`` (fail closed);
* ``transforms`` in order: ``None`` drops (reason ``dropped``); an evaluation error sends the event to
  the destination's dead letters (``transform_error``).

Destination *functions* run after these, out of process (``eventyard.streams.pipeline_agent``).
"""

from __future__ import annotations

from pathlib import Path

from eventyard.config.workspace import DestinationConfig
from eventyard.streams.pipeline_output import DestinationDeadLetter, Item, PipelineOutput
from eventyard.transforms.filters import FilterChain
from eventyard.transforms.functions import UserFunction


class DestinationStages:
    """Filters and transformations of one destination."""

    def __init__(self, config: DestinationConfig, directory: Path) -> None:
        self.name = config.name
        self.chain = FilterChain(config.filters) if config.filters else None
        self.transforms = [t.program.apply for t in config.transforms if t.enabled]
        self.functions = [UserFunction(str(directory / f.file), f.function, f.timeout_seconds)
                          for f in config.functions]
        self.passthrough = self.chain is None and not self.transforms

    def apply(self, source: str, item: Item, out: PipelineOutput) -> dict | None:
        """The event this destination gets from ``item`` (``None``: nothing; see module docstring)."""
        event = item["event"]
        if self.chain is not None:
            event, reason, _ = self.chain.decide(event)
            if event is None:
                out.filtered[(source, self.name, "filters", reason)] += 1
                return None
        for transform in self.transforms:
            try:
                event = transform(event)
            except Exception as exc:  # a user's FQL that fails on this event: dead-letter it
                out.dead_letters.append(DestinationDeadLetter(
                    self.name, {"source": source, "event": event}, "transform_error",
                    f"{type(exc).__name__}: {exc}"))
                return None
            if event is None:
                out.filtered[(source, self.name, "destination_transform", "dropped")] += 1
                return None
        return event
