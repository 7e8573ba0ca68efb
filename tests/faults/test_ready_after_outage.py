"""Item 17 of issue 16: once the database is back after an outage, ``/ready`` is 200 at once,
not after the event listener's reconnect backoff has run out (up to 5 s, while everything
else is ready): the readiness check makes the listener try again now.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres
from callbox.events import hub
from tests.faults.support import fault_settings
from tests.support import served


async def test_ready_comes_back_with_the_database_not_after_the_listener_backoff(
    private_postgres: list[EmbeddedPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long backoffs from the first failure, so that the test need not wait for them to grow:
    # the listener's next own attempt is seconds after the database is back.
    monkeypatch.setattr(hub, "BACKOFF_FIRST_SECONDS", 8.0)
    monkeypatch.setattr(hub, "BACKOFF_MAX_SECONDS", 16.0)
    data_dir, url = private_postgres[0].data_dir, private_postgres[0].url
    async with served(fault_settings(url)) as base, httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{base}/ready")).status_code == 200
        await asyncio.to_thread(private_postgres[0].stop)
        for _ in range(100):  # the listener notices and starts backing off
            if (await http.get(f"{base}/ready")).status_code == 503:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        private_postgres[0] = await asyncio.to_thread(start_embedded_postgres, data_dir)
        assert private_postgres[0].url == url
        back = time.monotonic()
        while (ready := await http.get(f"{base}/ready")).status_code != 200:
            assert time.monotonic() - back < 20, ready.text
            await asyncio.sleep(0.05)
        took = time.monotonic() - back
        assert took < 1.5, (took, ready.text)
