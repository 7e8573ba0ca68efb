"""recordOutboundMessage (before and after its receipts) and reprocessNotification."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from callbox.settings import ApiKey, GraphQL, Receiver
from tests.graphql.support import OUR_NUMBER, Api
from tests.support import callbox_client, graphql_id, settings_for

RECORD = """mutation($input: RecordOutboundMessageInput!) {
  recordOutboundMessage(input: $input) {
    created
    message {
      id providerMessageId direction channel from to body reference sentAt status
      providerStatus metadata occurredAt
      conversation { id ourAddress theirAddress messageCount
        messages { nodes { providerMessageId direction } } }
      events { status }
    }
  } }"""


async def record(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api.query(RECORD, {"input": {"receiver": "notify", "to": "07700900123", **fields}})
    result: dict[str, Any] = data["recordOutboundMessage"]
    return result


async def message_count(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM callbox_message")
    return count


async def test_record_then_receipts(api: Api, db: asyncpg.Connection) -> None:
    recorded = await record(
        api,
        providerMessageId="n-1",
        body="Your appointment is on Tuesday",
        reference="appt-42",
        sentAt="2026-11-20T10:00:00Z",
        metadata={"campaign": "reminders"},
    )
    message = recorded["message"]
    assert recorded["created"] is True
    assert (message["direction"], message["channel"], message["status"]) == (
        "OUTBOUND",
        "SMS",
        "PENDING",
    )
    assert (message["from"], message["to"]) == (OUR_NUMBER, "+447700900123")
    assert message["occurredAt"] == message["sentAt"] == "2026-11-20T10:00:00+00:00"
    assert message["events"] == []
    assert message["conversation"]["theirAddress"] == "+447700900123"
    assert message["conversation"]["messageCount"] == 1

    await api.notify_receipt("n-1", "sending", at="2026-11-20T10:00:02.000000Z")
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:05.000000Z")
    data = await api.query(
        f"""{{ message(id: "{message["id"]}") {{ status providerStatus body reference metadata
            conversation {{ id messageCount }} events {{ status }} }} }}"""
    )
    assert data["message"] == {
        "status": "DELIVERED",
        "providerStatus": "delivered",
        "body": "Your appointment is on Tuesday",
        "reference": "appt-42",
        "metadata": {"campaign": "reminders"},
        "conversation": {"id": message["conversation"]["id"], "messageCount": 1},
        "events": [{"status": "SENT"}, {"status": "DELIVERED"}],
    }
    assert await message_count(db) == 1
    # Retention counts from the record (when Callbox learnt of it), not the later receipts.
    assert await db.fetchval("SELECT received_at = created_at FROM callbox_message") is True


async def test_receipt_then_record_fills_what_is_missing_and_keeps_the_status(
    api: Api, db: asyncpg.Connection
) -> None:
    # Esendex receipts carry neither address: the message exists without a thread.
    await api.esendex_receipt("e-1", "MessageFailed", at="2026-11-20T10:00:05Z")
    before = await api.query(
        "{ messages { nodes { id status failureReason metadata conversation { id } } } }"
    )
    (existing,) = before["messages"]["nodes"]
    assert (existing["status"], existing["conversation"]) == ("FAILED", None)

    recorded = (
        await api.query(
            RECORD,
            {
                "input": {
                    "receiver": "esendex",
                    "providerMessageId": "e-1",
                    "from": "447700900456",
                    "to": "07700900123",
                    "body": "Reminder",
                    "sentAt": "2026-11-20T10:00:00",
                    "metadata": {"campaign": "x", "failure_code": "overwritten?"},
                }
            },
        )
    )["recordOutboundMessage"]
    message = recorded["message"]
    assert recorded["created"] is False
    assert message["id"] == existing["id"]
    assert message["status"] == "FAILED"  # never downgraded by a record
    assert (message["from"], message["to"], message["body"]) == (
        "+447700900456",
        "+447700900123",
        "Reminder",
    )
    assert message["sentAt"] == "2026-11-20T10:00:00+00:00"  # naive: the receiver's zone (UTC)
    assert message["metadata"]["campaign"] == "x"
    assert message["metadata"]["failure_code"] == existing["metadata"]["failure_code"] == "1"
    assert message["conversation"]["ourAddress"] == "+447700900456"
    assert message["conversation"]["messageCount"] == 1
    assert [e["status"] for e in message["events"]] == ["FAILED"]
    assert await message_count(db) == 1


async def test_recording_twice_changes_nothing_the_second_time(
    api: Api, db: asyncpg.Connection
) -> None:
    first = await record(api, providerMessageId="n-1", body="first body")
    again = await record(api, providerMessageId="n-1", body="second body", to="07700900999")
    assert (first["created"], again["created"]) == (True, False)
    assert again["message"]["id"] == first["message"]["id"]
    assert again["message"]["body"] == "first body"
    assert again["message"]["to"] == "+447700900123"
    assert again["message"]["conversation"]["messageCount"] == 1
    assert await message_count(db) == 1
    assert await db.fetchval("SELECT count(*) FROM callbox_conversation") == 1


async def test_a_record_threads_with_the_replies_whichever_comes_first(api: Api) -> None:
    await api.notify_inbound(
        "reply-1", sender="07700900123", text="Yes", at="2026-11-20T10:05:00.000000Z"
    )
    recorded = await record(
        api, providerMessageId="n-1", body="Are you coming?", sentAt="2026-11-20T10:00:00Z"
    )
    conversation = recorded["message"]["conversation"]
    assert conversation["messageCount"] == 2
    assert conversation["messages"]["nodes"] == [
        {"providerMessageId": "reply-1", "direction": "INBOUND"},
        {"providerMessageId": "n-1", "direction": "OUTBOUND"},
    ]


async def test_record_infers_the_channel_and_accepts_e_mail(api: Api) -> None:
    recorded = await record(api, providerMessageId="mail-1", to="Person@Example.com")
    assert recorded["message"]["channel"] == "EMAIL"
    assert recorded["message"]["to"] == "person@example.com"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"receiver": "nowhere"}, "receiver 'nowhere': no such receiver for this API key"),
        ({"providerMessageId": "  "}, "providerMessageId must not be empty"),
        ({"to": ""}, "to must not be empty"),
        ({"metadata": [1, 2]}, "metadata must be a JSON object"),
    ],
)
async def test_record_refuses_bad_input(api: Api, fields: dict[str, Any], message: str) -> None:
    variables = {"input": {"receiver": "notify", "providerMessageId": "x", "to": "07700900123"}}
    variables["input"].update(fields)
    assert await api.errors(RECORD, variables) == [message]


REPROCESS = """mutation($id: ID!) { reprocessNotification(id: $id) {
    state reason applied notification { id state eventCount } } }"""

MAPPING = {
    "type": "kind",
    "id": "data.sms.id",
    "recipient": "data.sms.to",
    "sender": "data.sms.from",
    "status": "result.code",
    "done_dateiso": "result.at",
}
CUSTOMER_BATCH = json.dumps(
    {
        "batch": [
            {
                "kind": "outgoing sms",
                "data": {"sms": {"id": "1000007", "to": "46710000123", "from": "46769440100"}},
                "result": {"code": "DELIVERED", "at": "2024-03-15T10:30:04Z"},
            }
        ]
    }
).encode()


async def test_reprocess_applies_a_rejected_request_once_the_receiver_is_fixed(
    db: asyncpg.Connection, database_url: str
) -> None:
    keys = GraphQL(api_keys=[ApiKey(name="admin", key="admin-key", scopes=["read", "write"])])
    headers = {"Authorization": "Bearer admin-key"}

    def settings(options: dict[str, Any]) -> Any:
        receiver = Receiver(name="wiraya", provider="wiraya", options=options)
        return settings_for(database_url, [receiver], graphql=keys)

    async with callbox_client(settings({})) as client:
        posted = await client.post(
            "/hooks/wiraya", content=CUSTOMER_BATCH, headers={"Content-Type": "application/json"}
        )
        assert posted.status_code == 400
        notification_id = await graphql_id(
            db, "notification", await db.fetchval("SELECT id FROM callbox_notification")
        )
        response = await client.post(
            "/graphql",
            json={"query": REPROCESS, "variables": {"id": notification_id}},
            headers=headers,
        )
        outcome = response.json()["data"]["reprocessNotification"]
        assert (outcome["state"], outcome["applied"]) == ("REJECTED", 0)
        assert outcome["reason"]
    async with callbox_client(settings({"mapping": MAPPING})) as client:
        answers = []
        for _ in range(2):
            response = await client.post(
                "/graphql",
                json={"query": REPROCESS, "variables": {"id": notification_id}},
                headers=headers,
            )
            answers.append(response.json()["data"]["reprocessNotification"])
    assert answers == [
        {
            "state": "ACCEPTED",
            "reason": None,
            "applied": 1,
            "notification": {"id": notification_id, "state": "ACCEPTED", "eventCount": 1},
        },
        {
            "state": "ACCEPTED",
            "reason": None,
            "applied": 0,
            "notification": {"id": notification_id, "state": "ACCEPTED", "eventCount": 1},
        },
    ]
    assert await db.fetchval("SELECT status FROM callbox_message") == "DELIVERED"


async def test_reprocess_of_an_unknown_notification(api: Api, db: asyncpg.Connection) -> None:
    document = await api.post(REPROCESS, {"id": await graphql_id(db, "notification", 424242)})
    (error,) = document["errors"]
    assert (error["message"], error["extensions"]) == (
        "no such notification for this API key",
        {"code": "NOT_FOUND"},
    )
