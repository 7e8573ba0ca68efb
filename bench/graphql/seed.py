"""Seed 1,000,000 messages in 50,000 conversations for the GraphQL read benchmark.

    uv run python -m bench.graphql.seed [--messages 1000000]

Into CALLBOX_BENCH_DATABASE_URL when set (its Callbox tables are emptied first), else into a
fresh database ``callbox_graphql_bench`` on CALLBOX_BENCH_SERVER_URL (default: the
PostgreSQL at 127.0.0.1:5432), migrated first. Everything is generated in SQL with
generate_series, so it takes seconds to a minute, not hours.

Shape: 10 of our numbers, 50,000 other parties, one SMS conversation each; 20 messages per
conversation spread over 90 days, alternately outbound (receiver ``notify``: 90% delivered,
5% failed, 5% sent) and inbound (receiver ``esendex``), each with one status event; so each of
our numbers is on 100,000 messages and conversations span two receivers. ``--messages``
seeds fewer (or more) in the same shape: one conversation per 20 messages, each of our
numbers on a tenth of them (page 1,000 of timing.py needs at least 500,000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.graphql.common import (
    CONVERSATIONS,
    DATABASE_NAME,
    MESSAGES,
    OUR_NUMBERS,
    SERVER_URL,
    database_url,
)
from callbox.store.migrate import run_migrations

START = datetime(2026, 8, 1, tzinfo=UTC)
WINDOW = timedelta(days=90)

TABLES = (
    "callbox_applied_event, callbox_status_event, callbox_opt_out, callbox_message,"
    " callbox_conversation, callbox_notification"
)

CONVERSATIONS_SQL = """
INSERT INTO callbox_conversation (
    id, channel, our_address, their_address, created_at, last_activity_at, message_count
)
SELECT c, 'SMS', ($2::text[])[1 + (c - 1) % array_length($2::text[], 1)],
    '+4478' || lpad(c::text, 9, '0'), $3::timestamptz, $3::timestamptz, 0
FROM generate_series(1, $1::int) AS c
"""

# Message j (0-based) belongs to conversation 1 + j % C and happens at start + j * step:
# a conversation's messages are C steps apart, the last one near the end of the window, and
# alternate between outbound and inbound (so do neighbouring conversations' messages).
MESSAGES_SQL = """
INSERT INTO callbox_message (
    id, provider, receiver, provider_message_id, direction, channel, sender, recipient, body,
    status, provider_status, failure_reason, reference, status_occurred_at, created_at, sent_at,
    delivered_at, updated_at, occurred_at, conversation, metadata, is_test
)
SELECT j + 1,
    CASE WHEN outbound THEN 'notify' ELSE 'esendex' END,
    CASE WHEN outbound THEN 'notify' ELSE 'esendex' END,
    'bench-' || j,
    CASE WHEN outbound THEN 'OUTBOUND' ELSE 'INBOUND' END,
    'SMS',
    CASE WHEN outbound THEN c.our_address ELSE c.their_address END,
    CASE WHEN outbound THEN c.their_address ELSE c.our_address END,
    'Message ' || j || CASE WHEN outbound THEN ': your appointment is confirmed'
        ELSE ': thanks, see you then' END,
    status, lower(status), CASE WHEN status = 'FAILED' THEN 'TEMPORARY' END,
    CASE WHEN outbound THEN 'ref-' || j END,
    at + interval '5 seconds', at, CASE WHEN outbound THEN at END,
    CASE WHEN status = 'DELIVERED' THEN at + interval '5 seconds' END,
    at + interval '5 seconds', at, c.id, '{}'::jsonb, false
FROM (
    SELECT j, outbound, 1 + j % $2::int AS conversation,
        $3::timestamptz + j * $4::interval AS at,
        CASE WHEN NOT outbound THEN 'RECEIVED' WHEN j % 20 = 2 THEN 'FAILED'
            WHEN j % 20 = 4 THEN 'SENT' ELSE 'DELIVERED' END AS status
    FROM generate_series(0, $1::int - 1) AS j,
        LATERAL (SELECT (j / $2::int + j % $2::int) % 2 = 0 AS outbound) AS d
) AS g
JOIN callbox_conversation c ON c.id = g.conversation
"""

EVENTS_SQL = """
INSERT INTO callbox_status_event (
    message, status, provider_status, failure_reason, occurred_at, received_at, is_test
)
SELECT id, status, provider_status, failure_reason, status_occurred_at, updated_at, false
FROM callbox_message
"""

FINISH_CONVERSATIONS_SQL = """
UPDATE callbox_conversation c SET
    last_activity_at = m.occurred_at, last_message_id = m.id, message_count = m.n,
    created_at = m.first_at
FROM (
    SELECT DISTINCT ON (conversation) conversation, occurred_at, id,
        count(*) OVER (PARTITION BY conversation) AS n,
        min(occurred_at) OVER (PARTITION BY conversation) AS first_at
    FROM callbox_message ORDER BY conversation, occurred_at DESC, id DESC
) m
WHERE m.conversation = c.id
"""

SEQUENCES_SQL = """
SELECT setval('callbox_message_id_seq', (SELECT max(id) FROM callbox_message));
SELECT setval('callbox_conversation_id_seq', (SELECT max(id) FROM callbox_conversation));
"""


async def prepare_database() -> str:
    if os.environ.get("CALLBOX_BENCH_DATABASE_URL"):
        url = database_url()
    else:
        admin = await asyncpg.connect(SERVER_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await admin.close()
        url = database_url()
    await run_migrations(url)
    return url


async def seed(url: str, messages: int = MESSAGES) -> None:
    conversations = messages * CONVERSATIONS // MESSAGES
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET synchronous_commit = off")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        await connection.execute("SET work_mem = '256MB'")
        await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        steps = [
            ("conversations", CONVERSATIONS_SQL, (conversations, OUR_NUMBERS, START)),
            ("messages", MESSAGES_SQL, (messages, conversations, START, WINDOW / messages)),
            ("status events", EVENTS_SQL, ()),
            ("conversation totals", FINISH_CONVERSATIONS_SQL, ()),
        ]
        for name, statement, args in steps:
            started = time.perf_counter()
            async with connection.transaction():
                await connection.execute(statement, *args)
            print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
        await connection.execute(SEQUENCES_SQL)
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        print(f"vacuum analyze: {time.perf_counter() - started:.1f} s")
        count = await connection.fetchval("SELECT count(*) FROM callbox_message")
        conversations = await connection.fetchval("SELECT count(*) FROM callbox_conversation")
        print(f"seeded {count:,} messages in {conversations:,} conversations into {url}")
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=MESSAGES)
    args = parser.parse_args()
    started = time.perf_counter()
    url = await prepare_database()
    await seed(url, args.messages)
    print(f"total: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
