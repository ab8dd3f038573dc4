"""Send Segment calls with the real segment-analytics-python SDK (run with its own PYTHONPATH).

Usage: ``python segment_python_client.py HOST WRITE_KEY < calls.json`` where ``calls.json`` is a list of
Segment calls in the HTTP API's JSON form.  Exits 0 when the SDK reports no error, 1 otherwise.
"""

import json
import sys
from datetime import datetime

import segment.analytics as analytics

SNAKE = {"userId": "user_id", "anonymousId": "anonymous_id", "messageId": "message_id",
         "groupId": "group_id", "previousId": "previous_id"}


def main() -> int:
    """Send every call on stdin, flush, and report errors through the exit code."""
    analytics.host, analytics.write_key = sys.argv[1], sys.argv[2]
    errors = []
    analytics.on_error = lambda error, batch: errors.append(repr(error))
    for call in json.load(sys.stdin):
        kwargs = {SNAKE.get(k, k): v for k, v in call.items() if k != "type"}
        if "timestamp" in kwargs:
            kwargs["timestamp"] = datetime.fromisoformat(kwargs["timestamp"].replace("Z", "+00:00"))
        getattr(analytics, call["type"])(**kwargs)
    analytics.flush()
    analytics.shutdown()
    print(json.dumps({"sdk": analytics.VERSION, "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
