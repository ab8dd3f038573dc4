"""Privacy: user regulations (suppress, delete), purges, and per-source field controls.

* :mod:`.regulations` — the regulation record and :class:`~.regulations.RegulationBook`, the fold of the
  ``<prefix>.regulations`` topic that answers "is this user suppressed?" and "may this event be
  re-delivered?";
* :mod:`.regulation_log` — reading, writing and following that topic (and the audit topic) with aiokafka;
* :mod:`.fields` and :mod:`.detector` — field rules (block / hash / allow by path or glob) and the
  built-in detector of likely PII in unexpected places;
* :mod:`.gate` — what ingest calls on every accepted batch: drop suppressed users, apply field controls;
* :mod:`.purge` and the ``purge_*`` modules — erase a deleted user from the warehouse, file archives,
  and make topic records unreplayable.

See ``docs/privacy.md``.
"""
