"""Vonage end to end over HTTP and PostgreSQL: every sample signed as Vonage signs it, stored,
normalised and visible through GraphQL; long inbound SMS joined once all their parts are in;
the Messages API's JWT; forged requests answered 401 with nothing stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.providers.base import SamplePayload, SignedRequest
from callbox.providers.vonage import PROVIDER
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, Receiver
from tests.support import callbox_client, graphql_data, settings_for

SECRET = "vonage-e2e-signature-secret-0123456789"
OTHER_SECRET = "not-the-accounts-signature-secret-98765"
SECRET_ENV = "CALLBOX_TEST_VONAGE_SIGNATURE_SECRET"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

SMS_RECEIVER = Receiver(
    name="vonage",
    provider="vonage",
    auth=Auth(signature=[f"env:{SECRET_ENV}"]),
    options={"signature_method": "sha256"},
)
MESSAGES_RECEIVER = Receiver(
    name="vonage-messages",
    provider="vonage",
    auth=Auth(signature=[f"env:{SECRET_ENV}"]),
    options={"api": "messages"},
)

MESSAGES_QUERY = """
query ($receiver: String!) {
  messages(filter: {receiver: $receiver}, first: 100) {
    nodes {
      providerMessageId direction channel from to body status failureReason providerStatus
      inReplyTo reference occurredAt metadata
      conversation { ourAddress theirAddress messageCount }
    }
  }
}
"""


def signed(
    receiver: Receiver,
    method: str,
    body: bytes = b"",
    content_type: str = "",
    query: str = "",
    *,
    secret: str = SECRET,
    now: datetime | None = None,
) -> SignedRequest:
    """The request as Vonage would send it to ``receiver``, signed with ``secret``."""
    assert PROVIDER.signature is not None and PROVIDER.signature.sign is not None
    context = prepare_receiver(
        Receiver(name=receiver.name, provider="vonage", options=receiver.options), 0
    ).context
    unsigned = SignedRequest(
        method=method,
        url=f"https://callbox.example.test/hooks/{receiver.name}" + (f"?{query}" if query else ""),
        headers={"content-type": content_type} if body else {},
        query_string=query,
        body=body,
        content_type=content_type,
    )
    return PROVIDER.signature.sign(unsigned, secret, context, now or datetime.now(UTC))


def signed_sample(sample: SamplePayload, **options: Any) -> SignedRequest:
    return signed(
        SMS_RECEIVER, sample.method, sample.body, sample.content_type, sample.query, **options
    )


@asynccontextmanager
async def vonage_callbox(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncTestClient[Any]]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    settings = settings_for(database_url, [SMS_RECEIVER, MESSAGES_RECEIVER], development=True)
    async with callbox_client(settings) as client:
        yield client


async def post(client: AsyncTestClient[Any], receiver: str, request: SignedRequest) -> Any:
    url = f"/hooks/{receiver}" + (f"?{request.query_string}" if request.query_string else "")
    return await client.request(
        request.method, url, content=request.body or None, headers=dict(request.headers)
    )


async def messages(client: AsyncTestClient[Any], receiver: str = "vonage") -> dict[str, Any]:
    data = await graphql_data(client, MESSAGES_QUERY, receiver=receiver)
    return {node["providerMessageId"]: node for node in data["messages"]["nodes"]}


def summary(node: dict[str, Any]) -> tuple[Any, ...]:
    conversation = node["conversation"]
    thread = (conversation["ourAddress"], conversation["theirAddress"]) if conversation else None
    return (
        node["direction"],
        node["channel"],
        node["from"],
        node["to"],
        node["body"],
        node["status"],
        node["failureReason"],
        node["providerStatus"],
        thread,
    )


# --- The samples, signed ------------------------------------------------------------------------


async def test_every_sample_signed_is_stored_and_normalised(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with vonage_callbox(database_url, monkeypatch) as client:
        for sample in PROVIDER.samples:
            response = await post(client, "vonage", signed_sample(sample))
            assert (response.status_code, response.text) == (200, ""), sample.description
        found = await messages(client)
        opted_out = await graphql_data(
            client,
            'query { isOptedOut(address: "+447700900000")'
            " optOuts(first: 10) { nodes { address action source channel message {"
            " providerMessageId } } } }",
        )

    assert {key: summary(node) for key, node in found.items()} == {
        "0A0000001234567B": (
            "OUTBOUND", "SMS", "AcmeInc", "+447700900000", None, "DELIVERED", None,
            "delivered", ("AcmeInc", "+447700900000"),
        ),
        "aaaaaaaa-bbbb-cccc-dddd-0123456789ab": (
            "OUTBOUND", "SMS", "AcmeInc", "+447700900000", None, "FAILED", "BLOCKED",
            "failed", ("AcmeInc", "+447700900000"),
        ),
        "0C0000002EEBDA56": (
            "OUTBOUND", "SMS", "Tak", "+4527631111", None, "DELIVERED", None, "delivered",
            ("Tak", "+4527631111"),
        ),
        "0B0000004B65F62F": (
            "INBOUND", "SMS", "+15862151111", "+12812581111", "Msg", "RECEIVED", None, None,
            ("+12812581111", "+15862151111"),
        ),
        "020000001B0FE827": (
            "INBOUND", "SMS", "+14843472194", "+13239877404", "Test again", "RECEIVED", None,
            None, ("+13239877404", "+14843472194"),
        ),
    }  # fmt: skip
    receipt = found["0A0000001234567B"]
    assert (receipt["reference"], receipt["occurredAt"]) == (
        "my-personal-reference",
        "2020-01-01T12:00:00+00:00",
    )
    assert receipt["metadata"] == {
        "network-code": "12345",
        "price": "0.03330000",
        "err-code": "0",
        "scts": "2001011400",
    }
    assert found["0A0000001234567B"]["conversation"]["messageCount"] == 2
    assert opted_out["isOptedOut"] is True
    assert opted_out["optOuts"]["nodes"] == [
        {
            "address": "+447700900000",
            "action": "OPT_OUT",
            "source": "status",
            "channel": "SMS",
            "message": {"providerMessageId": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"},
        }
    ]
    # Part 2 of 3 of a long message: kept, waiting for the others, not yet a message.
    states = await db.fetch("SELECT state, event_count FROM callbox_notification ORDER BY id")
    # The opted-out receipt is two events: the failure and the opt-out.
    assert [tuple(row) for row in states] == [
        ("ACCEPTED", 1),
        ("ACCEPTED", 2),
        ("ACCEPTED", 1),
        ("ACCEPTED", 1),
        ("ACCEPTED", 1),
        ("ACCEPTED", 1),
    ]
    part = await db.fetchrow("SELECT * FROM callbox_message_part")
    assert (part["part_group"], part["part_number"], part["part_count"], part["message"]) == (
        "+447700900001>+447700900000#1",
        2,
        3,
        None,
    )
    assert json.loads(part["event"])["body"] == "Hello world"


async def test_a_signed_sample_sent_again_is_a_duplicate(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = PROVIDER.samples[0]
    async with vonage_callbox(database_url, monkeypatch) as client:
        for _ in range(2):  # Vonage's retry carries a new timestamp, nonce and sig
            response = await post(client, "vonage", signed_sample(sample))
            assert response.status_code == 200
    states = [row["state"] for row in await db.fetch("SELECT state FROM callbox_notification")]
    assert sorted(states) == ["ACCEPTED", "DUPLICATE"]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1


# --- Forged requests ------------------------------------------------------------------------------


def forgeries() -> list[tuple[str, Callable[[], SignedRequest], str]]:
    receipt = PROVIDER.samples[0]
    inbound = PROVIDER.samples[4]

    def tampered() -> SignedRequest:
        request = signed_sample(receipt)
        body = request.body.replace(b'"delivered"', b'"failed"')
        return SignedRequest(request.method, "", request.headers, "", body, request.content_type)

    def param_added() -> SignedRequest:
        request = signed_sample(inbound)
        body = request.body + b"&keyword=FREE"
        return SignedRequest(request.method, "", request.headers, "", body, request.content_type)

    def unsigned() -> SignedRequest:
        return SignedRequest(
            "POST", "", {"content-type": JSON}, "", receipt.body.replace(b'"sig"', b'"gis"'), JSON
        )

    def as_documented() -> SignedRequest:
        return SignedRequest("POST", "", {"content-type": JSON}, "", receipt.body, JSON)

    stale = datetime.now(UTC) - timedelta(minutes=10)
    mismatch = "signature does not match"
    return [
        ("another secret", lambda: signed_sample(receipt, secret=OTHER_SECRET), mismatch),
        ("the documentation's sig", as_documented, mismatch),
        ("a value changed", tampered, mismatch),
        ("a parameter added", param_added, mismatch),
        ("no sig", unsigned, "missing sig parameter"),
        (
            "ten minutes old",
            lambda: signed_sample(receipt, now=stale),
            "timestamp outside the 300 s window",
        ),
        (
            "GET, another secret",
            lambda: signed_sample(PROVIDER.samples[2], secret=OTHER_SECRET),
            mismatch,
        ),
    ]


async def test_forged_requests_are_refused_and_store_nothing(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with vonage_callbox(database_url, monkeypatch) as client:
        for what, forge, reason in forgeries():
            response = await post(client, "vonage", forge())
            assert (response.status_code, response.text) == (401, reason), what
    for table in ("callbox_notification", "callbox_message", "callbox_message_part"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table


# --- Long inbound SMS -----------------------------------------------------------------------------


def part(text: str, number: int, total: int, message_id: str, *, ref: str = "42") -> bytes:
    return urlencode(
        {
            "msisdn": "447700900001",
            "to": "447700900000",
            "messageId": message_id,
            "text": text,
            "type": "text",
            "keyword": text.split(" ", 1)[0].upper(),
            "message-timestamp": f"2020-01-01 12:00:0{number}",
            "concat": "true",
            "concat-ref": ref,
            "concat-total": str(total),
            "concat-part": str(number),
        }
    ).encode()


async def post_form(client: AsyncTestClient[Any], body: bytes) -> None:
    response = await post(client, "vonage", signed(SMS_RECEIVER, "POST", body, FORM))
    assert (response.status_code, response.text) == (200, "")


async def test_a_long_message_appears_once_all_its_parts_are_in(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    our_message = urlencode(
        {
            "msisdn": "447700900001",
            "to": "447700900000",
            "messageId": "0A00000000000001",
            "status": "delivered",
            "err-code": "0",
            "message-timestamp": "2020-01-01 11:59:00",
        }
    ).encode()
    parts = [
        part("Hello, this is ", 1, 3, "0A0000000123ABC01"),
        part("a long message in ", 2, 3, "0A0000000123ABC02"),
        part("three parts.", 3, 3, "0A0000000123ABC03"),
    ]
    async with vonage_callbox(database_url, monkeypatch) as client:
        await post_form(client, our_message)
        await post_form(client, parts[2])
        await post_form(client, parts[0])
        assert list(await messages(client)) == ["0A00000000000001"]  # nothing joined yet
        await post_form(client, parts[1])
        await post_form(client, parts[1])  # Vonage's retry of the last part
        found = await messages(client)

    joined = found["0A0000000123ABC01"]
    assert summary(joined) == (
        "INBOUND",
        "SMS",
        "+447700900001",
        "+447700900000",
        "Hello, this is a long message in three parts.",
        "RECEIVED",
        None,
        None,
        ("+447700900000", "+447700900001"),
    )
    assert joined["occurredAt"] == "2020-01-01T12:00:01+00:00"  # the first part's
    assert joined["metadata"] == {
        "type": "text",
        "keyword": "HELLO,",
        "concat-ref": "42",
        "parts": ["0A0000000123ABC01", "0A0000000123ABC02", "0A0000000123ABC03"],
    }
    # Our message and the reply are one thread.
    assert joined["conversation"]["messageCount"] == 2
    assert found["0A00000000000001"]["conversation"] == joined["conversation"]
    states = [row["state"] for row in await db.fetch("SELECT state FROM callbox_notification")]
    assert states == ["ACCEPTED"] * 4 + ["DUPLICATE"]
    rows = await db.fetch("SELECT part_number, message FROM callbox_message_part ORDER BY id")
    message_id = await db.fetchval(
        "SELECT id FROM callbox_message WHERE provider_message_id = '0A0000000123ABC01'"
    )
    assert [tuple(row) for row in rows] == [(3, message_id), (1, message_id), (2, message_id)]


async def test_stop_split_over_two_parts_opts_out_when_whole(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with vonage_callbox(database_url, monkeypatch) as client:
        await post_form(client, part("ST", 1, 2, "0A00000000000A01", ref="7"))
        assert await db.fetchval("SELECT count(*) FROM callbox_opt_out") == 0
        await post_form(client, part("OP", 2, 2, "0A00000000000A02", ref="7"))
        data = await graphql_data(client, 'query { isOptedOut(address: "+447700900001") }')
    assert data == {"isOptedOut": True}
    assert await db.fetchval("SELECT source FROM callbox_opt_out") == "keyword"


async def test_a_reused_reference_starts_a_new_message(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phones cycle through reference numbers: once a group is joined, the same reference
    from the same number is another message."""
    async with vonage_callbox(database_url, monkeypatch) as client:
        await post_form(client, part("one ", 1, 2, "0A00000000000B01", ref="9"))
        await post_form(client, part("two", 2, 2, "0A00000000000B02", ref="9"))
        await post_form(client, part("three ", 1, 2, "0A00000000000B03", ref="9"))
        await post_form(client, part("four", 2, 2, "0A00000000000B04", ref="9"))
    bodies = await db.fetch("SELECT provider_message_id, body FROM callbox_message ORDER BY id")
    assert [tuple(row) for row in bodies] == [
        ("0A00000000000B01", "one two"),
        ("0A00000000000B03", "three four"),
    ]


# --- Messages API ---------------------------------------------------------------------------------

MESSAGES_STATUS = {
    "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    "to": "447700900000",
    "from": "447700900001",
    "timestamp": "2020-01-01T14:00:00.000Z",
    "status": "undeliverable",
    "error": {
        "type": "https://developer.nexmo.com/api-errors/messages-olympus#1000",
        "title": 1000,
        "detail": "Throttled - You have exceeded the submission capacity allowed on this account.",
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    },
    "usage": {"currency": "EUR", "price": "0.0333"},
    "client_ref": "string",
    "channel": "sms",
}
MESSAGES_INBOUND = {
    "message_uuid": "bbbbbbbb-bbbb-cccc-dddd-0123456789ab",
    "to": "447700900001",
    "from": "447700900000",
    "timestamp": "2020-01-01T15:43:21Z",
    "channel": "sms",
    "message_type": "text",
    "text": "Hello, world!",
    "sms": {"num_messages": "1", "keyword": "HELLO,"},
}


def messages_request(document: dict[str, Any], **options: Any) -> SignedRequest:
    body = json.dumps(document, indent=2).encode()
    return signed(MESSAGES_RECEIVER, "POST", body, JSON, **options)


async def test_messages_api_callbacks_signed_with_a_jwt(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with vonage_callbox(database_url, monkeypatch) as client:
        for document in (MESSAGES_STATUS, MESSAGES_INBOUND):
            response = await post(client, "vonage-messages", messages_request(document))
            assert (response.status_code, response.text) == (200, "")
        found = await messages(client, "vonage-messages")
    assert {key: summary(node) for key, node in found.items()} == {
        "aaaaaaaa-bbbb-cccc-dddd-0123456789ab": (
            "OUTBOUND", "SMS", "+447700900001", "+447700900000", None, "FAILED", "UNKNOWN",
            "undeliverable", ("+447700900001", "+447700900000"),
        ),
        "bbbbbbbb-bbbb-cccc-dddd-0123456789ab": (
            "INBOUND", "SMS", "+447700900000", "+447700900001", "Hello, world!", "RECEIVED",
            None, None, ("+447700900001", "+447700900000"),
        ),
    }  # fmt: skip
    assert found["aaaaaaaa-bbbb-cccc-dddd-0123456789ab"]["reference"] == "string"
    assert found["bbbbbbbb-bbbb-cccc-dddd-0123456789ab"]["conversation"]["messageCount"] == 2


async def test_messages_api_forgeries_store_nothing(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    genuine = messages_request(MESSAGES_STATUS)
    re_encoded = json.dumps(MESSAGES_STATUS).encode()  # a proxy re-serialised the JSON
    cases = [
        (messages_request(MESSAGES_STATUS, secret=OTHER_SECRET), "signature does not match"),
        (
            SignedRequest("POST", "", genuine.headers, "", re_encoded, JSON),
            "payload_hash does not match the body",
        ),
        (
            messages_request(MESSAGES_STATUS, now=datetime.now(UTC) - timedelta(minutes=6)),
            "timestamp outside the 300 s window",
        ),
        (
            SignedRequest("POST", "", {"content-type": JSON}, "", genuine.body, JSON),
            "missing Authorization header",
        ),
        # An SMS API signature is no signature for a Messages API receiver.
        (signed_sample(PROVIDER.samples[0]), "missing Authorization header"),
    ]
    async with vonage_callbox(database_url, monkeypatch) as client:
        for request, reason in cases:
            response = await post(client, "vonage-messages", request)
            assert (response.status_code, response.text) == (401, reason)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
