"""The read planner against Strawberry's executor, side by side in one process (A/B).

    CALLBOX_BENCH_DATABASE_URL=postgresql://…/db \
        uv run python -m bench.graphql.planner_ab [--rounds 30]

On the database bench/graphql/seed.py filled, through the whole ASGI app (auth, Strawberry,
asyncpg pool), the same request is sent with the planner and without it
(``callbox.graphql.planner.executor_only``), alternately, ``--rounds`` times each after a
warm-up; prints the median milliseconds of both, their ratio, and the SQL statements each
ran. Both answers are checked to be the same bytes first.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from bench.graphql.common import BUSY_ADDRESS, database_url
from bench.graphql.timing import (
    CONFINED_KEY,
    CONVERSATIONS,
    KEY,
    MESSAGES,
    MESSAGES_WITH_RELATED,
    PAGE,
    settings,
)
from callbox.app import create_app
from callbox.graphql.data import observe_statements
from callbox.graphql.data.cursors import CursorKind, SortKey, encode_cursor
from callbox.graphql.planner import executor_only
from callbox.sealing import sealer_for

DEEP_PAGE = 1000

LOOKUP = """
query($id: String!) {
  messages(filter: {providerMessageId: $id}) {
    nodes { id providerMessageId status deliveredAt conversation { id ourAddress theirAddress }
      events { status providerStatus occurredAt receivedAt } }
  }
}"""

BY_ID = """
query($id: ID!) {
  message(id: $id) { id status body occurredAt
    conversation { theirAddress messageCount lastMessage { id body } }
    events { status occurredAt } }
}"""

THREAD = """
query($id: ID!) {
  conversation(id: $id) { theirAddress messageCount
    messages(first: 50) { nodes { id direction from body status occurredAt } } }
}"""


@dataclass
class Case:
    name: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    key: str = KEY


async def deep_cursor(url: str, page: int) -> tuple[str, int]:
    """The cursor a client holds before ``page`` of the busy address (or the deepest page
    there is), sealed with the instance key."""
    connection = await asyncpg.connect(url)
    try:
        total = await connection.fetchval(
            "SELECT count(*) FROM callbox_message WHERE sender = $1 OR recipient = $1",
            BUSY_ADDRESS,
        )
        page = max(2, min(page, total // PAGE))
        row = await connection.fetchrow(
            "SELECT occurred_at, id FROM callbox_message WHERE sender = $1 OR recipient = $1"
            " ORDER BY occurred_at DESC, id DESC OFFSET $2 LIMIT 1",
            BUSY_ADDRESS,
            (page - 1) * PAGE - 1,
        )
        key = await connection.fetchval("SELECT key FROM callbox_instance_key WHERE id = 1")
    finally:
        await connection.close()
    assert row is not None, "seed the database first: uv run python -m bench.graphql.seed"
    cursor = encode_cursor(sealer_for(bytes(key)), CursorKind.MESSAGE, SortKey(*row))
    return cursor, page


async def post(client: AsyncTestClient[Any], case: Case) -> bytes:
    response = await client.post(
        "/graphql",
        json={"query": case.query, "variables": case.variables},
        headers={"Authorization": f"Bearer {case.key}"},
    )
    assert response.status_code == 200 and b'"errors"' not in response.content, response.text
    return response.content


async def timed(client: AsyncTestClient[Any], case: Case, planned: bool) -> float:
    started = time.perf_counter()
    if planned:
        await post(client, case)
    else:
        with executor_only():
            await post(client, case)
    return (time.perf_counter() - started) * 1000


async def statements(client: AsyncTestClient[Any], case: Case, planned: bool) -> int:
    with observe_statements() as seen:
        if planned:
            await post(client, case)
        else:
            with executor_only():
                await post(client, case)
    return len(seen)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    url = database_url()
    app = create_app(settings(url))
    async with AsyncTestClient(app=app) as client:
        cursor, page = await deep_cursor(url, DEEP_PAGE)
        first = await client.post(
            "/graphql",
            json={"query": "{ messages(first: 1) { nodes { id providerMessageId } }"
                  " conversations(first: 1) { nodes { id } } }"},
            headers={"Authorization": f"Bearer {KEY}"},
        )  # fmt: skip
        listed = first.json()["data"]
        message = listed["messages"]["nodes"][0]
        conversation_id = listed["conversations"]["nodes"][0]["id"]
        address = {"address": BUSY_ADDRESS}
        cases = [
            Case("messages(first: 50), address, page 1", MESSAGES, {**address, "after": None}),
            Case(f"messages(first: 50), address, page {page:,}", MESSAGES,
                 {**address, "after": cursor}),
            Case("page 1 + totalCount, conversation, events", MESSAGES_WITH_RELATED, address),
            Case("conversations(first: 50) with lastMessage", CONVERSATIONS),
            Case("one message by provider id with events", LOOKUP,
                 {"id": message["providerMessageId"]}),
            Case("message(id:) with conversation, events", BY_ID, {"id": message["id"]}),
            Case("conversation(id:) with 50 messages", THREAD, {"id": conversation_id}),
            Case("confined key: messages, address, page 1", MESSAGES, {**address, "after": None},
                 key=CONFINED_KEY),
            Case("confined key: conversations + lastMessage", CONVERSATIONS, key=CONFINED_KEY),
        ]  # fmt: skip
        rows = []
        for case in cases:
            planned_answer = await post(client, case)
            with executor_only():
                executed_answer = await post(client, case)
            assert planned_answer == executed_answer, case.name
            for _ in range(5):
                await timed(client, case, True)
                await timed(client, case, False)
            samples: dict[bool, list[float]] = {True: [], False: []}
            for round_ in range(args.rounds):
                order = (True, False) if round_ % 2 == 0 else (False, True)
                for planned in order:
                    samples[planned].append(await timed(client, case, planned))
            planned_ms = statistics.median(samples[True])
            executed_ms = statistics.median(samples[False])
            rows.append(
                (
                    case.name,
                    executed_ms,
                    planned_ms,
                    executed_ms / planned_ms,
                    await statements(client, case, False),
                    await statements(client, case, True),
                )
            )
    width = max(len(row[0]) for row in rows)
    print(f"\n{'query':<{width}}  executor ms  planner ms  speed-up  statements (executor/planner)")
    for name, executed_ms, planned_ms, ratio, executed_n, planned_n in rows:
        print(
            f"{name:<{width}}  {executed_ms:11.1f}  {planned_ms:10.1f}  {ratio:7.1f}x"
            f"  {executed_n} / {planned_n}"
        )


if __name__ == "__main__":
    asyncio.run(main())
