"""The apply queue (``callbox_pending_apply``) is vacuumed as it churns, not after a fifth
of it is dead: its rows are inserted and deleted once per acknowledged request."""

from __future__ import annotations

import asyncpg


async def test_the_apply_queue_is_vacuumed_after_a_thousand_dead_rows(
    db: asyncpg.Connection,
) -> None:
    options = await db.fetchval(
        "SELECT reloptions FROM pg_class WHERE oid = 'callbox_pending_apply'::regclass"
    )
    assert set(options or ()) >= {
        "autovacuum_vacuum_scale_factor=0",
        "autovacuum_vacuum_threshold=1000",
        "autovacuum_vacuum_cost_delay=0",
    }
