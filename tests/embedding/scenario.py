"""What every embedding test checks through real HTTP and WebSockets: Callbox works under the
prefix, and the host's own routes answer as they would without it."""

from __future__ import annotations

import asyncpg
import httpx
import websockets

from tests.embedding.support import PREFIX, live_callbox
from tests.subscriptions.support import transport_ws
from tests.support import database_id

MESSAGES = "query { messages(first: 5) { edges { node { id body direction } } } }"


async def check_callbox(base: str, db: asyncpg.Connection) -> None:
    """A subscription under the prefix sees a callback posted under the prefix, the callback
    is stored, and a GraphQL query under the prefix reads it back."""
    async with live_callbox(base) as live, transport_ws(live.base) as client:
        events = await client.events({"receiver": "notify"})
        await live.notify_inbound(text="hello from the host")
        event = (await events.next())["messageEvents"]
        assert event["kind"] == "RECEIVED"
        assert event["message"]["body"] == "hello from the host"

        stored = await db.fetchval(
            "SELECT body FROM callbox_message WHERE id = $1",
            await database_id(db, "message", event["message"]["id"]),
        )
        assert stored == "hello from the host"

        document = await live.graphql(MESSAGES)
        assert "errors" not in document, document
        nodes = [edge["node"] for edge in document["data"]["messages"]["edges"]]
        assert [node["body"] for node in nodes] == ["hello from the host"]


async def check_host(base: str) -> dict[str, object]:
    """The host's routes (HTTP and WebSocket), as the host answers them; the answers are
    returned so a test can compare them with the host's answers without Callbox."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        home = await http.get("/")
        item = await http.get("/items/7")
        # Shares the prefix's first letters, and a host route may be named like Callbox's.
        lookalike = await http.get(f"{PREFIX}es")
        below_lookalike = await http.get(f"{PREFIX}es/hooks/notify")
        graphql = await http.get("/graphql")
        missing = await http.get("/nowhere")
    async with websockets.connect(base.replace("http://", "ws://") + "/echo") as socket:
        await socket.send("ping")
        echoed = await socket.recv()
    answers: dict[str, object] = {"echo": echoed}
    for name, response in {
        "home": home,
        "item": item,
        "lookalike": lookalike,
        "below lookalike": below_lookalike,
        "graphql": graphql,
        "missing": missing,
    }.items():
        answers[name] = (
            response.status_code,
            response.text,
            response.headers.get("x-host-middleware"),
        )
    return answers
