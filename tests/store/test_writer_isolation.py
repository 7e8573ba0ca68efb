"""One item PostgreSQL refuses does not sink the batch it was stored or applied in."""

from __future__ import annotations

import asyncio
import json
import random
import string
from datetime import UTC, datetime

import asyncpg
import pytest

from callbox.providers.base import InboundRequest
from callbox.receivers import prepare_receiver
from callbox.settings import Receiver
from callbox.store.applier import Applier
from callbox.store.apply import encode_events
from callbox.store.writer import IngestItem, IngestWriter
from tests.support import notify_receipt


def _item(receiver_name: str, body: bytes) -> IngestItem:
    receiver = prepare_receiver(Receiver(name=receiver_name, provider="notify"), 0)
    # The provider's parser alone: the writer's isolation is the second line behind the
    # bounds ReadyReceiver.parse checks (callbox.providers.bounds).
    request = InboundRequest.from_stored("POST", "application/json", {}, body, "")
    events = receiver.provider.parse(request, receiver.context)
    return IngestItem(
        receiver=receiver.name,
        provider="notify",
        received_at=datetime.now(UTC),
        peer="127.0.0.1",
        client="127.0.0.1",
        method="POST",
        content_type="application/json",
        headers={},
        body=body,
        body_size=len(body),
        query_string="",
        our_address=None,
        events_json=encode_events(list(events)),
    )


async def test_an_oversized_index_value_fails_only_its_own_item(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Issue 15's repro: a 3,200-character Notify id among 40 good callbacks of two receivers,
    stored in one group commit and applied in one batch: the 40 are applied, the bad one is
    kept FAILED with the database's reason (PostgreSQL refused its index row)."""
    # Incompressible, so PostgreSQL cannot squeeze it under the B-tree row limit (~2.7 kB).
    rng = random.Random(7)
    huge_id = "".join(rng.choices(string.ascii_letters + string.digits, k=3200))
    good = [
        _item(receiver, notify_receipt(f"{receiver}-{index:04d}"))
        for index in range(20)
        for receiver in ("notify-a", "notify-b")
    ]
    bad = _item("notify-a", notify_receipt(huge_id))
    items = [*good[:17], bad, *good[17:]]

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    writer = IngestWriter(pool, writers=1, max_batch=64)
    applier = Applier(pool, max_batch=64)
    await writer.start()
    try:
        stored = await asyncio.gather(*(writer.write(item) for item in items))
        assert {row.state for row in stored} == {"PENDING"}
        await applier.start()
        applied = await asyncio.gather(*(applier.applied(row.notification_id) for row in stored))
    finally:
        await writer.stop()
        await applier.stop()
        await pool.close()

    states = [row.state for row in applied]
    assert states[17] == "FAILED"
    assert states[:17] + states[18:] == ["ACCEPTED"] * 40
    assert applied[17].reason is not None
    assert applied[17].reason.startswith("value refused by the database: index row")
    rows = await db.fetch("SELECT state, reason FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in rows] == states
    assert rows[17]["reason"] == applied[17].reason  # for `callbox reprocess`
    assert await db.fetchval("SELECT count(*) FROM callbox_pending_apply") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 40


@pytest.mark.parametrize(
    ("field", "named"), [("id", "provider_message_id"), ("reference", "reference")]
)
async def test_an_oversized_value_is_a_400_naming_the_field(
    db: asyncpg.Connection, database_url: str, field: str, named: str
) -> None:
    """Refused at parse time, before the database sees it (issue 15, item 6)."""
    from tests.support import callbox_client, settings_for

    rng = random.Random(11)
    huge = "".join(rng.choices(string.ascii_letters + string.digits, k=3200))
    body = json.loads(notify_receipt("ok-id"))
    body[field] = huge
    settings = settings_for(database_url, [Receiver(name="notify", provider="notify")])
    async with callbox_client(settings) as client:
        response = await client.post(
            "/hooks/notify", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.text == f"{named} of 3200 characters is too long (at most 255)"
    state = await db.fetchval("SELECT state FROM callbox_notification")
    assert state == "REJECTED"
