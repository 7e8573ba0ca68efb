"""url.net.au end to end over HTTP: form-encoded inbound SMS, one message per request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import asyncpg
import pytest

from callbox.settings import Receiver
from tests.support import callbox_client, settings_for

# The seed's curl example with its typographic quotes fixed: exactly the body curl posts
# (``curl -X POST '...' --data "..."`` sends it as application/x-www-form-urlencoded).
SEED_CURL_BODY = (
    b"service_id=YOUR_SERVICE_ID&from=YOUR_FROM_NUMBER&sms_number=YOUR_SMS_NUMBER"
    b"&body=Test%20Message&message_id=297abf7f-99d9-4b7d-9c46-1d7c13687b11&timestamp=1576391654"
    b"&webhook_url=https://youendpoint.com/sms/test&webhook_url_fallback=you@email.com"
)
SEED_PAGE = Path("/work/shared/seeds")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MESSAGE_ID = "5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def inbound_sms(**fields: str) -> bytes:
    values = {
        "service_id": "80412",
        "from": "0491570156",
        "sms_number": "61491570110",
        "body": "Running 10 minutes late",
        "message_id": MESSAGE_ID,
        "timestamp": "1710462734",
        "webhook_url": "https://callbox.example.com.au/hooks/urlnet",
        "webhook_url_fallback": "sms-fallback@example.com.au",
    }
    values.update(fields)
    return urlencode(values).encode()


async def post(database_url: str, *bodies: bytes) -> list[Any]:
    settings = settings_for(database_url, [Receiver(name="urlnet", provider="urlnet")])
    async with callbox_client(settings) as client:
        return [await client.post("/hooks/urlnet", content=body, headers=FORM) for body in bodies]


def test_the_body_is_the_seed_curl_example() -> None:
    """Guard against the literal above drifting from the seed page (when it is at hand)."""
    pages = sorted(SEED_PAGE.glob("001_*"))
    if not pages:
        pytest.skip("seed pages are not available here")
    text = pages[0].read_text(encoding="utf-8")
    data = text.split("\u2013data \u201c", 1)[1].split("\u201d", 1)[0]
    assert data.encode() == SEED_CURL_BODY


async def test_seed_curl_example_is_stored_as_an_inbound_sms(
    db: asyncpg.Connection, database_url: str
) -> None:
    [response] = await post(database_url, SEED_CURL_BODY)
    assert (response.status_code, response.content) == (200, b"")

    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert (notification["receiver"], notification["provider"]) == ("urlnet", "urlnet")
    assert (notification["state"], notification["reason"]) == ("ACCEPTED", None)
    assert notification["event_count"] == 1
    assert notification["method"] == "POST"
    assert notification["content_type"] == "application/x-www-form-urlencoded"
    assert bytes(notification["body"]) == SEED_CURL_BODY
    assert notification["body_size"] == len(SEED_CURL_BODY)
    # webhook_url and webhook_url_fallback echo our own configuration: raw record only.
    raw_fields = dict(parse_qsl(bytes(notification["body"]).decode()))
    assert raw_fields["webhook_url"] == "https://youendpoint.com/sms/test"
    assert raw_fields["webhook_url_fallback"] == "you@email.com"
    received_at = notification["received_at"]

    message = dict(await db.fetchrow("SELECT * FROM callbox_message"))
    message_id = message.pop("id")
    conversation_id = message.pop("conversation")
    metadata = json.loads(message.pop("metadata"))
    assert message == {
        "provider": "urlnet",
        "receiver": "urlnet",
        "provider_message_id": "297abf7f-99d9-4b7d-9c46-1d7c13687b11",
        "direction": "INBOUND",
        "channel": "SMS",
        # Placeholders are not numbers: kept as given, like any alphanumeric name.
        "sender": "YOUR_FROM_NUMBER",
        "recipient": "YOUR_SMS_NUMBER",
        "body": "Test Message",
        "status": "RECEIVED",
        "provider_status": None,
        "failure_reason": None,
        "reference": None,
        "status_occurred_at": utc("2019-12-15T06:34:14"),  # timestamp=1576391654
        "created_at": received_at,
        "sent_at": None,
        "delivered_at": None,
        "updated_at": received_at,
        "occurred_at": utc("2019-12-15T06:34:14"),
        "received_at": received_at,
        "in_reply_to": None,
        "is_test": False,
        "subject": None,
        "opened_at": None,
        "clicked_at": None,
    }
    assert metadata == {"service_id": "YOUR_SERVICE_ID"}
    assert "webhook_url" not in metadata
    assert "webhook_url_fallback" not in metadata

    event = dict(await db.fetchrow("SELECT * FROM callbox_status_event"))
    event.pop("id")
    assert event == {
        "message": message_id,
        "status": "RECEIVED",
        "provider_status": None,
        "failure_reason": None,
        "occurred_at": utc("2019-12-15T06:34:14"),
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
        "our_address": "YOUR_SMS_NUMBER",
        "their_address": "YOUR_FROM_NUMBER",
        "created_at": utc("2019-12-15T06:34:14"),
        "last_activity_at": utc("2019-12-15T06:34:14"),
        "last_message_id": message_id,
        "message_count": 1,
    }
    assert await db.fetchval("SELECT dedupe_key FROM callbox_applied_event") == (
        "inbound:297abf7f-99d9-4b7d-9c46-1d7c13687b11"
    )
    assert await db.fetchval("SELECT count(*) FROM callbox_opt_out") == 0


@pytest.mark.parametrize(
    ("sent_from", "stored"),
    [
        ("MedCentre", "MedCentre"),
        ("My Clinic", "My Clinic"),
        ("0491570156", "+61491570156"),
        ("61491570156", "+61491570156"),
        ("+61491570156", "+61491570156"),
    ],
)
async def test_sender_is_kept_as_given_or_made_e164(
    db: asyncpg.Connection, database_url: str, sent_from: str, stored: str
) -> None:
    [response] = await post(database_url, inbound_sms(**{"from": sent_from}))
    assert response.status_code == 200
    message = await db.fetchrow("SELECT * FROM callbox_message")
    assert (message["sender"], message["recipient"]) == (stored, "+61491570110")
    assert message["body"] == "Running 10 minutes late"
    assert message["occurred_at"] == utc("2024-03-15T00:32:14")
    assert json.loads(message["metadata"]) == {"service_id": "80412"}
    conversation = await db.fetchrow("SELECT * FROM callbox_conversation")
    assert (conversation["our_address"], conversation["their_address"]) == (
        "+61491570110",
        stored,
    )


async def test_duplicate_message_id_is_recorded_as_duplicate(
    db: asyncpg.Connection, database_url: str
) -> None:
    first = inbound_sms()
    # url.net.au retries up to 10 times: the same message id, possibly re-stamped.
    retried_later = inbound_sms(timestamp="1710462800", body="Running 10 minutes late!")
    responses = await post(
        database_url, SEED_CURL_BODY, first, first, retried_later, SEED_CURL_BODY
    )
    assert [(r.status_code, r.content) for r in responses] == [(200, b"")] * 5
    rows = await db.fetch("SELECT state, event_count, body FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in rows] == [
        "ACCEPTED",
        "ACCEPTED",
        "DUPLICATE",
        "DUPLICATE",
        "DUPLICATE",
    ]
    # Every request is kept raw, duplicates included.
    assert [bytes(row["body"]) for row in rows] == [
        SEED_CURL_BODY,
        first,
        first,
        retried_later,
        SEED_CURL_BODY,
    ]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 2
    assert await db.fetchval("SELECT count(*) FROM callbox_status_event") == 2
    assert await db.fetchval("SELECT count(*) FROM callbox_conversation") == 2
    assert await db.fetchval("SELECT count(*) FROM callbox_applied_event") == 2
    message = await db.fetchrow(
        "SELECT * FROM callbox_message WHERE provider_message_id = $1", MESSAGE_ID
    )
    # The first delivery's values stand.
    assert message["body"] == "Running 10 minutes late"
    assert message["occurred_at"] == utc("2024-03-15T00:32:14")
    conversation = await db.fetchrow(
        "SELECT message_count FROM callbox_conversation WHERE their_address = '+61491570156'"
    )
    assert conversation["message_count"] == 1
