"""Issue 16, the receivers' part: bad input that once got through, through the whole HTTP
stack on a real database.

- ``X-Forwarded-For`` split over several header lines is read whole (item 3).
- Stored headers are bounded (item 6).
- An absurd ``Content-Length`` is a 413 that is stored, and ``body_size`` is what arrived
  (item 7).
- The URL token is redacted in every encoding (item 8).
- A provider bug logs the exception type and the provider, never values (item 9).
- Receivers' 401s carry ``WWW-Authenticate`` (item 10).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Sequence

import asyncpg
import httpx
import pytest

from callbox.providers import PROVIDERS
from callbox.providers.base import Event, InboundRequest, ReceiverContext
from callbox.settings import Auth, Receiver
from tests.integration.test_receiver_auth import receipt, stored_text
from tests.support import callbox_client, served, settings_for

BEARER = "bearer-hardening-4f3e2d1c0b"
AUTH = {"Authorization": f"Bearer {BEARER}", "Content-Type": "application/json"}


def notify(auth: Auth, *, name: str = "hook", max_body_bytes: int = 65536) -> Receiver:
    return Receiver(
        name=name, provider="notify", auth=auth, default_region="GB", max_body_bytes=max_body_bytes
    )


# --- item 3: X-Forwarded-For over several lines ---------------------------------------------


@pytest.mark.parametrize(
    ("lines", "status", "client_address"),
    [
        # The client sent an allowed address; our proxy appended the real one on a line of
        # its own: the right-most untrusted hop, on the last line, is the client.
        (["203.0.113.9", "198.51.100.66"], 403, "198.51.100.66"),
        (["198.51.100.66", "203.0.113.9, 127.0.0.5"], 200, "203.0.113.9"),
        (["203.0.113.9, 127.0.0.7", "127.0.0.5"], 200, "203.0.113.9"),
    ],
    ids=["spoofed-first-line", "proxy-chain-last-line", "trusted-last-line"],
)
async def test_forwarded_for_over_several_lines_is_read_whole(
    lines: list[str],
    status: int,
    client_address: str,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    # A real server: the test client joins repeated header lines into one before the app
    # sees them, uvicorn passes each line on as it came.
    settings = settings_for(
        database_url,
        [notify(Auth(ip_allow=["203.0.113.0/24"]))],
        trusted_proxies=["127.0.0.0/8"],
    )
    headers = [("content-type", "application/json")]
    headers += [("x-forwarded-for", line) for line in lines]
    async with served(settings) as base, httpx.AsyncClient(base_url=base) as client:
        response = await client.post("/hooks/hook", content=receipt(), headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.text == f"client address {client_address} is not allowed"
        assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
        return
    row = await db.fetchrow("SELECT client_address, headers FROM callbox_notification")
    assert row["client_address"] == client_address
    assert json.loads(row["headers"])["x-forwarded-for"] == ", ".join(lines)


# --- item 6: stored headers are bounded -----------------------------------------------------


async def test_stored_headers_are_bounded_with_a_marker(
    db: asyncpg.Connection, database_url: str
) -> None:
    from callbox.web.request_info import MAX_HEADER_VALUE_CHARS, MAX_STORED_HEADERS_CHARS

    settings = settings_for(database_url, [notify(Auth(bearer=[BEARER]))])
    many = [(f"x-filler-{index}", "f" * 1000) for index in range(100)]
    headers = [*AUTH.items(), ("x-huge", "h" * 50_000), *many]
    async with callbox_client(settings) as client:
        response = await client.post("/hooks/hook", content=receipt(), headers=headers)
    assert response.status_code == 200, response.text
    stored = json.loads(await db.fetchval("SELECT headers FROM callbox_notification"))
    assert stored["content-type"] == "application/json"
    assert stored["x-huge"].startswith("h" * 100)
    assert stored["x-huge"].endswith("[truncated: 50000 characters]")
    assert len(stored["x-huge"]) <= MAX_HEADER_VALUE_CHARS + 40
    dropped = stored.pop("[dropped]")
    assert sum(len(name) + len(value) for name, value in stored.items()) <= (
        MAX_STORED_HEADERS_CHARS
    )
    assert re.match(r"\d+ headers: x-filler-\d+, ", dropped)
    assert "x-filler-99" in dropped
    assert len(dropped) < 2100


# --- item 7: an absurd Content-Length -------------------------------------------------------


@pytest.mark.parametrize("announced", ["9223372036854775808", "99999999999999999999999", "5000"])
async def test_oversize_announced_length_is_413_stored_with_what_arrived(
    announced: str, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [notify(Auth(bearer=[BEARER]), max_body_bytes=1000)])
    body = b'{"padding": "' + b"x" * 4985 + b'"}'
    async with callbox_client(settings) as client:
        response = await client.post(
            "/hooks/hook", content=body, headers={**AUTH, "Content-Length": announced}
        )
        assert response.status_code == 413, response.text
        assert response.text == "body larger than the receiver's limit of 1000 bytes"
        after = await client.post("/hooks/hook", content=receipt(), headers=AUTH)
        assert after.status_code == 200, after.text
    rows = await db.fetch("SELECT state, body, body_size FROM callbox_notification ORDER BY id")
    assert [row["state"] for row in rows] == ["REJECTED", "ACCEPTED"]
    assert rows[0]["body"] is None
    assert rows[0]["body_size"] == len(body)


async def test_a_short_body_under_a_huge_announced_length_is_refused(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [notify(Auth(bearer=[BEARER]), max_body_bytes=1000)])
    async with callbox_client(settings) as client:
        response = await client.post(
            "/hooks/hook",
            content=receipt(),
            headers={**AUTH, "Content-Length": "9223372036854775808"},
        )
    assert response.status_code == 413, response.text
    row = await db.fetchrow("SELECT state, body_size FROM callbox_notification")
    assert (row["state"], row["body_size"]) == ("REJECTED", len(receipt()))


# --- item 8: the URL token in every encoding ------------------------------------------------

TOKEN = "esTok-Proxy-9f8e7d6c5b"


def percent(text: str, *, upper: bool = True, every: int = 1) -> str:
    """``text`` with every ``every``-th character percent-encoded."""
    out = []
    for index, char in enumerate(text):
        if index % every == 0:
            code = f"%{ord(char):02X}"
            out.append(code if upper else code.lower())
        else:
            out.append(char)
    return "".join(out)


ENCODINGS = {
    "upper": percent(TOKEN),
    "lower": percent(TOKEN, upper=False),
    "partial": percent(TOKEN, every=3),
    "mixed-case": "".join(
        f"%{ord(c):02x}" if i % 2 else f"%{ord(c):02X}" for i, c in enumerate(TOKEN)
    ),
    "double": percent(TOKEN).replace("%", "%25"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
async def test_url_token_is_redacted_in_every_encoding(
    encoding: str, db: asyncpg.Connection, database_url: str
) -> None:
    settings = settings_for(database_url, [notify(Auth(url_token=[TOKEN]))])
    encoded = ENCODINGS[encoding]
    async with callbox_client(settings) as client:
        response = await client.post(
            f"/hooks/hook/{TOKEN}?next=/hooks/hook/{encoded}&plain={TOKEN}",
            content=receipt(),
            headers={
                "Content-Type": "application/json",
                "X-Original-URL": f"/hooks/hook/{encoded}",
                "X-Forwarded-Uri": f"/callbox/hooks/hook/{encoded}?a=1",
                "X-Envoy-Original-Path": f"/hooks/hook/{TOKEN}",
            },
        )
    assert response.status_code == 200, response.text
    row = await db.fetchrow("SELECT headers, query_string FROM callbox_notification")
    headers = json.loads(row["headers"])
    assert headers["x-original-url"] == "/hooks/hook/<redacted>"
    assert headers["x-forwarded-uri"] == "/callbox/hooks/hook/<redacted>?a=1"
    assert headers["x-envoy-original-path"] == "/hooks/hook/<redacted>"
    assert row["query_string"] == "next=/hooks/hook/<redacted>&plain=<redacted>"
    everything = await stored_text(db)
    for form in (TOKEN, encoded, TOKEN.lower(), encoded.lower()):
        assert form.lower() not in everything.lower()


async def test_url_token_across_the_cut_of_a_long_header_is_not_kept_in_part(
    db: asyncpg.Connection, database_url: str
) -> None:
    from callbox.web.request_info import MAX_HEADER_VALUE_CHARS

    settings = settings_for(database_url, [notify(Auth(url_token=[TOKEN]))])
    long_url = "/p" + "p" * (MAX_HEADER_VALUE_CHARS - 8) + f"/{TOKEN}"
    async with callbox_client(settings) as client:
        response = await client.post(
            f"/hooks/hook/{TOKEN}",
            content=receipt(),
            headers={"Content-Type": "application/json", "X-Original-URL": long_url},
        )
    assert response.status_code == 200, response.text
    stored = json.loads(await db.fetchval("SELECT headers FROM callbox_notification"))
    assert "[truncated: " in stored["x-original-url"]
    assert TOKEN[:4] not in stored["x-original-url"]


# --- item 9: no values in the error log -----------------------------------------------------

PHONE = "+447700900123"


def exploding_parser(request: InboundRequest, context: ReceiverContext) -> Sequence[Event]:
    payload = json.loads(request.body)
    number = payload["to"]
    raise ValueError(f"cannot handle {number} with {payload}")


async def test_a_provider_bug_logs_the_provider_and_exception_type_only(
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = dataclasses.replace(PROVIDERS["notify"], parse=exploding_parser)
    monkeypatch.setitem(PROVIDERS, "notify", broken)
    settings = settings_for(database_url, [notify(Auth(bearer=[BEARER]))])
    caplog.set_level(logging.DEBUG)
    async with callbox_client(settings) as client:
        response = await client.post("/hooks/hook", content=receipt(), headers=AUTH)
    assert response.status_code == 500
    assert await db.fetchval("SELECT state FROM callbox_notification") == "REJECTED"
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors, "the provider bug is logged"
    for record in caplog.records:
        assert record.exc_info is None or record.exc_info[0] is None
        assert record.exc_text is None
        text = record.getMessage()
        assert PHONE not in text
        assert "740e5834" not in text
        assert "delivered" not in text
    ingest_error = next(r for r in errors if r.name == "callbox.ingest.pipeline")
    assert "notify" in ingest_error.getMessage()
    assert "ValueError" in ingest_error.getMessage()
    assert "hook" in ingest_error.getMessage()


# --- item 10: WWW-Authenticate on every 401 -------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "path", "headers", "challenge"),
    [
        (Auth(bearer=[BEARER]), "/hooks/hook", {}, 'Bearer realm="callbox"'),
        (
            Auth(bearer=[BEARER]),
            "/hooks/hook",
            {"Authorization": "Bearer nope"},
            'Bearer realm="callbox", error="invalid_token"',
        ),
        (Auth(basic=["user:pass"]), "/hooks/hook", {}, 'Basic realm="callbox", charset="UTF-8"'),
        (Auth(url_token=[TOKEN]), "/hooks/hook", {}, 'URL-Token realm="callbox"'),
        (Auth(url_token=[TOKEN]), "/hooks/hook/nope", {}, 'URL-Token realm="callbox"'),
    ],
    ids=["bearer-missing", "bearer-wrong", "basic-missing", "token-missing", "token-wrong"],
)
async def test_every_401_carries_a_challenge(
    auth: Auth,
    path: str,
    headers: dict[str, str],
    challenge: str,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    settings = settings_for(database_url, [notify(auth)])
    async with callbox_client(settings) as client:
        response: httpx.Response = await client.post(
            path, content=receipt(), headers={"Content-Type": "application/json", **headers}
        )
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate") == challenge
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
