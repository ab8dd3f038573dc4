"""Exceptions raised by the FQL engine.

Contract: every failure to *compile* FQL text is an :class:`FQLSyntaxError` carrying the
character offset where the problem was found; every failure to compile or evaluate an IR
tree (unknown operator, wrong arity, malformed node, non-boolean operand to a boolean
operator) is an :class:`FQLEvaluationError`. Both derive from :class:`FQLError` so callers
can catch the whole family at once.
"""


class FQLError(Exception):
    """Base class of all FQL errors."""


class FQLSyntaxError(FQLError):
    """FQL text could not be tokenized or parsed.

    ``position`` is the 0-based character offset into the source text; it is part of
    ``str(error)`` so log lines and API error messages name it.
    """

    def __init__(self, message: str, position: int) -> None:
        self.message = message
        self.position = position
        super().__init__(f"{message} at position {position}")


class FQLEvaluationError(FQLError):
    """An IR tree is malformed or could not be evaluated against an event."""
