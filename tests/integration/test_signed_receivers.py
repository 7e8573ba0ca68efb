"""Signed callbacks through the real app, with a throwaway provider that signs the URL and the
body (HMAC-SHA256): verification runs before anything is stored, a failure is 401 with a
plain reason, keys rotate, ``signature`` combines with the other schemes, and the URL checked
is the configured ``public_url``, never what the Host header says."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import pytest

from callbox.cli import main
from callbox.model.vocabulary import Channel, Status
from callbox.providers import PROVIDERS
from callbox.providers.base import (
    Event,
    InboundRequest,
    Provider,
    ReceiverContext,
    SamplePayload,
    SignatureKey,
    SignatureScheme,
    SignedRequest,
    StatusReported,
)
from callbox.providers.payloads import decode_form, required_str
from callbox.providers.signatures import require_match, required_header
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, ConfigError, Metrics, Receiver
from tests.support import callbox_client, served, settings_for

HEADER = "X-Hmacbox-Signature"
PUBLIC_URL = "https://callbox.example.test/hooks/hmacbox"
KEY, NEW_KEY, OTHER_KEY = "old-secret-0123456789", "new-secret-0123456789", "not-it-0123456789"
BODY = b"id=m-1&status=zapped"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _mac(key: bytes, request: SignedRequest) -> str:
    return hmac.new(key, request.url.encode() + request.body, hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest, keys: Sequence[SignatureKey], _: ReceiverContext, __: datetime
) -> None:
    require_match(keys, lambda key: _mac(key, request), required_header(request, HEADER))


def sign(request: SignedRequest, key: str, _: ReceiverContext, __: datetime) -> SignedRequest:
    headers = {**request.headers, HEADER.lower(): _mac(key.encode(), request)}
    return SignedRequest(
        request.method,
        request.url,
        headers,
        request.query_string,
        request.body,
        request.content_type,
    )


def parse(request: InboundRequest, _: ReceiverContext) -> list[Event]:
    fields = decode_form(request.body)
    message_id = required_str(fields, "id")
    return [
        StatusReported(
            dedupe_key=f"receipt:{message_id}",
            provider_message_id=message_id,
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status=required_str(fields, "status"),
            failure_reason=None,
            occurred_at=None,
        )
    ]


HMACBOX = Provider(
    name="hmacbox",
    parse=parse,
    samples=(SamplePayload("Delivered", BODY, "application/x-www-form-urlencoded"),),
    signature=SignatureScheme(verify=verify, sign=sign, needs_public_url=True),
)


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, HMACBOX.name, HMACBOX)


def signature_for(key: str, url: str = PUBLIC_URL, body: bytes = BODY) -> str:
    return hmac.new(key.encode(), url.encode() + body, hashlib.sha256).hexdigest()


def receiver(**auth: list[str]) -> Receiver:
    return Receiver(
        name="hmacbox",
        provider="hmacbox",
        auth=Auth(signature=[f"env:{'HMACBOX_KEY'}", NEW_KEY], **auth),  # type: ignore[arg-type]
        public_url=PUBLIC_URL,
    )


async def stored(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM callbox_notification")
    return count


async def test_only_a_request_signed_with_a_configured_key_is_stored(
    database_url: str, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMACBOX_KEY", KEY)
    metrics = Metrics(enabled=True, bearer=["scrape-token-0123456789"])
    settings = settings_for(database_url, [receiver()], metrics=metrics)
    async with callbox_client(settings) as client:
        refusals = {
            "missing X-Hmacbox-Signature header": {},
            "signature does not match": {HEADER: signature_for(OTHER_KEY)},
        }
        for reason, headers in refusals.items():
            answer = await client.post("/hooks/hmacbox", content=BODY, headers={**FORM, **headers})
            assert (answer.status_code, answer.text) == (401, reason)
        tampered = await client.post(
            "/hooks/hmacbox",
            content=BODY + b"&status=failed",  # a param added in transit
            headers={**FORM, HEADER: signature_for(KEY)},
        )
        assert (tampered.status_code, tampered.text) == (401, "signature does not match")
        assert await stored(db) == 0

        for key in (KEY, NEW_KEY):  # either key of the rotation
            answer = await client.post(
                "/hooks/hmacbox", content=BODY, headers={**FORM, HEADER: signature_for(key)}
            )
            assert answer.status_code == 200, answer.text
        scraped = await client.get(
            "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"}
        )
    assert await stored(db) == 2  # (the second is the duplicate of the first)
    unauthorised = [
        line
        for line in scraped.text.splitlines()
        if 'outcome="unauthorised"' in line and 'receiver="hmacbox"' in line
    ]
    assert unauthorised and unauthorised[0].endswith(" 3.0"), unauthorised


async def test_the_url_checked_is_the_public_url_whatever_the_host_header(
    database_url: str, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMACBOX_KEY", KEY)
    async with callbox_client(settings_for(database_url, [receiver()])) as client:
        # Signed for the URL the client talks to (the test client's host): not the one
        # configured at the provider, so refused.
        local = signature_for(KEY, url="http://testserver.local/hooks/hmacbox")
        answer = await client.post("/hooks/hmacbox", content=BODY, headers={**FORM, HEADER: local})
        assert answer.status_code == 401
        forged_host = await client.post(
            "/hooks/hmacbox?x=1",
            content=BODY,
            headers={**FORM, "Host": "callbox.example.test", HEADER: signature_for(KEY)},
        )
        assert forged_host.status_code == 401  # the query is part of the signed URL
        with_query = await client.post(
            "/hooks/hmacbox?x=1",
            content=BODY,
            headers={**FORM, HEADER: signature_for(KEY, url=f"{PUBLIC_URL}?x=1")},
        )
        assert with_query.status_code == 200, with_query.text


async def test_signature_combines_with_the_other_schemes_and_unverifiable_bodies_are_not_kept(
    database_url: str, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMACBOX_KEY", KEY)
    settings = settings_for(database_url, [receiver(ip_allow=["192.0.2.0/24"])])
    async with callbox_client(settings) as client:
        answer = await client.post(
            "/hooks/hmacbox", content=BODY, headers={**FORM, HEADER: signature_for(KEY)}
        )
        assert answer.status_code == 403  # signed, but not from an allowed address
    small = Receiver(
        name="hmacbox",
        provider="hmacbox",
        auth=Auth(signature=[KEY]),
        public_url=PUBLIC_URL,
        max_body_bytes=8,
    )
    async with callbox_client(settings_for(database_url, [small])) as client:
        answer = await client.post(
            "/hooks/hmacbox", content=BODY, headers={**FORM, HEADER: signature_for(KEY)}
        )
        assert answer.status_code == 413
    assert await stored(db) == 0


def test_configuration_errors_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HMACBOX_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"signature\[0\]: environment variable HMACBOX_KEY"):
        prepare_receiver(receiver(), 0)
    no_url = Receiver(name="hmacbox", provider="hmacbox", auth=Auth(signature=[KEY]))
    with pytest.raises(ConfigError, match="hmacbox signs the URL it calls: set this receiver's"):
        prepare_receiver(no_url, 0)
    unsigned = Receiver(name="notify", provider="notify", auth=Auth(signature=[KEY]))
    if PROVIDERS["notify"].signature is None:
        with pytest.raises(ConfigError, match="provider notify does not sign its callbacks"):
            prepare_receiver(unsigned, 0)
    with pytest.raises(ValueError, match="cannot be given as a digest"):
        Auth(signature=["sha256:" + "0" * 64])
    with pytest.raises(ValueError, match="without a query"):
        Receiver(name="hmacbox", provider="hmacbox", public_url=f"{PUBLIC_URL}?a=1")


def test_keys_are_not_in_a_receivers_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMACBOX_KEY", KEY)
    ready = prepare_receiver(receiver(), 0)
    assert ready.signature_keys == (KEY.encode(), NEW_KEY.encode())
    text = repr(ready).replace(repr(ready.settings), "")  # (the settings hold env: names)
    assert KEY not in text and NEW_KEY not in text


async def test_send_sample_signs_with_the_receivers_key(
    database_url: str,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HMACBOX_KEY", KEY)
    async with served(settings_for(database_url, [receiver()])) as base:

        def send(*options: str) -> int:
            return main(["send-sample", "hmacbox", "--url", f"{base}/hooks/hmacbox", *options])

        assert await asyncio.to_thread(send) == 1  # unsigned: refused
        assert "401 Delivered: missing X-Hmacbox-Signature header" in capsys.readouterr().out
        assert await stored(db) == 0
        signed = ("--sign-key", "env:HMACBOX_KEY", "--public-url", PUBLIC_URL)
        assert await asyncio.to_thread(send, *signed) == 0
        assert "200 Delivered" in capsys.readouterr().out
    assert await stored(db) == 1
    assert main(["send-sample", "esendex", "--sign-key", KEY]) == 2
    assert "esendex: Callbox cannot sign its callbacks" in capsys.readouterr().err
