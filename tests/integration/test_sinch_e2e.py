"""Sinch end to end over HTTP and PostgreSQL: signed callbacks stored, normalised and read
back through GraphQL; anything that does not verify is answered 401 and stores nothing.

Requests are signed here as Sinch documents it (base64 HMAC over ``body.nonce.timestamp``
with the callback secret), written out independently of the provider module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.providers.sinch import SAMPLES
from callbox.settings import ApiKey, Auth, GraphQL, Receiver
from tests.support import callbox_client, settings_for

API_KEY = "sinch-e2e-reader-0123456789"
SECRET = "sinch-callback-secret-0123456789"
OUR_NUMBER = "+12017777777"

MESSAGES = """query($receiver: String!) {
  messages(filter: {receiver: $receiver}, first: 50) {
    nodes {
      providerMessageId direction channel from to body status providerStatus failureReason
      reference conversation { ourAddress theirAddress messageCount }
    }
  }
}"""


def sinch_headers(
    body: bytes,
    secret: str = SECRET,
    timestamp: int | None = None,
    algorithm: str = "HmacSHA256",
    digest: Any = hashlib.sha256,
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(13)
    signed = body + b"." + nonce.encode() + b"." + stamp.encode()
    return {
        "Content-Type": "application/json",
        "x-sinch-webhook-signature": base64.b64encode(
            hmac.new(secret.encode(), signed, digest).digest()
        ).decode(),
        "x-sinch-webhook-signature-nonce": nonce,
        "x-sinch-webhook-signature-timestamp": stamp,
        "x-sinch-webhook-signature-algorithm": algorithm,
    }


class Sinch:
    """Posts to the Sinch receiver and reads back through GraphQL."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = await self.client.post("/hooks/sinch", content=body, headers=headers)
        return response.status_code, response.text

    async def messages(self) -> dict[str, dict[str, Any]]:
        response = await self.client.post(
            "/graphql",
            json={"query": MESSAGES, "variables": {"receiver": "sinch"}},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        document = response.json()
        assert response.status_code == 200 and "errors" not in document, document
        nodes = document["data"]["messages"]["nodes"]
        return {node.pop("providerMessageId"): node for node in nodes}


def callbox_trusting(database_url: str, *callback_secrets: str) -> Any:
    """Callbox with one Sinch receiver verifying with ``callback_secrets``, our number set."""
    receiver = Receiver(
        name="sinch",
        provider="sinch",
        our_address=OUR_NUMBER,
        auth=Auth(signature=list(callback_secrets)),
    )
    graphql = GraphQL(api_keys=[ApiKey(name="reader", key=API_KEY, scopes=["read"])])
    return callbox_client(settings_for(database_url, [receiver], graphql=graphql))


@pytest.fixture
async def sinch(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sinch]:
    monkeypatch.setenv("SINCH_CALLBACK_SECRET", SECRET)
    async with callbox_trusting(database_url, "env:SINCH_CALLBACK_SECRET") as client:
        yield Sinch(client)


def as_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


async def test_each_sample_signed_is_stored_and_normalised(
    db: asyncpg.Connection, sinch: Sinch
) -> None:
    for sample in SAMPLES:
        assert await sinch.post(sample.body, sinch_headers(sample.body)) == (200, "")

    rows = await db.fetch("SELECT state, event_count, body FROM callbox_notification ORDER BY id")
    assert [(row["state"], row["event_count"], bytes(row["body"])) for row in rows] == [
        ("ACCEPTED", count, sample.body)
        for sample, count in zip(SAMPLES, [1, 2, 1, 1, 1], strict=True)
    ]
    messages = await sinch.messages()
    assert messages["01W4FFL35P4NC4K35SMSBATCH8"] == {
        "direction": "INBOUND",
        "channel": "SMS",
        "from": "+12015555555",
        "to": OUR_NUMBER,
        "body": "Hello John! \U0001f44b",
        "status": "RECEIVED",
        "providerStatus": None,
        "failureReason": None,
        "reference": None,
        "conversation": {
            "ourAddress": OUR_NUMBER,
            "theirAddress": "+12015555555",
            "messageCount": 1,
        },
    }
    full = messages["01W4FFL35P4NC4K35SMSBATCH8:+33612345678"]
    assert full == {
        "direction": "OUTBOUND",
        "channel": "SMS",
        "from": OUR_NUMBER,  # a batch report has no sender: the receiver's our_address
        "to": "+33612345678",
        "body": None,
        "status": "DELIVERED",
        "providerStatus": "Delivered",
        "failureReason": None,
        "reference": "client-ref",
        "conversation": {
            "ourAddress": OUR_NUMBER,
            "theirAddress": "+33612345678",
            "messageCount": 1,
        },
    }
    assert messages["01W4FFL35P4NC4K35SMSBATCH8:+12017777777"]["status"] == "DELIVERED"
    assert {
        name: (m["direction"], m["to"], m["status"], m["providerStatus"], m["failureReason"])
        for name, m in messages.items()
        if name.startswith(("3-mbA7z9wDKY76ag", "{batch_id}", "01W4FFL35P4NC4K35SMSBATCH9"))
    } == {
        "3-mbA7z9wDKY76ag:+123456789": ("OUTBOUND", "+123456789", "FAILED", "Failed", "UNKNOWN"),
        "{batch_id}:+123456789": ("OUTBOUND", "+123456789", "DELIVERED", "Delivered", None),
        "01W4FFL35P4NC4K35SMSBATCH9:+12010000000": (
            "OUTBOUND",
            "+12010000000",
            "FAILED",
            "Aborted",
            "BLOCKED",
        ),
    }
    assert len(messages) == 6


async def test_dispatched_delivered_and_answered_is_one_thread(
    db: asyncpg.Connection, sinch: Sinch
) -> None:
    batch = "01HZZ4B8V2T6Q9M3K7D5R1X0YC"

    def report(status: str, code: int, at: str) -> bytes:
        return as_json(
            {
                "type": "recipient_delivery_report_sms",
                "batch_id": batch,
                "recipient": "447700900123",
                "code": code,
                "status": status,
                "at": at,
                "client_reference": "order-42",
            }
        )

    delivered = report("Delivered", 0, "2026-11-30T10:00:05.000Z")
    dispatched = report("Dispatched", 401, "2026-11-30T10:00:01.000Z")  # arrives late
    reply = as_json(
        {
            "type": "mo_text",
            "id": "01HZZ4C0000000000000000REPLY",
            "from": "447700900123",
            "to": "12017777777",
            "body": "Stop",
            "received_at": "2026-11-30T10:02:00.000Z",
        }
    )
    summary = as_json(
        {
            "type": "delivery_report_sms",
            "batch_id": batch,
            "statuses": [{"code": 0, "count": 1, "status": "Delivered"}],
            "total_message_count": 1,
        }
    )
    for body in (delivered, dispatched, reply, summary):
        assert await sinch.post(body, sinch_headers(body)) == (200, "")

    messages = await sinch.messages()
    outbound = messages[f"{batch}:+447700900123"]
    inbound = messages["01HZZ4C0000000000000000REPLY"]
    assert (outbound["status"], outbound["providerStatus"], outbound["reference"]) == (
        "DELIVERED",
        "Delivered",
        "order-42",
    )
    assert (inbound["from"], inbound["to"], inbound["body"]) == (
        "+447700900123",
        OUR_NUMBER,
        "Stop",
    )
    assert (
        outbound["conversation"]
        == inbound["conversation"]
        == {
            "ourAddress": OUR_NUMBER,
            "theirAddress": "+447700900123",
            "messageCount": 2,
        }
    )
    # The summary report names no recipient: stored, accepted, no event, and the reason says so.
    last = await db.fetchrow(
        "SELECT id, state, event_count, reason FROM callbox_notification ORDER BY id DESC"
    )
    assert (last["state"], last["event_count"]) == ("ACCEPTED", 0)
    assert last["reason"].startswith(
        "summary delivery report (Delivered: 1): counts only, no recipient named, so nothing"
        " applied;"
    )
    others = await db.fetch("SELECT reason FROM callbox_notification WHERE id <> $1", last["id"])
    assert [row["reason"] for row in others] == [None, None, None]
    opt_out = await db.fetchrow("SELECT address, action, source FROM callbox_opt_out")
    assert tuple(opt_out) == ("+447700900123", "OPT_OUT", "keyword")


async def test_sha512_signatures_are_accepted(db: asyncpg.Connection, sinch: Sinch) -> None:
    body = SAMPLES[2].body
    headers = sinch_headers(body, algorithm="HmacSHA512", digest=hashlib.sha512)
    assert await sinch.post(body, headers) == (200, "")
    assert await db.fetchval("SELECT state FROM callbox_notification") == "ACCEPTED"


async def test_forged_requests_are_refused_and_store_nothing(
    db: asyncpg.Connection, sinch: Sinch
) -> None:
    body = SAMPLES[1].body
    signed = sinch_headers(body)
    tampered = body.replace(b"33612345678", b"33612345679")
    stale = sinch_headers(body, timestamp=int(time.time()) - 400)
    md5 = sinch_headers(body, algorithm="HmacMD5", digest=hashlib.md5)
    forgeries = [
        ("another secret", body, sinch_headers(body, secret="not-the-secret-0123456789")),
        ("unsigned", body, {"Content-Type": "application/json"}),
        ("recipient changed in transit", tampered, signed),
        ("re-encoded by a proxy", json.dumps(json.loads(body)).encode(), signed),
        ("replayed after 400 s", body, stale),
        ("without its nonce", body, {**signed, "x-sinch-webhook-signature-nonce": ""}),
        ("a weaker algorithm", body, md5),
    ]
    reasons = []
    for how, forged_body, headers in forgeries:
        status, text = await sinch.post(forged_body, headers)
        assert status == 401, (how, status, text)
        reasons.append(text)
    assert reasons == [
        "signature does not match",
        "missing x-sinch-webhook-signature header",
        "signature does not match",
        "signature does not match",
        "timestamp outside the 300 s window",
        "missing x-sinch-webhook-signature-nonce header",
        "unsupported x-sinch-webhook-signature-algorithm 'HmacMD5': expected HmacSHA256,"
        " HmacSHA384 or HmacSHA512",
    ]
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


async def test_both_secrets_of_a_rotation_are_accepted(
    database_url: str, db: asyncpg.Connection
) -> None:
    old, new = "old-sinch-secret-0123456789", "new-sinch-secret-0123456789"
    body = SAMPLES[0].body
    async with callbox_trusting(database_url, old, new) as client:
        sinch = Sinch(client)
        assert await sinch.post(body, sinch_headers(body, secret=new)) == (200, "")
        assert await sinch.post(body, sinch_headers(body, secret=old)) == (200, "")
        forged = await sinch.post(body, sinch_headers(body, secret=SECRET))
        assert forged == (401, "signature does not match")
    states = await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in states] == ["ACCEPTED", "DUPLICATE"]
