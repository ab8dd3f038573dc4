"""Segment's warehouse layout on PostgreSQL, used by the ``postgres`` destination.

* :mod:`.flatten` turns an event into rows of Segment's tables (names, reserved columns, flattening);
* :mod:`.schema` infers and casts column types and evolves tables (first-seen type wins);
* :mod:`.loader` bulk-loads rows through a staging table so replays never duplicate them.
"""
