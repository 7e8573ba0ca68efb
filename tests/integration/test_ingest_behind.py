"""Callbacks are acknowledged once stored and applied behind the answer (issue 15).

The tests hold the lock every application takes (``callbox_lock_apply``) from their own
connection to stop the appliers at a chosen moment: what was acknowledged then is stored
and waiting, never applied, until the lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from callbox.graphql.data.rows import NotificationRow
from callbox.settings import Ingest, Metrics
from tests.ops.support import (
    METRICS_TOKEN,
    NOTIFY_HEADERS,
    NOTIFY_TOKEN,
    SCRAPE,
    notify_inbound,
    notify_receiver,
    samples,
)
from tests.support import (
    CallboxProcess,
    callbox_client,
    notify_receipt,
    served,
    settings_for,
)

APPLY_LOCK = 7204901633187521536  # callbox_lock_apply.sql


@contextlib.asynccontextmanager
async def appliers_held(db: asyncpg.Connection) -> AsyncIterator[None]:
    await db.execute("SELECT pg_advisory_lock($1)", APPLY_LOCK)
    try:
        yield
    finally:
        await db.execute("SELECT pg_advisory_unlock($1)", APPLY_LOCK)


async def states(db: asyncpg.Connection) -> dict[str, int]:
    """Requests by state, as GraphQL shows them (PENDING while their events wait)."""
    rows = await db.fetch(
        f"SELECT CASE WHEN {NotificationRow.WAITING} THEN 'PENDING' ELSE n.state END AS state,"
        " count(*) AS n FROM callbox_notification n GROUP BY 1"
    )
    return {row["state"]: row["n"] for row in rows}


async def until_applied(db: asyncpg.Connection, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while (await states(db)).get("PENDING", 0):
        assert time.monotonic() < deadline, f"still waiting: {await states(db)}"
        await asyncio.sleep(0.05)


async def test_stored_is_answered_before_the_events_are_applied(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [notify_receiver()], ingest=Ingest(acknowledge="stored"))
    async with callbox_client(settings) as client:
        async with appliers_held(db):
            response = await client.post(
                "/hooks/notify", content=notify_receipt("m-1"), headers=NOTIFY_HEADERS
            )
            assert response.status_code == 200, response.text
            assert await states(db) == {"PENDING": 1}
            assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0
        await until_applied(db)
    assert await states(db) == {"ACCEPTED": 1}
    row = await db.fetchrow("SELECT status, provider_message_id FROM callbox_message")
    assert (row["status"], row["provider_message_id"]) == ("DELIVERED", "m-1")
    assert await db.fetchval("SELECT count(*) FROM callbox_pending_apply") == 0


async def test_applied_is_answered_only_once_the_message_is_queryable(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [notify_receiver()], ingest=Ingest(acknowledge="applied"))
    async with served(settings) as base, httpx.AsyncClient(base_url=base) as client:
        async with appliers_held(db):
            answer = asyncio.create_task(
                client.post("/hooks/notify", content=notify_receipt("m-2"), headers=NOTIFY_HEADERS)
            )
            await asyncio.sleep(0.5)
            assert not answer.done()  # stored, not applied: no answer yet
            assert await states(db) == {"PENDING": 1}
        response = await answer
        assert response.status_code == 200, response.text
        # No waiting here: answered means applied.
        assert await states(db) == {"ACCEPTED": 1}
        assert await db.fetchval("SELECT status FROM callbox_message") == "DELIVERED"
        # A repeat is answered as what it is.
        again = await client.post(
            "/hooks/notify", content=notify_receipt("m-2"), headers=NOTIFY_HEADERS
        )
        assert again.status_code == 200
    assert await states(db) == {"ACCEPTED": 1, "DUPLICATE": 1}


CONFIG = f"""
[server]
host = "127.0.0.1"

[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "+447700900999"
auth = {{ bearer = ["{NOTIFY_TOKEN}"] }}
"""


async def test_a_kill_between_answer_and_application_loses_nothing(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """kill -9 of the process that acknowledged 30 callbacks before it applied any: another
    process claims them and applies each exactly once."""
    config = tmp_path / "callbox.toml"
    config.write_text(CONFIG)
    environment = {
        "CALLBOX_INGEST__ACKNOWLEDGE": "stored",
        "CALLBOX_INGEST__CLAIM_AFTER_SECONDS": "0.5",
    }
    first = CallboxProcess(
        database_url, config, log=tmp_path / "first.log", environment=environment
    )
    second = CallboxProcess(
        database_url, config, log=tmp_path / "second.log", environment=environment
    )
    first.start()
    try:
        async with appliers_held(db):
            async with httpx.AsyncClient(base_url=first.base) as client:
                answers = await asyncio.gather(
                    *(
                        client.post(
                            "/hooks/notify",
                            content=notify_receipt(f"k-{index}"),
                            headers=NOTIFY_HEADERS,
                        )
                        for index in range(30)
                    )
                )
            assert [answer.status_code for answer in answers] == [200] * 30
            assert await states(db) == {"PENDING": 30}
            assert first.process is not None
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(timeout=10)
        second.start()
        await until_applied(db)
    finally:
        first.stop()
        second.stop()
    assert await states(db) == {"ACCEPTED": 30}
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 30
    assert await db.fetchval("SELECT count(*) FROM callbox_status_event") == 30
    assert await db.fetchval("SELECT count(*) FROM callbox_applied_event") == 30


async def test_two_replicas_apply_into_the_same_conversations_exactly(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """Two ``callbox serve`` processes apply inbound messages into the same three
    conversations at once: exact counts, no deadlock, nothing failed."""
    deadlocks_before = await _deadlocks(db)
    config = tmp_path / "callbox.toml"
    config.write_text(CONFIG)
    environment = {"CALLBOX_INGEST__ACKNOWLEDGE": "stored"}
    replicas = [
        CallboxProcess(database_url, config, log=tmp_path / f"{n}.log", environment=environment)
        for n in ("one", "two")
    ]
    senders = ["07700900001", "07700900002", "07700900003"]
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    bodies = [
        notify_inbound(
            start + timedelta(seconds=index), sender=senders[index % 3], text=f"m{index}"
        )
        for index in range(150)
    ]
    try:
        for replica in replicas:
            replica.start()
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"{replicas[index % 2].base}/hooks/notify",
                        content=body,
                        headers=NOTIFY_HEADERS,
                    )
                    for index, body in enumerate(bodies)
                )
            )
        assert {answer.status_code for answer in answers} == {200}
        await until_applied(db)
    finally:
        for replica in replicas:
            replica.stop()
    assert await states(db) == {"ACCEPTED": 150}
    rows = await db.fetch(
        "SELECT message_count,"
        " (SELECT count(*) FROM callbox_message m WHERE m.conversation = c.id) AS messages"
        " FROM callbox_conversation c"
    )
    assert [(r["message_count"], r["messages"]) for r in rows] == [(50, 50)] * 3
    for replica in replicas:
        assert replica.log is not None
        assert "deadlock" not in replica.log.read_text().lower()
    assert await _deadlocks(db) == deadlocks_before


async def _deadlocks(db: asyncpg.Connection) -> int:
    await asyncio.sleep(1.1)  # statistics reach the shared counters within a second
    await db.execute("SELECT pg_stat_clear_snapshot()")
    count: int = await db.fetchval(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    )
    return count


async def test_apply_lag_backlog_and_readiness_are_reported(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBOX_TEST_METRICS_TOKEN", METRICS_TOKEN)
    settings = settings_for(
        database_url,
        [notify_receiver()],
        ingest=Ingest(acknowledge="stored", backlog_alert=2),
        metrics=Metrics(enabled=True, bearer=["env:CALLBOX_TEST_METRICS_TOKEN"]),
    )
    async with served(settings) as base, httpx.AsyncClient(base_url=base) as client:
        async with appliers_held(db):
            for index in range(3):
                answer = await client.post(
                    "/hooks/notify", content=notify_receipt(f"b-{index}"), headers=NOTIFY_HEADERS
                )
                assert answer.status_code == 200
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert "3 stored callbacks wait to be applied (over 2)" in ready.text
        await until_applied(db)
        deadline = time.monotonic() + 10
        while (await client.get("/ready")).status_code != 200:
            assert time.monotonic() < deadline, "still not ready once applied"
            await asyncio.sleep(0.1)
        found = samples((await client.get("/metrics", headers=SCRAPE)).text)
    assert found[("callbox_apply_lag_seconds_count", ())] == 3
    # Held for a while: every lag is at least the time the appliers were stopped.
    assert found[("callbox_apply_lag_seconds_sum", ())] > 0
    assert ("callbox_apply_backlog", ()) in found
    assert found.get(("callbox_apply_failed_total", ()), 0) == 0
