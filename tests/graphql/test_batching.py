"""No N+1: a page of messages with their conversations, histories and raw requests costs a
fixed number of SQL statements, whatever the page size (counted in the query layer)."""

from __future__ import annotations

import asyncpg
import pytest

from callbox.graphql.data import observe_statements
from tests.graphql.support import Api

BULK = """
INSERT INTO callbox_conversation (id, channel, our_address, their_address, created_at,
    last_activity_at, last_message_id, message_count)
SELECT c, 'SMS', '+447700900999', '+4478' || lpad(c::text, 9, '0'), '2026-11-01',
    '2026-11-01'::timestamptz + (c * 3) * interval '1 minute', c * 3, 3
FROM generate_series(1, 60) c;

INSERT INTO callbox_notification (id, receiver, provider, peer_address, client_address,
    method, body, body_size, state)
SELECT n, CASE WHEN ((n + 1) / 2) % 2 = 0 THEN 'notify' ELSE 'esendex' END,
    CASE WHEN ((n + 1) / 2) % 2 = 0 THEN 'notify' ELSE 'esendex' END, '127.0.0.1', '127.0.0.1',
    'POST', convert_to('{"n": ' || n || '}', 'UTF8'), 10, 'ACCEPTED'
FROM generate_series(1, 360) n;  -- notifications 2m-1 and 2m belong to message m

INSERT INTO callbox_message (id, provider, receiver, provider_message_id, direction, channel,
    sender, recipient, status, occurred_at, conversation)
SELECT m, CASE WHEN m % 2 = 0 THEN 'notify' ELSE 'esendex' END,
    CASE WHEN m % 2 = 0 THEN 'notify' ELSE 'esendex' END, 'bulk-' || m, 'OUTBOUND', 'SMS',
    '+447700900999', '+4478' || lpad(((m + 2) / 3)::text, 9, '0'), 'DELIVERED',
    '2026-11-01'::timestamptz + m * interval '1 minute', (m + 2) / 3
FROM generate_series(1, 180) m;

INSERT INTO callbox_status_event (message, status, occurred_at, notification)
SELECT m, s, '2026-11-01'::timestamptz + m * interval '1 minute',
    CASE WHEN s = 'SENT' THEN 2 * m - 1 ELSE 2 * m END
FROM generate_series(1, 180) m, unnest(ARRAY['SENT', 'DELIVERED']) s;

SELECT setval('callbox_message_id_seq', 1000);
SELECT setval('callbox_conversation_id_seq', 1000);
SELECT setval('callbox_notification_id_seq', 1000);
"""

PAGE = """query($first: Int!) {
  messages(first: $first) {
    totalCount
    edges { cursor node {
      id from to status
      conversation {
        id messageCount
        lastMessage { id events { status } }
        messages(first: 5) { totalCount nodes { id } }
      }
      events { status notification { id state body events { status } } }
    } }
  }
  conversations(first: $first) { nodes { id lastMessage { id } } }
  stats { total byStatus { key count } byReceiver { key count } }
}"""


@pytest.mark.parametrize("key", ["admin", "esendex-only"])
async def test_a_page_costs_the_same_few_statements_at_any_size(
    api: Api, db: asyncpg.Connection, key: str
) -> None:
    await db.execute(BULK)
    counts = {}
    for first in (5, 50):
        with observe_statements() as statements:
            data = await api.query(PAGE, {"first": first}, key=key)
        edges = data["messages"]["edges"]
        assert len(edges) == first
        assert all(len(edge["node"]["events"]) == 2 for edge in edges)
        assert all(edge["node"]["conversation"]["lastMessage"] for edge in edges)
        assert all(e["notification"]["body"] for edge in edges for e in edge["node"]["events"])
        counts[first] = len(statements)
    # One statement per kind of object per level: the messages page and its count, their
    # conversations, those conversations' last messages and message pages, message events,
    # their notifications, bodies and events, the conversations page, and one scan for all
    # the stats (loaders asked in the same tick share a statement, so it can be fewer).
    assert counts[5] == counts[50] <= 12, counts
