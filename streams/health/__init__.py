"""The workspace health view: a process that reads the workspace's topics and shows where events went.

``eventyard health-server`` (and ``eventyard dev``) run :func:`eventyard.streams.health.server.run_health_server`;
``eventyard health`` prints the same summary in the terminal.  Modules:

* ``state`` — bounded in-memory state built from the topics (volumes, debugger rings, lineage index);
* ``reader`` — the aiokafka consumer (no consumer group) feeding the state, and the committed offsets of
  the worker group that tell what was delivered;
* ``scrape`` — counters and latency histograms read from the processes' ``/metrics``;
* ``summary`` — the figures shown by the pages and the terminal;
* ``pages`` / ``server`` — the server-rendered HTML, the Server-Sent Events stream and the JSON API.
"""
