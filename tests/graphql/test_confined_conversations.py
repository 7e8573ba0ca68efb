"""Issue 16, item 11: a confined key's view of a conversation comes from its messages only."""

from __future__ import annotations

from tests.graphql.support import Api

RECORD = """mutation($input: RecordOutboundMessageInput!) {
  recordOutboundMessage(input: $input) { message { conversation { id createdAt
    lastActivityAt messageCount } } } }"""


async def test_created_at_does_not_tell_that_another_receiver_talked_first(api: Api) -> None:
    # Another receiver (notify, our number +447700900999) wrote to the number long ago.
    await api.notify_inbound("old", sender="07700900123", text="hi", at="2020-01-01T00:00:00Z")
    variables = {
        "input": {"receiver": "esendex", "providerMessageId": "e-1", "to": "07700900123",
                  "from": "+447700900999", "sentAt": "2026-11-20T10:00:00Z"}
    }  # fmt: skip
    data = await api.query(RECORD, variables, key="esendex-only")
    conversation = data["recordOutboundMessage"]["message"]["conversation"]
    assert conversation["messageCount"] == 1
    assert (
        conversation["createdAt"] == conversation["lastActivityAt"] == ("2026-11-20T10:00:00+00:00")
    )
    listed = await api.query("{ conversations { nodes { createdAt } } }", key="esendex-only")
    assert listed["conversations"]["nodes"] == [{"createdAt": "2026-11-20T10:00:00+00:00"}]
    whole = await api.query("{ conversations { nodes { createdAt messageCount } } }")
    assert whole["conversations"]["nodes"] == [
        {"createdAt": "2020-01-01T00:00:00+00:00", "messageCount": 2}
    ]
