"""Subscription test helpers: Callbox served by uvicorn, a graphql-transport-ws client spoken
by hand over a real WebSocket (the ``websockets`` library), and real provider callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from callbox.settings import GraphQL, Metrics, Settings, Subscriptions
from tests.graphql.support import KEYS, NOTIFY_TOKEN, OUR_NUMBER, api_keys, receivers
from tests.ops.support import METRICS_TOKEN, SCRAPE, samples
from tests.support import served, settings_for

PROTOCOL = "graphql-transport-ws"
WAIT = 15.0
"""Seconds to wait for an event that should come (a shared server may hold events back)."""

EVENT_FIELDS = (
    "cursor kind receiver address storedAt"
    " message { id direction body status conversation { id } }"
    " statusEvent { status } optOut { action address }"
)
MESSAGE_EVENTS = f"""
subscription Events($filter: MessageEventFilter, $after: String) {{
  messageEvents(filter: $filter, after: $after) {{ {EVENT_FIELDS} }}
}}
"""


def live_settings(database_url: str, *, metrics: bool = False, **subscriptions: Any) -> Settings:
    """The GraphQL test receivers and keys; ``metrics``: /metrics on (scraped with SCRAPE)."""
    return settings_for(
        database_url,
        receivers(),
        graphql=GraphQL(api_keys=api_keys()),
        subscriptions=Subscriptions(**subscriptions),
        metrics=Metrics(enabled=metrics, bearer=[METRICS_TOKEN] if metrics else []),
    )


def websocket_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/graphql"


class SubscriptionEnded(AssertionError):
    """The server sent ``complete`` (or closed) where an event was expected."""


@dataclass
class Subscription:
    client: TransportWsClient
    id: str
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def message(self, wait: float = WAIT) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            return await self.messages.get()

    async def next(self, wait: float = WAIT) -> dict[str, Any]:
        """The next event's data; fails on errors or completion."""
        message = await self.message(wait)
        if message["type"] != "next" or message["payload"].get("errors"):
            raise SubscriptionEnded(json.dumps(message))
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def take(self, count: int, wait: float = WAIT) -> list[dict[str, Any]]:
        return [await self.next(wait) for _ in range(count)]

    async def error(self, wait: float = WAIT) -> dict[str, Any]:
        """The error that ends the subscription (``next`` with errors, then ``complete``), or
        an ``error`` message (the operation was refused)."""
        message = await self.message(wait)
        if message["type"] == "error":
            first: dict[str, Any] = message["payload"][0]
            return first
        assert message["type"] == "next" and message["payload"].get("errors"), message
        ended = await self.message(wait)
        assert ended["type"] == "complete", ended
        error: dict[str, Any] = message["payload"]["errors"][0]
        return error

    async def silent_for(self, seconds: float) -> None:
        try:
            message = await self.message(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")

    async def complete(self) -> None:
        await self.client.send({"id": self.id, "type": "complete"})


class TransportWsClient:
    """The client side of graphql-transport-ws, one message at a time, over a real socket."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.subscriptions: dict[str, Subscription] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[tuple[int | None, str | None]] = (
            asyncio.get_running_loop().create_future()
        )

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def init(self, payload: dict[str, Any] | None) -> None:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        async with asyncio.timeout(WAIT):
            ack = json.loads(await self.socket.recv())
        assert ack["type"] == "connection_ack", ack
        self._reader = asyncio.create_task(self._read())

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> Subscription:
        subscription = Subscription(self, str(next(self._ids)))
        self.subscriptions[subscription.id] = subscription
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        await self.send({"id": subscription.id, "type": "subscribe", "payload": payload})
        return subscription

    async def events(
        self,
        filter: dict[str, Any] | None = None,
        after: str | None = None,
        *,
        settle: float = 0.3,
    ) -> Subscription:
        """``messageEvents`` with the usual fields; ``settle``: time for the server to start
        it (a subscription without ``after`` starts at the position it finds)."""
        subscription = await self.subscribe(MESSAGE_EVENTS, {"filter": filter, "after": after})
        await asyncio.sleep(settle)
        return subscription

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await self.send({"type": "pong"})
                    continue
                target = self.subscriptions.get(message.get("id", ""))
                if target is not None:
                    target.messages.put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            received = self.socket.protocol.close_rcvd
            if not self.closed.done():
                self.closed.set_result(
                    (received.code, received.reason) if received else (None, None)
                )
            for subscription in self.subscriptions.values():
                subscription.messages.put_nowait({"type": "closed"})

    async def close(self) -> None:
        await self.socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


@contextlib.asynccontextmanager
async def transport_ws(
    base: str, key: str | None = "admin", *, payload: dict[str, Any] | None = None
) -> AsyncIterator[TransportWsClient]:
    """A connection whose ``connection_init`` was acknowledged (``key``: a name in KEYS)."""
    if payload is None and key is not None:
        payload = {"authorization": f"Bearer {KEYS[key]}"}
    async with websockets.connect(websocket_url(base), subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        client = TransportWsClient(socket)
        await client.init(payload)
        try:
            yield client
        finally:
            await client.close()


async def refused(
    base: str,
    first: dict[str, Any] | None,
    *,
    subprotocols: Sequence[str] = (PROTOCOL,),
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Open a socket, send ``first`` (if any), and return how the server closed it."""
    async with websockets.connect(
        websocket_url(base),
        subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
        additional_headers=headers,
    ) as socket:
        if first is not None:
            await socket.send(json.dumps(first))
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    message = await socket.recv()
                    raise AssertionError(f"expected a close, got {message!r}")
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


@dataclass
class Live:
    """A served Callbox with the GraphQL test receivers and keys, and an HTTP client."""

    base: str
    http: httpx.AsyncClient

    async def metric(self, name: str) -> float:
        """One unlabelled sample from /metrics (served with ``live_settings(metrics=True)``)."""
        response = await self.http.get(f"{self.base}/metrics", headers=SCRAPE)
        assert response.status_code == 200, response.text
        return samples(response.text)[(name, ())]

    async def metric_reaches(self, name: str, value: float, wait: float = WAIT) -> None:
        """Wait until the sample is ``value`` (metrics follow what happened a moment later)."""
        async with asyncio.timeout(wait):
            while True:  # polling: a scrape is the only view of the metric
                if await self.metric(name) == value:
                    return
                await asyncio.sleep(0.05)

    async def post_callback(self, receiver: str, body: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type}
        if receiver == "notify":
            headers["Authorization"] = f"Bearer {NOTIFY_TOKEN}"
        response = await self.http.post(
            f"{self.base}/hooks/{receiver}", content=body, headers=headers
        )
        assert response.status_code == 200, response.text

    async def notify_inbound(
        self, *, sender: str = "07700900123", text: str = "Hello", message_id: str | None = None
    ) -> str:
        message_id = message_id or str(uuid.uuid4())
        body = {
            "id": message_id,
            "source_number": sender,
            "destination_number": OUR_NUMBER,
            "message": text,
            "date_received": "2026-11-20T10:00:00.000000Z",
        }
        await self.post_callback("notify", json.dumps(body).encode(), "application/json")
        return message_id

    async def notify_receipt(
        self, message_id: str, status: str = "delivered", *, to: str = "07700900123"
    ) -> None:
        body = {
            "id": message_id,
            "reference": None,
            "to": to,
            "status": status,
            "notification_type": "sms",
            "created_at": "2026-11-20T10:00:00.000000Z",
            "completed_at": "2026-11-20T10:00:05.000000Z",
            "sent_at": "2026-11-20T10:00:01.000000Z",
        }
        await self.post_callback("notify", json.dumps(body).encode(), "application/json")

    async def esendex_inbound(self, *, sender: str = "447700900555", text: str = "Hi") -> str:
        message_id = str(uuid.uuid4())
        body = (
            f"<InboundMessage><Id>{message_id}-push</Id><MessageId>{message_id}</MessageId>"
            f"<AccountId>EX1</AccountId><MessageText>{text}</MessageText>"
            f"<From>{sender}</From><To>447700900456</To></InboundMessage>"
        )
        await self.post_callback("esendex", body.encode(), "application/xml")
        return message_id

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str = "admin"
    ) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {KEYS[key]}"},
        )
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document


@contextlib.asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[Live]:
    async with served(settings, websockets=True) as base, httpx.AsyncClient(timeout=30) as http:
        yield Live(base, http)
