"""Twilio end to end over HTTP and PostgreSQL: signed callbacks verified against the
receiver's public_url, stored, normalised and read back through GraphQL; forged ones refused
with nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.providers.base import SignedRequest
from callbox.providers.twilio import PROVIDER
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, Receiver
from tests.support import callbox_client, graphql_data, settings_for

TOKEN = "twilio-auth-token-0123456789abcdef"
OLD_TOKEN = "twilio-old-auth-token-fedcba9876543210"
PUBLIC_URL = "https://callbox.example.com/hooks/twilio"
FORM = "application/x-www-form-urlencoded"
OUR_NUMBER = "+3197014204768"
THEIR_NUMBER = "+31612345678"

MESSAGE_FIELDS = """direction channel status providerStatus failureReason from to body
    conversation { id ourAddress theirAddress messageCount }"""


def receiver(**changes: Any) -> Receiver:
    settings: dict[str, Any] = {
        "name": "twilio",
        "provider": "twilio",
        "auth": Auth(signature=[OLD_TOKEN, TOKEN]),
        "public_url": PUBLIC_URL,
    }
    return Receiver(**(settings | changes))


def sign(
    body: bytes,
    content_type: str = FORM,
    *,
    key: str = TOKEN,
    query: str = "",
    url: str = PUBLIC_URL,
    receiver_settings: Receiver | None = None,
) -> SignedRequest:
    """Signed by the provider module's own ``sign``."""
    scheme = PROVIDER.signature
    assert scheme is not None and scheme.sign is not None
    context = prepare_receiver(receiver_settings or receiver(), 0).context
    unsigned = SignedRequest(
        method="POST",
        url=url + (f"?{query}" if query else ""),
        headers={"content-type": content_type},
        query_string=query,
        body=body,
        content_type=content_type,
    )
    return scheme.sign(unsigned, key, context, datetime.now(UTC))


async def send(
    client: AsyncTestClient[Any], request: SignedRequest, path: str = "/hooks/twilio"
) -> Any:
    url = path + (f"?{request.query_string}" if request.query_string else "")
    return await client.post(url, content=request.body, headers=dict(request.headers))


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
            response = await send(client, sign(sample.body, sample.content_type))
            assert (response.status_code, response.text) == (200, ""), sample.description

        status = await message(client, "SM1342fe1b2c904d1ab04f0fc7a58abca9")
        inbound = await message(client, "SMb711289e438f577f230f5837e9c74a08")
        streamed = await message(client, "SM0000000000000000000000000000001")

    assert {k: status[k] for k in ("direction", "channel", "status", "providerStatus")} == {
        "direction": "OUTBOUND",
        "channel": "SMS",
        "status": "SENT",
        "providerStatus": "sent",
    }
    assert (status["from"], status["to"], status["conversation"]) == ("+15017250604", None, None)
    assert {k: inbound[k] for k in ("direction", "channel", "status", "from", "to", "body")} == {
        "direction": "INBOUND",
        "channel": "SMS",
        "status": "RECEIVED",
        "from": THEIR_NUMBER,
        "to": OUR_NUMBER,
        "body": "St",
    }
    assert inbound["conversation"]["ourAddress"] == OUR_NUMBER
    assert inbound["conversation"]["theirAddress"] == THEIR_NUMBER
    assert (streamed["direction"], streamed["from"], streamed["to"], streamed["body"]) == (
        "INBOUND",
        "+11234567890",
        "+12345678901",
        "Ahoy!",
    )
    rows = await db.fetch(
        "SELECT state, event_count, query_string FROM callbox_notification ORDER BY id"
    )
    assert [(row["state"], row["event_count"]) for row in rows] == [("ACCEPTED", 1)] * 3
    # The JSON sample travelled with bodySHA256 in its URL, as Twilio sends it.
    assert rows[2]["query_string"].startswith("bodySHA256=")


async def test_a_receipt_and_the_reply_share_a_thread(
    db: asyncpg.Connection, database_url: str
) -> None:
    receipt = form(
        MessageSid="SMout1",
        MessageStatus="delivered",
        From=OUR_NUMBER,
        To=THEIR_NUMBER,
        RawDlrDoneDate="2407011215",
    )
    reply = PROVIDER.samples[1].body  # the inbound SMS from THEIR_NUMBER to OUR_NUMBER
    async with app(database_url, receiver(timezone="Europe/Amsterdam")) as client:
        for body in (receipt, reply):
            assert (await send(client, sign(body))).status_code == 200
        outbound = await message(client, "SMout1")
        inbound = await message(client, "SMb711289e438f577f230f5837e9c74a08")
    assert (outbound["direction"], outbound["status"], outbound["from"], outbound["to"]) == (
        "OUTBOUND",
        "DELIVERED",
        OUR_NUMBER,
        THEIR_NUMBER,
    )
    assert outbound["conversation"]["id"] == inbound["conversation"]["id"]
    assert inbound["conversation"]["messageCount"] == 2
    # RawDlrDoneDate 12:15 in Amsterdam on 1 July (CEST, UTC+2).
    assert await db.fetchval(
        "SELECT delivered_at FROM callbox_message WHERE direction = 'OUTBOUND'"
    ) == (datetime(2024, 7, 1, 10, 15, tzinfo=UTC))


async def test_an_unsubscribed_recipient_fails_blocked_and_is_opted_out(
    database_url: str, db: asyncpg.Connection
) -> None:
    failed = form(
        MessageSid="SMout2",
        MessageStatus="failed",
        ErrorCode="21610",
        From=OUR_NUMBER,
        To=THEIR_NUMBER,
    )
    async with app(database_url) as client:
        assert (await send(client, sign(failed))).status_code == 200
        outbound = await message(client, "SMout2")
        opted = await graphql_data(
            client,
            "query($a: String!) { isOptedOut(address: $a)"
            " optOuts(first: 5) { nodes { address action source } } }",
            a=THEIR_NUMBER,
        )
    assert (outbound["status"], outbound["failureReason"]) == ("FAILED", "BLOCKED")
    assert opted == {
        "isOptedOut": True,
        "optOuts": {"nodes": [{"address": THEIR_NUMBER, "action": "OPT_OUT", "source": "status"}]},
    }


@pytest.mark.parametrize(
    ("text", "source"),
    [("STOP", "keyword"), ("Stop alsjeblieft", "provider")],
)
async def test_advanced_opt_out_is_one_ledger_row(
    database_url: str, db: asyncpg.Connection, text: str, source: str
) -> None:
    body = form(
        MessageSid="SMstop",
        SmsStatus="received",
        From=THEIR_NUMBER,
        To=OUR_NUMBER,
        Body=text,
        NumMedia="0",
        OptOutType="STOP",
    )
    async with app(database_url) as client:
        assert (await send(client, sign(body))).status_code == 200
        opted = await graphql_data(
            client,
            "query($a: String!) { isOptedOut(address: $a)"
            " optOuts(first: 5) { nodes { address action source text } } }",
            a=THEIR_NUMBER,
        )
    assert opted == {
        "isOptedOut": True,
        "optOuts": {
            "nodes": [
                {"address": THEIR_NUMBER, "action": "OPT_OUT", "source": source, "text": text}
            ]
        },
    }


# --- twilio-python's vectors over HTTP ------------------------------------------------------

# tests/unit/test_request_validator.py @306691e793f4: auth token "12345", URL
# https://mycompany.com/myapp.php?foo=1&bar=2. With that public_url, a request to
# /hooks/twilio?foo=1&bar=2 is the URL Twilio signed.
SDK_RECEIVER = Receiver(
    name="twilio",
    provider="twilio",
    auth=Auth(signature=["12345"]),
    public_url="https://mycompany.com/myapp.php",
)
SDK_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
SDK_JSON_BODY = b'{"property": "value", "boolean": true}'
SDK_JSON_QUERY = (
    "foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
)


async def test_sdk_vectors_pass_verification_over_http(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Verified, then read: a voice call's parameters are no message, so 400 (stored as
    rejected, as any unreadable payload), never 401."""
    async with app(database_url, SDK_RECEIVER) as client:
        form_answer = await client.post(
            "/hooks/twilio?foo=1&bar=2",
            content=urlencode(SDK_PARAMS).encode(),
            headers={"Content-Type": FORM, "X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        )
        json_answer = await client.post(
            f"/hooks/twilio?{SDK_JSON_QUERY}",
            content=SDK_JSON_BODY,
            headers={
                "Content-Type": "application/json",
                "X-Twilio-Signature": "a9nBmqA0ju/hNViExpshrM61xv4=",
            },
        )
    assert form_answer.status_code == 400, form_answer.text
    assert "not a Twilio message callback" in form_answer.text
    assert json_answer.status_code == 400, json_answer.text
    states = await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in states] == ["REJECTED", "REJECTED"]


async def test_tampered_sdk_vectors_are_refused_over_http_and_not_stored(
    db: asyncpg.Connection, database_url: str
) -> None:
    tampered = [
        (
            "/hooks/twilio?foo=1&bar=2",
            urlencode({**SDK_PARAMS, "Digits": "9999"}).encode(),
            FORM,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            "signature does not match",
        ),
        (
            "/hooks/twilio?foo=1&bar=3",
            urlencode(SDK_PARAMS).encode(),
            FORM,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            "signature does not match",
        ),
        (
            f"/hooks/twilio?{SDK_JSON_QUERY}",
            json.dumps(json.loads(SDK_JSON_BODY)).encode().replace(b" ", b""),
            "application/json",
            "a9nBmqA0ju/hNViExpshrM61xv4=",
            "body does not match bodySHA256",
        ),
    ]
    async with app(database_url, SDK_RECEIVER) as client:
        for path, body, content_type, signature, reason in tampered:
            response = await client.post(
                path,
                content=body,
                headers={"Content-Type": content_type, "X-Twilio-Signature": signature},
            )
            assert (response.status_code, response.text) == (401, reason)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0


# --- Forgeries store nothing -----------------------------------------------------------------


async def test_forged_requests_are_refused_and_nothing_is_stored(
    db: asyncpg.Connection, database_url: str
) -> None:
    sample = PROVIDER.samples[1].body
    good = sign(sample)
    added = good.body + b"&MessageStatus=delivered"
    streamed = sign(PROVIDER.samples[2].body, "application/json")
    cases = [
        (sign(sample, key="an-attackers-guess-0123456789"), "signature does not match"),
        (
            SignedRequest(**{**_fields(good), "headers": {"content-type": FORM}}),
            "missing X-Twilio-Signature header",
        ),
        (SignedRequest(**{**_fields(good), "body": added}), "signature does not match"),
        (
            SignedRequest(**{**_fields(streamed), "body": streamed.body.replace(b" : ", b":")}),
            "body does not match bodySHA256",
        ),
        (
            SignedRequest(**{**_fields(streamed), "query_string": ""}),
            "the body is not signed: Twilio signs form parameters, or a JSON body through "
            "bodySHA256 in the URL",
        ),
    ]
    async with app(database_url) as client:
        for request, reason in cases:
            response = await send(client, request)
            assert (response.status_code, response.text) == (401, reason)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


def _fields(request: SignedRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in SignedRequest.__slots__}


async def test_the_previous_token_still_verifies_during_rotation(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with app(database_url) as client:
        response = await send(client, sign(PROVIDER.samples[0].body, key=OLD_TOKEN))
    assert response.status_code == 200
    assert await db.fetchval("SELECT state FROM callbox_notification") == "ACCEPTED"


async def test_a_url_token_is_part_of_the_signed_url(
    db: asyncpg.Connection, database_url: str
) -> None:
    token = "url-token-0123456789abcdef"
    with_token = receiver(auth=Auth(signature=[TOKEN], url_token=[token]))
    request = sign(PROVIDER.samples[0].body, url=f"{PUBLIC_URL}/{token}")
    unsigned_path = sign(PROVIDER.samples[0].body)  # signed for the URL without the token
    async with app(database_url, with_token) as client:
        assert (await send(client, request, f"/hooks/twilio/{token}")).status_code == 200
        refused = await send(client, unsigned_path, f"/hooks/twilio/{token}")
    assert (refused.status_code, refused.text) == (401, "signature does not match")
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1


async def test_a_webhooks_rule_signing_with_hmac_sha256(
    db: asyncpg.Connection, database_url: str
) -> None:
    shared = receiver(
        auth=Auth(signature=["shared-key-secret-0123456789"]),
        options={"signature_algorithms": ["HMAC_SHA256"]},
    )
    body = PROVIDER.samples[0].body
    sha256 = sign(body, key="shared-key-secret-0123456789", receiver_settings=shared)
    assert "x-twilio-webhooks-signature-settings" in sha256.headers
    sha1 = sign(body, key="shared-key-secret-0123456789")
    async with app(database_url, shared) as client:
        accepted = await send(client, sha256)
        refused = await send(client, sha1)
    assert accepted.status_code == 200
    assert (refused.status_code, refused.text) == (
        401,
        "signature algorithm HMAC_SHA1 is not accepted by this receiver "
        "(signature_algorithms: HMAC_SHA256)",
    )
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1


async def test_a_retried_callback_is_a_duplicate(db: asyncpg.Connection, database_url: str) -> None:
    request = sign(PROVIDER.samples[1].body)
    async with app(database_url) as client:
        for _ in range(2):
            assert (await send(client, request)).status_code == 200
    states = await db.fetch("SELECT state FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in states] == ["ACCEPTED", "DUPLICATE"]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1
