"""conversation(id) and conversations(filter, …): threads with both sides, by last activity."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.graphql.support import OUR_NUMBER, Api
from tests.support import graphql_id

CONVERSATION = """
    id channel ourAddress theirAddress createdAt lastActivityAt messageCount
    lastMessage { providerMessageId }
    messages(first: 10) { totalCount nodes { providerMessageId direction } }
"""


async def scenario(api: Api) -> None:
    """Three threads on our Notify number; the first has both sides (Notify out, Notify in,
    Esendex in to the same number)."""
    await api.notify_receipt("a-out", "delivered", at="2026-11-20T10:00:00.000000Z")
    await api.notify_inbound(
        "a-in", sender="07700900123", text="thanks", at="2026-11-20T10:05:00.000000Z"
    )
    await api.notify_receipt(
        "b-out", "delivered", at="2026-11-20T11:00:00.000000Z", to="07700900200"
    )
    await api.notify_receipt("c-out", "sending", at="2026-11-20T09:00:00.000000Z", to="07700900300")


async def listed(api: Api, conversation_filter: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await api.query(
        f"""query($filter: ConversationFilter) {{ conversations(filter: $filter) {{
            totalCount nodes {{ {CONVERSATION} }} }} }}""",
        {"filter": conversation_filter},
    )
    result: dict[str, Any] = data["conversations"]
    return result


def their(result: dict[str, Any]) -> list[str]:
    return [node["theirAddress"] for node in result["nodes"]]


async def test_conversations_are_ordered_by_last_activity_with_both_sides(api: Api) -> None:
    await scenario(api)
    result = await listed(api)
    assert their(result) == ["+447700900200", "+447700900123", "+447700900300"]
    assert result["totalCount"] == 3
    thread = result["nodes"][1]
    assert (thread["channel"], thread["ourAddress"]) == ("SMS", OUR_NUMBER)
    assert thread["messageCount"] == 2
    assert thread["lastActivityAt"] == "2026-11-20T10:05:00+00:00"
    assert thread["createdAt"] == "2026-11-20T10:00:00+00:00"
    assert thread["lastMessage"] == {"providerMessageId": "a-in"}
    assert thread["messages"] == {
        "totalCount": 2,
        "nodes": [
            {"providerMessageId": "a-in", "direction": "INBOUND"},
            {"providerMessageId": "a-out", "direction": "OUTBOUND"},
        ],
    }


async def test_conversation_by_id_and_unknown_id(api: Api, db: asyncpg.Connection) -> None:
    await scenario(api)
    first = (await listed(api))["nodes"][0]
    data = await api.query(f'{{ conversation(id: "{first["id"]}") {{ {CONVERSATION} }} }}')
    assert data["conversation"] == first
    unknown = await graphql_id(db, "conversation", 424242)
    assert await api.query(f'{{ conversation(id: "{unknown}") {{ id }} }}') == {
        "conversation": None
    }


@pytest.mark.parametrize(
    ("conversation_filter", "expected"),
    [
        ({"address": "+447700900200"}, ["+447700900200"]),
        ({"address": "447700900123"}, ["+447700900123"]),
        ({"address": "07700900300", "receiver": "notify"}, ["+447700900300"]),
        ({"address": OUR_NUMBER}, ["+447700900200", "+447700900123", "+447700900300"]),
        ({"receiver": "notify"}, ["+447700900200", "+447700900123", "+447700900300"]),
        ({"receivers": ["esendex"]}, []),
        ({"channel": "SMS"}, ["+447700900200", "+447700900123", "+447700900300"]),
        ({"channel": "EMAIL"}, []),
        ({"activeSince": "2026-11-20T10:00:00Z"}, ["+447700900200", "+447700900123"]),
        ({"activeUntil": "2026-11-20T10:05:00Z"}, ["+447700900300"]),
        (
            {"activeSince": "2026-11-20T10:05:00Z", "activeUntil": "2026-11-20T11:00:00Z"},
            ["+447700900123"],
        ),
        ({"receiver": "notify", "activeUntil": "2026-11-20T10:05:00Z"}, ["+447700900300"]),
    ],
)
async def test_each_filter(
    api: Api, conversation_filter: dict[str, Any], expected: list[str]
) -> None:
    await scenario(api)
    result = await listed(api, conversation_filter)
    assert their(result) == expected
    assert result["totalCount"] == len(expected)


async def test_conversation_pages_and_message_pages(api: Api) -> None:
    await scenario(api)
    for n in range(5):
        await api.notify_inbound(
            f"a-in-{n}", sender="07700900123", text=f"more {n}", at=f"2026-11-20T12:1{n}:00Z"
        )
    query = """query($after: String) { conversations(first: 2, after: $after) {
        pageInfo { hasNextPage hasPreviousPage endCursor } nodes { theirAddress } } }"""
    page1 = (await api.query(query))["conversations"]
    assert [n["theirAddress"] for n in page1["nodes"]] == ["+447700900123", "+447700900200"]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = (await api.query(query, {"after": page1["pageInfo"]["endCursor"]}))["conversations"]
    assert [n["theirAddress"] for n in page2["nodes"]] == ["+447700900300"]
    assert (page2["pageInfo"]["hasNextPage"], page2["pageInfo"]["hasPreviousPage"]) == (
        False,
        True,
    )
    thread = """query($after: String) { conversations(first: 1) { nodes {
        messageCount messages(first: 3, after: $after) { totalCount
        pageInfo { hasNextPage endCursor } nodes { providerMessageId } } } } }"""
    first = (await api.query(thread))["conversations"]["nodes"][0]
    assert first["messageCount"] == 7
    messages = first["messages"]
    assert [n["providerMessageId"] for n in messages["nodes"]] == ["a-in-4", "a-in-3", "a-in-2"]
    assert messages["totalCount"] == 7
    after = messages["pageInfo"]["endCursor"]
    rest = (await api.query(thread, {"after": after}))["conversations"]["nodes"][0]["messages"]
    assert [n["providerMessageId"] for n in rest["nodes"]] == ["a-in-1", "a-in-0", "a-in"]
    oldest = await api.query(
        """{ conversations(first: 1) { nodes { messages(last: 2) {
            pageInfo { hasPreviousPage } nodes { providerMessageId } } } } }"""
    )
    oldest_messages = oldest["conversations"]["nodes"][0]["messages"]
    assert [n["providerMessageId"] for n in oldest_messages["nodes"]] == ["a-in", "a-out"]
    assert oldest_messages["pageInfo"]["hasPreviousPage"] is True


async def test_a_message_without_both_addresses_has_no_conversation(api: Api) -> None:
    await api.esendex_receipt("lonely", "MessageDelivered", at="2026-11-20T09:00:00Z")
    data = await api.query("{ messages { nodes { providerMessageId conversation { id } } } }")
    assert data["messages"]["nodes"] == [{"providerMessageId": "lonely", "conversation": None}]
    assert (await listed(api))["totalCount"] == 0
