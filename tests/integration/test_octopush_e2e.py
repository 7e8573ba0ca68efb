"""Octopush end to end over HTTP: receipts, replies and STOPs, current JSON and legacy forms.

Octopush dates carry no zone; the receiver reads them in Europe/Paris (its default), so
``10:31:02`` on 15 March (CET, UTC+1) is stored as ``09:31:02Z`` and ``12:00:00`` on 1 July
(CEST, UTC+2) as ``10:00:00Z``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest

from callbox.settings import Receiver
from tests.support import callbox_client, settings_for

OUR_NUMBER = "+33639980001"
TICKET = "sms_5fa275dbf21dc"
LEGACY_TICKET = "api110000000021"

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

COUNTED_TABLES = (
    "callbox_notification",
    "callbox_message",
    "callbox_status_event",
    "callbox_conversation",
    "callbox_opt_out",
    "callbox_applied_event",
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def json_body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def form_body(**fields: str) -> bytes:
    return urlencode(fields).encode()


def reply_id(ticket: str | None, sender: str, date_digits: str, text: str) -> str:
    """The documented reply identity: ``{ticket}:{sender}:{date digits}:{sha256(text)[:12]}``."""
    text_hash = hashlib.sha256(text.encode()).hexdigest()[:12]
    base = f"{sender}:{date_digits}:{text_hash}"
    return f"{ticket}:{base}" if ticket else base


def receivers(**extra: Any) -> list[Receiver]:
    return [Receiver(name="octopush", provider="octopush", our_address=OUR_NUMBER, **extra)]


async def post(
    database_url: str, *requests: tuple[bytes, dict[str, str]], **receiver_options: Any
) -> list[Any]:
    settings = settings_for(database_url, receivers(**receiver_options))
    async with callbox_client(settings) as client:
        return [
            await client.post("/hooks/octopush", content=body, headers=headers)
            for body, headers in requests
        ]


async def counts(db: asyncpg.Connection) -> dict[str, int]:
    return {table: await db.fetchval(f"SELECT count(*) FROM {table}") for table in COUNTED_TABLES}


async def snapshot(db: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    return {
        table: [dict(row) for row in await db.fetch(f"SELECT * FROM {table} ORDER BY id")]
        for table in COUNTED_TABLES
        if table != "callbox_notification"
    }


def assert_empty_200(response: Any) -> None:
    assert response.status_code == 200, response.text
    # Octopush: "The page targeted by the URL must not display anything".
    assert response.content == b""


# Delivery receipts -------------------------------------------------------------------------


async def test_json_delivery_receipt_is_stored_with_paris_time(
    db: asyncpg.Connection, database_url: str
) -> None:
    body = json_body(
        channel="sms",
        message_id=TICKET,
        list_name="Clients",
        number="+33600000000",
        status="DELIVERED",
        unit_price=0.045,
        delivery_date="2024-03-15 10:31:02",
        meta_data={"campaign": "march"},
    )
    [response] = await post(database_url, (body, JSON))
    assert_empty_200(response)

    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert notification["state"] == "ACCEPTED"
    assert notification["reason"] is None
    assert notification["event_count"] == 1
    assert (notification["receiver"], notification["provider"]) == ("octopush", "octopush")
    assert notification["method"] == "POST"
    assert notification["content_type"] == "application/json"
    assert bytes(notification["body"]) == body
    assert notification["body_size"] == len(body)
    received_at = notification["received_at"]

    message = dict(await db.fetchrow("SELECT * FROM callbox_message"))
    conversation_id = message.pop("conversation")
    message_id = message.pop("id")
    metadata = json.loads(message.pop("metadata"))
    assert message == {
        "provider": "octopush",
        "receiver": "octopush",
        "provider_message_id": f"{TICKET}:+33600000000",
        "direction": "OUTBOUND",
        "channel": "SMS",
        "sender": OUR_NUMBER,
        "recipient": "+33600000000",
        "body": None,
        "status": "DELIVERED",
        "provider_status": "DELIVERED",
        "failure_reason": None,
        "reference": None,
        # 10:31:02 in Paris on 15 March is CET (UTC+1).
        "status_occurred_at": utc("2024-03-15T09:31:02"),
        "created_at": received_at,
        "sent_at": None,
        "delivered_at": utc("2024-03-15T09:31:02"),
        "updated_at": received_at,
        "occurred_at": utc("2024-03-15T09:31:02"),
        "received_at": received_at,
        "in_reply_to": None,
        "is_test": False,
        "subject": None,
        "opened_at": None,
        "clicked_at": None,
    }
    assert metadata == {
        "channel": "sms",
        "list_name": "Clients",
        "unit_price": 0.045,
        "meta_data": {"campaign": "march"},
    }

    event = dict(await db.fetchrow("SELECT * FROM callbox_status_event"))
    assert event.pop("id") is not None
    assert event == {
        "message": message_id,
        "status": "DELIVERED",
        "provider_status": "DELIVERED",
        "failure_reason": None,
        "occurred_at": utc("2024-03-15T09:31:02"),
        "received_at": received_at,
        "notification": notification["id"],
        "is_test": False,
        "kind": "STATUS",
        "bounce_type": None,
        "detail": None,
    }

    conversation = dict(await db.fetchrow("SELECT * FROM callbox_conversation"))
    assert conversation == {
        "id": conversation_id,
        "channel": "SMS",
        "our_address": OUR_NUMBER,
        "their_address": "+33600000000",
        "created_at": utc("2024-03-15T09:31:02"),
        "last_activity_at": utc("2024-03-15T09:31:02"),
        "last_message_id": message_id,
        "message_count": 1,
    }
    applied = await db.fetch("SELECT receiver, dedupe_key, notification FROM callbox_applied_event")
    assert [tuple(row) for row in applied] == [
        ("octopush", f"receipt:{TICKET}:+33600000000:DELIVERED", notification["id"])
    ]
    assert await db.fetchval("SELECT count(*) FROM callbox_opt_out") == 0


async def test_legacy_form_receipt_with_uppercase_delivery_date(
    db: asyncpg.Connection, database_url: str
) -> None:
    """The legacy API's form post, with ``DELIVERY_DATE`` in capitals and a summer date."""
    body = (
        b"message_id=api110000000021&number=0033601010101&status=NOT_DELIVERED"
        b"&DELIVERY_DATE=2024-07-01+12%3A00%3A00"
    )
    [response] = await post(database_url, (body, FORM))
    assert_empty_200(response)
    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert (notification["state"], notification["event_count"]) == ("ACCEPTED", 1)
    assert notification["content_type"] == "application/x-www-form-urlencoded"
    assert bytes(notification["body"]) == body

    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert message["provider_message_id"] == f"{LEGACY_TICKET}:+33601010101"
    assert (message["direction"], message["channel"]) == ("OUTBOUND", "SMS")
    assert (message["sender"], message["recipient"]) == (OUR_NUMBER, "+33601010101")
    assert (message["status"], message["provider_status"], message["failure_reason"]) == (
        "FAILED",
        "NOT_DELIVERED",
        "UNKNOWN",
    )
    # 12:00:00 in Paris on 1 July is CEST (UTC+2).
    assert message["status_occurred_at"] == utc("2024-07-01T10:00:00")
    assert message["occurred_at"] == utc("2024-07-01T10:00:00")
    assert message["delivered_at"] is None
    assert message["sent_at"] is None
    assert message["body"] is None
    assert json.loads(message["metadata"]) == {}
    event = await db.fetchrow("SELECT * FROM callbox_status_event")
    assert (event["status"], event["provider_status"], event["failure_reason"]) == (
        "FAILED",
        "NOT_DELIVERED",
        "UNKNOWN",
    )
    assert event["occurred_at"] == utc("2024-07-01T10:00:00")
    assert event["notification"] == notification["id"]
    assert await db.fetchval("SELECT dedupe_key FROM callbox_applied_event") == (
        f"receipt:{LEGACY_TICKET}:+33601010101:NOT_DELIVERED"
    )


async def test_lowercase_legacy_form_receipt_is_also_recognised(
    db: asyncpg.Connection, database_url: str
) -> None:
    body = form_body(
        message_id=LEGACY_TICKET,
        number="0033601010101",
        status="DELIVERED",
        delivery_date="2024-03-15 10:31:02",
    )
    [response] = await post(database_url, (body, FORM))
    assert_empty_200(response)
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert (message["status"], message["recipient"]) == ("DELIVERED", "+33601010101")
    assert message["delivered_at"] == utc("2024-03-15T09:31:02")


async def test_email_opens_and_clicks_are_history_not_statuses(
    db: asyncpg.Connection, database_url: str
) -> None:
    """An e-mail OPENED or CLICKED is recorded (first open and click) without changing the
    status: a message TRANSMITTED stays SENT, as with every e-mail provider."""

    def email(status: str, date: str) -> bytes:
        return json_body(
            channel="email",
            message_id="email_0000000000000000000000",
            deliveries=[{"email": "Claire.Martin@example.fr", "status": status,
                         "delivery_date": date}],
        )  # fmt: skip

    responses = await post(
        database_url,
        (email("TRANSMITTED", "2025-01-22 12:20:00"), JSON),
        (email("OPENED", "2025-01-22 12:24:30"), JSON),
        (email("CLICKED", "2025-01-22 12:25:00"), JSON),
    )
    for response in responses:
        assert_empty_200(response)
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert (message["channel"], message["status"], message["provider_status"]) == (
        "EMAIL",
        "SENT",
        "TRANSMITTED",
    )
    assert (message["opened_at"], message["clicked_at"], message["delivered_at"]) == (
        utc("2025-01-22T11:24:30"),
        utc("2025-01-22T11:25:00"),
        None,
    )
    history = await db.fetch("SELECT kind, status FROM callbox_status_event ORDER BY id")
    assert [tuple(row) for row in history] == [
        ("STATUS", "SENT"),
        ("OPENED", "DELIVERED"),
        ("CLICKED", "DELIVERED"),
    ]


async def test_unknown_status_is_kept_as_unknown_with_the_raw_value(
    db: asyncpg.Connection, database_url: str
) -> None:
    body = json_body(
        message_id=TICKET,
        number="+33600000000",
        status="SOMETHING_NEW",
        delivery_date="2024-03-15 10:31:02",
        channel="sms",
    )
    [response] = await post(database_url, (body, JSON))
    assert_empty_200(response)
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert (message["status"], message["provider_status"], message["failure_reason"]) == (
        "UNKNOWN",
        "SOMETHING_NEW",
        None,
    )
    assert message["delivered_at"] is None
    assert message["status_occurred_at"] == utc("2024-03-15T09:31:02")
    event = await db.fetchrow("SELECT * FROM callbox_status_event")
    assert (event["status"], event["provider_status"], event["failure_reason"]) == (
        "UNKNOWN",
        "SOMETHING_NEW",
        None,
    )
    assert await db.fetchval("SELECT state FROM callbox_notification") == "ACCEPTED"


# Replies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "ticket", "sender", "recipient", "digits", "in_reply_to"),
    [
        pytest.param(
            json_body(
                message_id=TICKET,
                number="+33600000000",
                text="Oui, je confirme",
                sim_card_number="+33639980002",
                reception_date="2024-03-15 10:42:17",
            ),
            JSON,
            TICKET,
            "+33600000000",
            "+33639980002",
            "20240315104217",
            f"{TICKET}:+33600000000",
            id="current-json",
        ),
        pytest.param(
            form_body(
                number="0033601010101",
                text="Oui, je confirme",
                answer_date="2024-03-15 10:42:17",
            ),
            FORM,
            None,
            "+33601010101",
            OUR_NUMBER,  # no sim_card_number: the receiver's own number
            "20240315104217",
            None,
            id="legacy-form-answer-date",
        ),
    ],
)
async def test_inbound_reply_is_stored(
    db: asyncpg.Connection,
    database_url: str,
    body: bytes,
    headers: dict[str, str],
    ticket: str | None,
    sender: str,
    recipient: str,
    digits: str,
    in_reply_to: str | None,
) -> None:
    [response] = await post(database_url, (body, headers))
    assert_empty_200(response)
    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert (notification["state"], notification["event_count"]) == ("ACCEPTED", 1)
    received_at = notification["received_at"]

    message = dict(await db.fetchrow("SELECT * FROM callbox_message"))
    message_id = message.pop("id")
    conversation_id = message.pop("conversation")
    provider_message_id = reply_id(ticket, sender, digits, "Oui, je confirme")
    assert message == {
        "provider": "octopush",
        "receiver": "octopush",
        "provider_message_id": provider_message_id,
        "direction": "INBOUND",
        "channel": "SMS",
        "sender": sender,
        "recipient": recipient,
        "body": "Oui, je confirme",
        "status": "RECEIVED",
        "provider_status": None,
        "failure_reason": None,
        "reference": None,
        "status_occurred_at": utc("2024-03-15T09:42:17"),
        "created_at": received_at,
        "sent_at": None,
        "delivered_at": None,
        "updated_at": received_at,
        "occurred_at": utc("2024-03-15T09:42:17"),
        "received_at": received_at,
        "in_reply_to": in_reply_to,
        "metadata": "{}",
        "is_test": False,
        "subject": None,
        "opened_at": None,
        "clicked_at": None,
    }
    event = await db.fetchrow("SELECT * FROM callbox_status_event")
    assert (event["message"], event["status"], event["provider_status"]) == (
        message_id,
        "RECEIVED",
        None,
    )
    assert event["occurred_at"] == utc("2024-03-15T09:42:17")
    conversation = await db.fetchrow("SELECT * FROM callbox_conversation")
    assert conversation["id"] == conversation_id
    assert (conversation["our_address"], conversation["their_address"]) == (recipient, sender)
    assert (conversation["message_count"], conversation["last_message_id"]) == (1, message_id)
    assert await db.fetchval("SELECT dedupe_key FROM callbox_applied_event") == (
        f"inbound:{provider_message_id}"
    )
    assert await db.fetchval("SELECT count(*) FROM callbox_opt_out") == 0


@pytest.mark.parametrize(
    ("receipt", "reply", "headers", "ticket", "number"),
    [
        pytest.param(
            json_body(
                message_id=TICKET,
                number="+33600000000",
                status="DELIVERED",
                delivery_date="2024-03-15 10:31:02",
            ),
            json_body(
                message_id=TICKET,
                number="+33600000000",
                text="Oui",
                reception_date="2024-03-15 10:42:17",
            ),
            JSON,
            TICKET,
            "+33600000000",
            id="current-json",
        ),
        pytest.param(
            form_body(
                message_id=LEGACY_TICKET,
                number="0033601010101",
                status="DELIVERED",
                DELIVERY_DATE="2024-03-15 10:31:02",
            ),
            form_body(
                message_id=LEGACY_TICKET,
                number="0033601010101",
                text="Oui",
                answer_date="2024-03-15 10:42:17",
            ),
            FORM,
            LEGACY_TICKET,
            "+33601010101",
            id="legacy-form",
        ),
    ],
)
async def test_reply_to_a_known_outbound_message_joins_its_conversation(
    db: asyncpg.Connection,
    database_url: str,
    receipt: bytes,
    reply: bytes,
    headers: dict[str, str],
    ticket: str,
    number: str,
) -> None:
    responses = await post(database_url, (receipt, headers), (reply, headers))
    for response in responses:
        assert_empty_200(response)
    rows = await db.fetch("SELECT * FROM callbox_message ORDER BY id")
    assert [(row["direction"], row["sender"], row["recipient"]) for row in rows] == [
        ("OUTBOUND", OUR_NUMBER, number),
        ("INBOUND", number, OUR_NUMBER),
    ]
    outbound, inbound = rows
    assert outbound["provider_message_id"] == f"{ticket}:{number}"
    assert inbound["in_reply_to"] == f"{ticket}:{number}"
    assert inbound["body"] == "Oui"
    assert inbound["conversation"] == outbound["conversation"] is not None
    conversation = await db.fetchrow("SELECT * FROM callbox_conversation")
    assert await db.fetchval("SELECT count(*) FROM callbox_conversation") == 1
    assert conversation["id"] == outbound["conversation"]
    assert conversation["message_count"] == 2
    assert conversation["last_message_id"] == inbound["id"]
    assert conversation["created_at"] == utc("2024-03-15T09:31:02")
    assert conversation["last_activity_at"] == utc("2024-03-15T09:42:17")
    assert (conversation["our_address"], conversation["their_address"]) == (OUR_NUMBER, number)


# STOP opt-outs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "number"),
    [
        pytest.param(
            json_body(
                message_id=TICKET,
                number="+33600000000",
                text="STOP",
                stop_date="2024-07-01 12:00:00",
            ),
            JSON,
            "+33600000000",
            id="current-json",
        ),
        pytest.param(
            form_body(
                message_id=LEGACY_TICKET,
                number="0033601010101",
                text="STOP",
                stop_date="2024-07-01 12:00:00",
            ),
            FORM,
            "+33601010101",
            id="legacy-form",
        ),
    ],
)
async def test_stop_creates_an_opt_out(
    db: asyncpg.Connection,
    database_url: str,
    body: bytes,
    headers: dict[str, str],
    number: str,
) -> None:
    [response] = await post(database_url, (body, headers))
    assert_empty_200(response)
    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert (notification["state"], notification["event_count"]) == ("ACCEPTED", 1)
    opt_out = dict(await db.fetchrow("SELECT * FROM callbox_opt_out"))
    assert opt_out.pop("id") is not None
    assert opt_out == {
        "address": number,
        "action": "OPT_OUT",
        "channel": "SMS",
        "provider": "octopush",
        "receiver": "octopush",
        "source": "provider",
        "text": "STOP",
        "occurred_at": utc("2024-07-01T10:00:00"),
        "received_at": notification["received_at"],
        "message": None,  # the ticket's message is not known here
        "notification": notification["id"],
    }
    # A STOP callback is an opt-out, not an inbound message.
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0
    assert await db.fetchval("SELECT dedupe_key FROM callbox_applied_event") == (
        f"optout:{number}:20240701120000"
    )


async def test_stop_after_a_receipt_points_at_the_stopped_message(
    db: asyncpg.Connection, database_url: str
) -> None:
    receipt = json_body(
        message_id=TICKET,
        number="+33600000000",
        status="DELIVERED",
        delivery_date="2024-03-15 10:31:02",
    )
    stop = json_body(
        message_id=TICKET, number="+33600000000", text="STOP", stop_date="2024-03-15 11:00:00"
    )
    responses = await post(database_url, (receipt, JSON), (stop, JSON))
    for response in responses:
        assert_empty_200(response)
    outbound = await db.fetchval("SELECT id FROM callbox_message")
    opt_out = await db.fetchrow("SELECT * FROM callbox_opt_out")
    assert (opt_out["address"], opt_out["action"], opt_out["message"]) == (
        "+33600000000",
        "OPT_OUT",
        outbound,
    )
    assert opt_out["occurred_at"] == utc("2024-03-15T10:00:00")


# Retries -----------------------------------------------------------------------------------


async def test_resending_every_accepted_request_changes_nothing(
    db: asyncpg.Connection, database_url: str
) -> None:
    requests = [
        (
            json_body(
                message_id=TICKET,
                number="+33600000000",
                status="DELIVERED",
                delivery_date="2024-03-15 10:31:02",
            ),
            JSON,
        ),
        (
            json_body(
                message_id=TICKET,
                number="+33600000000",
                text="Oui",
                reception_date="2024-03-15 10:42:17",
            ),
            JSON,
        ),
        (
            json_body(
                message_id=TICKET, number="+33600000000", text="STOP", stop_date="2024-03-15 11:00"
            ),
            JSON,
        ),
        (
            b"message_id=api110000000021&number=0033601010101&status=DELIVERED"
            b"&DELIVERY_DATE=2024-03-15+10%3A31%3A02",
            FORM,
        ),
        (
            form_body(
                message_id=LEGACY_TICKET,
                number="0033601010101",
                text="Non",
                answer_date="2024-03-15 10:42:17",
            ),
            FORM,
        ),
        (
            form_body(number="0033601010101", text="STOP", stop_date="2024-03-15 11:00:00"),
            FORM,
        ),
    ]
    first = await post(database_url, *requests)
    for response in first:
        assert_empty_200(response)
    states = [row["state"] for row in await db.fetch("SELECT state FROM callbox_notification")]
    assert states == ["ACCEPTED"] * 6
    before_counts = await counts(db)
    assert before_counts == {
        "callbox_notification": 6,
        "callbox_message": 4,
        "callbox_status_event": 4,
        "callbox_conversation": 2,
        "callbox_opt_out": 2,
        "callbox_applied_event": 6,
    }
    before = await snapshot(db)

    again = await post(database_url, *requests)
    for response in again:
        assert_empty_200(response)
    states = [
        row["state"] for row in await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    ]
    assert states == ["ACCEPTED"] * 6 + ["DUPLICATE"] * 6
    after_counts = await counts(db)
    assert after_counts == {**before_counts, "callbox_notification": 12}
    assert await snapshot(db) == before


async def test_reply_completes_an_outbound_message_whose_sender_was_unknown(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Without our_address, a receipt leaves our number unknown; the reply names it."""
    receipt = {
        "message_id": "sms_unknownsender",
        "number": "+33600000001",
        "status": "DELIVERED",
        "delivery_date": "2024-03-01 11:15:30",
        "channel": "sms",
    }
    reply = {
        "message_id": "sms_unknownsender",
        "number": "+33600000001",
        "text": "Merci",
        "sim_card_number": "+33700000009",
        "reception_date": "2024-03-01 11:20:00",
    }
    receiver = Receiver(name="octopush-bare", provider="octopush")
    async with callbox_client(settings_for(database_url, [receiver])) as client:
        for body in (receipt, reply):
            response = await client.post("/hooks/octopush-bare", json=body)
            assert (response.status_code, response.content) == (200, b"")
    rows = await db.fetch(
        "SELECT direction, sender, recipient, conversation FROM callbox_message ORDER BY id"
    )
    assert [(r["direction"], r["sender"], r["recipient"]) for r in rows] == [
        ("OUTBOUND", "+33700000009", "+33600000001"),
        ("INBOUND", "+33600000001", "+33700000009"),
    ]
    assert rows[0]["conversation"] == rows[1]["conversation"] is not None
    assert await db.fetchval("SELECT message_count FROM callbox_conversation") == 2
