"""A local S3 emulator (moto's server) for broker-restart tests, with microsecond object times.

Run as ``python s3_emulator.py PORT``.  Tansu's ``s3://`` storage orders batches by object
``LastModified``; stock moto reports whole seconds, so batches written in the same second tie and
Tansu's already-wrong end offsets get worse (``/work/shared/broker-notes.md``).  This entry point
patches moto to serve microseconds, then runs ``moto.server.main`` bound to 127.0.0.1.
"""

from __future__ import annotations

import sys

MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _patch_moto_timestamps() -> None:
    from moto.core.serialize import TimestampSerializer
    from moto.s3 import models

    def iso8601_micro(self) -> str:
        return self.last_modified.strftime(MICRO)

    for cls in (models.FakeKey, models.FakeDeleteMarker):
        cls.last_modified_ISO8601 = property(iso8601_micro)
    TimestampSerializer.ISO8601_MICRO_ZEROED = MICRO


def main(port: str) -> None:
    """Serve S3 on 127.0.0.1:``port`` until killed."""
    _patch_moto_timestamps()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    main(sys.argv[1])
