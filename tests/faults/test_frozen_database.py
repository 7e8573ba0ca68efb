"""Item 14 of issue 16: a frozen database (every PostgreSQL process stopped with SIGSTOP, as a
hung host or a network partition looks: connections stay open, nothing answers) is answered
503 within a bounded time, by callbacks and by ``/ready``; once it thaws, the retried callback
is stored once.
"""

from __future__ import annotations

import time

import asyncpg
import httpx

from callbox.db.embedded import EmbeddedPostgres
from tests.faults.support import assert_unavailable, fault_settings, frozen, post_receipt
from tests.support import served

ID = "66666666-0000-4000-8000-000000000006"


async def test_a_frozen_database_is_503_within_bounded_time(
    private_postgres: list[EmbeddedPostgres],
) -> None:
    server = private_postgres[0]
    settings = fault_settings(
        server.url,
        statement_timeout_seconds=1,
        acquire_timeout_seconds=1,
        callback_timeout_seconds=1.5,
    )
    async with served(settings) as base, httpx.AsyncClient(timeout=15) as http:
        assert (await http.get(f"{base}/ready")).status_code == 200
        with frozen(server):
            started = time.monotonic()
            response = await post_receipt(http, base, ID, wait=15)
            callback_took = time.monotonic() - started
            started = time.monotonic()
            ready = await http.get(f"{base}/ready", timeout=15)
            ready_took = time.monotonic() - started
            again = await http.get(f"{base}/ready", timeout=15)
        assert_unavailable(response, retry_after=30)
        assert callback_took < 4, callback_took
        assert ready.status_code == 503, ready.text
        assert ready_took < 3, ready_took
        assert again.status_code == 503
        # Thawed: the provider's retry is taken, and stored once however the first ended.
        for _ in range(50):
            retried = await post_receipt(http, base, ID)
            if retried.status_code == 200:
                break
        assert retried.status_code == 200, retried.text
    connection = await asyncpg.connect(server.url)
    try:
        applied = await connection.fetchval(
            "SELECT count(*) FROM callbox_status_event se JOIN callbox_message m"
            " ON m.id = se.message WHERE m.provider_message_id = $1",
            ID,
        )
    finally:
        await connection.close()
    assert applied == 1
