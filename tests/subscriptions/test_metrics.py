"""The subscription metrics agree with what subscribers were sent."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from callbox.settings import GraphQL, Metrics, Subscriptions
from tests.graphql.support import api_keys, receivers
from tests.ops.test_metrics import METRICS_TOKEN, SCRAPE, samples
from tests.subscriptions.support import live_server, transport_ws
from tests.support import settings_for


async def test_open_subscriptions_and_events_fanned_out_are_counted(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBOX_TEST_METRICS_TOKEN", METRICS_TOKEN)
    settings = settings_for(
        database_url,
        receivers(),
        graphql=GraphQL(api_keys=api_keys()),
        subscriptions=Subscriptions(),
        metrics=Metrics(enabled=True, bearer=["env:CALLBOX_TEST_METRICS_TOKEN"]),
    )
    async with live_server(settings) as live:

        async def scrape() -> dict[str, float]:
            response = await live.http.get(f"{live.base}/metrics", headers=SCRAPE)
            assert response.status_code == 200
            found = samples(response.text)
            return {
                "open": found[("callbox_subscriptions_open", ())],
                "fanned_out": found[("callbox_events_fanned_out_total", ())],
            }

        async with transport_ws(live.base) as client:
            everything = await client.events()
            notify_only = await client.events({"receiver": "notify"})
            esendex_only = await client.events({"receiver": "esendex"})
            assert (await scrape())["open"] == 3
            for index in range(3):
                await live.notify_inbound(text=f"notify {index}")
            await live.esendex_inbound(text="esendex")
            assert len(await everything.take(4)) == 4
            assert len(await notify_only.take(3)) == 3
            assert len(await esendex_only.take(1)) == 1
            await asyncio.sleep(0.1)  # counted when the subscriber asks for more
            assert await scrape() == {"open": 3, "fanned_out": 4 + 3 + 1}
            await esendex_only.complete()
            for _ in range(50):
                if (await scrape())["open"] == 2:
                    break
                await asyncio.sleep(0.1)
            assert (await scrape())["open"] == 2
        for _ in range(50):
            if (await scrape())["open"] == 0:
                break
            await asyncio.sleep(0.1)
        assert await scrape() == {"open": 0, "fanned_out": 8}
