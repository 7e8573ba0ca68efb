"""Item 12 of issue 16: PostgreSQL stopped fast (``pg_ctl stop -m fast``) under a stream of
callbacks. Connections die at every point of their use: mid-statement, idle in the pool, and
between a statement and the pool's reset on release, where asyncpg raises
``InternalClientError: cannot switch to state 15``. Every answer is 200 or 503 with
Retry-After, never 500; and after the restart every callback is stored exactly once.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres
from tests.faults.support import assert_unavailable, fault_settings, post_receipt
from tests.support import served

SENDERS = 24


async def test_a_fast_stop_under_load_is_only_ever_200_or_503(
    private_postgres: list[EmbeddedPostgres],
) -> None:
    data_dir, url = private_postgres[0].data_dir, private_postgres[0].url
    settings = fault_settings(url, pool_min_size=8, pool_max_size=8)
    answers: list[httpx.Response] = []
    delivered: set[str] = set()
    stop = asyncio.Event()

    async def sender(http: httpx.AsyncClient, base: str) -> None:
        while not stop.is_set():
            notification_id = str(uuid.uuid4())
            while True:  # as a provider does: the same callback until it is taken
                response = await post_receipt(http, base, notification_id)
                answers.append(response)
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.05)
            if response.status_code == 200:
                delivered.add(notification_id)

    async with served(settings) as base, httpx.AsyncClient(timeout=30) as http:
        senders = [asyncio.create_task(sender(http, base)) for _ in range(SENDERS)]
        try:
            for _ in range(2):
                await asyncio.sleep(0.7)
                await asyncio.to_thread(private_postgres[0].stop)
                await asyncio.sleep(0.3)
                private_postgres[0] = await asyncio.to_thread(start_embedded_postgres, data_dir)
            await asyncio.sleep(0.7)
        finally:
            stop.set()
            await asyncio.gather(*senders)

    statuses = {response.status_code for response in answers}
    assert statuses <= {200, 503}, [
        (response.status_code, response.text)
        for response in answers
        if response.status_code not in (200, 503)
    ][:5]
    assert 503 in statuses  # the stops were seen
    for response in answers:
        if response.status_code == 503:
            assert_unavailable(response, retry_after=5)
    connection = await asyncpg.connect(url)
    try:
        stored = await connection.fetch(
            "SELECT provider_message_id, count(*) AS events FROM callbox_message m"
            " JOIN callbox_status_event se ON se.message = m.id GROUP BY provider_message_id"
        )
    finally:
        await connection.close()
    counts = {row["provider_message_id"]: row["events"] for row in stored}
    assert delivered <= set(counts)
    assert set(counts.values()) == {1}
