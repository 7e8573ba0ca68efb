"""Resume: a subscriber that comes back with its last cursor gets every event it missed, in
order, then live ones, with no gap and no repeat, even while events keep coming."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.subscriptions.support import Live, transport_ws
from tests.support import event_keys


async def test_a_reconnecting_subscriber_gets_exactly_what_it_missed_then_live(
    live: Live, database_url: str
) -> None:
    async with transport_ws(live.base) as client:
        events = await client.events({"receiver": "notify"})
        await live.notify_inbound(text="before")
        last = (await events.next())["messageEvents"]
    # Disconnected: 100 events it does not see (and one it would not match anyway).
    for index in range(100):
        await live.notify_inbound(text=f"missed {index}")
    await live.esendex_inbound(text="another receiver")

    async with transport_ws(live.base) as client:
        events = await client.events({"receiver": "notify"}, after=last["cursor"], settle=0)
        missed = [event["messageEvents"] for event in await events.take(100)]
        assert [event["message"]["body"] for event in missed] == [
            f"missed {index}" for index in range(100)
        ]
        await events.silent_for(0.5)
        await live.notify_inbound(text="live")
        assert (await events.next())["messageEvents"]["message"]["body"] == "live"
        await events.silent_for(0.5)

    keys = await event_keys(database_url, *(event["cursor"] for event in [last, *missed]))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


async def test_resuming_while_events_keep_coming_neither_skips_nor_repeats(
    live: Live, db: asyncpg.Connection, database_url: str
) -> None:
    async with transport_ws(live.base) as client:
        first_events = await client.events()
        await live.notify_inbound(text="begin")  # ("start" would opt back in: two events)
        start = (await first_events.next())["messageEvents"]["cursor"]

    async def write(worker: int) -> None:
        for index in range(40):
            await live.notify_inbound(sender=f"0770090{worker:04d}", text=f"{worker}-{index}")

    writers = [asyncio.create_task(write(worker)) for worker in range(5)]
    await asyncio.sleep(0.3)  # some are written before the subscriber comes back
    async with transport_ws(live.base) as client:
        events = await client.events(after=start, settle=0)
        received = [event["messageEvents"]["cursor"] for event in await events.take(200, wait=60)]
        await asyncio.gather(*writers)
        await events.silent_for(1.0)

    (start_key,) = await event_keys(database_url, start)
    stored = [
        (int(row["xid"]), row["id"])
        for row in await db.fetch("SELECT xid::text AS xid, id FROM callbox_event ORDER BY xid, id")
        if (int(row["xid"]), row["id"]) > start_key
    ]
    assert await event_keys(database_url, *received) == stored
    assert len(stored) == 200


async def test_a_cursor_resumes_a_narrower_filter(live: Live) -> None:
    async with transport_ws(live.base) as client:
        events = await client.events()
        await live.notify_inbound(text="seen")
        cursor = (await events.next())["messageEvents"]["cursor"]
    await live.notify_inbound(text="missed, notify")
    await live.esendex_inbound(text="missed, esendex")
    async with transport_ws(live.base, "esendex-only") as client:
        # A cursor says where in the log; the key and the filter say which events.
        events = await client.events(after=cursor, settle=0)
        assert (await events.next())["messageEvents"]["message"]["body"] == "missed, esendex"
        await events.silent_for(0.5)
