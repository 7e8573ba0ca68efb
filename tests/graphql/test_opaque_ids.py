"""Ids and cursors say nothing about how many rows exist (hardening audit, item 11).

Row ids come from global sequences: with plain ids, a key confined to Esendex that saw
message 3 and then message 104 knows Notify received 100 messages meanwhile. Every id and
cursor a client sees is sealed with the instance key (callbox.sealing): stable, opening only
for its own kind, and holding no readable number.
"""

from __future__ import annotations

import base64
import struct

import asyncpg
import pytest

from tests.graphql.support import Api, graphql_api
from tests.support import database_id, graphql_id

CONFINED = "esendex-only"


def _numbers_in(token: str) -> set[int]:
    """Every integer a client could read out of a token: its decimal text, and each
    big-endian 8-byte window of its base64 decoding."""
    found = {int(token)} if token.isdigit() else set()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return found
    found |= {struct.unpack(">q", raw[i : i + 8])[0] for i in range(len(raw) - 7)}
    text = raw.decode("latin-1")
    found |= {int(part) for part in text.replace(":", " ").split() if part.isdigit()}
    return found


async def _esendex_messages(api: Api) -> list[dict[str, str]]:
    data = await api.query(
        "{ messages(first: 100) { edges { cursor node { id providerMessageId"
        " conversation { id } } } } }",
        key=CONFINED,
    )
    return [
        {
            "id": edge["node"]["id"],
            "cursor": edge["cursor"],
            "conversation": edge["node"]["conversation"]["id"],
            "providerMessageId": edge["node"]["providerMessageId"],
        }
        for edge in data["messages"]["edges"]
    ]


async def test_a_confined_key_cannot_count_other_receivers_rows(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.esendex_inbound("esendex-1", sender="07700900301", text="one")
    for n in range(20):  # another receiver's traffic, between the two the key may see
        await api.notify_inbound(
            f"notify-{n}", sender=f"077009004{n:02}", text="hidden", at="2026-11-20T10:00:00Z"
        )
    await api.esendex_inbound("esendex-2", sender="07700900302", text="two")

    second, first = await _esendex_messages(api)
    db_ids = {
        row["provider_message_id"]: (row["id"], row["conversation_id"])
        for row in await db.fetch(
            "SELECT id, provider_message_id, conversation AS conversation_id FROM callbox_message"
        )
    }
    # The database ids are 1 and 22, conversations 1 and 22: 20 rows of Notify between.
    assert db_ids["esendex-2"][0] - db_ids["esendex-1"][0] == 21
    for shown, name in ((first, "esendex-1"), (second, "esendex-2")):
        message_id, conversation_id = db_ids[name]
        for token in (shown["id"], shown["conversation"], shown["cursor"]):
            assert message_id not in _numbers_in(token), token
            assert conversation_id not in _numbers_in(token), token
        # What the client sees is the database row, sealed.
        assert await database_id(db, "message", shown["id"]) == message_id
        assert await graphql_id(db, "conversation", conversation_id) == shown["conversation"]


async def test_ids_are_stable_and_refused_when_altered_or_of_another_kind(api: Api) -> None:
    await api.esendex_inbound("esendex-1", sender="07700900301", text="one")
    (message,) = await _esendex_messages(api)
    again = await _esendex_messages(api)
    assert again == [message]

    lookup = "query($id: ID!) { message(id: $id) { providerMessageId } }"
    found = await api.query(lookup, {"id": message["id"]})
    assert found == {"message": {"providerMessageId": "esendex-1"}}

    altered = message["id"][:-2] + ("AA" if not message["id"].endswith("AA") else "BB")
    for bad, argument in ((altered, "id"), (message["conversation"], "id"), ("1", "id")):
        errors = await api.errors(lookup, {"id": bad})
        assert errors == [f"{argument}: {bad!r} is not a message id"]
    conversation = "query($id: ID!) { conversation(id: $id) { messageCount } }"
    assert await api.errors(conversation, {"id": message["id"]}) == [
        f"id: {message['id']!r} is not a conversation id"
    ]
    page = "query($after: String!) { conversations(after: $after) { totalCount } }"
    assert await api.errors(page, {"after": message["cursor"]}) == [
        "after: not a cursor of this list of conversations"
    ]


async def test_ids_survive_a_restart_and_another_instance_cannot_open_them(
    db: asyncpg.Connection,
    database_url: str,
    create_database: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(Replicas sharing one database hand out the same ids: tests/ops/test_replicas.py.)"""
    async with graphql_api(database_url, monkeypatch) as first:
        await first.esendex_inbound("esendex-1", sender="07700900301", text="one")
        (message,) = await _esendex_messages(first)

    async with graphql_api(database_url, monkeypatch) as restarted:
        assert await _esendex_messages(restarted) == [message]

    other_url: str = await create_database()  # type: ignore[operator]
    async with graphql_api(other_url, monkeypatch) as other:
        lookup = "query($id: ID!) { message(id: $id) { id } }"
        assert await other.errors(lookup, {"id": message["id"]}) == [
            f"id: {message['id']!r} is not a message id"
        ]
