"""Events reach the subscribers whose filter (and API key) they match, only after commit, in
cursor order, over a real WebSocket to a served Callbox."""

from __future__ import annotations

import asyncio
import base64
import json
import struct

import asyncpg

from callbox.events.position import parse_cursor
from callbox.providers.postmark import PROVIDER as POSTMARK
from callbox.settings import Receiver
from tests.graphql.support import receivers
from tests.subscriptions.support import Live, live_server, live_settings, transport_ws
from tests.support import instance_sealer, settings_for

RECORD = """
mutation Record($input: RecordOutboundMessageInput!) {
  recordOutboundMessage(input: $input) { message { id } }
}
"""


async def test_a_callback_reaches_the_subscriber_of_its_conversation_only(live: Live) -> None:
    async with transport_ws(live.base) as admin, transport_ws(live.base, "esendex-only") as esendex:
        everything = await admin.events()
        await live.notify_inbound(sender="07700900123", text="first of one")
        await live.notify_inbound(sender="07700900124", text="first of other")
        one, other = (event["messageEvents"] for event in await everything.take(2))
        ours_id = one["message"]["conversation"]["id"]
        theirs_id = other["message"]["conversation"]["id"]
        assert ours_id != theirs_id

        ours = await admin.events({"conversationId": ours_id})
        theirs = await admin.events({"conversationId": theirs_id})
        confined = await esendex.events()
        confined_asking_for_notify = await esendex.events({"receiver": "notify"})

        await live.notify_inbound(sender="07700900123", text="second of one")
        event = (await ours.next())["messageEvents"]
        assert event["kind"] == "RECEIVED"
        assert event["receiver"] == "notify"
        assert event["address"] == "+447700900123"
        assert event["message"]["body"] == "second of one"
        assert event["message"]["conversation"]["id"] == ours_id
        assert event["statusEvent"] == {"status": "RECEIVED"}

        await live.esendex_inbound(text="for the confined key")
        seen = (await confined.next())["messageEvents"]
        assert seen["receiver"] == "esendex"
        assert seen["message"]["body"] == "for the confined key"

        # Nothing else went anywhere: not the other conversation, not the confined key.
        await asyncio.gather(
            theirs.silent_for(1.0),
            ours.silent_for(0.1),
            confined.silent_for(0.1),
            confined_asking_for_notify.silent_for(0.1),
        )
        bodies = [event["messageEvents"]["message"]["body"] for event in await everything.take(2)]
        assert bodies == ["second of one", "for the confined key"]


async def test_every_kind_of_change_is_an_event(live: Live) -> None:
    async with transport_ws(live.base) as admin:
        everything = await admin.events()
        opt_outs = await admin.events({"kinds": ["OPTED_OUT"]})
        by_address = await admin.events({"address": "07700900123", "receiver": "notify"})

        recorded = await live.graphql(
            RECORD,
            {
                "input": {
                    "receiver": "notify",
                    "providerMessageId": "out-1",
                    "to": "07700900123",
                    "body": "Your code is 1234",
                }
            },
        )
        assert "errors" not in recorded, recorded
        await live.notify_receipt("out-1", "sending")
        await live.notify_receipt("out-1", "delivered")
        await live.notify_inbound(sender="07700900123", text="STOP")

        events = [event["messageEvents"] for event in await everything.take(5)]
        assert [event["kind"] for event in events] == [
            "RECORDED",
            "STATUS_CHANGED",
            "STATUS_CHANGED",
            "RECEIVED",
            "OPTED_OUT",
        ]
        recorded_event, sending, delivered, stop, opted_out = events
        assert recorded_event["message"]["direction"] == "OUTBOUND"
        assert recorded_event["address"] == "+447700900123"
        assert recorded_event["statusEvent"] is None
        # Each event says what it applied; the message is as it is when the event is sent.
        assert [sending["statusEvent"]["status"], delivered["statusEvent"]["status"]] == [
            "SENT",
            "DELIVERED",
        ]
        assert delivered["message"]["status"] == "DELIVERED"
        assert stop["message"]["body"] == "STOP"
        assert opted_out["optOut"] == {"action": "OPT_OUT", "address": "+447700900123"}
        cursors = [event["cursor"] for event in events]
        assert len(set(cursors)) == 5

        assert (await opt_outs.next())["messageEvents"]["kind"] == "OPTED_OUT"
        assert len(await by_address.take(5)) == 5
        await opt_outs.silent_for(0.5)


async def test_the_message_is_read_fresh_for_each_event(live: Live) -> None:
    """A subscription's DataLoaders do not cache across events."""
    async with transport_ws(live.base) as admin:
        events = await admin.events()
        await live.notify_receipt("out-2", "sending")
        first = (await events.next())["messageEvents"]
        await live.notify_receipt("out-2", "delivered")
        second = (await events.next())["messageEvents"]
        assert first["message"]["status"] == "SENT"
        assert second["message"]["status"] == "DELIVERED"
        assert first["message"]["id"] == second["message"]["id"]


_EMIT = """
SELECT callbox_emit_event('RECEIVED', 'notify', 'INBOUND', NULL, NULL, NULL, NULL, $1),
       pg_notify('callbox_events', 'test')
"""


async def test_events_are_sent_only_after_commit(live: Live, database_url: str) -> None:
    """While the transaction is open the reader is woken anyway (a notification from another
    connection), so it does read the log then: the event must still wait for the commit."""
    async with transport_ws(live.base) as admin:
        events = await admin.events()
        writer = await asyncpg.connect(database_url)
        waker = await asyncpg.connect(database_url)
        try:
            transaction = writer.transaction()
            await transaction.start()
            await writer.execute(_EMIT, "rolled back")
            await waker.execute("SELECT pg_notify('callbox_events', 'wake')")
            await events.silent_for(1.0)
            await transaction.rollback()

            transaction = writer.transaction()
            await transaction.start()
            await writer.execute(_EMIT, "committed")
            await waker.execute("SELECT pg_notify('callbox_events', 'wake')")
            await events.silent_for(1.0)
            await transaction.commit()
            event = (await events.next())["messageEvents"]
            assert event["address"] == "committed"
            assert event["message"] is None
            await events.silent_for(0.5)
        finally:
            await writer.close()
            await waker.close()


async def test_a_later_transaction_waits_for_an_older_one(live: Live, database_url: str) -> None:
    """Cursor order is (transaction id, row id): a row of a younger transaction that commits
    first is held back until the older one ends, so a cursor never passes a row that could
    still appear before it."""
    async with transport_ws(live.base) as admin:
        events = await admin.events()
        older, younger = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
        try:
            older_transaction = older.transaction()
            await older_transaction.start()
            await older.execute(_EMIT, "older")  # takes its transaction id first
            async with younger.transaction():
                await younger.execute(_EMIT, "younger")
            await events.silent_for(1.0)  # committed, but behind a running older transaction
            await older_transaction.commit()
            first, second = (event["messageEvents"] for event in await events.take(2))
            assert [first["address"], second["address"]] == ["older", "younger"]
        finally:
            await older.close()
            await younger.close()


async def test_event_cursors_hold_no_transaction_or_row_number(
    live: Live, db: asyncpg.Connection
) -> None:
    """A cursor seals the event's place ``(xid, id)``: both count everything the instance
    does, for every receiver, so a confined key must not read them (hardening, item 11)."""
    async with transport_ws(live.base, "esendex-only") as client:
        events = await client.events()
        await live.esendex_inbound(text="one")
        cursor = (await events.next())["messageEvents"]["cursor"]
    xid, row_id = await db.fetchrow("SELECT xid::text::bigint, id FROM callbox_event")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    readable = {struct.unpack(">q", raw[i : i + 8])[0] for i in range(len(raw) - 7)}
    readable |= {int(part) for part in raw.decode("latin-1").split(":") if part.isdigit()}
    assert not {xid, row_id} & readable
    position = parse_cursor(cursor, await instance_sealer(db))
    assert position.key == (xid, row_id)


def postmark_record(record_type: str) -> bytes:
    (sample,) = [
        sample
        for sample in POSTMARK.samples
        if json.loads(sample.body).get("RecordType") == record_type
        and json.loads(sample.body)["MessageID"] == POSTMARK_MESSAGE
    ]
    return sample.body


POSTMARK_MESSAGE = "883953f4-6105-42a2-a16a-77a8eac79483"
REPORTS = """
subscription Events($filter: MessageEventFilter) {
  messageEvents(filter: $filter) {
    kind message { status openedAt clickedAt } statusEvent { kind status }
  }
}
"""


async def test_an_open_or_a_click_is_reported_not_a_status_change(
    db: asyncpg.Connection, database_url: str
) -> None:
    """An open changes no status: subscribers get it as REPORTED (its statusEvent.kind says
    which report), and only a status report is a STATUS_CHANGED."""
    settings = live_settings(database_url)
    settings = settings_for(
        database_url,
        [*receivers(), Receiver(name="postmark", provider="postmark")],
        graphql=settings.graphql,
        subscriptions=settings.subscriptions,
    )
    async with live_server(settings) as live, transport_ws(live.base) as admin:
        everything = await admin.subscribe(REPORTS, {"filter": {"receiver": "postmark"}})
        reported = await admin.subscribe(REPORTS, {"filter": {"kinds": ["REPORTED"]}})
        changed = await admin.subscribe(REPORTS, {"filter": {"kinds": ["STATUS_CHANGED"]}})
        await asyncio.sleep(0.3)
        for record_type in ("Delivery", "Open", "Click"):
            await live.post_callback("postmark", postmark_record(record_type), "application/json")

        events = [event["messageEvents"] for event in await everything.take(3)]
        assert [(e["kind"], e["statusEvent"]) for e in events] == [
            ("STATUS_CHANGED", {"kind": "STATUS", "status": "DELIVERED"}),
            ("REPORTED", {"kind": "OPENED", "status": "DELIVERED"}),
            ("REPORTED", {"kind": "CLICKED", "status": "DELIVERED"}),
        ]
        assert events[-1]["message"]["status"] == "DELIVERED"
        assert events[-1]["message"]["openedAt"] is not None
        assert [e["messageEvents"]["kind"] for e in await reported.take(2)] == ["REPORTED"] * 2
        assert (await changed.next())["messageEvents"]["statusEvent"]["kind"] == "STATUS"
        await asyncio.gather(reported.silent_for(0.5), changed.silent_for(0.1))
