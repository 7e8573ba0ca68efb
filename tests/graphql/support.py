"""GraphQL test helpers: an API client over real HTTP, API keys, and real provider callbacks."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from callbox.graphql.planner import PlannedDocuments
from callbox.graphql.schema import CallboxSchema
from callbox.settings import ApiKey, Auth, GraphQL, Receiver
from tests.support import APPS, callbox_client, settings_for

NOTIFY_TOKEN = "notify-token-0123456789"
OUR_NUMBER = "+447700900999"

KEYS = {
    "admin": "admin-key-0123456789",
    "reader": "reader-key-0123456789",
    "esendex-only": "esendex-key-0123456789",
    "writer": "writer-key-0123456789",
}
CONFINED_KEY_ENV = "CALLBOX_TEST_ESENDEX_KEY"


def api_keys() -> list[ApiKey]:
    """One key per secret form: plain, sha256: digest, env: variable."""
    reader_digest = hashlib.sha256(KEYS["reader"].encode()).hexdigest()
    return [
        ApiKey(name="admin", key=KEYS["admin"], scopes=["read", "write"]),
        ApiKey(name="reader", key=f"sha256:{reader_digest}", scopes=["read"]),
        ApiKey(
            name="esendex-only",
            key=f"env:{CONFINED_KEY_ENV}",
            scopes=["read", "write"],
            receivers=["esendex"],
        ),
        ApiKey(name="writer", key=KEYS["writer"], scopes=["write"]),
    ]


def receivers() -> list[Receiver]:
    return [
        Receiver(
            name="notify",
            provider="notify",
            auth=Auth(bearer=[NOTIFY_TOKEN]),
            default_region="GB",
            our_address=OUR_NUMBER,
        ),
        Receiver(name="esendex", provider="esendex", default_region="GB"),
    ]


class GraphQLErrors(AssertionError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(json.dumps(errors, indent=1))
        self.errors = errors


@dataclass
class Api:
    """Speaks to /graphql (and to the receivers, to create data) through the ASGI app."""

    client: AsyncTestClient[Any]
    key: str | None = "admin"

    def headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[key]}"} if key else {}

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = "-"
    ) -> dict[str, Any]:
        """The whole response document (data and errors)."""
        chosen = self.key if key == "-" else key
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.headers(chosen),
        )
        assert response.status_code == 200, (response.status_code, response.text)
        document: dict[str, Any] = response.json()
        return document

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = "-"
    ) -> dict[str, Any]:
        """The data; fails the test on any error."""
        document = await self.post(query, variables, key=key)
        if document.get("errors"):
            raise GraphQLErrors(document["errors"])
        data: dict[str, Any] = document["data"]
        return data

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = "-"
    ) -> list[str]:
        """The error messages; fails the test when there are none."""
        document = await self.post(query, variables, key=key)
        assert document.get("errors"), document
        return [error["message"] for error in document["errors"]]

    # Real callbacks ---------------------------------------------------------------------

    async def callback(self, receiver: str, body: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type}
        if receiver == "notify":
            headers["Authorization"] = f"Bearer {NOTIFY_TOKEN}"
        response = await self.client.post(f"/hooks/{receiver}", content=body, headers=headers)
        assert response.status_code == 200, response.text

    async def notify_receipt(
        self,
        message_id: str,
        status: str,
        *,
        at: str,
        to: str | None = "07700900123",
        reference: str | None = None,
        sent_at: str | None = None,
        kind: str = "sms",
    ) -> None:
        body = {
            "id": message_id,
            "reference": reference,
            "to": to,
            "status": status,
            "notification_type": kind,
            "created_at": sent_at or at,
            "completed_at": at,
            "sent_at": sent_at,
        }
        await self.callback("notify", json.dumps(body).encode(), "application/json")

    async def notify_inbound(
        self, message_id: str, *, sender: str, text: str, at: str, to: str = OUR_NUMBER
    ) -> None:
        body = {
            "id": message_id,
            "source_number": sender,
            "destination_number": to,
            "message": text,
            "date_received": at,
        }
        await self.callback("notify", json.dumps(body).encode(), "application/json")

    async def esendex_inbound(
        self, message_id: str, *, sender: str, text: str, to: str = "447700900456"
    ) -> None:
        body = (
            f"<InboundMessage><Id>{message_id}-push</Id><MessageId>{message_id}</MessageId>"
            f"<AccountId>EX1</AccountId><MessageText>{text}</MessageText>"
            f"<From>{sender}</From><To>{to}</To></InboundMessage>"
        )
        await self.callback("esendex", body.encode(), "application/xml")

    async def esendex_receipt(
        self, message_id: str, kind: str, *, at: str, push: str | None = None
    ) -> None:
        failure = ""
        if kind == "MessageFailed":
            failure = (
                "<FailureReason><Code>1</Code><Detail>absent subscriber</Detail>"
                "<PermanentFailure>false</PermanentFailure></FailureReason>"
            )
        body = (
            f"<{kind}><Id>{push or message_id + '-' + kind}</Id><MessageId>{message_id}</MessageId>"
            f"<AccountId>EX1</AccountId><OccurredAt>{at}</OccurredAt>{failure}</{kind}>"
        )
        await self.callback("esendex", body.encode(), "application/xml")

    async def esendex_opt_out(self, push: str, *, phone: str, at: str) -> None:
        body = (
            f"<OptOut><Id>{push}</Id><AccountId>EX1</AccountId><ReceivedAt>{at}</ReceivedAt>"
            f"<From><PhoneNumber>{phone}</PhoneNumber></From></OptOut>"
        )
        await self.callback("esendex", body.encode(), "application/xml")


@contextlib.asynccontextmanager
async def graphql_api(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    peer: str = "127.0.0.1",
    with_keys: bool = True,
    development: bool = False,
    introspection: bool = True,
    graphiql: bool | None = None,
    extra_receivers: Sequence[Receiver] = (),
) -> AsyncIterator[Api]:
    """Callbox with the test receivers and API keys, on the test database."""
    monkeypatch.setenv(CONFINED_KEY_ENV, KEYS["esendex-only"])
    graphql = GraphQL(
        api_keys=api_keys() if with_keys else [], introspection=introspection, graphiql=graphiql
    )
    settings = settings_for(
        database_url, [*receivers(), *extra_receivers], graphql=graphql, development=development
    )
    async with callbox_client(settings, peer=peer) as client:
        yield Api(client)


def planned_documents(client: AsyncTestClient[Any]) -> PlannedDocuments:
    """The read planner's memory of the documents it answered, in the app behind ``client``
    (its ``shortcuts`` count the requests the HTTP shortcut answered)."""
    for route in APPS[client].routes:
        if route.path == "/graphql" and hasattr(route, "route_handlers"):
            for handler in route.route_handlers:
                schema = getattr(getattr(handler.fn, "__self__", None), "schema", None)
                if isinstance(schema, CallboxSchema) and schema.planned_documents is not None:
                    return schema.planned_documents
    raise AssertionError("the app has no read planner")
