"""Time Wiraya batch ingest through the whole ASGI app: parse, store and apply, per request.

    uv run python bench/wiraya_ingest.py

Posts a 1,000-item Wiraya JSON batch (the recommended template, one outgoing SMS status per
item, distinct ids on every request so nothing is a duplicate) to ``/hooks/wiraya`` through
litestar's AsyncTestClient, 5 times, and prints the median and maximum time per request and
the items applied per second. Each request is answered only after its transaction commits,
so the time covers parsing, storing the raw request and applying its 1,000 events.

The database is CALLBOX_BENCH_DATABASE_URL when set (it must be migrated, or migrate it
first with ``callbox migrate``); otherwise a fresh database is created on
postgresql://postgres@127.0.0.1:5432/postgres, migrated, and dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator

import asyncpg
from litestar.testing import AsyncTestClient

from callbox.app import create_app
from callbox.settings import Database, Receiver, Settings
from callbox.store.migrate import run_migrations

SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ITEMS = 1_000
REQUESTS = 5
STATUSES = ("DELIVERED", "NOT_DELIVERED", "OPTOUT", "FAILURE", "UNKNOWN", "TEST")


def batch_body(run: int, size: int = ITEMS, *, first_id: int = 10_000_000) -> bytes:
    """A JSON batch whose ids (and recipients) are distinct across runs."""
    items = []
    for index in range(size):
        number = run * size + index
        items.append(
            {
                "type": "outgoing sms",
                "id": str(first_id + number),
                "cid": "1042",
                "rid": str(50_000 + number),
                "prid": "311",
                "recipient": f"4670{number:07d}",
                "sender": "46769440100",
                "status": STATUSES[number % len(STATUSES)],
                "recipient_status": "EXISTS",
                "content": "Your appointment is tomorrow at 10:00. Reply YES to confirm.",
                "sms_parts": "1",
                "campaign_name": "Appointments",
                "sent_dateiso": "2024-03-15T10:30:00Z",
                "done_dateiso": "2024-03-15T10:30:04Z",
                "1": "Anna Svensson",
                "2": f"A-{number}",
            }
        )
    return json.dumps({"batch": items}).encode()


def _with_database(url: str, database: str) -> str:
    head, _, tail = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{database}" + (f"?{tail}" if tail else "")


@contextlib.asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    configured = os.environ.get("CALLBOX_BENCH_DATABASE_URL")
    if configured:
        yield configured
        return
    name = f"callbox_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(SERVER_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(SERVER_URL, name)
    try:
        await run_migrations(url)
        yield url
    finally:
        admin = await asyncpg.connect(SERVER_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def main() -> None:
    async with bench_database() as url:
        settings = Settings(
            receivers=[Receiver(name="wiraya", provider="wiraya", max_body_bytes=8 * 1024 * 1024)],
            database=Database(url=url, migrate_on_start=False),
        )
        # Ids unique to this invocation too, so a reused database sees no duplicates.
        first_id = time.time_ns() // 1_000 * 10
        bodies = [batch_body(run, first_id=first_id) for run in range(REQUESTS)]
        connection = await asyncpg.connect(url)
        try:
            before = await connection.fetchval(
                "SELECT count(*) FROM callbox_message WHERE receiver = 'wiraya'"
            )
        finally:
            await connection.close()
        seconds: list[float] = []
        async with AsyncTestClient(app=create_app(settings)) as client:
            for run, body in enumerate(bodies, start=1):
                started = time.perf_counter()
                response = await client.post(
                    "/hooks/wiraya", content=body, headers={"Content-Type": "application/json"}
                )
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"request {run}: {response.status_code} {response.text}")
                seconds.append(elapsed)
                print(f"request {run}: {len(body) / 1024:,.0f} KiB, {elapsed * 1000:8.1f} ms")
        connection = await asyncpg.connect(url)
        try:
            stored = await connection.fetchval(
                "SELECT count(*) FROM callbox_message WHERE receiver = 'wiraya'"
            )
        finally:
            await connection.close()
    if stored - before != ITEMS * REQUESTS:
        raise SystemExit(f"expected {ITEMS * REQUESTS} new messages, found {stored - before}")
    median = statistics.median(seconds)
    print(
        f"{REQUESTS} requests of {ITEMS:,} items: median {median * 1000:.1f} ms, "
        f"max {max(seconds) * 1000:.1f} ms per request; "
        f"{ITEMS / median:,.0f} items/s at the median, "
        f"{ITEMS * REQUESTS / sum(seconds):,.0f} items/s overall"
    )


if __name__ == "__main__":
    asyncio.run(main())
