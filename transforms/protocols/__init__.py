"""Segment Protocols for eventyard: normalization, tracking plans, enforcement, naming lint.

Pure Python, no Kafka.  The worker calls ``normalize`` then ``enforce`` per event; see
docs/protocols.md for semantics and choices.
"""

from .enforce import Enforcer, Verdict, enforce
from .naming import lint_event, lint_plan
from .normalize import NormalizationError, normalize
from .plan import PlanError, TrackingPlan, build_plan, load_plan
from .report import check_events, lint_plan_file
from .settings import ProtocolsSettings
from .violations import violation_event

__all__ = [
    "Enforcer", "NormalizationError", "PlanError", "ProtocolsSettings", "TrackingPlan", "Verdict",
    "build_plan", "check_events", "enforce", "lint_event", "lint_plan", "lint_plan_file",
    "load_plan", "normalize", "violation_event",
]
