"""Plivo end to end over HTTP and PostgreSQL: V3-signed callbacks (form POST and GET)
verified against the receiver's public_url, stored, normalised and read back through
GraphQL; forged ones refused with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.providers.base import SignedRequest
from callbox.providers.plivo import PROVIDER
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, Receiver
from tests.support import callbox_client, graphql_data, settings_for

TOKEN = "MjQ2YTNkZWJlOWQyNzI3OTg2ZWVmZmEyNjE0YWFi"
OLD_TOKEN = "ZTk3ZDY0NzJiOWYyNzI3OTg2ZWVmZmEyNjE0YWFi"
PUBLIC_URL = "https://callbox.example.com/hooks/plivo"
FORM = "application/x-www-form-urlencoded"
OUR_NUMBER = "+447700900999"
THEIR_NUMBER = "+447700900123"

MESSAGE_FIELDS = """direction channel status providerStatus failureReason from to body
    conversation { id ourAddress theirAddress messageCount }
    events { status providerStatus }"""


def receiver(**changes: Any) -> Receiver:
    settings: dict[str, Any] = {
        "name": "plivo",
        "provider": "plivo",
        "auth": Auth(signature=[OLD_TOKEN, TOKEN]),
        "public_url": PUBLIC_URL,
    }
    return Receiver(**(settings | changes))


def sign(
    body: bytes = b"",
    *,
    method: str = "POST",
    query: str = "",
    key: str = TOKEN,
    content_type: str = FORM,
) -> SignedRequest:
    """Signed by the provider module's own ``sign``."""
    scheme = PROVIDER.signature
    assert scheme is not None and scheme.sign is not None
    unsigned = SignedRequest(
        method=method,
        url=PUBLIC_URL + (f"?{query}" if query else ""),
        headers={"content-type": content_type} if body else {},
        query_string=query,
        body=body,
        content_type=content_type if body else "",
    )
    context = prepare_receiver(receiver(), 0).context
    return scheme.sign(unsigned, key, context, datetime.now(UTC))


async def send(client: AsyncTestClient[Any], request: SignedRequest) -> Any:
    url = "/hooks/plivo" + (f"?{request.query_string}" if request.query_string else "")
    return await client.request(
        request.method, url, content=request.body or None, headers=dict(request.headers)
    )


async def message(client: AsyncTestClient[Any], provider_message_id: str) -> dict[str, Any]:
    data = await graphql_data(
        client,
        "query($id: String!) { messages(filter: {providerMessageId: $id}, first: 2) {"
        f" nodes {{ {MESSAGE_FIELDS} }} }} }}",
        id=provider_message_id,
    )
    [node] = data["messages"]["nodes"]
    return dict(node)


def app(database_url: str, *receivers: Receiver) -> Any:
    return callbox_client(
        settings_for(database_url, list(receivers or [receiver()]), development=True)
    )


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


# --- Every sample, signed --------------------------------------------------------------------


async def test_each_sample_signed_is_stored_and_normalised(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with app(database_url) as client:
        for sample in PROVIDER.samples:
            request = sign(
                sample.body,
                method=sample.method,
                query=sample.query,
                content_type=sample.content_type,
            )
            response = await send(client, request)
            assert (response.status_code, response.text) == (200, ""), sample.description
        inbound = await message(client, "abc1234")
        outbound = await message(client, "12345")

    assert {k: inbound[k] for k in ("direction", "channel", "status", "from", "to", "body")} == {
        "direction": "INBOUND",
        "channel": "SMS",
        "status": "RECEIVED",
        "from": "+60124361111",
        "to": "2020",
        "body": "Hello",
    }
    assert (inbound["conversation"]["ourAddress"], inbound["conversation"]["theirAddress"]) == (
        "2020",
        "+60124361111",
    )
    # The POST said delivered, the GET (sent) came later: delivered is final and stays.
    assert {k: outbound[k] for k in ("direction", "channel", "status", "from", "to")} == {
        "direction": "OUTBOUND",
        "channel": "SMS",
        "status": "DELIVERED",
        "from": "2020",
        "to": "+60124361111",
    }
    assert sorted(e["providerStatus"] for e in outbound["events"]) == ["delivered", "sent"]
    # One thread: the short code and the Malaysian number, both ways.
    assert outbound["conversation"]["id"] == inbound["conversation"]["id"]
    rows = await db.fetch(
        "SELECT method, state, event_count, query_string FROM callbox_notification ORDER BY id"
    )
    assert [tuple(row) for row in rows] == [
        ("POST", "ACCEPTED", 1, ""),
        ("POST", "ACCEPTED", 1, ""),
        ("GET", "ACCEPTED", 1, PROVIDER.samples[2].query),
    ]


async def test_a_failure_blocked_by_stop_is_an_opt_out(
    db: asyncpg.Connection, database_url: str
) -> None:
    body = form(
        MessageUUID="m-200",
        Status="failed",
        ErrorCode="200",
        To=THEIR_NUMBER.removeprefix("+"),
        From=OUR_NUMBER.removeprefix("+"),
        MessageTime="2024-07-01 12:00:00.000000",
    )
    async with app(database_url) as client:
        assert (await send(client, sign(body))).status_code == 200
        failed = await message(client, "m-200")
        opted = await graphql_data(
            client,
            "query($a: String!) { isOptedOut(address: $a)"
            " optOuts(first: 5) { nodes { address action source occurredAt } } }",
            a=THEIR_NUMBER,
        )
    assert (failed["status"], failed["failureReason"], failed["to"]) == (
        "FAILED",
        "BLOCKED",
        THEIR_NUMBER,
    )
    assert opted == {
        "isOptedOut": True,
        "optOuts": {
            "nodes": [
                {
                    "address": THEIR_NUMBER,
                    "action": "OPT_OUT",
                    "source": "status",
                    "occurredAt": "2024-07-01T12:00:00+00:00",
                }
            ]
        },
    }


@pytest.mark.parametrize(("text", "source"), [("stop", "keyword"), ("Stopp", "provider")])
async def test_message_intent_optout_is_one_ledger_row(
    database_url: str, db: asyncpg.Connection, text: str, source: str
) -> None:
    body = form(
        From=THEIR_NUMBER.removeprefix("+"),
        To=OUR_NUMBER.removeprefix("+"),
        Type="sms",
        Text=text,
        MessageUUID="in-stop",
        MessageIntent="optout",
    )
    async with app(database_url) as client:
        assert (await send(client, sign(body))).status_code == 200
    rows = await db.fetch("SELECT address, action, source, text FROM callbox_opt_out")
    assert [tuple(row) for row in rows] == [(THEIR_NUMBER, "OPT_OUT", source, text)]


# --- plivo-go's vectors over HTTP -----------------------------------------------------------

# utils_test.go @273a8369 (TestValidateSignatureV3Pass1..4). With public_url set to the
# vectors' URL, a request to /hooks/plivo[?query] is the URL Plivo signed.
SDK_TOKEN = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
SDK_NONCE = "31627761595286130198"
SDK_URL = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml"
SDK_PARAMS = {
    "Direction": "outbound",
    "From": "19792014278",
    "ALegUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallStatus": "in-progress",
    "BillRate": "0.002",
    "ParentAuthID": "MANWVLYTK4ZWU1YTY4QA",
    "To": "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
    "ALegRequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "RequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "SIP-H-To": "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
    "SessionStart": "2020-04-08 11:34:33.238707",
    "Event": "StartApp",
}
SDK_CASES = {
    "post-with-query": (
        SDK_URL + "/",
        "POST",
        "a=b&c=d",
        "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=",
    ),
    "get-with-query": (
        SDK_URL + "/",
        "GET",
        "a=b&c=d",
        "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=",
    ),
    "post": (SDK_URL, "POST", "", "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="),
    "get": (SDK_URL, "GET", "", "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="),
}


def sdk_receiver(public_url: str) -> Receiver:
    return Receiver(
        name="plivo", provider="plivo", auth=Auth(signature=[SDK_TOKEN]), public_url=public_url
    )


async def post_sdk_case(
    client: AsyncTestClient[Any], method: str, query: str, signature: str, params: dict[str, str]
) -> Any:
    headers = {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": SDK_NONCE}
    if method == "GET":
        full_query = "&".join(part for part in (query, urlencode(params)) if part)
        return await client.get(f"/hooks/plivo?{full_query}", headers=headers)
    path = "/hooks/plivo" + (f"?{query}" if query else "")
    headers["Content-Type"] = FORM
    return await client.post(path, content=urlencode(params).encode(), headers=headers)


@pytest.mark.parametrize("case", SDK_CASES.values(), ids=SDK_CASES.keys())
async def test_sdk_vectors_pass_verification_over_http(
    db: asyncpg.Connection, database_url: str, case: tuple[str, str, str, str]
) -> None:
    """Verified, then read: a voice call's parameters are no message, so 400 (stored as
    rejected), never 401."""
    public_url, method, query, signature = case
    async with app(database_url, sdk_receiver(public_url)) as client:
        response = await post_sdk_case(client, method, query, signature, SDK_PARAMS)
    assert response.status_code == 400, response.text
    assert "not a Plivo message callback" in response.text
    assert await db.fetchval("SELECT state FROM callbox_notification") == "REJECTED"


@pytest.mark.parametrize("case", SDK_CASES.values(), ids=SDK_CASES.keys())
async def test_tampered_sdk_vectors_are_refused_over_http_and_not_stored(
    db: asyncpg.Connection, database_url: str, case: tuple[str, str, str, str]
) -> None:
    public_url, method, query, signature = case
    async with app(database_url, sdk_receiver(public_url)) as client:
        added = await post_sdk_case(
            client, method, query, signature, {**SDK_PARAMS, "Status": "delivered"}
        )
        changed = await post_sdk_case(
            client, method, query, signature, {**SDK_PARAMS, "CallStatus": "completed"}
        )
    assert (added.status_code, added.text) == (401, "signature does not match")
    assert (changed.status_code, changed.text) == (401, "signature does not match")
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0


# --- Forgeries store nothing -----------------------------------------------------------------


def _with(request: SignedRequest, **changes: Any) -> SignedRequest:
    fields = {name: getattr(request, name) for name in SignedRequest.__slots__}
    return SignedRequest(**(fields | changes))


async def test_forged_requests_are_refused_and_nothing_is_stored(
    db: asyncpg.Connection, database_url: str
) -> None:
    sample = PROVIDER.samples[1].body
    good = sign(sample)
    headers_without = {k: v for k, v in good.headers.items() if k != "x-plivo-signature-v3"}
    nonce_without = {k: v for k, v in good.headers.items() if k != "x-plivo-signature-v3-nonce"}
    other_nonce = {**good.headers, "x-plivo-signature-v3-nonce": "00000000000000000001"}
    as_json = b'{"MessageUUID": "12345", "status": "delivered"}'
    cases = [
        (sign(sample, key="an-attackers-guess-0123456789"), "signature does not match"),
        (_with(good, headers=headers_without), "missing X-Plivo-Signature-V3 header"),
        (_with(good, headers=nonce_without), "missing X-Plivo-Signature-V3-Nonce header"),
        (_with(good, headers=other_nonce), "signature does not match"),
        (_with(good, body=sample + b"&ErrorCode=200"), "signature does not match"),
        (
            _with(good, body=sample.replace(b"%2B", b"+")),  # "+6012…" read as " 6012…"
            "signature does not match",
        ),
        (
            _with(
                good,
                body=as_json,
                headers={**good.headers, "content-type": "application/json"},
            ),
            "the body is not signed: Plivo signs form parameters",
        ),
        (
            _with(
                sign(query=PROVIDER.samples[2].query, method="GET"), query_string="MessageUUID=1"
            ),
            "signature does not match",
        ),
    ]
    async with app(database_url) as client:
        for request, reason in cases:
            response = await send(client, request)
            assert (response.status_code, response.text) == (401, reason)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


async def test_rotation_and_several_signatures_in_the_header(
    db: asyncpg.Connection, database_url: str
) -> None:
    old = sign(PROVIDER.samples[0].body, key=OLD_TOKEN)
    both = sign(PROVIDER.samples[1].body)
    both = _with(
        both,
        headers={
            **both.headers,
            "x-plivo-signature-v3": "c29tZS1vdGhlci10b2tlbg==,"
            + both.headers["x-plivo-signature-v3"],
        },
    )
    async with app(database_url) as client:
        assert (await send(client, old)).status_code == 200
        assert (await send(client, both)).status_code == 200
    states = await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in states] == ["ACCEPTED", "ACCEPTED"]
