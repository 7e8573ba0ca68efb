"""Receiver authentication through the whole HTTP stack, written once for every scheme.

Each scheme (bearer, basic, url_token, ip_allow) is described by a :class:`Scheme` that
knows how a request presents a credential; the same tests then check, for every scheme,
that the right credential is stored, a wrong or missing one is refused with a short
plain-text reason and stores nothing, and that rotation (two configured values) works.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from callbox.app import create_app
from callbox.settings import Auth, Receiver, Settings
from tests.conftest import CALLBOX_TABLES
from tests.support import callbox_client, settings_for

RECEIVER = "hook"
HOOK = f"/hooks/{RECEIVER}"
JSON = {"Content-Type": "application/json"}


def receipt(notification_id: str = "740e5834-3a29-46b4-9a6f-16142fde533a") -> bytes:
    """A valid GOV.UK Notify delivery receipt (any scheme guards a Notify receiver here)."""
    return json.dumps(
        {
            "id": notification_id,
            "reference": "ref-1",
            "to": "+447700900123",
            "status": "delivered",
            "notification_type": "sms",
            "created_at": "2026-11-22T10:00:00.000000Z",
            "completed_at": "2026-11-22T10:00:05.000000Z",
            "sent_at": "2026-11-22T10:00:01.000000Z",
        }
    ).encode()


def receiver(auth: Auth) -> Receiver:
    return Receiver(name=RECEIVER, provider="notify", auth=auth, default_region="GB")


@dataclass(frozen=True)
class Presented:
    """How one request presents a credential: its path, headers and socket peer."""

    path: str = HOOK
    headers: dict[str, str] = field(default_factory=dict)
    peer: str | None = "127.0.0.1"
    """``None``: the ASGI scope has no client at all (e.g. a unix-socket listener)."""


def _basic(user_password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user_password.encode()).decode()}


@dataclass(frozen=True)
class Scheme:
    """One auth scheme: its configuration, credentials and how each is presented."""

    name: str
    configure: Callable[[list[str]], Auth]
    present: Callable[[str], Presented]
    old: str
    new: str
    wrong: str
    missing: Presented
    deny_status: int
    wrong_reason: str
    missing_reason: str
    secret: bool = True
    """Whether the configured values are secrets (``env:``/``sha256:`` forms apply)."""

    def __str__(self) -> str:
        return self.name


SCHEMES = [
    Scheme(
        name="bearer",
        configure=lambda values: Auth(bearer=values),
        present=lambda token: Presented(headers={"Authorization": f"Bearer {token}"}),
        old="bearer-old-7c1d9e0f2a3b4c5d",
        new="bearer-new-0a1b2c3d4e5f6a7b",
        wrong="bearer-wrong-ffffffffffff",
        missing=Presented(),
        deny_status=401,
        wrong_reason="wrong bearer token",
        missing_reason="missing bearer token",
    ),
    Scheme(
        name="basic",
        configure=lambda values: Auth(basic=values),
        present=lambda user_password: Presented(headers=_basic(user_password)),
        old="provider:old-pass-3e4f5a6b7c",
        new="provider:new-pass-8d9e0f1a2b",
        wrong="provider:not-the-password",
        missing=Presented(),
        deny_status=401,
        wrong_reason="wrong basic credentials",
        missing_reason="missing basic credentials",
    ),
    Scheme(
        name="url_token",
        configure=lambda values: Auth(url_token=values),
        present=lambda token: Presented(path=f"{HOOK}/{token}"),
        old="urltok-old-5b6c7d8e9f0a1b2c",
        new="urltok-new-3d4e5f6a7b8c9d0e",
        wrong="urltok-wrong-000000000000",
        missing=Presented(path=HOOK),
        deny_status=401,
        wrong_reason="wrong URL token",
        missing_reason="missing URL token",
    ),
    Scheme(
        name="ip_allow",
        # The configured values are networks; a request presents its socket peer.
        configure=lambda values: Auth(ip_allow=[f"{value}/32" for value in values]),
        present=lambda address: Presented(peer=address),
        old="192.0.2.10",
        new="203.0.113.9",
        wrong="198.51.100.7",
        missing=Presented(peer=None),
        deny_status=403,
        wrong_reason="client address 198.51.100.7 is not allowed",
        missing_reason="client address unknown is not allowed",
        secret=False,
    ),
]
SECRET_SCHEMES = [scheme for scheme in SCHEMES if scheme.secret]


class WithoutPeer:
    """ASGI wrapper whose requests carry no client address (``scope["client"] = None``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": None}  # type: ignore[assignment]
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def client_from(settings: Settings, peer: str | None) -> AsyncIterator[AsyncTestClient[Any]]:
    if peer is not None:
        async with callbox_client(settings, peer=peer) as client:
            yield client
        return
    async with AsyncTestClient(app=WithoutPeer(create_app(settings))) as client:  # type: ignore[arg-type]
        yield client


async def send(
    settings: Settings,
    presented: Presented,
    body: bytes | None = None,
    *,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    async with client_from(settings, presented.peer) as client:
        return await client.post(
            presented.path,
            content=receipt() if body is None else body,
            headers={**JSON, **presented.headers, **(extra_headers or {})},
        )


async def stored_text(db: asyncpg.Connection) -> str:
    """Every row of every Callbox table as JSON text (bytea columns as hex)."""
    parts = []
    for table in CALLBOX_TABLES:
        rows = await db.fetch(f"SELECT to_jsonb(t)::text AS row FROM {table} t")
        parts.extend(row["row"] for row in rows)
    return "\n".join(parts)


def secret_forms(scheme: Scheme) -> set[str]:
    """The ways a scheme's secrets could leak into storage."""
    forms = set()
    for value in (scheme.old, scheme.new, scheme.wrong):
        forms.add(value)
        if scheme.name == "basic":
            forms.add(value.split(":", 1)[1])
            forms.add(base64.b64encode(value.encode()).decode())
    return forms


def assert_refusal(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == reason
    assert len(response.text) < 100


async def assert_nothing_stored(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


# --- every scheme ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
async def test_right_credential_is_accepted_and_stored(
    scheme: Scheme, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [receiver(scheme.configure([scheme.new]))])
    response = await send(settings, scheme.present(scheme.new))
    assert response.status_code == 200, response.text
    assert response.content == b""
    notification = await db.fetchrow("SELECT * FROM callbox_notification")
    assert (notification["receiver"], notification["state"]) == (RECEIVER, "ACCEPTED")
    assert bytes(notification["body"]) == receipt()
    message = await db.fetchrow("SELECT status, provider_message_id FROM callbox_message")
    assert tuple(message) == ("DELIVERED", "740e5834-3a29-46b4-9a6f-16142fde533a")


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
async def test_wrong_credential_is_refused_and_nothing_stored(
    scheme: Scheme, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [receiver(scheme.configure([scheme.new]))])
    response = await send(settings, scheme.present(scheme.wrong))
    assert_refusal(response, scheme.deny_status, scheme.wrong_reason)
    await assert_nothing_stored(db)


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
async def test_missing_credential_is_refused_and_nothing_stored(
    scheme: Scheme, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [receiver(scheme.configure([scheme.new]))])
    response = await send(settings, scheme.missing)
    assert_refusal(response, scheme.deny_status, scheme.missing_reason)
    await assert_nothing_stored(db)


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
async def test_rotation_accepts_old_and_new_and_nothing_else(
    scheme: Scheme, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [receiver(scheme.configure([scheme.old, scheme.new]))])
    old = await send(settings, scheme.present(scheme.old), receipt("id-old"))
    new = await send(settings, scheme.present(scheme.new), receipt("id-new"))
    wrong = await send(settings, scheme.present(scheme.wrong), receipt("id-wrong"))
    assert (old.status_code, new.status_code, wrong.status_code) == (200, 200, scheme.deny_status)
    rows = await db.fetch("SELECT provider_message_id FROM callbox_message ORDER BY id")
    assert [row["provider_message_id"] for row in rows] == ["id-old", "id-new"]
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 2


def test_every_scheme_is_covered() -> None:
    # The parametrised tests above are only as good as this table: all four schemes.
    assert [scheme.name for scheme in SCHEMES] == ["bearer", "basic", "url_token", "ip_allow"]


@pytest.mark.parametrize("presented", ["wrong", "missing", "malformed"])
async def test_basic_refusal_carries_a_basic_challenge(
    presented: str, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [receiver(Auth(basic=["provider:pass"]))])
    requests = {
        "wrong": Presented(headers=_basic("provider:nope")),
        "missing": Presented(),
        "malformed": Presented(headers={"Authorization": "Basic not*base64"}),
    }
    response = await send(settings, requests[presented])
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert 'realm="callbox"' in response.headers["www-authenticate"]
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == f"{presented} basic credentials"
    await assert_nothing_stored(db)


@pytest.mark.parametrize("scheme", SECRET_SCHEMES, ids=str)
@pytest.mark.parametrize("form", ["env", "sha256"])
async def test_secret_given_by_reference_works(
    scheme: Scheme,
    form: str,
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if form == "env":
        monkeypatch.setenv("CALLBOX_TEST_RECEIVER_SECRET", scheme.new)
        reference = "env:CALLBOX_TEST_RECEIVER_SECRET"
    else:
        reference = "sha256:" + hashlib.sha256(scheme.new.encode()).hexdigest()
    settings = settings_for(database_url, [receiver(scheme.configure([reference]))])
    accepted = await send(settings, scheme.present(scheme.new))
    # The reference itself is not the secret.
    refused = await send(settings, scheme.present(reference))
    assert accepted.status_code == 200, accepted.text
    assert_refusal(refused, 401, scheme.wrong_reason)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1


@pytest.mark.parametrize("scheme", SECRET_SCHEMES, ids=str)
async def test_no_secret_is_stored_anywhere(
    scheme: Scheme, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [receiver(scheme.configure([scheme.old, scheme.new]))])
    accepted = await send(settings, scheme.present(scheme.new), receipt("id-ok"))
    # Right credential, payload rejected: the raw request is stored as REJECTED.
    rejected = await send(settings, scheme.present(scheme.old), b'{"neither": "nor"}')
    assert (accepted.status_code, rejected.status_code) == (200, 400)
    rows = await db.fetch("SELECT * FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in rows] == ["ACCEPTED", "REJECTED"]
    everything = await stored_text(db)
    for secret in secret_forms(scheme):
        assert secret not in everything
        for row in rows:
            assert secret.encode() not in bytes(row["body"])
    for row in rows:
        headers = json.loads(row["headers"])
        assert "authorization" not in {name.lower() for name in headers}
        assert headers["content-type"] == "application/json"


async def test_url_token_in_a_proxy_header_is_not_stored(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Reverse proxies pass the original URL on (Envoy's x-envoy-original-path after a prefix
    rewrite, X-Forwarded-Uri, X-Original-URL); the token must not reach storage that way."""
    token = "urltok-proxy-9f8e7d6c5b4a3210"
    settings = settings_for(database_url, [receiver(Auth(url_token=[token]))])
    original = f"/callbox{HOOK}/{token}"
    response = await send(
        settings,
        Presented(path=f"{HOOK}/{token}"),
        extra_headers={
            "X-Envoy-Original-Path": original,
            "X-Forwarded-Uri": original,
            "X-Original-URL": f"https://callbox.example{original}",
        },
    )
    assert response.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1
    assert token not in await stored_text(db)


# --- several schemes at once ----------------------------------------------------------------

COMBINED_TOKEN = "combined-bearer-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    ("peer", "token", "status", "reason"),
    [
        ("203.0.113.9", COMBINED_TOKEN, 200, ""),
        ("203.0.113.9", "not-the-token", 401, "wrong bearer token"),
        ("203.0.113.9", None, 401, "missing bearer token"),
        ("198.51.100.7", COMBINED_TOKEN, 403, "client address 198.51.100.7 is not allowed"),
        ("198.51.100.7", "not-the-token", 403, "client address 198.51.100.7 is not allowed"),
    ],
    ids=["both", "wrong-token", "no-token", "wrong-address", "neither"],
)
async def test_combined_receiver_needs_every_scheme(
    peer: str,
    token: str | None,
    status: int,
    reason: str,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    auth = Auth(ip_allow=["203.0.113.0/24"], bearer=[COMBINED_TOKEN])
    settings = settings_for(database_url, [receiver(auth)])
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await send(settings, Presented(headers=headers, peer=peer))
    assert response.status_code == status, response.text
    assert response.text == reason
    expected_stored = 1 if status == 200 else 0
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == expected_stored


# --- the client address behind proxies ------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "status", "client_address"),
    [
        # A forged header from an untrusted peer is ignored: the peer is the client.
        ("198.51.100.7", "203.0.113.9", 403, "198.51.100.7"),
        # An allowed client cannot be made to look like someone else either.
        ("203.0.113.50", "198.51.100.7", 200, "203.0.113.50"),
        # Our proxy's header is believed.
        ("10.1.2.3", "203.0.113.9", 200, "203.0.113.9"),
        # Our proxies are skipped from the right; the first untrusted hop is the client.
        ("10.1.2.3", "203.0.113.9, 10.0.0.5", 200, "203.0.113.9"),
        # A client that prepends an allowed address is still itself (the right-most hop).
        ("10.1.2.3", "1.2.3.4, 198.51.100.66", 403, "198.51.100.66"),
        # Our proxy without a header is the client, and it is not allowed.
        ("10.1.2.3", None, 403, "10.1.2.3"),
    ],
    ids=["forged", "forged-by-allowed", "proxy", "proxy-chain", "spoofed-chain", "proxy-alone"],
)
async def test_ip_allow_resolves_the_client_behind_trusted_proxies(
    peer: str,
    forwarded_for: str | None,
    status: int,
    client_address: str,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    auth = Auth(ip_allow=["203.0.113.0/24", "1.2.3.4"])
    settings = settings_for(database_url, [receiver(auth)], trusted_proxies=["10.0.0.0/8"])
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await send(settings, Presented(headers=headers, peer=peer))
    assert response.status_code == status, response.text
    if status == 403:
        assert_refusal(response, 403, f"client address {client_address} is not allowed")
        await assert_nothing_stored(db)
        return
    row = await db.fetchrow(
        "SELECT peer_address, client_address, headers FROM callbox_notification"
    )
    assert (row["peer_address"], row["client_address"]) == (peer, client_address)
    assert json.loads(row["headers"])["x-forwarded-for"] == forwarded_for


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "status", "client_address"),
    [
        ("2001:db8:abcd::17", None, 200, "2001:db8:abcd::17"),
        ("2001:db8:abce::1", None, 403, "2001:db8:abce::1"),
        ("fd00::1", "2001:db8:abcd::42", 200, "2001:db8:abcd::42"),
        ("fd00::1", "[2001:db8:abcd::43]:443, fd00::2", 200, "2001:db8:abcd::43"),
        ("fd00::1", "2001:db8:abcd::42, 2001:db8:ffff::1", 403, "2001:db8:ffff::1"),
    ],
    ids=["peer-allowed", "peer-outside", "via-proxy", "via-proxy-chain", "spoofed-chain"],
)
async def test_ip_allow_with_ipv6_networks(
    peer: str,
    forwarded_for: str | None,
    status: int,
    client_address: str,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    auth = Auth(ip_allow=["2001:db8:abcd::/48"])
    settings = settings_for(database_url, [receiver(auth)], trusted_proxies=["fd00::/8"])
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await send(settings, Presented(headers=headers, peer=peer))
    if status == 403:
        assert_refusal(response, 403, f"client address {client_address} is not allowed")
        await assert_nothing_stored(db)
        return
    assert response.status_code == 200, response.text
    row = await db.fetchrow("SELECT peer_address, client_address FROM callbox_notification")
    assert (row["peer_address"], row["client_address"]) == (peer, client_address)


async def test_unparseable_forwarded_hop_of_any_length_does_not_lose_the_callback(
    db: asyncpg.Connection, database_url: str
) -> None:
    """An unparseable right-most hop is used as the client address as it is; the column is
    varchar(64), so a longer one must not turn the callback into a 500 that is never stored."""
    settings = settings_for(
        database_url, [receiver(Auth(bearer=[COMBINED_TOKEN]))], trusted_proxies=["10.0.0.0/8"]
    )
    headers = {"Authorization": f"Bearer {COMBINED_TOKEN}", "X-Forwarded-For": "x" * 80}
    response = await send(settings, Presented(headers=headers, peer="10.1.2.3"))
    assert response.status_code == 200, response.text
    row = await db.fetchrow("SELECT state, client_address FROM callbox_notification")
    assert row is not None
    assert row["state"] == "ACCEPTED"
    assert len(row["client_address"]) <= 64
