"""End to end through HTTP: receivers store raw requests and apply normalised events."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx

from callbox.settings import Auth, Receiver
from tests.support import callbox_client, served, settings_for

NOTIFY_TOKEN = "notify-token-0123456789"


def notify_receipt(status: str, completed_at: str, *, to: str = "+447700900123") -> bytes:
    return json.dumps(
        {
            "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
            "reference": "ref-1",
            "to": to,
            "status": status,
            "notification_type": "sms",
            "created_at": "2026-11-22T10:00:00.000000Z",
            "completed_at": completed_at,
            "sent_at": "2026-11-22T10:00:01.000000Z",
        }
    ).encode()


def receivers() -> list[Receiver]:
    return [
        Receiver(
            name="notify",
            provider="notify",
            auth=Auth(bearer=[NOTIFY_TOKEN]),
            default_region="GB",
            our_address="+447700900999",
        ),
        Receiver(name="esendex", provider="esendex", default_region="GB"),
    ]


BEARER = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}


async def test_notify_receipt_is_stored_and_normalised(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings_for(database_url, receivers())) as client:
        body = notify_receipt("delivered", "2026-11-22T10:00:05.000000Z")
        response = await client.post("/hooks/notify", content=body, headers=BEARER)
    assert response.status_code == 200
    assert response.content == b""
    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert notification["state"] == "ACCEPTED"
    assert bytes(notification["body"]) == body
    assert "authorization" not in json.loads(notification["headers"])
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert message["direction"] == "OUTBOUND"
    assert message["status"] == "DELIVERED"
    assert message["provider_status"] == "delivered"
    assert message["recipient"] == "+447700900123"
    assert message["sender"] == "+447700900999"
    assert message["reference"] == "ref-1"
    assert message["delivered_at"].isoformat() == "2026-11-22T10:00:05+00:00"
    assert message["conversation"] is not None


async def test_same_callback_fifty_times_concurrently_applies_once(
    db: asyncpg.Connection, database_url: str
) -> None:
    body = notify_receipt("delivered", "2026-11-22T10:00:05.000000Z")
    # A real server: the test client would run the 50 requests one after another.
    settings = settings_for(database_url, receivers())
    async with served(settings) as base, httpx.AsyncClient(base_url=base) as client:
        responses = await asyncio.gather(
            *(client.post("/hooks/notify", content=body, headers=BEARER) for _ in range(50))
        )
    assert [response.status_code for response in responses] == [200] * 50
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1
    assert await db.fetchval("SELECT count(*) FROM callbox_status_event") == 1
    states = await db.fetch(
        "SELECT state, count(*) AS n FROM callbox_notification GROUP BY state ORDER BY state"
    )
    assert {row["state"]: row["n"] for row in states} == {"ACCEPTED": 1, "DUPLICATE": 49}


async def test_late_sending_after_delivered_keeps_delivered(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings_for(database_url, receivers())) as client:
        delivered = notify_receipt("delivered", "2026-11-22T10:00:05.000000Z")
        sending = notify_receipt("sending", "2026-11-22T10:00:02.000000Z")
        assert (
            await client.post("/hooks/notify", content=delivered, headers=BEARER)
        ).status_code == 200
        assert (
            await client.post("/hooks/notify", content=sending, headers=BEARER)
        ).status_code == 200
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert message["status"] == "DELIVERED"
    history = await db.fetch("SELECT status, provider_status FROM callbox_status_event ORDER BY id")
    assert [(row["status"], row["provider_status"]) for row in history] == [
        ("DELIVERED", "delivered"),
        ("SENT", "sending"),
    ]


async def test_between_two_final_statuses_the_later_provider_time_wins(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings_for(database_url, receivers())) as client:
        later = notify_receipt("permanent-failure", "2026-11-22T10:00:09.000000Z")
        earlier = notify_receipt("delivered", "2026-11-22T10:00:05.000000Z")
        await client.post("/hooks/notify", content=later, headers=BEARER)
        await client.post("/hooks/notify", content=earlier, headers=BEARER)
    message = await db.fetchrow("SELECT status, failure_reason FROM callbox_message")
    assert (message["status"], message["failure_reason"]) == ("FAILED", "PERMANENT")
    assert await db.fetchval("SELECT count(*) FROM callbox_status_event") == 2


async def test_inbound_esendex_and_outbound_notify_share_a_conversation(
    db: asyncpg.Connection, database_url: str
) -> None:
    inbound = b"""<InboundMessage>
 <Id>a8f2c1d0-0000-4000-8000-000000000001</Id>
 <MessageId>b1c2d3e4-0000-4000-8000-000000000002</MessageId>
 <AccountId>EX0000000</AccountId>
 <MessageText>Is my appointment still on?</MessageText>
 <From>07700900123</From>
 <To>447700900999</To>
</InboundMessage>"""
    async with callbox_client(settings_for(database_url, receivers())) as client:
        first = await client.post(
            "/hooks/esendex", content=inbound, headers={"Content-Type": "application/xml"}
        )
        second = await client.post(
            "/hooks/notify",
            content=notify_receipt("delivered", "2026-11-22T10:00:05.000000Z"),
            headers=BEARER,
        )
    assert (first.status_code, second.status_code) == (200, 200)
    rows = await db.fetch(
        "SELECT direction, sender, recipient, conversation FROM callbox_message ORDER BY id"
    )
    assert [(row["direction"], row["sender"], row["recipient"]) for row in rows] == [
        ("INBOUND", "+447700900123", "+447700900999"),
        ("OUTBOUND", "+447700900999", "+447700900123"),
    ]
    assert rows[0]["conversation"] == rows[1]["conversation"] is not None
    conversation = await db.fetchrow("SELECT * FROM callbox_conversation")
    assert conversation["message_count"] == 2
    assert (conversation["our_address"], conversation["their_address"]) == (
        "+447700900999",
        "+447700900123",
    )


async def test_esendex_receipt_for_unknown_message_creates_it_once(
    db: asyncpg.Connection, database_url: str
) -> None:
    def delivered(push_id: str) -> bytes:
        return f"""<MessageDelivered xmlns="http://api.esendex.com/ns/">
 <Id>{push_id}</Id>
 <MessageId>c0ffee00-0000-4000-8000-000000000003</MessageId>
 <AccountId>EX0000000</AccountId>
 <OccurredAt>2026-11-22T10:00:05.1234567Z</OccurredAt>
</MessageDelivered>""".encode()

    async with callbox_client(settings_for(database_url, receivers())) as client:
        for push_id in ("push-1", "push-1", "push-2"):
            response = await client.post(
                "/hooks/esendex", content=delivered(push_id), headers={"Content-Type": "text/xml"}
            )
            assert response.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert (message["status"], message["recipient"], message["conversation"]) == (
        "DELIVERED",
        None,
        None,
    )
    states = [
        row["state"] for row in await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    ]
    assert states == ["ACCEPTED", "DUPLICATE", "ACCEPTED"]


async def test_head_probe_answers_200(db: asyncpg.Connection, database_url: str) -> None:
    async with callbox_client(settings_for(database_url, receivers())) as client:
        response = await client.head("/hooks/esendex")
    assert response.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0


async def test_keyword_stop_is_an_opt_out_and_start_opts_back_in(
    db: asyncpg.Connection, database_url: str
) -> None:
    def inbound(message_id: str, text: str) -> bytes:
        return f"""<InboundMessage><Id>{message_id}-push</Id><MessageId>{message_id}</MessageId>
<AccountId>EX1</AccountId><MessageText>{text}</MessageText><From>07700900123</From>
<To>447700900999</To></InboundMessage>""".encode()

    async with callbox_client(settings_for(database_url, receivers())) as client:
        await client.post("/hooks/esendex", content=inbound("m1", " Stop "))
        await client.post("/hooks/esendex", content=inbound("m2", "START"))
        await client.post("/hooks/esendex", content=inbound("m3", "please stop calling"))
    rows = await db.fetch("SELECT address, action, source FROM callbox_opt_out ORDER BY id")
    assert [(row["address"], row["action"], row["source"]) for row in rows] == [
        ("+447700900123", "OPT_OUT", "keyword"),
        ("+447700900123", "OPT_IN", "keyword"),
    ]
