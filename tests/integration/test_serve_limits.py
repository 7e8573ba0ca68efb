"""Limits before authentication (issue 16, item 6): what ``callbox serve`` refuses before any
key or token is checked, on a real ``callbox serve`` process, and the ``connection_init`` and
message bounds Callbox itself applies (so embedders get them too)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from callbox.graphql.limits import MAX_CONNECTION_INIT_CHARS, MAX_WEBSOCKET_MESSAGE_CHARS
from callbox.serve_limits import MAX_REQUEST_HEAD_BYTES
from callbox.settings import ApiKey, Auth, GraphQL, Receiver
from tests.graphql.support import KEYS
from tests.integration.test_receiver_auth import receipt
from tests.support import CallboxProcess, callbox_process, served, settings_for

TOKEN = "serve-limits-bearer-5e6f7a8b"
CONFIG = f"""
[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
auth = {{ bearer = ["{TOKEN}"] }}

[[graphql.api_keys]]
name = "reader"
key = "{KEYS["reader"]}"
scopes = ["read"]
"""
PROTOCOL = "graphql-transport-ws"


@pytest.fixture
async def serve(database_url: str, tmp_path: Path) -> AsyncIterator[CallboxProcess]:
    async with callbox_process(database_url, tmp_path, CONFIG) as server:
        yield server


def raw_exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send ``head`` and ``body`` on a plain socket; what came back before the server closed
    (``b"RESET"`` when it reset the connection before answering anything)."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        try:
            connection.sendall(head + body)
            while chunk := connection.recv(65536):
                answer += chunk
        except OSError:  # reset, broken pipe
            return answer or b"RESET"
    return answer


def post_head(headers: dict[str, str], length: int) -> bytes:
    lines = ["POST /hooks/notify HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_huge_header_is_refused_before_authentication(
    serve: CallboxProcess, db: asyncpg.Connection
) -> None:
    head = post_head({"X-Padding": "p" * (4 * MAX_REQUEST_HEAD_BYTES)}, 2)
    answer = await asyncio.to_thread(raw_exchange, serve.port, head, b"{}")
    # 431, or reset while the rest of the head was still coming: never an HTTP answer from
    # the app (before the limit, a 401 after reading the whole header).
    assert answer == b"RESET" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0


async def test_a_head_under_the_limit_and_a_large_body_are_served(
    serve: CallboxProcess, db: asyncpg.Connection
) -> None:
    """The head is counted, not the body that comes in the same packets."""
    body = receipt()[:-1] + b', "padding": "' + b"x" * (3 * MAX_REQUEST_HEAD_BYTES) + b'"}'
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "X-Padding": "p" * (MAX_REQUEST_HEAD_BYTES // 2),
    }
    answer = await asyncio.to_thread(raw_exchange, serve.port, post_head(headers, len(body)), body)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1


async def close_code_after(url: str, first_message: str) -> int | None:
    async with websockets.connect(url, subprotocols=[PROTOCOL], max_size=None) as socket_:  # type: ignore[list-item]
        await socket_.send(first_message)
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(20):
                while True:
                    await socket_.recv()
        return socket_.close_code


def connection_init(padding: int) -> str:
    return json.dumps(
        {
            "type": "connection_init",
            "payload": {"authorization": "Bearer not-a-key", "padding": "x" * padding},
        }
    )


async def test_a_large_websocket_message_is_refused_by_the_server(serve: CallboxProcess) -> None:
    url = serve.base.replace("http://", "ws://") + "/graphql"
    # Before the limit: parsed, then refused for its key (4403) after 1 MB was taken in.
    assert await close_code_after(url, connection_init(1024 * 1024)) == 1009
    # An ordinary one still gets as far as the key check.
    assert await close_code_after(url, connection_init(10)) == 4403


@pytest.mark.parametrize(
    ("padding", "code"),
    [(MAX_CONNECTION_INIT_CHARS + 1, 1009), (MAX_CONNECTION_INIT_CHARS - 200, 4403)],
    ids=["over", "under"],
)
async def test_connection_init_is_bounded_before_it_is_parsed(
    padding: int, code: int, database_url: str
) -> None:
    """Callbox's own bound, under any server (here uvicorn with its 16 MiB default)."""
    assert MAX_CONNECTION_INIT_CHARS < MAX_WEBSOCKET_MESSAGE_CHARS
    settings = settings_for(
        database_url,
        [Receiver(name="notify", provider="notify", auth=Auth(bearer=[TOKEN]))],
        graphql=GraphQL(api_keys=[ApiKey(name="reader", key=KEYS["reader"], scopes=["read"])]),
    )
    async with served(settings, websockets=True) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        assert await close_code_after(url, connection_init(padding)) == code
