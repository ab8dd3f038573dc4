"""Rows of one table → the records a binary ``COPY`` writes, built column by column.

A batch's rows of one table are converted a column at a time: when every value of a column already has
the column's type (all ``str`` for ``text`` without NUL, all ``float`` for ``double precision``, ...) the
column is used as it is, checked with a few C-level passes instead of a Python call per value; only a
column holding something else is cast value by value (:func:`~.schema.cast`), and a value that does not
fit becomes NULL plus a row of ``discards``.  Records hold every column of the table the destination
writes (the five types of :mod:`.schema`), in table order, so every batch uses the same ``COPY``
statement — except columns with a default (``uuid_ts``), written only when a row has a non-null value
for them.
Values for columns of other types (added by someone else) go to ``discards``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

from eventyard.destinations.warehouse.flatten import Row
from eventyard.destinations.warehouse.schema import (
    BIGINT, BOOLEAN, DOUBLE, INT64, RESERVED_TYPES, TEXT, TIMESTAMP, WRITABLE_TYPES, CastError, Table, as_text,
    cast, infer_type, parse_timestamp,
)

Record = tuple[Any, ...]
_NONE = type(None)
_ONLY_NONE = {_NONE}
_PLAIN_KINDS = {DOUBLE: {float}, BOOLEAN: {bool}}


@dataclass
class TableRecords:
    """What one table receives: column names and types, one record per row, and the table's key."""

    table: str
    columns: list[str]
    types: list[str]
    records: list[Record]
    key: tuple[str, ...] = ("id",)


def new_columns(rows: list[Row], known: Mapping[str, str]) -> dict[str, str]:
    """Types of the columns ``rows`` bring that ``known`` lacks, in order of appearance.

    A column's first non-null value decides its type; a column that is null in every row is not created,
    unless it is reserved (its type is fixed).
    """
    values = [row.values for row in rows]
    unknown = set().union(*values).difference(known)
    wanted: dict[str, str] = {}
    if not unknown:
        return wanted
    for column in dict.fromkeys(chain.from_iterable(values)):
        if column not in unknown:
            continue
        first = next((v for v in map(dict.get, values, repeat(column)) if v is not None), None)
        if first is not None or column in RESERVED_TYPES:
            wanted[column] = infer_type(column, first)
    return wanted


def table_records(table: str, rows: list[Row], layout: Table, discards: list[Record]) -> TableRecords:
    """The records of ``rows`` for ``table`` (laid out as ``layout``); rejected values are added to ``discards``."""
    rejected: list[tuple[int, str, Any, str]] = []
    columns, types, data = [], [], []
    for (column, pg_type), column_values in zip(layout.columns.items(), _columns(rows, list(layout.columns))):
        kinds = set(map(type, column_values))
        if pg_type not in WRITABLE_TYPES:  # a column someone else added: its values go to discards
            if kinds != _ONLY_NONE:
                _cast_each(column, column_values, pg_type, rejected)
            continue
        if column in layout.defaults and kinds == _ONLY_NONE:
            continue
        kinds.discard(_NONE)
        converted = _convert_whole(column_values, pg_type, kinds)
        if converted is None:
            converted = _cast_each(column, column_values, pg_type, rejected)
        columns.append(column)
        types.append(pg_type)
        data.append(converted)
    for row in rows:
        if row.discards:
            discards.extend(_discard(row, column, value, reason) for column, value, reason in row.discards)
    discards.extend(_discard(rows[index], column, value, reason) for index, column, value, reason in rejected)
    return TableRecords(table, columns, types, list(zip(*data)))


def _columns(rows: list[Row], names: list[str]) -> list[Sequence[Any]]:
    """The values of each of ``names`` in ``rows`` (``None`` where a row lacks it).

    Read a row at a time when rows are fewer than columns (most event tables: a few rows, ~30 columns),
    else a column at a time: whichever makes fewer Python-level calls.
    """
    dicts = [row.values for row in rows]
    if len(rows) < len(names):
        return list(zip(*[tuple(map(values.get, names)) for values in dicts]))
    return [list(map(dict.get, dicts, repeat(name))) for name in names]


def _convert_whole(values: Sequence[Any], pg_type: str, kinds: set[type]) -> Sequence[Any] | None:
    """``values`` ready for ``pg_type`` when every non-null one (of types ``kinds``) fits as it is, else ``None``."""
    if not kinds:
        return values
    if pg_type == TEXT:
        return values if kinds == {str} and "\x00" not in "".join(filter(None, values)) else None
    if pg_type == TIMESTAMP:
        if kinds != {str}:
            return None
        try:
            return [None if value is None else parse_timestamp(value) for value in values]
        except CastError:
            return None
    if pg_type == BIGINT:
        if kinds != {int}:
            return None
        numbers = [value for value in values if value is not None]
        return values if INT64[0] <= min(numbers) and max(numbers) <= INT64[1] else None
    return values if kinds == _PLAIN_KINDS[pg_type] else None


def _cast_each(column: str, values: Sequence[Any], pg_type: str,
               rejected: list[tuple[int, str, Any, str]]) -> list[Any]:
    """Cast value by value; a value that does not fit becomes ``None`` and is noted in ``rejected``."""
    out = []
    for index, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(cast(value, pg_type))
        except CastError as exc:
            out.append(None)
            rejected.append((index, column, value, str(exc)))
    return out


def _discard(row: Row, column: str, value: Any, reason: str) -> Record:
    """A ``discards`` record (columns in :data:`~.schema.DISCARDS_COLUMNS` order)."""
    try:
        received_at = cast(row.values.get("received_at"), TIMESTAMP)
    except CastError:
        received_at = None
    return (row.table, column, as_text(value).replace("\x00", "\\u0000"), str(row.values["id"]), received_at, reason)
