"""Parts of a long inbound message (callbox_apply_inbound_part): joined exactly once, even when
the last two parts are written by two transactions at the same time (two replicas, or two
group-commit batches)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg

from callbox.model.vocabulary import Channel
from callbox.providers.base import MessagePart, MessageReceived
from callbox.store.apply import encode_events
from tests.support import store_and_apply


def part(number: int, count: int, text: str, *, group: str = "+447700900001>#5") -> str:
    event = MessageReceived(
        dedupe_key=f"inbound:part-{group}-{number}-{text}",
        provider_message_id=f"id-{number}-{text}",
        channel=Channel.SMS,
        sender="+447700900001",
        recipient="+447700900000",
        body=text,
        occurred_at=datetime(2026, 12, 2, 10, number, tzinfo=UTC),
        metadata={"concat-ref": "5"},
        part=MessagePart(group=group, number=number, count=count),
    )
    return encode_events([event])


async def ingest(connection: asyncpg.Connection, events: str) -> list[int]:
    item = {
        "receiver": "parts",
        "provider": "vonage",
        "received_at": datetime.now(UTC).isoformat(),
        "peer": "127.0.0.1",
        "client": "127.0.0.1",
        "method": "POST",
        "content_type": "application/json",
        "headers": {},
        "body_size": 0,
        "query_string": "",
        "our_address": None,
        "events": json.loads(events),
    }
    (row,) = await store_and_apply(connection, [item], [b""])
    assert row["applied"] == 1
    return list(row["message_ids"])


async def test_the_last_two_parts_written_at_once_are_joined_once(
    db: asyncpg.Connection, database_url: str
) -> None:
    first = await asyncpg.connect(database_url)
    second = await asyncpg.connect(database_url)
    try:
        one = first.transaction()
        two = second.transaction()
        await one.start()
        await two.start()
        assert await ingest(first, part(1, 2, "Hello ")) == []
        # The other part's transaction waits for the group's lock...
        waiting = asyncio.create_task(ingest(second, part(2, 2, "world")))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await one.commit()
        # ...then sees the committed first part, and joins both.
        joined = await asyncio.wait_for(waiting, timeout=10)
        await two.commit()
    finally:
        await first.close()
        await second.close()
    rows = await db.fetch("SELECT id, provider_message_id, body, metadata FROM callbox_message")
    assert [(row["id"], row["provider_message_id"], row["body"]) for row in rows] == [
        (joined[0], "id-1-Hello ", "Hello world")
    ]
    assert json.loads(rows[0]["metadata"]) == {
        "concat-ref": "5",
        "parts": ["id-1-Hello ", "id-2-world"],
    }
    assert await db.fetchval("SELECT array_agg(DISTINCT message) FROM callbox_message_part") == [
        joined[0]
    ]


async def test_a_part_sent_twice_under_two_ids_is_joined_once(db: asyncpg.Connection) -> None:
    assert await ingest(db, part(2, 2, "world")) == []
    assert await ingest(db, part(2, 2, "World")) == []  # the same part, another id
    [message] = await ingest(db, part(1, 2, "Hello "))
    assert await db.fetchval("SELECT body FROM callbox_message WHERE id = $1", message) == (
        "Hello world"  # the first to arrive of each number
    )
    waiting = await db.fetchval("SELECT count(*) FROM callbox_message_part WHERE message IS NULL")
    assert waiting == 0


async def test_parts_of_other_groups_and_other_counts_wait_apart(db: asyncpg.Connection) -> None:
    assert await ingest(db, part(1, 2, "a", group="+447700900001>#6")) == []
    assert await ingest(db, part(2, 3, "b", group="+447700900001>#5")) == []
    assert await ingest(db, part(1, 2, "c", group="+447700900001>#5")) == []
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0
    [message] = await ingest(db, part(2, 2, "d", group="+447700900001>#5"))
    assert await db.fetchval("SELECT body FROM callbox_message WHERE id = $1", message) == "cd"
    waiting = await db.fetch(
        "SELECT part_group, part_number, part_count FROM callbox_message_part"
        " WHERE message IS NULL ORDER BY id"
    )
    assert [tuple(row) for row in waiting] == [
        ("+447700900001>#6", 1, 2),
        ("+447700900001>#5", 2, 3),
    ]


async def test_a_purged_request_takes_its_waiting_part_with_it(db: asyncpg.Connection) -> None:
    await ingest(db, part(1, 2, "alone"))
    await db.execute("DELETE FROM callbox_notification")
    assert await db.fetchval("SELECT count(*) FROM callbox_message_part") == 0
