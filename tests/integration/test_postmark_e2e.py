"""Postmark end to end: every captured payload over HTTP (basic auth, as Postmark's webhook URL
carries it) into PostgreSQL and back through GraphQL, with its status and opt-out effects."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.settings import Auth, Receiver
from tests.providers.captured import names, postmark
from tests.support import callbox_client, graphql_data, settings_for

CREDENTIALS = "postmark:pm-webhook-password-0123456789"
AUTH = {"Authorization": "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()}
OUR_ADDRESS = "news@example.org"
SAMPLES = names("postmark")

INBOUND_ID = "00000000-0000-0000-0000-000000000000"
BOUNCED_ID = "2706ee8a-737c-4285-b032-ccd317af53ed"
UNSUBSCRIBE_BOUNCE_ID = "5555555-5555555-5555-5555555"
ENGAGED_ID = "f4830d10-9c35-4f0c-bca3-3d9b459821f8"
DELIVERED_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
SUBSCRIPTION_ID = "a4909a96-73d7-4c49-b148-a54522d3f7ac"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def client(db: asyncpg.Connection, database_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    receiver = Receiver(
        name="postmark",
        provider="postmark",
        our_address=OUR_ADDRESS,
        auth=Auth(basic=[CREDENTIALS]),
    )
    settings = settings_for(database_url, [receiver], development=True)
    async with callbox_client(settings) as client:
        yield client


async def post_every_sample(client: AsyncTestClient[Any]) -> dict[str, tuple[int, str]]:
    answers = {}
    for name in SAMPLES:
        response = await client.post(
            "/hooks/postmark",
            content=postmark(name).body,
            headers={"Content-Type": "application/json", **AUTH},
        )
        answers[name] = (response.status_code, response.text)
    return answers


async def record_the_unsubscribed_message(client: AsyncTestClient[Any]) -> None:
    """The message the unsubscribe bounce names, as the sending application records it."""
    await graphql_data(
        client,
        """mutation($input: RecordOutboundMessageInput!) {
             recordOutboundMessage(input: $input) { created } }""",
        input={
            "receiver": "postmark",
            "providerMessageId": UNSUBSCRIBE_BOUNCE_ID,
            "to": "Someone@Example.com",
            "channel": "EMAIL",
            "body": "Our newsletter",
        },
    )


async def test_without_its_credentials_nothing_is_stored(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    for name in SAMPLES:
        response = await client.post(
            "/hooks/postmark",
            content=postmark(name).body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 401, name
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0


async def test_every_sample_is_stored_and_normalised(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    await record_the_unsubscribed_message(client)
    answers = await post_every_sample(client)
    assert answers == {name: (200, "") for name in SAMPLES}
    rows = await db.fetch("SELECT state, event_count, body FROM callbox_notification ORDER BY id")
    assert [(row["state"], bytes(row["body"])) for row in rows] == [
        ("ACCEPTED", postmark(name).body) for name in SAMPLES
    ]
    assert [row["event_count"] for row in rows] == [1, 2, 2, 1, 1, 1, 1, 1]

    messages = {
        row["provider_message_id"]: dict(row)
        for row in await db.fetch(
            "SELECT provider_message_id, direction, channel, sender, recipient, subject, body,"
            " status, provider_status, failure_reason, status_occurred_at, opened_at,"
            " clicked_at, occurred_at, metadata FROM callbox_message"
        )
    }
    assert {
        key: (m["direction"], m["status"], m["provider_status"], m["failure_reason"])
        for key, m in messages.items()
    } == {
        INBOUND_ID: ("INBOUND", "RECEIVED", None, None),
        BOUNCED_ID: ("OUTBOUND", "FAILED", "HardBounce", "PERMANENT"),
        # Recorded by the sender: the unsubscribe bounce leaves its status as it was.
        UNSUBSCRIBE_BOUNCE_ID: ("OUTBOUND", "PENDING", None, None),
        # Known from a click and an open only: what they imply, no status time.
        ENGAGED_ID: ("OUTBOUND", "DELIVERED", "Click", None),
        DELIVERED_ID: ("OUTBOUND", "DELIVERED", "Delivery", None),
    }
    assert all(m["channel"] == "EMAIL" for m in messages.values())
    inbound = messages[INBOUND_ID]
    assert (inbound["sender"], inbound["recipient"], inbound["subject"], inbound["body"]) == (
        "support@postmarkapp.com",
        "mailbox+samplehash@inbound.postmarkapp.com",
        "Test subject",
        "This is a test text body.",
    )
    assert inbound["occurred_at"] == utc("2023-05-05T21:44:33")
    assert json.loads(inbound["metadata"])["Attachments"] == ["test.txt"]
    bounced = messages[BOUNCED_ID]
    assert (bounced["sender"], bounced["recipient"], bounced["subject"]) == (
        "sender@example.com",
        "bounce@example.com",
        "Postmark event test",
    )
    engaged = messages[ENGAGED_ID]
    assert (engaged["opened_at"], engaged["clicked_at"], engaged["status_occurred_at"]) == (
        utc("2016-04-27T20:21:41.249368"),
        utc("2017-10-25T15:21:11.906561"),
        None,
    )
    assert messages[DELIVERED_ID]["status_occurred_at"] == utc("2014-08-01T17:28:10.273539")

    history = [
        tuple(row)
        for row in await db.fetch(
            "SELECT m.provider_message_id, e.kind, e.status, e.provider_status, e.bounce_type"
            " FROM callbox_status_event e JOIN callbox_message m ON m.id = e.message"
            " WHERE m.direction = 'OUTBOUND' ORDER BY e.id"
        )
    ]
    assert history == [
        (BOUNCED_ID, "STATUS", "FAILED", "HardBounce", "HARD"),
        (UNSUBSCRIBE_BOUNCE_ID, "UNSUBSCRIBED", "DELIVERED", "Unsubscribe", None),
        (ENGAGED_ID, "CLICKED", "DELIVERED", "Click", None),
        (DELIVERED_ID, "STATUS", "DELIVERED", "Delivery", None),
        (ENGAGED_ID, "OPENED", "DELIVERED", "Open", None),
    ]

    ledger = [
        tuple(row)
        for row in await db.fetch(
            "SELECT o.address, o.action, o.channel, o.source, m.provider_message_id"
            " FROM callbox_opt_out o LEFT JOIN callbox_message m ON m.id = o.message ORDER BY o.id"
        )
    ]
    assert ledger == [
        ("bounce@example.com", "OPT_OUT", "EMAIL", "suppression", BOUNCED_ID),
        # No Email in the bounce: the recipient of the message it names.
        ("someone@example.com", "OPT_OUT", "EMAIL", "unsubscribe", UNSUBSCRIBE_BOUNCE_ID),
        ("john@example.com", "OPT_IN", "EMAIL", "unsubscribe", None),  # resubscribe
        ("john@example.com", "OPT_OUT", "EMAIL", "unsubscribe", None),  # unsubscribe
    ]
    # The thread between Postmark's inbound address and the sender.
    conversation = await db.fetchrow(
        "SELECT c.channel, c.our_address, c.their_address FROM callbox_conversation c"
        " JOIN callbox_message m ON m.conversation = c.id WHERE m.provider_message_id = $1",
        INBOUND_ID,
    )
    assert tuple(conversation) == (
        "EMAIL",
        "mailbox+samplehash@inbound.postmarkapp.com",
        "support@postmarkapp.com",
    )


async def test_graphql_reads_it_back(client: AsyncTestClient[Any]) -> None:
    await record_the_unsubscribed_message(client)
    await post_every_sample(client)
    data = await graphql_data(
        client,
        """{
          engaged: messages(filter: {opened: true, clicked: true}) {
            nodes { providerMessageId status openedAt clickedAt
                    events { kind status detail providerStatus } } }
          hard: messages(filter: {bounceType: HARD}) { nodes { providerMessageId failureReason } }
          unsubscribed: messages(filter: {eventKind: UNSUBSCRIBED}) {
            nodes { providerMessageId status to } }
          inbound: messages(filter: {direction: INBOUND, channel: EMAIL}) {
            nodes { from to subject body conversation { theirAddress } } }
          stats { opened clicked byChannel { key count }
                  series(bucket: DAY) { opened clicked } }
          bounced: isOptedOut(address: "bounce@example.com")
          someone: isOptedOut(address: "someone@example.com")
          john: isOptedOut(address: "john@example.com")
        }""",
    )
    (engaged,) = data["engaged"]["nodes"]
    assert engaged["providerMessageId"] == ENGAGED_ID
    assert (engaged["openedAt"], engaged["clickedAt"]) == (
        "2016-04-27T20:21:41.249368+00:00",
        "2017-10-25T15:21:11.906561+00:00",
    )
    assert engaged["events"] == [  # oldest first, whatever order they came in
        {"kind": "OPENED", "status": "DELIVERED", "detail": None, "providerStatus": "Open"},
        {
            "kind": "CLICKED",
            "status": "DELIVERED",
            "detail": "https://example.com/click/me",
            "providerStatus": "Click",
        },
    ]
    assert data["hard"]["nodes"] == [
        {"providerMessageId": BOUNCED_ID, "failureReason": "PERMANENT"}
    ]
    assert data["unsubscribed"]["nodes"] == [
        {
            "providerMessageId": UNSUBSCRIBE_BOUNCE_ID,
            "status": "PENDING",
            "to": "someone@example.com",
        }
    ]
    assert data["inbound"]["nodes"] == [
        {
            "from": "support@postmarkapp.com",
            "to": "mailbox+samplehash@inbound.postmarkapp.com",
            "subject": "Test subject",
            "body": "This is a test text body.",
            "conversation": {"theirAddress": "support@postmarkapp.com"},
        }
    ]
    stats = data["stats"]
    assert (stats["opened"], stats["clicked"]) == (1, 1)
    assert {row["key"]: row["count"] for row in stats["byChannel"]} == {"EMAIL": 5}
    assert sum(bucket["opened"] for bucket in stats["series"]) == 1
    assert sum(bucket["clicked"] for bucket in stats["series"]) == 1
    assert (data["bounced"], data["someone"], data["john"]) == (True, True, True)


async def test_retries_change_nothing(client: AsyncTestClient[Any], db: asyncpg.Connection) -> None:
    await post_every_sample(client)
    tables = ("callbox_message", "callbox_status_event", "callbox_opt_out")
    before = [await db.fetchval(f"SELECT count(*) FROM {table}") for table in tables]
    await post_every_sample(client)
    assert [await db.fetchval(f"SELECT count(*) FROM {table}") for table in tables] == before
    states = [row["state"] for row in await db.fetch("SELECT state FROM callbox_notification")]
    assert sorted(states) == ["ACCEPTED"] * len(SAMPLES) + ["DUPLICATE"] * len(SAMPLES)


# Postmark's published webhook addresses as docs/postmark.md configures them: ip_allow beside
# basic auth, behind a trusted proxy. Both must pass.
POSTMARK_WEBHOOK_ADDRESSES = ("3.134.147.250", "50.31.156.6", "50.31.156.77", "18.217.206.57")


async def test_ip_allow_with_postmark_addresses_and_basic_auth_must_both_pass(
    db: asyncpg.Connection, database_url: str
) -> None:
    receiver = Receiver(
        name="postmark",
        provider="postmark",
        auth=Auth(basic=[CREDENTIALS], ip_allow=list(POSTMARK_WEBHOOK_ADDRESSES)),
    )
    settings = settings_for(database_url, [receiver], trusted_proxies=["10.0.0.0/8"])
    body = postmark(SAMPLES[0]).body
    answers = []
    async with callbox_client(settings, peer="10.0.0.2") as client:
        for address, credentials in [
            *((address, AUTH) for address in POSTMARK_WEBHOOK_ADDRESSES),
            ("203.0.113.9", AUTH),  # not Postmark's
            ("50.31.156.6", {}),  # Postmark's address, no credentials
        ]:
            response = await client.post(
                "/hooks/postmark",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Forwarded-For": address,
                    **credentials,
                },
            )
            answers.append(response.status_code)
    assert answers == [200, 200, 200, 200, 403, 401]
    stored = await db.fetch("SELECT state, client_address FROM callbox_notification ORDER BY id")
    assert [tuple(row) for row in stored] == [
        ("ACCEPTED", POSTMARK_WEBHOOK_ADDRESSES[0]),
        *(("DUPLICATE", address) for address in POSTMARK_WEBHOOK_ADDRESSES[1:]),
    ]
