"""Segment's warehouse layout on PostgreSQL, used by the ``postgres`` destination.

* :mod:`.flatten` turns an event into rows of Segment's tables (names, reserved columns, flattening);
* :mod:`.schema` infers and casts column types, evolves tables (first-seen type wins) and keeps their
  layout in memory;
* :mod:`.records` turns a table's rows into ``COPY`` records, column by column (casts, discards);
* :mod:`.loader` writes a batch in one transaction: ``COPY`` into the tables, falling back to
  ``INSERT ... ON CONFLICT DO NOTHING`` when some rows are already there, so replays never duplicate them.
"""
