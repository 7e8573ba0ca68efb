"""The subscription metrics agree with what subscribers were sent."""

from __future__ import annotations

import asyncpg

from tests.subscriptions.support import live_server, live_settings, transport_ws

OPEN = "callbox_subscriptions_open"
FANNED_OUT = "callbox_events_fanned_out_total"


async def test_open_subscriptions_and_events_fanned_out_are_counted(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with live_server(live_settings(database_url, metrics=True)) as live:
        async with transport_ws(live.base) as client:
            everything = await client.events()
            notify_only = await client.events({"receiver": "notify"})
            esendex_only = await client.events({"receiver": "esendex"})
            assert await live.metric(OPEN) == 3
            for index in range(3):
                await live.notify_inbound(text=f"notify {index}")
            await live.esendex_inbound(text="esendex")
            assert len(await everything.take(4)) == 4
            assert len(await notify_only.take(3)) == 3
            assert len(await esendex_only.take(1)) == 1
            # Counted when the subscriber asks for more, a moment after it was sent.
            await live.metric_reaches(FANNED_OUT, 4 + 3 + 1)
            assert await live.metric(OPEN) == 3
            await esendex_only.complete()
            await live.metric_reaches(OPEN, 2)
        await live.metric_reaches(OPEN, 0)
        assert await live.metric(FANNED_OUT) == 8
