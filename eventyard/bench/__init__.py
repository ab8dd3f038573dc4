"""The ``eventyard bench`` harness: our figures beside the raw limits measured in the same run.

Modules: ``workload`` (events, envelopes, the 50-event plan), ``workspace`` (the benchmark workspace,
with the pipeline features ``eventyard check`` accepts), ``procs`` (ingest/worker subprocesses and their
memory), ``raw`` (aiokafka produce and passthrough limits), ``http_load`` (wrk), ``loadgen`` (a
fixed-rate HTTP load process), ``pipeline`` (worker alone and end to end), ``warehouse`` (PostgreSQL),
``report`` (the table and JSON) and ``runner`` (the order of the phases).  See ``docs/performance.md``.
"""
