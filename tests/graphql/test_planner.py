"""The read planner (graphql/planner/) answers exactly as the executor does.

Two Callbox apps on one database, one with ``[graphql] planner = false``: every documented
query and a generated set of filters, pages and selections go to both, and the answers
must be the same bytes (data and errors). The planner must also be the one answering
(one statement per root field), and keep a confined key's view.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from callbox.graphql.data import observe_statements
from callbox.graphql.planner import executor_only
from callbox.settings import Receiver
from tests.graphql.support import KEYS, Api, graphql_api, planned_documents
from tests.graphql.test_docs import graphql_examples, with_real_ids
from tests.graphql.test_docs import seed as seed_docs


@dataclass
class Pair:
    """One app, asked three times: by the planner (through its schema extension the first
    time a document is seen, through the HTTP shortcut once it has answered it), then with
    the executor only."""

    planned: Api
    executed_statements: int = 0

    async def answer(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str = "admin"
    ) -> tuple[dict[str, Any], int]:
        """The answer (the same bytes from all three) and the planned side's statement
        count (the same both times)."""
        body = {"query": query, "variables": variables or {}}
        headers = {"Authorization": f"Bearer {KEYS[key]}"}
        client = self.planned.client
        with observe_statements() as statements:
            planned = await client.post("/graphql", json=body, headers=headers)
        with observe_statements() as statements_again:
            again = await client.post("/graphql", json=body, headers=headers)
        with executor_only(), observe_statements() as executed_statements:
            executed = await client.post("/graphql", json=body, headers=headers)
        self.executed_statements = len(executed_statements)
        assert planned.status_code == again.status_code == executed.status_code, (query, key)
        assert planned.content == again.content == executed.content, (query, variables, key)
        assert len(statements) == len(statements_again), (query, variables, key)
        document: dict[str, Any] = planned.json()
        return document, len(statements)


@pytest.fixture(autouse=True)
def _the_planner_never_fails(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A planner fault falls back to the executor (same answer) but is logged: none here."""
    yield
    faults = [r for r in caplog.records if r.name == "callbox.graphql.planner"]
    assert not faults, [record.getMessage() for record in faults]


@pytest.fixture
async def pair(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pair]:
    postmark = Receiver(name="postmark", provider="postmark")
    async with graphql_api(database_url, monkeypatch, extra_receivers=[postmark]) as api:
        yield Pair(api)


RECORD = """mutation($input: RecordOutboundMessageInput!) {
  recordOutboundMessage(input: $input) { created } }"""


async def seed(api: Api) -> None:
    """Messages of three receivers: threads spanning two of them, messages without a
    conversation, e-mail histories, equal times, times with and without microseconds."""
    await seed_docs(api)
    await api.notify_receipt("n-3", "sending", at="2026-11-20T12:00:00Z", to="07700900123")
    await api.notify_receipt("n-3", "delivered", at="2026-11-20T12:00:01.5Z", to="07700900123")
    await api.notify_receipt(
        "n-4", "temporary-failure", at="2026-11-20T12:00:00Z", to="07700900125"
    )
    await api.notify_inbound(
        "ni-2", sender="07700900123", text="Yes please", at="2026-11-21T09:00:00Z"
    )
    # The same thread (our +447700900999 and +447700900123) through another receiver.
    await api.esendex_inbound("e-1", sender="447700900123", text="Again", to="447700900999")
    await api.esendex_inbound("e-2", sender="447700900777", text="Other thread")
    await api.esendex_receipt("e-out-1", "MessageDelivered", at="2026-11-22T08:00:00.000001Z")
    await api.esendex_receipt("e-out-2", "MessageFailed", at="2026-11-22T08:00:00.000001Z")
    await api.esendex_opt_out("e-opt-1", phone="447700900777", at="2026-11-22T09:00:00Z")
    for body in (b"\xff<Not \xc3 UTF-8/>", b""):  # rejected, kept: bodies to show as text
        response = await api.client.post("/hooks/esendex", content=body)
        assert response.status_code == 400
    for number, receiver in enumerate(("notify", "esendex", "notify")):
        variables = {
            "input": {
                "receiver": receiver,
                "providerMessageId": f"rec-{number}",
                "to": "07700900123",
                "from": "+447700900999",
                "body": f"Recorded {number} \u00e9\u00e8 \"quoted\" \\ \U0001f600",
                "reference": f"ref-{number % 2}",
                "sentAt": "2026-11-23T10:00:00.250000Z",
                "metadata": {"campaign": "x", "n": 1.5, "big": 12345678901234567890,
                             "nested": {"b": [1, None, True], "a": "z"}},
            }
        }  # fmt: skip
        await api.query(RECORD, variables)


MESSAGE_FIELDS = [
    "id", "provider", "receiver", "providerMessageId", "direction", "channel", "from", "to",
    "subject", "body", "status", "failureReason", "providerStatus", "reference", "inReplyTo",
    "createdAt", "sentAt", "deliveredAt", "updatedAt", "occurredAt", "statusOccurredAt",
    "openedAt", "clickedAt", "metadata", "isTest", "__typename",
]  # fmt: skip
CONVERSATION_FIELDS = [
    "id", "channel", "ourAddress", "theirAddress", "createdAt", "lastActivityAt",
    "messageCount", "__typename",
]  # fmt: skip
EVENT_FIELDS = [
    "kind", "status", "providerStatus", "failureReason", "bounceType", "detail", "occurredAt",
    "receivedAt", "isTest",
]  # fmt: skip
NOTIFICATION_FIELDS = [
    "id", "receiver", "provider", "state", "reason", "receivedAt", "processedAt",
    "clientAddress", "peerAddress", "method", "contentType", "headers", "queryString",
    "bodySize", "eventCount", "body", "bodyBase64", "__typename",
]  # fmt: skip
OPT_OUT_FIELDS = [
    "id", "address", "action", "channel", "provider", "receiver", "source", "text",
    "occurredAt", "receivedAt", "__typename",
]  # fmt: skip
KEYS_USED = ["admin", "esendex-only"]


def _some(rng: random.Random, fields: list[str], most: int = 6) -> str:
    return " ".join(rng.sample(fields, rng.randint(1, min(most, len(fields)))))


def message_selection(rng: random.Random, depth: int = 0) -> str:
    parts = [_some(rng, MESSAGE_FIELDS)]
    if depth < 2 and rng.random() < 0.4:
        parts.append(f"conversation {{ {conversation_selection(rng, depth + 1)} }}")
    if rng.random() < 0.4:
        parts.append(f"events {{ {event_selection(rng, depth)} }}")
    if rng.random() < 0.2:
        parts.append("alias: id")
    return " ".join(parts)


def event_selection(rng: random.Random, depth: int = 0) -> str:
    parts = [_some(rng, EVENT_FIELDS)]
    if depth < 2 and rng.random() < 0.3:
        parts.append(f"notification {{ {notification_selection(rng, depth + 1)} }}")
    return " ".join(parts)


def notification_selection(rng: random.Random, depth: int = 0) -> str:
    parts = [_some(rng, NOTIFICATION_FIELDS)]
    if depth < 2 and rng.random() < 0.3:
        parts.append(f"events {{ {event_selection(rng, depth + 1)} }}")
    return " ".join(parts)


def opt_out_selection(rng: random.Random, depth: int = 0) -> str:
    parts = [_some(rng, OPT_OUT_FIELDS)]
    if rng.random() < 0.4:
        parts.append(f"message {{ {message_selection(rng, depth + 1)} }}")
    if rng.random() < 0.4:
        parts.append(f"notification {{ {notification_selection(rng, depth + 1)} }}")
    return " ".join(parts)


def conversation_selection(rng: random.Random, depth: int = 0) -> str:
    parts = [_some(rng, CONVERSATION_FIELDS)]
    if depth < 2 and rng.random() < 0.5:
        parts.append(f"lastMessage {{ {message_selection(rng, depth + 1)} }}")
    if depth < 2 and rng.random() < 0.4:
        parts.append(
            f"messages{page_arguments(rng)}"
            f" {{ {connection_selection(rng, message_selection, depth + 1)} }}"
        )
    return " ".join(parts)


def page_arguments(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return ""
    if choice < 0.7:
        return f"(first: {rng.choice([0, 1, 2, 3, 5, 100])})"
    return f"(last: {rng.choice([0, 1, 2, 4, 100])})"


def connection_selection(rng: random.Random, node: Any, depth: int = 0) -> str:
    parts = []
    if rng.random() < 0.6:
        parts.append(f"nodes {{ {node(rng, depth)} }}")
    if rng.random() < 0.6:
        parts.append(f"edges {{ cursor node {{ {node(rng, depth)} }} }}")
    if rng.random() < 0.5:
        parts.append("pageInfo { hasNextPage hasPreviousPage startCursor endCursor }")
    if rng.random() < 0.3:
        parts.append("totalCount")
    if rng.random() < 0.1:
        parts.append("__typename")
    return " ".join(parts) or "totalCount"


MESSAGE_FILTERS: list[dict[str, Any]] = [
    {},
    {"receiver": "notify"},
    {"receivers": ["esendex", "postmark"]},
    {"receiver": "notify", "receivers": ["esendex"]},
    {"direction": "INBOUND"},
    {"channel": "EMAIL"},
    {"status": "FAILED"},
    {"statuses": ["DELIVERED", "SENT"]},
    {"failureReason": "TEMPORARY"},
    {"address": "07700 900123"},
    {"address": "+447700900123", "receiver": "esendex"},
    {"address": "jane@example.com"},
    {"provider": "notify", "providers": ["postmark"]},
    {"providerMessageId": "n-1"},
    {"reference": "ref-1"},
    {"since": "2026-11-20T11:00:00Z"},
    {"until": "2026-11-21T00:00:00Z", "since": "2026-11-20T10:00:00Z"},
    {"bodyContains": "AGAIN"},
    {"eventKind": "OPENED"},
    {"eventKinds": ["CLICKED", "DEFERRED"]},
    {"bounceType": "SOFT"},
    {"opened": True},
    {"clicked": False},
    {"direction": "OUTBOUND", "channel": "SMS", "address": "07700900123"},
]
CONVERSATION_FILTERS: list[dict[str, Any]] = [
    {},
    {"receiver": "esendex"},
    {"receivers": ["notify", "esendex"]},
    {"channel": "SMS"},
    {"address": "07700900123"},
    {"address": "+447700900999", "receiver": "notify"},
    {"activeSince": "2026-11-21T00:00:00Z"},
    {"activeUntil": "2026-11-22T00:00:00Z"},
]


NOTIFICATION_FILTERS: list[dict[str, Any]] = [
    {},
    {"receiver": "esendex"},
    {"state": "REJECTED"},
    {"states": ["ACCEPTED", "DUPLICATE"], "receivers": ["notify", "postmark"]},
    {"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
]
OPT_OUT_FILTERS: list[dict[str, Any]] = [
    {},
    {"receiver": "notify"},
    {"address": "07700900123"},
    {"address": "+447700900777", "receiver": "esendex"},
    {"action": "OPT_OUT", "channel": "SMS"},
    {"since": "2026-11-20T10:05:00Z"},
]
ROOTS = [
    ("messages", "MessageFilter", MESSAGE_FILTERS, message_selection),
    ("conversations", "ConversationFilter", CONVERSATION_FILTERS, conversation_selection),
    ("notifications", "NotificationFilter", NOTIFICATION_FILTERS, notification_selection),
    ("optOuts", "OptOutFilter", OPT_OUT_FILTERS, opt_out_selection),
]


def _more(rng: random.Random) -> str:
    arguments = page_arguments(rng)[1:-1]
    return f", {arguments}" if arguments else ""


def generated_cases(count: int) -> list[tuple[str, dict[str, Any], str]]:
    rng = random.Random(19)
    cases = []
    for number in range(count):
        key = rng.choice(KEYS_USED)
        root, filter_type, filters, node = ROOTS[number % len(ROOTS)]
        selection = connection_selection(rng, node)
        query = (
            f"query($filter: {filter_type}) {{ {root}(filter: $filter{_more(rng)})"
            f" {{ {selection} }} }}"
        )
        cases.append((query, {"filter": rng.choice(filters)}, key))
    return cases


QUERIES = [(body, variables) for body, variables in graphql_examples() if "mutation" not in body]


@pytest.mark.parametrize(
    ("document", "variables"), QUERIES, ids=[f"example-{n}" for n in range(len(QUERIES))]
)
async def test_documented_queries_answer_the_same(
    pair: Pair, document: str, variables: dict[str, Any]
) -> None:
    await seed(pair.planned)
    document = await with_real_ids(pair.planned, document)
    for key in KEYS_USED:
        answer, _ = await pair.answer(document, variables, key=key)
        assert "errors" not in answer, answer


async def test_generated_filters_and_selections_answer_the_same(pair: Pair) -> None:
    await seed(pair.planned)
    planned = 0
    for query, variables, key in generated_cases(240):
        answer, statements = await pair.answer(query, variables, key=key)
        assert "errors" not in answer, (query, variables, answer)
        planned += statements == 1
    assert planned == 240


async def test_every_page_walked_both_ways_answers_the_same(pair: Pair) -> None:
    await seed(pair.planned)
    for root, selection in (
        ("messages", "nodes { id body occurredAt conversation { id messageCount } }"),
        (
            "conversations",
            "nodes { id lastActivityAt lastMessage { id } messages(first: 1) { nodes { id } } }",
        ),
    ):
        for key in KEYS_USED:
            for forwards in (True, False):
                cursor = None
                seen = 0
                for _ in range(30):
                    size, after = ("first", "after") if forwards else ("last", "before")
                    query = (
                        f"query($c: String) {{ {root}({size}: 2, {after}: $c) {{"
                        f" totalCount {selection}"
                        " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
                    )
                    answer, statements = await pair.answer(query, {"c": cursor}, key=key)
                    assert statements == 1
                    page = answer["data"][root]
                    seen += len(page["nodes"])
                    info = page["pageInfo"]
                    if not (info["hasNextPage"] if forwards else info["hasPreviousPage"]):
                        break
                    cursor = info["endCursor"] if forwards else info["startCursor"]
                assert seen == page["totalCount"] > 0


async def test_lookups_by_id_answer_the_same(pair: Pair) -> None:
    await seed(pair.planned)
    ids = await pair.planned.query(
        "{ messages(first: 100) { nodes { id } } conversations(first: 100) { nodes { id } } }"
    )
    selection = (
        "id body metadata events { kind status occurredAt } conversation { id messageCount"
        " lastMessage { id } messages(last: 2) { edges { cursor node { id } } } }"
    )
    for key in KEYS_USED:
        for node in ids["messages"]["nodes"]:
            _, statements = await pair.answer(
                f"query($id: ID!) {{ message(id: $id) {{ {selection} }} }}",
                {"id": node["id"]},
                key=key,
            )
            assert statements == 1
        for node in ids["conversations"]["nodes"]:
            _, statements = await pair.answer(
                "query($id: ID!) { conversation(id: $id) { id theirAddress createdAt"
                " lastMessage { body } messages(first: 3) { totalCount nodes { id } } } }",
                {"id": node["id"]},
                key=key,
            )
            assert statements == 1


BAD_INPUT = [
    ("{ messages(first: 101) { nodes { id } } }", {}),
    ("{ messages(first: 1, last: 1) { nodes { id } } }", {}),
    ('{ messages(after: "nope") { nodes { id } } }', {}),
    ('{ messages(filter: {conversationId: "nope"}) { nodes { id } } }', {}),
    (
        '{ messages(filter: {since: "2026-11-02T00:00:00Z", until: "2026-11-01T00:00:00Z"})'
        " { nodes { id } } }",
        {},
    ),
    ('{ message(id: "nope") { id } }', {}),
    ('{ conversation(id: "nope") { id } }', {}),
    ("{ conversations { nodes { messages(last: -1) { nodes { id } } } } }", {}),
    ('{ conversations(filter: {address: "' + "9" * 400 + '"}) { nodes { id } } }', {}),
    (
        "query($f: MessageFilter) { messages(filter: $f) { nodes { id } } }",
        {"f": {"status": "NOPE"}},
    ),
    ('{ messages(filter: {body_contains: "x"}) { nodes { id } } }', {}),
    ('{ messages(filter: {bodyContains: "\\u0000"}) { nodes { id } } }', {}),
    ("{ messages { nodes { id } } }", {}),
]


async def test_bad_input_gets_the_executors_errors(pair: Pair) -> None:
    await seed(pair.planned)
    # A real message id where a conversation id is expected.
    found = await pair.planned.query("{ messages(first: 1) { nodes { id } } }")
    message_id = found["messages"]["nodes"][0]["id"]
    cases = [*BAD_INPUT, (f'{{ conversation(id: "{message_id}") {{ id }} }}', {})]
    for query, variables in cases:
        for key in [*KEYS_USED, "writer"]:
            await pair.answer(query, variables, key=key)


async def test_the_planner_answers_in_one_statement_per_root_field(pair: Pair) -> None:
    await seed(pair.planned)
    query = """{
      a: messages(first: 50) { totalCount edges { cursor node { id
        conversation { id messageCount lastMessage { id events { status } } }
        events { status occurredAt } } } pageInfo { hasNextPage endCursor } }
      b: conversations(first: 50) { totalCount nodes { id lastMessage { id body }
        messages(first: 5) { totalCount nodes { id events { kind } } } } }
    }"""
    answer, statements = await pair.answer(query)
    assert statements == 2
    assert pair.executed_statements >= 8  # (the executor: one per kind of object and page)
    assert answer["data"]["a"]["edges"] and answer["data"]["b"]["nodes"]
    # What it does not cover runs as before (stats: more than one statement, same answer).
    _, statements = await pair.answer("{ messages { nodes { id } } stats { total } }")
    assert statements > 1


async def test_a_confined_key_sees_only_its_receivers_through_the_planner(pair: Pair) -> None:
    await seed(pair.planned)
    everything = await pair.planned.query(
        "{ messages(first: 100) { nodes { id receiver } }"
        " conversations(first: 100) { nodes { id } } }"
    )
    others = [n["id"] for n in everything["messages"]["nodes"] if n["receiver"] != "esendex"]
    assert others
    message_selection = (
        "totalCount nodes { id receiver conversation { id messageCount createdAt lastActivityAt"
        " lastMessage { receiver } messages(first: 100) { totalCount nodes { receiver } } } }"
    )
    answer, statements = await pair.answer(
        f"{{ messages(first: 100) {{ {message_selection} }} }}", key="esendex-only"
    )
    assert statements == 1
    seen = answer["data"]["messages"]
    assert {n["receiver"] for n in seen["nodes"]} == {"esendex"}
    assert seen["totalCount"] == len(seen["nodes"])
    for node in seen["nodes"]:
        thread = node["conversation"]
        if thread is not None:
            assert thread["lastMessage"]["receiver"] == "esendex"
            assert {m["receiver"] for m in thread["messages"]["nodes"]} == {"esendex"}
            assert (
                thread["messageCount"]
                == thread["messages"]["totalCount"]
                == len(thread["messages"]["nodes"])
            )
    # The thread spanning notify and esendex: the confined key counts only esendex's.
    answer, _ = await pair.answer(
        "{ conversations(first: 100) { totalCount nodes { messageCount lastMessage { receiver }"
        " messages(first: 100) { nodes { receiver } } } } }",
        key="esendex-only",
    )
    threads = answer["data"]["conversations"]
    assert threads["totalCount"] == len(threads["nodes"]) > 0
    for thread in threads["nodes"]:
        assert thread["lastMessage"]["receiver"] == "esendex"
        assert {m["receiver"] for m in thread["messages"]["nodes"]} == {"esendex"}
        assert thread["messageCount"] == len(thread["messages"]["nodes"])
    # Other receivers' rows by id: null, in one statement each.
    for message_id in others:
        answer, statements = await pair.answer(
            "query($id: ID!) { message(id: $id) { id } }", {"id": message_id}, key="esendex-only"
        )
        assert answer == {"data": {"message": None}} and statements == 1
    # A receiver filter naming another receiver finds nothing and counts nothing.
    answer, _ = await pair.answer(
        '{ messages(filter: {receiver: "notify", address: "07700900123"})'
        " { totalCount nodes { id } }"
        ' conversations(filter: {receiver: "notify"}) { totalCount nodes { id } } }',
        key="esendex-only",
    )
    assert json.dumps(answer["data"]) == json.dumps(
        {
            "messages": {"totalCount": 0, "nodes": []},
            "conversations": {"totalCount": 0, "nodes": []},
        }
    )


async def test_a_document_answered_once_takes_the_shortcut(pair: Pair) -> None:
    """Once the planner has answered a document (with its operation name), the next request
    with it skips Strawberry's request processing: the same bytes; bad variables, another
    key's view and another operation of the document still get what the full way gives."""
    await seed(pair.planned)
    documents = planned_documents(pair.planned.client)
    query = """
      query Page($first: Int, $after: String, $address: String) {
        messages(first: $first, after: $after, filter: {address: $address}) {
          totalCount edges { cursor node { id receiver from to status } }
          pageInfo { hasNextPage endCursor } } }
      query Threads { conversations(first: 10) { nodes { id messageCount } } }"""
    page = {"query": query, "operationName": "Page", "variables": {"first": 2}}
    headers = {"Authorization": f"Bearer {KEYS['admin']}"}
    client = pair.planned.client
    first = await client.post("/graphql", json=page, headers=headers)
    assert documents.shortcuts == 0
    second = await client.post("/graphql", json=page, headers=headers)
    assert documents.shortcuts == 1
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    after = first.json()["data"]["messages"]["pageInfo"]["endCursor"]
    next_page = {**page, "variables": {"first": 2, "after": after}}
    walked = await client.post("/graphql", json=next_page, headers=headers)
    assert documents.shortcuts == 2
    with executor_only():
        expected = await client.post("/graphql", json=next_page, headers=headers)
    assert walked.content == expected.content
    # A document of one operation is known with its name and without.
    lookup = "query One { messages(first: 1) { nodes { id } } }"
    await client.post("/graphql", json={"query": lookup}, headers=headers)
    for named in ({"query": lookup}, {"query": lookup, "operationName": "One"}):
        await client.post("/graphql", json=named, headers=headers)
    assert documents.shortcuts == 4
    # Another operation of the same document has not been answered yet: the full way.
    threads = {"query": query, "operationName": "Threads"}
    await client.post("/graphql", json=threads, headers=headers)
    assert documents.shortcuts == 4
    # Variables the planner refuses are answered by the full way, with its errors.
    for variables in (
        {"first": 2, "after": "not-a-cursor"},
        {"first": "two"},
        {"first": 2, "address": "\u0000"},
        {"first": 2, "address": "x\x00y"},
        {"first": -1},
    ):
        bad = {**page, "variables": variables}
        answered = await client.post("/graphql", json=bad, headers=headers)
        with executor_only():
            executed = await client.post("/graphql", json=bad, headers=headers)
        assert answered.status_code == executed.status_code
        assert answered.content == executed.content
        assert answered.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert documents.shortcuts == 4
    # A confined key asking the document an unconfined key made known sees its own rows.
    confined = {"Authorization": f"Bearer {KEYS['esendex-only']}"}
    everything = {**page, "variables": {"first": 50}}
    seen = await client.post("/graphql", json=everything, headers=confined)
    assert documents.shortcuts == 5
    nodes = [edge["node"] for edge in seen.json()["data"]["messages"]["edges"]]
    assert nodes and {node["receiver"] for node in nodes} == {"esendex"}
    # A key without the read scope gets the executor's answer (FORBIDDEN), not data.
    writer = {"Authorization": f"Bearer {KEYS['writer']}"}
    refused = await client.post("/graphql", json=page, headers=writer)
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert documents.shortcuts == 5


async def test_a_plan_is_kept_per_body_and_visibility_and_reads_afresh(pair: Pair) -> None:
    """The same body under the same visibility is answered by the plan made for it (no
    planning again), and still reads the rows as they are now; another key's visibility
    gets a plan of its own."""
    await seed(pair.planned)
    documents = planned_documents(pair.planned.client)
    client = pair.planned.client
    body = {"query": "{ messages(first: 3) { totalCount nodes { providerMessageId receiver } } }"}
    admin = {"Authorization": f"Bearer {KEYS['admin']}"}
    confined = {"Authorization": f"Bearer {KEYS['esendex-only']}"}
    answers = [(await client.post("/graphql", json=body, headers=admin)).json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert (documents.shortcuts, documents.replans) == (2, 1)
    await pair.planned.esendex_inbound("e-new", sender="447700900888", text="Fresh")
    fresh = (await client.post("/graphql", json=body, headers=admin)).json()
    assert (documents.shortcuts, documents.replans) == (3, 1)
    counted = answers[0]["data"]["messages"]["totalCount"]
    assert fresh["data"]["messages"]["totalCount"] == counted + 1
    with executor_only():
        expected = (await client.post("/graphql", json=body, headers=admin)).json()
    assert fresh == expected
    mine = (await client.post("/graphql", json=body, headers=confined)).json()
    assert (documents.shortcuts, documents.replans) == (4, 2)
    assert {n["receiver"] for n in mine["data"]["messages"]["nodes"]} == {"esendex"}
    assert mine["data"]["messages"]["totalCount"] < fresh["data"]["messages"]["totalCount"]
