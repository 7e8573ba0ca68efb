"""Mailgun end to end: every captured payload, signed with a fresh timestamp, over HTTP into
PostgreSQL and back through GraphQL, with its status and opt-out effects; forged, expired and
replayed requests.

django-anymail's trimmed fragments that name no message (no Message-ID) are authentic and
well-formed: answered 200 (Mailgun would retry anything else for 8 hours) and kept, accepted,
with a note in their reason; a hard bounce among them still opts its recipient out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.settings import Auth, Receiver
from tests.providers.captured import MAILGUN_SAMPLES, mailgun
from tests.support import callbox_client, graphql_data, settings_for

KEY = "mailgun-webhook-signing-key-0123456789"
OLD_KEY = "mailgun-previous-signing-key-0123456789"
OUR_ADDRESS = "news@example.org"

NO_MESSAGE = (
    "event without a Message-ID (message.headers.message-id, or Message-Id in a legacy form)"
)
NOTHING = f"{NO_MESSAGE}: nothing applied"
OPT_OUT_ONLY = f"'bounced' {NO_MESSAGE}: its recipient's opt-out is recorded"
NOTES = {  # the reason kept with each request whose event names no message
    "anymail__test_alt_smtp_code__raw_event": OPT_OUT_ONLY,
    "anymail__test_clicked_event__raw_event": f"'clicked' {NOTHING}",
    "anymail__test_delivery_status_is_none_event__raw_event": f"'accepted' {NOTHING}",
    "anymail__test_dropped_timed_out__raw_event": f"'dropped' {NOTHING}",
    "anymail__test_invalid_mailbox__raw_event": OPT_OUT_ONLY,
    "anymail__test_metadata_key_conflicts__raw_event2": f"'clicked' {NOTHING}",
    "anymail__test_metadata_post_fields__raw_event": f"'clicked' {NOTHING}",
    "anymail__test_tags__raw_event": f"'opened' {NOTHING}",
    "anymail__test_verifies_bad_signature__data": f"'delivered' {NOTHING}",
    "anymail__test_x_tags__raw_event": f"'delivered' {NOTHING}",
}
DELIVERED = "anymail__test_delivered_event__raw_event"
EVENTS = {  # what each accepted sample applies: a report, an opt-out, or both
    "anymail__test_alt_smtp_code__raw_event": 1,
    "anymail__test_complained_event__raw_event": 2,
    DELIVERED: 1,
    "anymail__test_failed_greylisted_event__raw_event": 1,
    "anymail__test_failed_permanent_event__raw_event": 2,
    "anymail__test_invalid_mailbox__raw_event": 1,
    "anymail__test_misconfigured_inbound__raw_event": 1,
    "anymail__test_opened_event__raw_event": 1,
    "anymail__test_rejected_event__raw_event": 1,
    "anymail__test_unsubscribed_event__raw_event": 2,
}

DELIVERED_ID = "20180812211713.1.DF5966851B4BAA99@example.org"
BOUNCED_ID = "20180812214658.1.0DF563D0B3597700@example.org"
GREYLISTED_ID = "20180812214638.1.4A7D468E9BC18C5D@example.org"
OPENED_ID = "20180812213139.1.BC6694A917BB7E6A@example.org"
REJECTED_ID = "20180622220256.1.B31A451A2E5422BB@sandbox55887.mailgun.org"
COMPLAINED_ID = "20130718032413.263EE2E0926@example.org"
UNSUBSCRIBED_ID = "20130822232216.13966.79700@samples.mailgun.org"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def client(db: asyncpg.Connection, database_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    receiver = Receiver(
        name="mailgun",
        provider="mailgun",
        our_address=OUR_ADDRESS,
        auth=Auth(signature=[OLD_KEY, KEY]),
    )
    settings = settings_for(database_url, [receiver], development=True)
    async with callbox_client(settings) as client:
        yield client


async def post(client: AsyncTestClient[Any], name: str, key: str = KEY, **signing: Any) -> Any:
    captured = mailgun(name, key, **signing)
    return await client.post(
        "/hooks/mailgun", content=captured.body, headers={"Content-Type": captured.content_type}
    )


async def post_every_sample(client: AsyncTestClient[Any]) -> dict[str, tuple[int, str, bytes]]:
    """Each sample signed now and posted: its answer and the body posted."""
    answers = {}
    for name in MAILGUN_SAMPLES:
        captured = mailgun(name, KEY)
        response = await client.post(
            "/hooks/mailgun",
            content=captured.body,
            headers={"Content-Type": captured.content_type},
        )
        answers[name] = (response.status_code, response.text, captured.body)
    return answers


async def test_every_sample_is_stored_and_answered(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    answers = await post_every_sample(client)
    assert {name: answer[:2] for name, answer in answers.items()} == {
        name: (200, "") for name in MAILGUN_SAMPLES
    }
    rows = await db.fetch(
        "SELECT state, reason, event_count, body FROM callbox_notification ORDER BY id"
    )
    assert len(rows) == len(MAILGUN_SAMPLES)
    for name, row in zip(MAILGUN_SAMPLES, rows, strict=True):
        assert (row["state"], row["reason"]) == ("ACCEPTED", NOTES.get(name)), name
        assert bytes(row["body"]) == answers[name][2], name  # exactly as posted
    counts = [row["event_count"] for row in rows]
    assert counts == [EVENTS.get(name, 0) for name in MAILGUN_SAMPLES]

    # The same through GraphQL: every request accepted, its reason and its events.
    data = await graphql_data(
        client,
        """{ notifications(first: 50) { totalCount nodes {
               provider state reason eventCount body events { kind } } } }""",
    )
    assert data["notifications"]["totalCount"] == len(MAILGUN_SAMPLES)
    seen = {
        answers[name][2].decode(): name for name in MAILGUN_SAMPLES
    }  # bodies are distinct: each names its sample
    assert len(seen) == len(MAILGUN_SAMPLES)
    by_name = {seen[node["body"]]: node for node in data["notifications"]["nodes"]}
    assert {
        name: (node["provider"], node["state"], node["reason"], node["eventCount"])
        for name, node in by_name.items()
    } == {
        name: ("mailgun", "ACCEPTED", NOTES.get(name), EVENTS.get(name, 0))
        for name in MAILGUN_SAMPLES
    }
    assert all(by_name[name]["events"] == [] for name in NOTES)


async def test_statuses_history_and_opt_outs_in_postgres(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    await post_every_sample(client)
    messages = {
        row["provider_message_id"]: dict(row)
        for row in await db.fetch(
            "SELECT provider_message_id, direction, channel, sender, recipient, subject, body,"
            " status, provider_status, failure_reason, status_occurred_at, delivered_at,"
            " opened_at, clicked_at, metadata FROM callbox_message"
        )
    }
    summary = {
        key: (m["direction"], m["status"], m["provider_status"], m["failure_reason"])
        for key, m in messages.items()
    }
    inbound_id = next(key for key, m in messages.items() if m["direction"] == "INBOUND")
    assert summary == {
        DELIVERED_ID: ("OUTBOUND", "DELIVERED", "delivered", None),
        BOUNCED_ID: ("OUTBOUND", "FAILED", "failed", "PERMANENT"),
        # A temporary failure does not end it: a message first known from a deferral is SENT.
        GREYLISTED_ID: ("OUTBOUND", "SENT", "failed", None),
        # Known only from an open: what the open implies, until a status is reported.
        OPENED_ID: ("OUTBOUND", "DELIVERED", "opened", None),
        REJECTED_ID: ("OUTBOUND", "FAILED", "rejected", "BLOCKED"),
        COMPLAINED_ID: ("OUTBOUND", "DELIVERED", "complained", None),
        UNSUBSCRIBED_ID: ("OUTBOUND", "DELIVERED", "unsubscribed", None),
        inbound_id: ("INBOUND", "RECEIVED", None, None),
    }
    assert all(m["channel"] == "EMAIL" for m in messages.values())
    delivered = messages[DELIVERED_ID]
    assert (delivered["sender"], delivered["recipient"], delivered["subject"]) == (
        "test@example.org",
        "recipient@example.com",
        "Testing",
    )
    assert delivered["delivered_at"] == utc("2018-08-12T21:17:17.153125")
    opened = messages[OPENED_ID]
    assert opened["opened_at"] == utc("2018-08-12T21:33:20.089676")
    assert (opened["status_occurred_at"], opened["delivered_at"], opened["clicked_at"]) == (
        None,
        None,
        None,
    )
    assert json.loads(opened["metadata"]) == {
        "tags": ["welcome", "variation-A"],
        "user-variables": {"cohort": "2018-08-B", "user_id": "123456"},
    }
    inbound = messages[inbound_id]
    assert (inbound["sender"], inbound["recipient"], inbound["body"]) == (
        "envelope-from@example.org",
        "test@inbound.example.com",
        "Test body plain",
    )
    assert messages[BOUNCED_ID]["sender"] == OUR_ADDRESS  # "Test Sender " names nobody

    history = [
        tuple(row)
        for row in await db.fetch(
            "SELECT m.provider_message_id, e.kind, e.status, e.failure_reason, e.bounce_type,"
            " e.detail FROM callbox_status_event e JOIN callbox_message m ON m.id = e.message"
            " WHERE m.direction = 'OUTBOUND' ORDER BY e.id"
        )
    ]
    assert history == [
        (COMPLAINED_ID, "COMPLAINED", "DELIVERED", None, None, None),
        (DELIVERED_ID, "STATUS", "DELIVERED", None, None, "OK"),
        (GREYLISTED_ID, "DEFERRED", "SENT", None, "SOFT", "Recipient address rejected: Greylisted"),
        (
            BOUNCED_ID,
            "STATUS",
            "FAILED",
            "PERMANENT",
            "HARD",
            "5.1.1 The email account that you tried to reach does not exist. Please try\n"
            "5.1.1 double-checking the recipient's email address for typos",
        ),
        (OPENED_ID, "OPENED", "DELIVERED", None, None, None),
        (REJECTED_ID, "STATUS", "FAILED", "BLOCKED", None,
         "Sandbox subdomains are for test purposes only."),
        (UNSUBSCRIBED_ID, "UNSUBSCRIBED", "DELIVERED", None, None, None),
    ]  # fmt: skip

    ledger = [
        tuple(row)
        for row in await db.fetch(
            "SELECT o.address, o.action, o.channel, o.source, m.provider_message_id"
            " FROM callbox_opt_out o LEFT JOIN callbox_message m ON m.id = o.message ORDER BY o.id"
        )
    ]
    assert ledger == [
        ("noreply@example.com", "OPT_OUT", "EMAIL", "suppression", None),  # legacy bounced
        ("recipient@example.com", "OPT_OUT", "EMAIL", "complaint", COMPLAINED_ID),
        ("invalid@example.com", "OPT_OUT", "EMAIL", "suppression", BOUNCED_ID),
        ("noreply@example.com", "OPT_OUT", "EMAIL", "suppression", None),  # the other one
        ("recipient@example.com", "OPT_OUT", "EMAIL", "unsubscribe", UNSUBSCRIBED_ID),
    ]
    # The e-mail thread: our address and theirs.
    parties = {
        (row["our_address"], row["their_address"])
        for row in await db.fetch("SELECT * FROM callbox_conversation WHERE channel = 'EMAIL'")
    }
    assert ("test@inbound.example.com", "envelope-from@example.org") in parties
    assert ("test@example.org", "recipient@example.com") in parties


EMAIL_QUERY = """
query($filter: MessageFilter) {
  messages(filter: $filter, first: 50) {
    totalCount
    nodes { providerMessageId status subject openedAt clickedAt
            events { kind status bounceType detail providerStatus } }
  }
}"""


async def ids(client: AsyncTestClient[Any], **filter_: Any) -> list[str]:
    data = await graphql_data(client, EMAIL_QUERY, filter=filter_)
    nodes = data["messages"]["nodes"]
    assert data["messages"]["totalCount"] == len(nodes)
    return sorted(node["providerMessageId"] for node in nodes)


async def test_graphql_reads_it_back(client: AsyncTestClient[Any]) -> None:
    await post_every_sample(client)
    assert await ids(client, eventKind="OPENED") == [OPENED_ID]
    assert await ids(client, opened=True) == [OPENED_ID]
    assert await ids(client, clicked=True) == []
    assert await ids(client, bounceType="HARD") == [BOUNCED_ID]
    assert await ids(client, bounceType="SOFT") == [GREYLISTED_ID]
    assert await ids(client, eventKinds=["COMPLAINED", "UNSUBSCRIBED"]) == sorted(
        [COMPLAINED_ID, UNSUBSCRIBED_ID]
    )
    assert await ids(client, status="FAILED", channel="EMAIL") == sorted([BOUNCED_ID, REJECTED_ID])
    data = await graphql_data(client, EMAIL_QUERY, filter={"bounceType": "SOFT"})
    (node,) = data["messages"]["nodes"]
    assert node["status"] == "SENT"
    assert node["events"] == [
        {
            "kind": "DEFERRED",
            "status": "SENT",
            "bounceType": "SOFT",
            "detail": "Recipient address rejected: Greylisted",
            "providerStatus": "failed",
        }
    ]
    data = await graphql_data(client, EMAIL_QUERY, filter={"direction": "INBOUND"})
    (inbound,) = data["messages"]["nodes"]
    assert (inbound["status"], inbound["subject"]) == ("RECEIVED", None)

    opt_outs = await graphql_data(
        client,
        """{ complained: isOptedOut(address: "Recipient@Example.com")
             bounced: isOptedOut(address: "invalid@example.com")
             other: isOptedOut(address: "test@example.org")
             optOuts(filter: {channel: EMAIL}) { nodes { address source action } } }""",
    )
    assert (opt_outs["complained"], opt_outs["bounced"], opt_outs["other"]) == (True, True, False)
    assert {(n["address"], n["source"]) for n in opt_outs["optOuts"]["nodes"]} == {
        ("noreply@example.com", "suppression"),
        ("recipient@example.com", "complaint"),
        ("invalid@example.com", "suppression"),
        ("recipient@example.com", "unsubscribe"),
    }
    stats = await graphql_data(
        client, "{ stats { total opened clicked byChannel { key count } byStatus { key count } } }"
    )
    assert stats["stats"]["opened"] == 1
    assert stats["stats"]["clicked"] == 0
    assert {row["key"]: row["count"] for row in stats["stats"]["byChannel"]} == {"EMAIL": 8}


async def test_forged_expired_and_replayed_requests(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    for name in MAILGUN_SAMPLES:
        forged = await post(client, name, key="not-the-signing-key")
        assert (forged.status_code, forged.text) == (401, "signature does not match"), name
    late = await post(client, DELIVERED, now=datetime.now(UTC) - timedelta(seconds=301))
    assert (late.status_code, late.text) == (401, "timestamp outside the 300 s window")
    unsigned = await client.post(
        "/hooks/mailgun",
        content=b'{"event-data": {"event": "delivered"}}',
        headers={"Content-Type": "application/json"},
    )
    assert (unsigned.status_code, unsigned.text) == (
        401,
        "missing signature object in the JSON body",
    )
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0

    # Either key of the rotation; a replay inside the window applies nothing twice.
    assert (await post(client, DELIVERED, key=OLD_KEY)).status_code == 200
    await post_every_sample(client)
    counts = await db.fetchrow(
        "SELECT (SELECT count(*) FROM callbox_status_event) AS history,"
        " (SELECT count(*) FROM callbox_opt_out) AS ledger,"
        " (SELECT count(*) FROM callbox_notification WHERE state = 'DUPLICATE') AS duplicates"
    )
    assert tuple(counts) == (8, 5, 1)  # 7 reports and the inbound e-mail's; 5 ledger rows
    # Everything again, signed anew (as Mailgun's retries are): nothing applies twice.
    await asyncio.sleep(1.1)  # a new second: legacy forms get a new signed timestamp
    again = await post_every_sample(client)
    assert [answer[0] for answer in again.values()] == [200] * len(MAILGUN_SAMPLES)
    recounted = await db.fetchrow(
        "SELECT (SELECT count(*) FROM callbox_status_event) AS history,"
        " (SELECT count(*) FROM callbox_opt_out) AS ledger,"
        " (SELECT count(*) FROM callbox_notification WHERE state = 'DUPLICATE') AS duplicates"
    )
    assert tuple(recounted) == (8, 5, 1 + len(EVENTS))


async def test_a_fragment_an_older_callbox_rejected_is_accepted_on_reprocessing(
    client: AsyncTestClient[Any], db: asyncpg.Connection
) -> None:
    """Before the rule changed, a fragment without a Message-ID was kept as rejected:
    reprocessing it now accepts it with the note, and applies nothing (not a duplicate)."""
    name = "anymail__test_tags__raw_event"
    captured = mailgun(name, KEY)
    await db.execute(
        "INSERT INTO callbox_notification (receiver, provider, peer_address, client_address,"
        " method, content_type, headers, body, body_size, state, reason, event_count)"
        " VALUES ('mailgun', 'mailgun', '127.0.0.1', '127.0.0.1', 'POST', $1, '{}', $2, $3,"
        " 'REJECTED', 'it cannot be tied to a message', 0)",
        captured.content_type,
        captured.body,
        len(captured.body),
    )
    listed = await graphql_data(client, "{ notifications { nodes { id state } } }")
    ((notification,),) = [listed["notifications"]["nodes"]]
    assert notification["state"] == "REJECTED"
    data = await graphql_data(
        client,
        """mutation($id: ID!) { reprocessNotification(id: $id) {
               state reason applied notification { state reason eventCount } } }""",
        id=notification["id"],
    )
    assert data["reprocessNotification"] == {
        "state": "ACCEPTED",
        "reason": NOTES[name],
        "applied": 0,
        "notification": {"state": "ACCEPTED", "reason": NOTES[name], "eventCount": 0},
    }
