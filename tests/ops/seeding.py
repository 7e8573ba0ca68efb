"""Seed a database through the real ingest path, with chosen arrival times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from callbox.ingest.pipeline import IngestOutcome, ingest
from callbox.receivers import ReadyReceiver, prepare_receiver
from callbox.settings import Settings
from callbox.store import Store
from callbox.store.applier import Applier
from callbox.store.instance_key import InstanceKey
from callbox.store.raw_requests import RawRequest
from callbox.store.writer import IngestWriter


@dataclass
class Seeder:
    store: Store
    receivers: dict[str, ReadyReceiver]

    async def post(
        self, receiver: str, body: bytes, received_at: datetime, content_type: str
    ) -> IngestOutcome:
        raw = RawRequest(
            receiver=self.receivers[receiver],
            received_at=received_at,
            peer_address="127.0.0.1",
            client_address="127.0.0.1",
            method="POST",
            content_type=content_type,
            headers={"content-type": content_type},
            body=body,
            body_size=len(body),
            query_string="",
        )
        outcome = await ingest(self.store, raw)
        assert outcome.status_code == 200, outcome.reason
        return outcome


@asynccontextmanager
async def seeder(database_url: str, settings: Settings) -> AsyncIterator[Seeder]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    writer = IngestWriter(pool)
    applier = Applier(pool)
    await writer.start()
    await applier.start()
    try:
        yield Seeder(
            Store(pool, writer, applier, InstanceKey(pool), acknowledge="applied"),
            {r.name: prepare_receiver(r, i) for i, r in enumerate(settings.receivers)},
        )
    finally:
        await writer.stop()
        await applier.stop()
        await pool.close()
