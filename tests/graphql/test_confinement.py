"""A key confined to the esendex receiver neither sees nor counts Notify's rows, through any
entry point: message(id), messages, conversations (and their messages, last message and
count), conversation(id), optOuts, isOptedOut, notifications, notification(id), stats,
receivers, events' notifications, and both mutations."""

from __future__ import annotations

import json
from typing import Any

from tests.graphql.support import OUR_NUMBER, Api

CONFINED = "esendex-only"


async def scenario(api: Api) -> dict[str, str]:
    """A thread spanning both receivers (Notify out, Esendex in, to our Notify number), a
    Notify-only thread, an Esendex-only thread, opt-outs through each receiver."""
    await api.notify_receipt("notify-out", "delivered", at="2026-11-20T10:00:00.000000Z")
    await api.esendex_inbound(
        "esendex-in", sender="07700900123", text="reply via esendex", to=OUR_NUMBER
    )
    await api.notify_inbound(
        "notify-in", sender="07700900123", text="SECRET notify reply",
        at="2099-01-01T00:00:00.000000Z",
    )  # fmt: skip
    await api.notify_receipt(
        "notify-only", "delivered", at="2026-11-20T11:00:00.000000Z", to="07700900200"
    )
    await api.esendex_inbound("esendex-only", sender="07700900300", text="hello")
    await api.notify_inbound(
        "notify-stop", sender="07700900400", text="STOP", at="2026-11-20T12:00:00Z"
    )
    await api.esendex_inbound("esendex-stop", sender="07700900500", text="STOP")
    ids: dict[str, str] = {}
    data = await api.query(
        """{ messages(first: 100) { nodes { id providerMessageId conversation { id } } }
             notifications(first: 100) { nodes { id receiver } } }"""
    )
    for node in data["messages"]["nodes"]:
        ids[node["providerMessageId"]] = node["id"]
        if node["conversation"]:
            ids[f"conversation:{node['providerMessageId']}"] = node["conversation"]["id"]
    ids["notify-notification"] = next(
        n["id"] for n in data["notifications"]["nodes"] if n["receiver"] == "notify"
    )
    return ids


NOTIFY_WORDS = ("notify-out", "notify-in", "notify-only", "notify-stop", "SECRET", "07700900400")


def assert_no_notify_data(data: dict[str, Any]) -> None:
    text = json.dumps(data)
    for word in NOTIFY_WORDS:
        assert word not in text, word


async def test_the_admin_sees_everything(api: Api) -> None:
    await scenario(api)
    data = await api.query(
        "{ messages { totalCount } conversations { totalCount } optOuts { totalCount } }"
    )
    assert data == {
        "messages": {"totalCount": 7},
        "conversations": {"totalCount": 5},
        "optOuts": {"totalCount": 2},
    }


async def test_messages_and_message_by_id(api: Api) -> None:
    ids = await scenario(api)
    data = await api.query(
        """query($notify: ID!, $esendex: ID!) {
            hidden: message(id: $notify) { id }
            visible: message(id: $esendex) { providerMessageId
                conversation { messageCount lastMessage { providerMessageId }
                    messages { totalCount nodes { providerMessageId } } } }
            messages(first: 100) { totalCount nodes { providerMessageId receiver } }
            notifyOnly: messages(filter: {receiver: "notify"}) { totalCount nodes { id } }
            byAddress: messages(filter: {address: "+447700900123"}) { totalCount
                nodes { providerMessageId } }
        }""",
        {"notify": ids["notify-out"], "esendex": ids["esendex-in"]},
        key=CONFINED,
    )
    assert data["hidden"] is None
    assert data["visible"]["conversation"] == {
        "messageCount": 1,
        "lastMessage": {"providerMessageId": "esendex-in"},
        "messages": {"totalCount": 1, "nodes": [{"providerMessageId": "esendex-in"}]},
    }
    assert {n["receiver"] for n in data["messages"]["nodes"]} == {"esendex"}
    assert data["messages"]["totalCount"] == 3
    assert data["notifyOnly"] == {"totalCount": 0, "nodes": []}
    assert data["byAddress"] == {
        "totalCount": 1,
        "nodes": [{"providerMessageId": "esendex-in"}],
    }
    assert_no_notify_data(data)


async def test_conversations_count_only_visible_messages(api: Api) -> None:
    ids = await scenario(api)
    query = """query($shared: ID!, $notifyOnly: ID!) {
        conversations { totalCount nodes { id theirAddress messageCount lastActivityAt
            lastMessage { providerMessageId }
            messages { totalCount nodes { providerMessageId } } } }
        shared: conversation(id: $shared) { messageCount lastMessage { providerMessageId } }
        hidden: conversation(id: $notifyOnly) { id }
        filtered: conversations(filter: {receiver: "notify"}) { totalCount nodes { id } }
        byAddress: conversations(filter: {address: "+447700900200"}) { totalCount }
    }"""
    variables = {
        "shared": ids["conversation:esendex-in"],
        "notifyOnly": ids["conversation:notify-only"],
    }
    admin = await api.query(query, variables)
    shared_for_admin = next(
        n for n in admin["conversations"]["nodes"] if n["id"] == variables["shared"]
    )
    assert shared_for_admin["messageCount"] == 3
    assert shared_for_admin["lastMessage"] == {"providerMessageId": "notify-in"}
    assert shared_for_admin["lastActivityAt"].startswith("2099")

    data = await api.query(query, variables, key=CONFINED)
    conversations = data["conversations"]
    assert conversations["totalCount"] == 3
    assert {n["theirAddress"] for n in conversations["nodes"]} == {
        "+447700900123",
        "+447700900300",
        "+447700900500",
    }
    shared = next(n for n in conversations["nodes"] if n["id"] == variables["shared"])
    assert shared["messageCount"] == 1
    assert shared["lastMessage"] == {"providerMessageId": "esendex-in"}
    assert not shared["lastActivityAt"].startswith("2099")
    assert shared["messages"] == {"totalCount": 1, "nodes": [{"providerMessageId": "esendex-in"}]}
    assert data["shared"] == {
        "messageCount": 1,
        "lastMessage": {"providerMessageId": "esendex-in"},
    }
    assert data["hidden"] is None
    assert data["filtered"] == {"totalCount": 0, "nodes": []}
    assert data["byAddress"] == {"totalCount": 0}
    assert_no_notify_data(data)


async def test_conversation_order_and_pages_follow_visible_activity(api: Api) -> None:
    await scenario(api)
    query = """query($after: String) { conversations(first: 1, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { theirAddress lastActivityAt } } }"""
    seen, after = [], None
    while True:
        page = (await api.query(query, {"after": after}, key=CONFINED))["conversations"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 3
    times = [node["lastActivityAt"] for node in seen]
    assert times == sorted(times, reverse=True)


async def test_opt_outs_notifications_stats_and_receivers(api: Api) -> None:
    ids = await scenario(api)
    data = await api.query(
        """query($notification: ID!) {
            optOuts { totalCount nodes { address receiver } }
            notifyStopped: isOptedOut(address: "+447700900400")
            esendexStopped: isOptedOut(address: "+447700900500")
            notifications(first: 100) { totalCount nodes { receiver body events { status } } }
            hidden: notification(id: $notification) { id }
            rejected: notifications(filter: {receiver: "notify"}) { totalCount }
            stats { total byReceiver { key count } byProvider { key count }
                series { count } }
            notifyStats: stats(receiver: "notify") { total }
            receivers { name }
            messages { nodes { events { notification { receiver } } } }
        }""",
        {"notification": ids["notify-notification"]},
        key=CONFINED,
    )
    assert data["optOuts"] == {
        "totalCount": 1,
        "nodes": [{"address": "+447700900500", "receiver": "esendex"}],
    }
    assert (data["notifyStopped"], data["esendexStopped"]) == (False, True)
    assert data["notifications"]["totalCount"] == 3
    assert {n["receiver"] for n in data["notifications"]["nodes"]} == {"esendex"}
    assert data["hidden"] is None
    assert data["rejected"] == {"totalCount": 0}
    assert data["stats"]["total"] == 3
    assert data["stats"]["byReceiver"] == [{"key": "esendex", "count": 3}]
    assert data["stats"]["byProvider"] == [{"key": "esendex", "count": 3}]
    assert sum(bucket["count"] for bucket in data["stats"]["series"]) == 3
    assert data["notifyStats"] == {"total": 0}
    assert data["receivers"] == [{"name": "esendex"}]
    receivers = {
        event["notification"]["receiver"]
        for node in data["messages"]["nodes"]
        for event in node["events"]
    }
    assert receivers == {"esendex"}
    assert_no_notify_data(data)


async def test_mutations_stay_within_the_receivers(api: Api) -> None:
    ids = await scenario(api)
    record = """mutation { recordOutboundMessage(input: {receiver: "notify",
        providerMessageId: "notify-out", to: "07700900123", body: "hijack"}) { created } }"""
    assert await api.errors(record, key=CONFINED) == [
        "receiver 'notify': no such receiver for this API key"
    ]
    reprocess = "mutation($id: ID!) { reprocessNotification(id: $id) { applied } }"
    assert await api.errors(reprocess, {"id": ids["notify-notification"]}, key=CONFINED) == [
        "no such notification for this API key"
    ]
    allowed = await api.query(
        """mutation { recordOutboundMessage(input: {receiver: "esendex",
            providerMessageId: "esendex-new", to: "07700900123", from: "447700900456"}) {
            created message { conversation { messageCount
                messages { nodes { receiver } } } } } }""",
        key=CONFINED,
    )
    conversation = allowed["recordOutboundMessage"]["message"]["conversation"]
    assert {node["receiver"] for node in conversation["messages"]["nodes"]} == {"esendex"}
    untouched = await api.query(f'{{ message(id: "{ids["notify-out"]}") {{ body }} }}')
    assert untouched == {"message": {"body": None}}
