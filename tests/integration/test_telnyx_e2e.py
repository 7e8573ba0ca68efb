"""Telnyx end to end over HTTP and PostgreSQL: signed events stored, normalised and read back
through GraphQL; anything that does not verify is answered 401 and stores nothing.

Each test makes its own Ed25519 key pair, configures the receiver with the public key (as
copied from the Telnyx portal: base64 of 32 bytes) and signs as Telnyx does, with the private
key, over ``f"{timestamp}|{raw body}"``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import AsyncTestClient

from callbox.providers.telnyx import SAMPLES
from callbox.settings import ApiKey, Auth, GraphQL, Receiver
from tests.support import callbox_client, settings_for

API_KEY = "telnyx-e2e-reader-0123456789"
INBOUND, SENT, RCS_FINALIZED = (sample.body for sample in SAMPLES)

MESSAGES = """query($receiver: String!) {
  messages(filter: {receiver: $receiver}, first: 50) {
    nodes {
      providerMessageId direction channel from to body status providerStatus failureReason
      conversation { ourAddress theirAddress messageCount }
    }
  }
}"""


def public_base64(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def telnyx_headers(
    private: Ed25519PrivateKey, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """What Telnyx sends: the Ed25519 signature of ``timestamp|body`` and the timestamp."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = private.sign(stamp.encode() + b"|" + body)
    return {
        "Content-Type": "application/json",
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": stamp,
    }


class Telnyx:
    """Posts to the Telnyx receiver and reads back through GraphQL."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = await self.client.post("/hooks/telnyx", content=body, headers=headers)
        return response.status_code, response.text

    async def messages(self) -> dict[str, dict[str, Any]]:
        response = await self.client.post(
            "/graphql",
            json={"query": MESSAGES, "variables": {"receiver": "telnyx"}},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        document = response.json()
        assert response.status_code == 200 and "errors" not in document, document
        nodes = document["data"]["messages"]["nodes"]
        return {node.pop("providerMessageId"): node for node in nodes}

    async def is_opted_out(self, address: str) -> bool:
        response = await self.client.post(
            "/graphql",
            json={
                "query": "query($a: String!) { isOptedOut(address: $a) }",
                "variables": {"a": address},
            },
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        opted_out: bool = response.json()["data"]["isOptedOut"]
        return opted_out


def callbox_trusting(database_url: str, *public_keys: str) -> Any:
    """Callbox with one Telnyx receiver trusting `public_keys`, and a GraphQL reader key."""
    receiver = Receiver(name="telnyx", provider="telnyx", auth=Auth(signature=list(public_keys)))
    graphql = GraphQL(api_keys=[ApiKey(name="reader", key=API_KEY, scopes=["read"])])
    return callbox_client(settings_for(database_url, [receiver], graphql=graphql))


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def telnyx(database_url: str, private_key: Ed25519PrivateKey) -> AsyncIterator[Telnyx]:
    async with callbox_trusting(database_url, public_base64(private_key)) as client:
        yield Telnyx(client)


def with_payload(
    body: bytes, event_id: str, event_type: str, occurred_at: str, **payload: Any
) -> bytes:
    """A sample turned into another event: its id, type and time, and payload changes."""
    document = json.loads(body)
    document["data"].update(id=event_id, event_type=event_type, occurred_at=occurred_at)
    document["data"]["payload"].update(payload)
    return json.dumps(document).encode()


async def test_each_sample_signed_is_stored_and_normalised(
    db: asyncpg.Connection, telnyx: Telnyx, private_key: Ed25519PrivateKey
) -> None:
    for body in (INBOUND, SENT, RCS_FINALIZED):
        assert await telnyx.post(body, telnyx_headers(private_key, body)) == (200, "")

    rows = await db.fetch("SELECT state, event_count, body FROM callbox_notification ORDER BY id")
    assert [(row["state"], row["event_count"], bytes(row["body"])) for row in rows] == [
        ("ACCEPTED", 1, INBOUND),
        ("ACCEPTED", 1, SENT),
        ("ACCEPTED", 1, RCS_FINALIZED),
    ]
    assert await telnyx.messages() == {
        "7ee4241c-f127-47e5-9c34-3aac291f8058": {
            "direction": "INBOUND",
            "channel": "SMS",
            "from": "+18665550001",
            "to": "+18445550001",
            "body": "Hello, World!",
            "status": "RECEIVED",
            "providerStatus": None,
            "failureReason": None,
            "conversation": {
                "ourAddress": "+18445550001",
                "theirAddress": "+18665550001",
                "messageCount": 1,
            },
        },
        "403171cc-e25d-45cc-96b2-f3c54cfc3747": {
            "direction": "OUTBOUND",
            "channel": "SMS",
            "from": "+18005550100",
            "to": "+18005550199",
            "body": "Hello, World!",
            "status": "SENT",
            "providerStatus": "sent",
            "failureReason": None,
            "conversation": {
                "ourAddress": "+18005550100",
                "theirAddress": "+18005550199",
                "messageCount": 1,
            },
        },
        "ac012cbf-5e09-46af-a69a-7c0e2d90993c": {
            "direction": "OUTBOUND",
            "channel": "SMS",
            "from": "e4448a5c0670c2a9",  # the RCS agent, named by its id
            "to": "+13125000000",
            "body": "Hello there!",
            "status": "DELIVERED",
            "providerStatus": "delivered",
            "failureReason": None,
            "conversation": {
                "ourAddress": "e4448a5c0670c2a9",
                "theirAddress": "+13125000000",
                "messageCount": 1,
            },
        },
    }


async def test_sent_finalized_and_answered_is_one_thread(
    db: asyncpg.Connection, telnyx: Telnyx, private_key: Ed25519PrivateKey
) -> None:
    finalized = with_payload(
        SENT,
        "86f58db9-0ab1-4a4b-bd8e-0f4ad9e6a2a1",
        "message.finalized",
        "2020-04-30T20:58:42.000+00:00",
        to=[{"phone_number": "+18005550199", "status": "delivered"}],
        completed_at="2020-04-30T20:58:42.000+00:00",
    )
    # Received first: a late `sent` must not undo `delivered`.
    reply = with_payload(
        INBOUND,
        "c0ffee00-0000-4000-8000-000000000001",
        "message.received",
        "2020-04-30T21:05:00.000+00:00",
        id="c0ffee00-0000-4000-8000-0000000000aa",
        to=[{"phone_number": "+18005550100"}],
        text="STOP",
    )
    reply = reply.replace(b"+18665550001", b"+18005550199")
    for body in (finalized, SENT, reply):
        assert await telnyx.post(body, telnyx_headers(private_key, body)) == (200, "")

    messages = await telnyx.messages()
    outbound = messages["403171cc-e25d-45cc-96b2-f3c54cfc3747"]
    inbound = messages["c0ffee00-0000-4000-8000-0000000000aa"]
    assert (outbound["status"], outbound["providerStatus"]) == ("DELIVERED", "delivered")
    assert (inbound["direction"], inbound["from"], inbound["to"], inbound["body"]) == (
        "INBOUND",
        "+18005550199",
        "+18005550100",
        "STOP",
    )
    assert (
        outbound["conversation"]
        == inbound["conversation"]
        == {
            "ourAddress": "+18005550100",
            "theirAddress": "+18005550199",
            "messageCount": 2,
        }
    )
    events = await db.fetch(
        "SELECT e.provider_status FROM callbox_status_event e"
        " JOIN callbox_message m ON m.id = e.message"
        " WHERE m.provider_message_id = $1 ORDER BY e.occurred_at",
        "403171cc-e25d-45cc-96b2-f3c54cfc3747",
    )
    assert [row["provider_status"] for row in events] == ["sent", "delivered"]
    # STOP from the recipient: the keyword rule puts them in the opt-out ledger.
    assert await telnyx.is_opted_out("+18005550199") is True


async def test_a_retry_is_recognised_as_a_duplicate(
    db: asyncpg.Connection, telnyx: Telnyx, private_key: Ed25519PrivateKey
) -> None:
    now = int(time.time())
    for stamp in (now - 60, now):  # Telnyx signs each attempt afresh
        assert await telnyx.post(SENT, telnyx_headers(private_key, SENT, stamp)) == (200, "")
    states = await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in states] == ["ACCEPTED", "DUPLICATE"]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1


def forgeries(private_key: Ed25519PrivateKey) -> list[tuple[str, bytes, dict[str, str], str]]:
    signed = telnyx_headers(private_key, SENT)
    other = Ed25519PrivateKey.generate()
    tampered = SENT.replace(b'"status": "sent"', b'"status": "delivered"')
    reencoded = json.dumps(json.loads(SENT)).encode()
    stale = telnyx_headers(private_key, SENT, int(time.time()) - 400)
    no_timestamp = {k: v for k, v in signed.items() if k != "telnyx-timestamp"}
    return [
        ("another account's key", SENT, telnyx_headers(other, SENT), "signature does not match"),
        ("unsigned", SENT, {"Content-Type": "application/json"}, "missing"),
        ("status changed in transit", tampered, signed, "signature does not match"),
        ("re-encoded by a proxy", reencoded, signed, "signature does not match"),
        ("replayed after 400 s", SENT, stale, "timestamp outside the 300 s window"),
        ("without its timestamp", SENT, no_timestamp, "missing telnyx-timestamp header"),
    ]


async def test_forged_requests_are_refused_and_store_nothing(
    db: asyncpg.Connection, telnyx: Telnyx, private_key: Ed25519PrivateKey
) -> None:
    for how, body, headers, reason in forgeries(private_key):
        status, text = await telnyx.post(body, headers)
        assert status == 401 and text.startswith(reason), (how, status, text)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


async def test_both_keys_of_a_rotation_are_accepted(
    database_url: str, db: asyncpg.Connection
) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with callbox_trusting(database_url, public_base64(old), public_base64(new)) as client:
        telnyx = Telnyx(client)
        assert await telnyx.post(SENT, telnyx_headers(new, SENT)) == (200, "")
        assert await telnyx.post(INBOUND, telnyx_headers(old, INBOUND)) == (200, "")
        forged = await telnyx.post(SENT, telnyx_headers(Ed25519PrivateKey.generate(), SENT))
        assert forged == (401, "signature does not match")
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 2
