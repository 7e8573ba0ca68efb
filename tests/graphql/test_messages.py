"""message(id) and messages(filter, first/after/last/before): every filter, keyset paging."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.graphql.support import OUR_NUMBER, Api
from tests.support import graphql_id

MESSAGE_FIELDS = """
    id provider receiver providerMessageId direction channel from to body status
    failureReason providerStatus reference inReplyTo createdAt sentAt deliveredAt updatedAt
    occurredAt statusOccurredAt metadata isTest
    conversation { id ourAddress theirAddress }
    events { status providerStatus failureReason occurredAt receivedAt isTest
             notification { id receiver state } }
"""


async def scenario(api: Api) -> None:
    """Outbound via Notify (delivered, failed, sending), inbound via Notify and Esendex, and
    an Esendex receipt that knows neither address."""
    await api.notify_receipt(
        "n-1", "sending", at="2001-11-20T10:00:02.000000Z", reference="ref-1",
        sent_at="2001-11-20T10:00:01.000000Z",
    )  # fmt: skip
    await api.notify_receipt(
        "n-1", "delivered", at="2001-11-20T10:00:05.000000Z", reference="ref-1",
        sent_at="2001-11-20T10:00:01.000000Z",
    )  # fmt: skip
    await api.notify_receipt(
        "n-2", "permanent-failure", at="2001-11-20T11:00:00.000000Z", to="07700900124"
    )
    await api.notify_receipt("n-3", "sending", at="2001-11-20T12:00:00.000000Z", to="07700900125")
    await api.notify_inbound(
        "ni-1", sender="07700900123", text="Yes PLEASE, Tuesday", at="2001-11-20T13:00:00.000000Z"
    )
    await api.esendex_inbound("e-in-1", sender="07700900123", text="Is my appointment on?")
    await api.esendex_receipt("e-out-1", "MessageDelivered", at="2001-11-20T09:00:00Z")


def ids(data: dict[str, Any], field: str = "messages") -> list[str]:
    return [edge["node"]["providerMessageId"] for edge in data[field]["edges"]]


async def filtered(api: Api, message_filter: dict[str, Any]) -> tuple[list[str], int]:
    data = await api.query(
        """query($filter: MessageFilter) { messages(filter: $filter, first: 100) {
            totalCount edges { node { providerMessageId } } } }""",
        {"filter": message_filter},
    )
    return ids(data), data["messages"]["totalCount"]


async def test_message_by_id_has_every_field_and_its_history(api: Api) -> None:
    await scenario(api)
    listed = await api.query('{ messages(filter: {providerMessageId: "n-1"}) { nodes { id } } }')
    message_id = listed["messages"]["nodes"][0]["id"]
    data = await api.query(
        f"query($id: ID!) {{ message(id: $id) {{ {MESSAGE_FIELDS} }} }}", {"id": message_id}
    )
    message = data["message"]
    assert message["id"] == message_id
    assert {k: message[k] for k in ("provider", "receiver", "providerMessageId", "direction")} == {
        "provider": "notify", "receiver": "notify", "providerMessageId": "n-1",
        "direction": "OUTBOUND",
    }  # fmt: skip
    assert (message["from"], message["to"], message["channel"]) == (
        OUR_NUMBER,
        "+447700900123",
        "SMS",
    )
    assert (message["status"], message["providerStatus"], message["failureReason"]) == (
        "DELIVERED",
        "delivered",
        None,
    )
    assert message["reference"] == "ref-1"
    assert message["sentAt"] == "2001-11-20T10:00:01+00:00"
    assert message["deliveredAt"] == "2001-11-20T10:00:05+00:00"
    assert message["occurredAt"] == "2001-11-20T10:00:01+00:00"
    assert message["statusOccurredAt"] == "2001-11-20T10:00:05+00:00"
    assert message["metadata"] == {}
    assert message["isTest"] is False
    assert message["conversation"]["theirAddress"] == "+447700900123"
    assert [(e["status"], e["providerStatus"]) for e in message["events"]] == [
        ("SENT", "sending"),
        ("DELIVERED", "delivered"),
    ]
    assert all(e["notification"]["receiver"] == "notify" for e in message["events"])
    assert all(e["notification"]["state"] == "ACCEPTED" for e in message["events"])


async def test_history_is_oldest_first_whatever_the_arrival_order(api: Api) -> None:
    await api.notify_receipt("late", "delivered", at="2001-11-20T10:00:05.000000Z")
    await api.notify_receipt("late", "sending", at="2001-11-20T10:00:02.000000Z")
    data = await api.query(
        '{ messages(filter: {providerMessageId: "late"}) { nodes { status events { status } } } }'
    )
    (message,) = data["messages"]["nodes"]
    assert message["status"] == "DELIVERED"
    assert [event["status"] for event in message["events"]] == ["SENT", "DELIVERED"]


async def test_unknown_and_malformed_ids(api: Api, db: asyncpg.Connection) -> None:
    unknown = await graphql_id(db, "message", 999999)
    assert await api.query(f'{{ message(id: "{unknown}") {{ id }} }}') == {"message": None}
    assert await api.errors('{ message(id: "abc") { id } }') == ["id: 'abc' is not a message id"]
    assert await api.errors('{ message(id: "999999") { id } }') == [
        "id: '999999' is not a message id"
    ]


async def test_messages_are_newest_first_with_a_total(api: Api) -> None:
    await scenario(api)
    found, total = await filtered(api, {})
    assert total == 6
    # The Esendex inbound message carries no time: it happened when it was received (now).
    assert found[0] == "e-in-1"
    assert found[1:] == ["ni-1", "n-3", "n-2", "n-1", "e-out-1"]


@pytest.mark.parametrize(
    ("message_filter", "expected"),
    [
        ({"receiver": "esendex"}, ["e-in-1", "e-out-1"]),
        ({"receivers": ["esendex", "notify"]}, ["e-in-1", "ni-1", "n-3", "n-2", "n-1", "e-out-1"]),
        ({"receiver": "esendex", "receivers": ["nobody"]}, ["e-in-1", "e-out-1"]),
        ({"provider": "notify"}, ["ni-1", "n-3", "n-2", "n-1"]),
        ({"providers": ["esendex"]}, ["e-in-1", "e-out-1"]),
        ({"direction": "INBOUND"}, ["e-in-1", "ni-1"]),
        ({"channel": "SMS"}, ["e-in-1", "ni-1", "n-3", "n-2", "n-1", "e-out-1"]),
        ({"channel": "EMAIL"}, []),
        ({"status": "DELIVERED"}, ["n-1", "e-out-1"]),
        ({"statuses": ["SENT", "FAILED"]}, ["n-3", "n-2"]),
        ({"status": "RECEIVED", "statuses": ["FAILED"]}, ["e-in-1", "ni-1", "n-2"]),
        ({"failureReason": "PERMANENT"}, ["n-2"]),
        ({"providerMessageId": "n-2"}, ["n-2"]),
        ({"reference": "ref-1"}, ["n-1"]),
        ({"bodyContains": "please"}, ["ni-1"]),
        ({"bodyContains": "APPOINTMENT"}, ["e-in-1"]),
        ({"bodyContains": "100%_"}, []),
        ({"since": "2001-11-20T11:00:00Z", "until": "2001-11-20T13:00:00Z"}, ["n-3", "n-2"]),
        ({"until": "2001-11-20T10:00:01Z"}, ["e-out-1"]),
        ({"receiver": "notify", "direction": "OUTBOUND", "status": "SENT"}, ["n-3"]),
    ],
)
async def test_each_filter(api: Api, message_filter: dict[str, Any], expected: list[str]) -> None:
    await scenario(api)
    found, total = await filtered(api, message_filter)
    assert found == expected
    assert total == len(expected)


@pytest.mark.parametrize(
    ("message_filter", "expected"),
    [
        # Either side, as stored (E.164)...
        ({"address": "+447700900123"}, ["e-in-1", "ni-1", "n-1"]),
        ({"address": OUR_NUMBER}, ["ni-1", "n-3", "n-2", "n-1"]),
        # ...international without "+", normalised with no region...
        ({"address": "447700900124"}, ["n-2"]),
        # ...national, normalised with the filtered receiver's default region (GB)...
        ({"address": "07700 900 125", "receiver": "notify"}, ["n-3"]),
        ({"address": "07700900123", "receivers": ["notify", "esendex"]}, ["e-in-1", "ni-1", "n-1"]),
        # ...and, with no receiver named, with the region of each receiver the key sees.
        ({"address": "07700900125"}, ["n-3"]),
    ],
)
async def test_address_matches_either_side_normalised(
    api: Api, message_filter: dict[str, Any], expected: list[str]
) -> None:
    await scenario(api)
    found, total = await filtered(api, message_filter)
    assert (found, total) == (expected, len(expected))


async def test_a_message_on_both_sides_of_an_address_counts_once(api: Api) -> None:
    """Messages from an address to itself, in two receivers, beside one-sided ones: each is
    listed and counted once, for every key and receiver filter (the both-sides count is its
    own query, per receiver)."""
    self_to_self = "2001-11-20T10:00:00.000000Z"
    await api.notify_inbound("self-n", sender="07700900777", to="+447700900777", text="hi",
                             at=self_to_self)  # fmt: skip
    await api.esendex_inbound("self-e", sender="447700900777", to="447700900777", text="hi")
    await api.notify_inbound("from-n", sender="07700900777", text="yes", at=self_to_self)
    await api.notify_receipt("to-n", "delivered", at="2001-11-20T11:00:00.000000Z",
                             to="07700900777")  # fmt: skip
    everything = await filtered(api, {"address": "07700900777"})
    assert sorted(everything[0]) == ["from-n", "self-e", "self-n", "to-n"]
    assert everything[1] == 4
    notify = await filtered(api, {"address": "+447700900777", "receiver": "notify"})
    assert (sorted(notify[0]), notify[1]) == (["from-n", "self-n", "to-n"], 3)
    data = await api.query(
        '{ messages(filter: {address: "07700900777"}) { totalCount'
        " edges { node { providerMessageId } } } }",
        key="esendex-only",
    )
    assert (ids(data), data["messages"]["totalCount"]) == (["self-e"], 1)


async def test_conversation_filter(api: Api) -> None:
    await scenario(api)
    data = await api.query(
        '{ messages(filter: {providerMessageId: "n-1"}) { nodes { conversation { id } } } }'
    )
    conversation = data["messages"]["nodes"][0]["conversation"]["id"]
    found, total = await filtered(api, {"conversationId": conversation})
    # Esendex's inbound went to its own number (447700900456): another conversation.
    assert (found, total) == (["ni-1", "n-1"], 2)
    assert await api.errors('{ messages(filter: {conversationId: "x"}) { totalCount } }') == [
        "conversationId: 'x' is not a conversation id"
    ]


async def test_keyset_pages_forwards_and_backwards(api: Api) -> None:
    await scenario(api)
    query = """query($first: Int, $after: String, $last: Int, $before: String) {
        messages(first: $first, after: $after, last: $last, before: $before) {
            totalCount
            edges { cursor node { providerMessageId } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    page1 = (await api.query(query, {"first": 4}))["messages"]
    assert ids({"messages": page1}) == ["e-in-1", "ni-1", "n-3", "n-2"]
    assert page1["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": page1["edges"][0]["cursor"],
        "endCursor": page1["edges"][-1]["cursor"],
    }
    page2 = (await api.query(query, {"first": 4, "after": page1["pageInfo"]["endCursor"]}))[
        "messages"
    ]
    assert ids({"messages": page2}) == ["n-1", "e-out-1"]
    assert (page2["pageInfo"]["hasNextPage"], page2["pageInfo"]["hasPreviousPage"]) == (
        False,
        True,
    )
    assert page2["totalCount"] == 6
    # Backwards from the end of page 2: the 3 items just before it.
    back = (await api.query(query, {"last": 3, "before": page2["pageInfo"]["startCursor"]}))[
        "messages"
    ]
    assert ids({"messages": back}) == ["ni-1", "n-3", "n-2"]
    assert (back["pageInfo"]["hasPreviousPage"], back["pageInfo"]["hasNextPage"]) == (True, True)
    # The last two of the whole list, and an empty page past the end.
    tail = (await api.query(query, {"last": 2}))["messages"]
    assert ids({"messages": tail}) == ["n-1", "e-out-1"]
    past = (await api.query(query, {"first": 5, "after": page2["pageInfo"]["endCursor"]}))[
        "messages"
    ]
    assert past["edges"] == []
    assert past["pageInfo"]["startCursor"] is None
    # A window between two cursors.
    between = (
        await api.query(
            query,
            {
                "first": 10,
                "after": page1["edges"][0]["cursor"],
                "before": page2["edges"][0]["cursor"],
            },
        )
    )["messages"]
    assert ids({"messages": between}) == ["ni-1", "n-3", "n-2"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("first: 101", "first must be between 0 and 100"),
        ("last: -1", "last must be between 0 and 100"),
        ("first: 1, last: 1", "give first or last, not both"),
        ('after: "bm90LWEtY3Vyc29y"', "after: not a cursor of this list of messages"),
    ],
)
async def test_page_arguments_are_checked(api: Api, arguments: str, message: str) -> None:
    assert await api.errors(f"{{ messages({arguments}) {{ totalCount }} }}") == [message]


async def test_a_cursor_of_another_list_is_refused(api: Api) -> None:
    await scenario(api)
    data = await api.query("{ conversations(first: 1) { pageInfo { endCursor } } }")
    cursor = data["conversations"]["pageInfo"]["endCursor"]
    assert await api.errors(
        "query($c: String) { messages(after: $c) { totalCount } }", {"c": cursor}
    ) == ["after: not a cursor of this list of messages"]


async def test_default_page_is_twenty(api: Api, db: Any) -> None:
    await db.execute(
        """INSERT INTO callbox_message (provider, receiver, provider_message_id, direction,
        channel, status, occurred_at)
        SELECT 'notify', 'notify', 'bulk-' || n, 'OUTBOUND', 'SMS', 'SENT',
            '2001-11-01'::timestamptz + n * interval '1 minute'
        FROM generate_series(1, 25) n"""
    )
    data = await api.query("{ messages { totalCount nodes { id } pageInfo { hasNextPage } } }")
    assert data["messages"]["totalCount"] == 25
    assert len(data["messages"]["nodes"]) == 20
    assert data["messages"]["pageInfo"]["hasNextPage"] is True


async def test_address_pages_walk_both_ways(api: Api) -> None:
    await scenario(api)
    query = """query($first: Int, $after: String, $last: Int, $before: String) {
        messages(first: $first, after: $after, last: $last, before: $before,
                 filter: {address: "+447700900123"}) {
            edges { cursor node { providerMessageId } } pageInfo { hasNextPage endCursor } } }"""
    first = (await api.query(query, {"first": 2}))["messages"]
    assert ids({"messages": first}) == ["e-in-1", "ni-1"]
    rest = await api.query(query, {"first": 2, "after": first["pageInfo"]["endCursor"]})
    assert ids(rest) == ["n-1"]
    assert rest["messages"]["pageInfo"]["hasNextPage"] is False
    oldest = await api.query(query, {"last": 2})
    assert ids(oldest) == ["ni-1", "n-1"]
    newer = await api.query(query, {"last": 5, "before": oldest["messages"]["edges"][0]["cursor"]})
    assert ids(newer) == ["e-in-1"]
