"""Every example in docs/graphql.md runs: its GraphQL (with its variables), its curl
commands (replayed through the app), its configuration and its export command."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from callbox.cli import main
from callbox.graphql.auth import ApiKeyring
from callbox.graphql.schema import schema_sdl
from callbox.settings import Receiver, settings_from_mapping
from tests.graphql.support import KEYS, Api, graphql_api

DOC = Path(__file__).resolve().parents[2] / "docs" / "graphql.md"


def blocks() -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(r"```(\w+)\n(.*?)```", text, flags=re.DOTALL)


def graphql_examples() -> list[tuple[str, dict[str, Any]]]:
    found = blocks()
    examples = []
    for index, (language, body) in enumerate(found):
        if language != "graphql":
            continue
        variables: dict[str, Any] = {}
        if index + 1 < len(found) and found[index + 1][0] == "json":
            variables = json.loads(found[index + 1][1])
        examples.append((body, variables))
    return examples


@pytest.fixture
async def api(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    """The GraphQL tests' API, with a Postmark receiver too, for the e-mail examples."""
    postmark = Receiver(name="postmark", provider="postmark")
    async with graphql_api(database_url, monkeypatch, extra_receivers=[postmark]) as client:
        yield client


POSTMARK_EVENTS: list[dict[str, Any]] = [
    {"RecordType": "Delivery", "MessageID": "pm-1", "Recipient": "Jane@Example.com",
     "DeliveredAt": "2026-11-20T10:00:00Z"},
    {"RecordType": "Open", "MessageID": "pm-1", "Recipient": "jane@example.com",
     "ReceivedAt": "2026-11-20T10:05:00Z"},
    {"RecordType": "Click", "MessageID": "pm-1", "Recipient": "jane@example.com",
     "ReceivedAt": "2026-11-20T10:06:00Z", "OriginalLink": "https://example.com/offer"},
    {"RecordType": "Bounce", "ID": 7, "Type": "SoftBounce", "MessageID": "pm-2",
     "Email": "full@example.com", "BouncedAt": "2026-11-20T11:00:00Z", "Subject": "Your order",
     "Details": "smtp;452 4.2.2 mailbox full"},
]  # fmt: skip


async def seed(api: Api) -> None:
    for event in POSTMARK_EVENTS:
        await api.callback("postmark", json.dumps(event).encode(), "application/json")
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:05.000000Z")
    await api.notify_inbound("ni-1", sender="07700900123", text="STOP", at="2026-11-20T10:05:00Z")
    await api.notify_receipt(
        "n-2", "permanent-failure", at="2026-11-20T11:00:00.000000Z", to="07700900124"
    )
    rejected = await api.client.post("/hooks/esendex", content=b"<Unknown/>")
    assert rejected.status_code == 400


def assert_answered(data: dict[str, Any]) -> None:
    """Each top-level field answered, and each list in it not empty (the example shows
    something)."""
    for name, value in data.items():
        assert value is not None, name
        if isinstance(value, dict):
            for key in ("nodes", "edges", "events", "series", "byStatus"):
                if key in value:
                    assert value[key], f"{name}.{key} is empty"
        if isinstance(value, list):
            assert value, name


def test_the_page_has_examples() -> None:
    assert len(graphql_examples()) >= 10
    assert any(body.lstrip().startswith("mutation") for body, _ in graphql_examples())


@pytest.mark.parametrize(
    ("document", "variables"),
    graphql_examples(),
    ids=[f"example-{n}" for n in range(len(graphql_examples()))],
)
async def test_graphql_example_runs(api: Api, document: str, variables: dict[str, Any]) -> None:
    await seed(api)
    assert_answered(await api.query(await with_real_ids(api, document), variables))


async def with_real_ids(api: Api, document: str) -> str:
    """The example with its id placeholders (``MESSAGE_ID``...) replaced by ids of seeded
    rows, as a reader would take them from a list."""
    lists = await api.query(
        "{ messages(first: 1) { nodes { id } } conversations(first: 1) { nodes { id } }"
        " notifications(first: 1) { nodes { id } } }"
    )
    for name, placeholder in (
        ("messages", "MESSAGE_ID"),
        ("conversations", "CONVERSATION_ID"),
        ("notifications", "NOTIFICATION_ID"),
    ):
        document = document.replace(f'"{placeholder}"', f'"{lists[name]["nodes"][0]["id"]}"')
    return document


def _curl_requests() -> list[list[str]]:
    commands = []
    for language, body in blocks():
        if language == "sh" and "curl " in body:
            for command in body.replace("\\\n", " ").split("\n\n"):
                if command.strip():
                    commands.append(shlex.split(command))
    return commands


async def test_curl_examples_answer(api: Api) -> None:
    await seed(api)
    commands = _curl_requests()
    assert len(commands) == 2
    for words in commands:
        assert words[0] == "curl"
        headers: dict[str, str] = {}
        data: list[str] = []
        url = ""
        method = "POST"
        iterator = iter(words[1:])
        for word in iterator:
            if word == "-H":
                name, _, value = next(iterator).partition(": ")
                headers[name] = value.replace("$CALLBOX_API_KEY", KEYS["admin"])
            elif word in ("--data", "--data-urlencode"):
                data.append(next(iterator))
            elif word == "-G":
                method = "GET"
            elif not word.startswith("-"):
                url = word
        path = urlsplit("http://" + url).path
        if method == "GET":
            params = dict(item.split("=", 1) for item in data)
            response = await api.client.get(path, params=params, headers=headers)
        else:
            response = await api.client.post(path, content=data[0].encode(), headers=headers)
        assert response.status_code == 200, response.text
        document = response.json()
        assert "errors" not in document
        assert_answered(document["data"])


def test_configuration_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    (config,) = [body for language, body in blocks() if language == "toml"]
    document = tomllib.loads(config)
    document["receivers"] = [{"name": "notify", "provider": "notify"}]
    monkeypatch.setenv("CALLBOX_DASHBOARD_KEY", "dashboard-secret")
    settings = settings_from_mapping(document)
    keyring = ApiKeyring.from_settings(settings)
    dashboard = keyring.identify("dashboard-secret")
    sender = keyring.identify("3kT9vQx7Lr2Wm8Zp4Yc6Hn1Bd5Fs0Gj")  # the digest in the docs
    assert dashboard is not None and dashboard.scopes == {"read"}
    assert sender is not None and sender.visibility.receivers == {"notify"}
    assert settings.graphql.introspection is True


def test_regenerate_command(tmp_path: Path) -> None:
    (command,) = [
        body.strip() for language, body in blocks() if language == "sh" and "export-schema" in body
    ]
    words = shlex.split(command)
    assert words[:3] == ["uv", "run", "callbox"]
    assert words[3:] == ["export-schema", "schema.graphql"]
    target = tmp_path / "schema.graphql"
    assert main([*words[3:-1], str(target)]) == 0
    assert target.read_text(encoding="utf-8") == schema_sdl()
