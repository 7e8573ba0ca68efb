"""Bad payloads through HTTP: a plain-text 4xx naming the problem, the raw request kept as
REJECTED (with its reason) for reprocessing, and the server still answering afterwards.

Esendex posts XML (parsed with defusedxml only), GOV.UK Notify posts JSON; the Notify
receivers here are bearer-authenticated, so a request with a wrong token stores nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from callbox.app import create_app
from callbox.settings import Auth, Receiver, Settings
from tests.support import PeerAddress, callbox_client, settings_for

TOKEN = "notify-bad-payloads-0123456789"
SIZE_LIMIT = 1000
PASSWD_MARKER = "root:x:0:0"


def settings(database_url: str) -> Settings:
    return settings_for(
        database_url,
        [
            Receiver(name="esendex", provider="esendex", default_region="GB"),
            Receiver(name="notify", provider="notify", auth=Auth(bearer=[TOKEN])),
            Receiver(
                name="notify-small",
                provider="notify",
                auth=Auth(bearer=[TOKEN]),
                max_body_bytes=SIZE_LIMIT,
            ),
        ],
    )


XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
WRONG_BEARER = {"Content-Type": "application/json", "Authorization": "Bearer not-the-token"}

VALID_ESENDEX = b"""<InboundMessage>
 <Id>a8f2c1d0-0000-4000-8000-000000000001</Id>
 <MessageId>b1c2d3e4-0000-4000-8000-000000000002</MessageId>
 <AccountId>EX0000000</AccountId>
 <MessageText>Is my appointment still on?</MessageText>
 <From>07700900123</From>
 <To>447700900999</To>
</InboundMessage>"""

VALID_NOTIFY = json.dumps(
    {
        "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
        "reference": "ref-1",
        "to": "+447700900123",
        "status": "delivered",
        "notification_type": "sms",
        "created_at": "2026-11-22T10:00:00.000000Z",
        "completed_at": "2026-11-22T10:00:05.000000Z",
        "sent_at": "2026-11-22T10:00:01.000000Z",
    }
).encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<InboundMessage><Id>&lol9;</Id><MessageId>m</MessageId><From>07700900123</From></InboundMessage>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE InboundMessage [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<InboundMessage>
 <Id>xxe-1</Id>
 <MessageId>xxe-1</MessageId>
 <MessageText>&xxe;</MessageText>
 <From>07700900123</From>
</InboundMessage>"""


@dataclass(frozen=True)
class BadPayload:
    receiver: str
    body: bytes
    headers: dict[str, str]
    status: int
    reason: str
    """A substring the plain-text answer and the stored reason must contain."""


BAD_PAYLOADS = {
    "esendex-malformed-xml": BadPayload(
        "esendex",
        b"<InboundMessage><Id>1</Id><From>07700900123</InboundMessage>",
        XML,
        400,
        "malformed XML at line 1",
    ),
    "esendex-billion-laughs": BadPayload(
        "esendex", BILLION_LAUGHS, XML, 400, "forbidden XML construct: DTDForbidden"
    ),
    "esendex-xxe": BadPayload("esendex", XXE, XML, 400, "forbidden XML construct: DTDForbidden"),
    "esendex-not-xml": BadPayload(
        "esendex",
        b"Id=1&MessageId=2&From=07700900123",
        {"Content-Type": "application/x-www-form-urlencoded"},
        400,
        "the body does not start with '<'",
    ),
    "esendex-empty": BadPayload("esendex", b"", XML, 400, "empty body: expected XML"),
    "esendex-unknown-root": BadPayload(
        "esendex",
        b"<DeliveryReport><Id>1</Id><MessageId>2</MessageId></DeliveryReport>",
        XML,
        400,
        "unknown root element <DeliveryReport>",
    ),
    "esendex-inbound-only-account-id": BadPayload(
        "esendex",
        b"<InboundMessage><AccountId>EX0000000</AccountId></InboundMessage>",
        XML,
        400,
        "missing required element <Id> in <InboundMessage>",
    ),
    "esendex-delivered-only-account-id": BadPayload(
        "esendex",
        b'<MessageDelivered xmlns="http://api.esendex.com/ns/">'
        b"<AccountId>EX0000000</AccountId></MessageDelivered>",
        XML,
        400,
        "missing required element <Id> in <MessageDelivered>",
    ),
    "notify-invalid-json": BadPayload(
        "notify", b'{"id": "740e5834", "status": ', JSON, 400, "invalid JSON: Expecting value"
    ),
    "notify-json-array": BadPayload(
        "notify",
        b"[" + VALID_NOTIFY + b"]",
        JSON,
        400,
        "expected a JSON object, got a JSON array",
    ),
    "notify-unknown-object": BadPayload(
        "notify",
        b'{"event": "ping", "hello": "world"}',
        JSON,
        400,
        "unrecognised Notify callback (fields: event, hello)",
    ),
}


async def valid_callback_still_accepted(client: httpx.AsyncClient, receiver: str) -> None:
    if receiver == "esendex":
        response = await client.post("/hooks/esendex", content=VALID_ESENDEX, headers=XML)
    else:
        response = await client.post(f"/hooks/{receiver}", content=VALID_NOTIFY, headers=JSON)
    assert response.status_code == 200, response.text


def assert_plain_reason(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert reason in response.text
    assert len(response.text) < 400
    assert PASSWD_MARKER not in response.text


@pytest.mark.parametrize("case", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
async def test_bad_payload_is_refused_stored_rejected_and_server_goes_on(
    case: BadPayload, db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings(database_url)) as client:
        response = await client.post(
            f"/hooks/{case.receiver}", content=case.body, headers=case.headers
        )
        assert_plain_reason(response, case.status, case.reason)
        await valid_callback_still_accepted(client, case.receiver)
    rows = await db.fetch("SELECT * FROM callbox_notification ORDER BY id")
    assert [(row["receiver"], row["state"]) for row in rows] == [
        (case.receiver, "REJECTED"),
        (case.receiver, "ACCEPTED"),
    ]
    rejected = rows[0]
    assert rejected["reason"] == response.text
    assert bytes(rejected["body"]) == case.body
    assert rejected["body_size"] == len(case.body)
    assert rejected["event_count"] == 0
    assert PASSWD_MARKER not in rejected["reason"]
    # Only the valid callback made a message.
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1


class Chunked:
    """ASGI wrapper presenting requests as a server does a chunked upload: no Content-Length.

    (Litestar's test transport cannot stream a request body, so the size is only unknown.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [
                (name, value) for name, value in scope["headers"] if name != b"content-length"
            ]
            headers.append((b"transfer-encoding", b"chunked"))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def chunked_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    app = PeerAddress(Chunked(create_app(settings)), "127.0.0.1")
    async with AsyncTestClient(app=app) as client:  # type: ignore[arg-type]
        yield client


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_oversize_body_is_413_and_stored_without_body(
    framing: str, db: asyncpg.Connection, database_url: str
) -> None:
    body = b'{"padding": "' + b"x" * 4985 + b'"}'
    assert len(body) == 5000
    open_client = callbox_client if framing == "content-length" else chunked_client
    async with open_client(settings(database_url)) as client:
        response = await client.post("/hooks/notify-small", content=body, headers=JSON)
        assert_plain_reason(
            response, 413, f"body larger than the receiver's limit of {SIZE_LIMIT} bytes"
        )
        await valid_callback_still_accepted(client, "notify-small")
    rows = await db.fetch("SELECT * FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in rows] == ["REJECTED", "ACCEPTED"]
    rejected = rows[0]
    assert rejected["receiver"] == "notify-small"
    assert rejected["body"] is None
    assert rejected["body_size"] >= SIZE_LIMIT
    if framing == "content-length":
        assert rejected["body_size"] == 5000
    assert rejected["reason"] == response.text
    assert "authorization" not in json.loads(rejected["headers"])


@pytest.mark.parametrize(
    ("receiver", "body"),
    [
        ("notify", b'{"id": "740e5834", "status": '),
        ("notify", b"[]"),
        ("notify", b'{"hello": "world"}'),
        ("notify-small", b"x" * 5000),
    ],
    ids=["invalid-json", "json-array", "unknown-object", "oversize"],
)
async def test_unauthenticated_bad_request_stores_nothing(
    receiver: str, body: bytes, db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings(database_url)) as client:
        response = await client.post(f"/hooks/{receiver}", content=body, headers=WRONG_BEARER)
        assert_plain_reason(response, 401, "wrong bearer token")
        await valid_callback_still_accepted(client, receiver)
    rows = await db.fetch("SELECT receiver, state FROM callbox_notification")
    assert [(row["receiver"], row["state"]) for row in rows] == [(receiver, "ACCEPTED")]
