"""MessageBird end to end: signed samples over HTTP into PostgreSQL, read back through GraphQL;
forged, tampered and expired requests answered 401 with nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.providers.base import ReceiverContext, SamplePayload, SignedRequest
from callbox.providers.messagebird import PROVIDER, sign_request
from callbox.settings import ApiKey, Auth, GraphQL, Receiver
from tests.support import callbox_client, settings_for

KEY_ENV = "CALLBOX_TEST_MESSAGEBIRD_SIGNING_KEY"
SIGNING_KEY = "PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd"
ROTATED_OUT_KEY = "an-older-signing-key-0123456789"
PUBLIC_URL = "https://callbox.example.org/hooks/messagebird"
OUR_NUMBER = "+18005551515"
THEM = "+18885551515"
API_KEY = "messagebird-e2e-reader-0123456789"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}

MESSAGES = """
query {
  messages(filter: {receiver: "messagebird"}, first: 20) {
    nodes {
      providerMessageId direction channel from to body status providerStatus failureReason
      reference metadata occurredAt
      conversation { id ourAddress theirAddress messageCount }
    }
  }
  optOuts(first: 20) {
    nodes { address action channel source receiver message { providerMessageId } }
  }
  isOptedOut(address: "+18885551515")
}
"""


@asynccontextmanager
async def messagebird_client(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncTestClient[Any]]:
    monkeypatch.setenv(KEY_ENV, SIGNING_KEY)
    receiver = Receiver(
        name="messagebird",
        provider="messagebird",
        # The second key is the current one: any listed key verifies (rotation).
        auth=Auth(signature=[ROTATED_OUT_KEY, f"env:{KEY_ENV}"]),
        public_url=PUBLIC_URL,
        our_address=OUR_NUMBER,
    )
    graphql = GraphQL(api_keys=[ApiKey(name="reader", key=API_KEY, scopes=["read"])])
    async with callbox_client(settings_for(database_url, [receiver], graphql=graphql)) as client:
        yield client


def unsigned(sample: SamplePayload) -> SignedRequest:
    query = f"?{sample.query}" if sample.query else ""
    return SignedRequest(
        method=sample.method,
        url=PUBLIC_URL + query,
        headers={"content-type": sample.content_type} if sample.body else {},
        query_string=sample.query,
        body=sample.body,
        content_type=sample.content_type,
    )


def signed(
    sample: SamplePayload, key: str = SIGNING_KEY, at: datetime | None = None
) -> SignedRequest:
    moment = at or datetime.now(UTC)
    return sign_request(unsigned(sample), key, ReceiverContext(name="messagebird"), moment)


async def send(client: AsyncTestClient[Any], request: SignedRequest) -> tuple[int, str]:
    path = "/hooks/messagebird" + (f"?{request.query_string}" if request.query_string else "")
    response = await client.request(
        request.method, path, content=request.body or None, headers=dict(request.headers)
    )
    return response.status_code, response.text


def sample(description: str) -> SamplePayload:
    [found] = [s for s in PROVIDER.samples if s.description.startswith(description)]
    return found


async def test_signed_samples_are_stored_normalised_and_visible_through_graphql(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with messagebird_client(database_url, monkeypatch) as client:
        for each in PROVIDER.samples:
            assert await send(client, signed(each)) == (200, ""), each.description
        response = await client.post("/graphql", json={"query": MESSAGES}, headers=HEADERS)
    assert response.status_code == 200, response.text
    document = response.json()
    assert "errors" not in document, document
    data = document["data"]

    stored = await db.fetch(
        "SELECT method, state, event_count, query_string FROM callbox_notification ORDER BY id"
    )
    assert [(row["method"], row["state"], row["event_count"]) for row in stored] == [
        ("GET", "ACCEPTED", 1),
        ("GET", "ACCEPTED", 1),
        ("GET", "ACCEPTED", 2),  # the STOP report: a status and an opt-out
        ("POST", "ACCEPTED", 1),
        ("POST", "ACCEPTED", 1),
        ("POST", "ACCEPTED", 1),
    ]
    assert [row["query_string"] for row in stored] == [s.query for s in PROVIDER.samples]

    messages = {node["providerMessageId"]: node for node in data["messages"]["nodes"]}
    outbound = messages["b6aae1b5dfb2427a8f7ea6a717ba31a9:+18885551515"]
    assert {key: outbound[key] for key in ("direction", "channel", "from", "to", "body")} == {
        "direction": "OUTBOUND",
        "channel": "SMS",
        "from": OUR_NUMBER,
        "to": THEM,
        "body": None,
    }
    # sent, then delivery_failed with statusErrorCode 103: the final status wins.
    assert (outbound["status"], outbound["providerStatus"], outbound["failureReason"]) == (
        "FAILED",
        "delivery_failed",
        "BLOCKED",
    )
    assert outbound["reference"] == "019a0719-ac96-7eb9-a837-cac215164834"
    assert outbound["metadata"]["statusErrorCode"] == "103"
    assert outbound["metadata"]["price[currency]"] == "USD"
    assert outbound["occurredAt"].startswith("2023-07-28T17:57:12")

    delivered = messages["eef0ab57a9e049be946f3821568c2b2e:+31612345678"]
    assert (delivered["direction"], delivered["status"], delivered["to"], delivered["from"]) == (
        "OUTBOUND",
        "DELIVERED",
        "+31612345678",
        OUR_NUMBER,
    )
    assert delivered["reference"] == "FOO"

    long_number = messages["3b53c137369242138120d6b0b2122607"]
    mms = messages["b6aae1b5dfb2427a8f7ea6a717ba31a9"]
    shortcode = messages["5d2e8a0c41f34b6f9c7e1a2b3c4d5e6f"]
    for inbound, body, to in (
        (long_number, "Test 3", OUR_NUMBER),
        (mms, "Test again", OUR_NUMBER),
        (shortcode, "Test again", "51515"),
    ):
        assert (inbound["direction"], inbound["channel"], inbound["status"]) == (
            "INBOUND",
            "SMS",
            "RECEIVED",
        )
        assert (inbound["from"], inbound["to"], inbound["body"]) == (THEM, to, body)
        assert inbound["occurredAt"].startswith("2023-07-27T00:49:29")
    assert mms["metadata"]["media_urls"] == ["https://foo.bar/image.jpg"]

    # One thread with +18885551515 on our long number: our message and both replies.
    thread = outbound["conversation"]
    assert (thread["ourAddress"], thread["theirAddress"], thread["messageCount"]) == (
        OUR_NUMBER,
        THEM,
        3,
    )
    assert long_number["conversation"]["id"] == mms["conversation"]["id"] == thread["id"]
    assert shortcode["conversation"]["ourAddress"] == "51515"
    assert shortcode["conversation"]["id"] != thread["id"]

    assert data["optOuts"]["nodes"] == [
        {
            "address": THEM,
            "action": "OPT_OUT",
            "channel": "SMS",
            "source": "status",
            "receiver": "messagebird",
            "message": {"providerMessageId": "b6aae1b5dfb2427a8f7ea6a717ba31a9:+18885551515"},
        }
    ]
    assert data["isOptedOut"] is True


async def test_a_retried_callback_is_a_duplicate(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = sample("Status report: delivered")
    async with messagebird_client(database_url, monkeypatch) as client:
        assert await send(client, signed(report)) == (200, "")
        # MessageBird retries with a fresh token (another nbf, jti) for the same report.
        retry = signed(report, at=datetime.now(UTC) - timedelta(seconds=5))
        assert retry.headers != signed(report).headers
        assert await send(client, retry) == (200, "")
    states = await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in states] == ["ACCEPTED", "DUPLICATE"]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1


def tampered_query(request: SignedRequest) -> SignedRequest:
    return replace(request, query_string=request.query_string + "&status=delivered")


def re_encoded_body(request: SignedRequest) -> SignedRequest:
    return replace(request, body=request.body.replace(b"+", b"%20"))


def without_signature(request: SignedRequest) -> SignedRequest:
    headers = {k: v for k, v in request.headers.items() if k != "messagebird-signature-jwt"}
    return replace(request, headers=headers)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda s: signed(s, key="not-our-signing-key-0123456789"), "signature does not match"),
        (lambda s: signed(s, at=datetime.now(UTC) - timedelta(minutes=2)), "token expired"),
        (lambda s: signed(s, at=datetime.now(UTC) + timedelta(minutes=2)), "token not valid yet"),
        (lambda s: without_signature(signed(s)), "missing MessageBird-Signature-JWT header"),
    ],
    ids=["other-key", "expired", "not-yet-valid", "no-header"],
)
async def test_a_forged_request_stores_nothing(
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    forge: Any,
    reason: str,
) -> None:
    async with messagebird_client(database_url, monkeypatch) as client:
        for each in PROVIDER.samples:
            status, text = await send(client, forge(each))
            assert status == 401, (each.description, status, text)
            assert text.startswith(reason), (each.description, text)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


async def test_a_param_added_or_a_body_re_encoded_in_transit_is_refused(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = sample("Status report: sent")
    inbound = sample("Inbound SMS to a long number")
    async with messagebird_client(database_url, monkeypatch) as client:
        assert await send(client, tampered_query(signed(report))) == (
            401,
            "url_hash does not match the URL (check the receiver's public_url)",
        )
        assert await send(client, re_encoded_body(signed(inbound))) == (
            401,
            "payload_hash does not match the body",
        )
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
