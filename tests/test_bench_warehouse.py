"""The warehouse line of ``eventyard bench``: the raw side copies exactly the rows the destination wrote.

Speed is not asserted (it belongs to ``eventyard bench``); what is checked is that both sides are measured
on the same rows: every row of the timed batches, read back batch by batch.
"""

from __future__ import annotations

import pytest

from eventyard.bench import warehouse

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_both_sides_load_the_rows_of_the_timed_batches(postgres_dsn: str, monkeypatch) -> None:
    monkeypatch.setenv(warehouse.DSN_ENV, postgres_dsn)
    rates = await warehouse.warehouse_rates(1_000)
    assert rates["rows"] == 2_000  # each track event: a row in tracks and one in its event's table
    for key in ("rows_per_second", "copy_rows_per_second", "regrouped_copy_rows_per_second"):
        assert rates[key] > 0, key
