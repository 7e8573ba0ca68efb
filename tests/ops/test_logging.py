"""Logs: one structured line per callback, request ids, no secrets, bodies or numbers;
the host's logging untouched when Callbox is embedded."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
import structlog

from callbox.app import create_app
from callbox.ops.log_config import configure_logging, drop_sensitive_fields, log_format
from callbox.settings import Auth, Logging, Receiver, Settings
from tests.ops.support import NOTIFY_HEADERS, NOTIFY_TOKEN, notify_inbound, notify_receiver
from tests.support import callbox_client, settings_for

URL_TOKEN = "url-t0ken-never-logged-9876"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {
        name: (logger.handlers[:], logger.propagate, logger.disabled, logger.level)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "httpx")
        for logger in [logging.getLogger(name)]
    }
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, (saved, propagate, disabled, saved_level) in loggers.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = saved
        logger.propagate, logger.disabled = propagate, disabled
        logger.setLevel(saved_level)
    structlog.reset_defaults()


def receivers() -> list[Receiver]:
    return [
        notify_receiver(),
        Receiver(name="esendex", provider="esendex", auth=Auth(url_token=[URL_TOKEN])),
    ]


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_one_json_line_per_callback_without_secrets_bodies_or_numbers(
    db: asyncpg.Connection, database_url: str, restore_logging: None
) -> None:
    settings = settings_for(database_url, receivers(), logging=Logging(callbacks="all"))
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    body = notify_inbound(datetime.now(UTC), sender="07700900456", text="my secret words")
    async with callbox_client(settings) as client:
        accepted = await client.post(
            "/hooks/notify", content=body, headers={**NOTIFY_HEADERS, "X-Request-ID": "abc-1"}
        )
        refused = await client.post("/hooks/notify", content=body)
        esendex = await client.post(f"/hooks/esendex/{URL_TOKEN}", content=b"<Nonsense/>")
        wrong_token = await client.post("/hooks/esendex/not-the-token", content=b"<x/>")
        await client.get("/health")
    assert [accepted.status_code, refused.status_code] == [200, 401]
    assert [esendex.status_code, wrong_token.status_code] == [400, 401]

    output = stream.getvalue()
    lines = [line for line in json_lines(stream) if line["event"] == "callback"]
    assert len(lines) == 4  # one per callback; /health is not logged
    first = lines[0]
    notification_id = await db.fetchval("SELECT id FROM callbox_notification ORDER BY id LIMIT 1")
    assert {key: first[key] for key in ("receiver", "outcome", "status", "notification_id")} == {
        "receiver": "notify",
        "outcome": "accepted",
        "status": 200,
        "notification_id": notification_id,
    }
    assert first["request_id"] == "abc-1"
    assert first["level"] == "info"
    assert first["logger"] == "callbox.callbacks"
    assert isinstance(first["latency_ms"], float)
    assert "timestamp" in first
    assert [(line["receiver"], line["outcome"]) for line in lines[1:]] == [
        ("notify", "unauthorised"),
        ("esendex", "rejected"),
        ("esendex", "unauthorised"),
    ]
    assert lines[2]["reason"] == "payload"
    assert lines[1]["notification_id"] is None
    assert len({line["request_id"] for line in lines}) == 4
    for secret in (URL_TOKEN, NOTIFY_TOKEN, "not-the-token", "/hooks/", "my secret words"):
        assert secret not in output
    for number in ("07700900456", "+447700900456", "7700900456"):
        assert number not in output


async def test_development_logs_are_readable_not_json(
    db: asyncpg.Connection, database_url: str, restore_logging: None
) -> None:
    settings = msgspec.structs.replace(settings_for(database_url, receivers()), development=True)
    assert log_format(settings) == "console"
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    async with callbox_client(settings) as client:
        await client.post("/hooks/notify", content=b"{}", headers=NOTIFY_HEADERS)
    line = next(line for line in stream.getvalue().splitlines() if "callback" in line)
    assert not line.startswith("{")
    assert "receiver=notify" in line
    assert "outcome=rejected" in line


def test_format_follows_the_setting() -> None:
    assert log_format(Settings()) == "json"
    assert log_format(Settings(development=True)) == "console"
    assert log_format(Settings(development=True, logging=Logging(format="json"))) == "json"


def test_sensitive_fields_are_dropped_above_debug() -> None:
    event = {"event": "x", "body": "hi", "sender": "+44", "token": "t", "receiver": "notify"}
    assert drop_sensitive_fields(None, "info", dict(event)) == {"event": "x", "receiver": "notify"}
    kept = drop_sensitive_fields(None, "debug", dict(event))
    assert kept == {"event": "x", "body": "hi", "sender": "+44", "receiver": "notify"}


async def test_embedded_app_leaves_the_hosts_logging_alone(
    db: asyncpg.Connection, database_url: str, restore_logging: None
) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level, structlog.is_configured())
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    host_handler = Capture()
    host_logger = logging.getLogger("callbox.callbacks")
    host_logger.addHandler(host_handler)
    host_logger.setLevel(logging.INFO)  # the host's choice
    try:
        settings = settings_for(database_url, receivers())
        create_app(settings)  # building an app configures nothing
        async with callbox_client(settings) as client:
            await client.post("/hooks/notify", content=b"{}", headers=NOTIFY_HEADERS)
    finally:
        host_logger.removeHandler(host_handler)
        host_logger.setLevel(logging.NOTSET)
    assert (list(root.handlers), root.level, structlog.is_configured()) == before
    # The host gets a plain stdlib record, readable as is, with the fields as attributes.
    (record,) = captured
    assert record.getMessage().startswith("callback notify rejected 400 ")
    assert record.__dict__["receiver"] == "notify"
    assert record.__dict__["outcome"] == "rejected"


async def test_by_default_only_problem_callbacks_are_logged_at_info(
    db: asyncpg.Connection, database_url: str, restore_logging: None
) -> None:
    settings = settings_for(database_url, receivers())
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    body = notify_inbound(datetime.now(UTC), sender="07700900456", text="hello")
    async with callbox_client(settings) as client:
        assert (
            await client.post("/hooks/notify", content=body, headers=NOTIFY_HEADERS)
        ).status_code == 200
        assert (
            await client.post("/hooks/notify", content=b"{}", headers=NOTIFY_HEADERS)
        ).status_code == 400
    callbacks = [line for line in json_lines(stream) if line.get("event") == "callback"]
    assert [line["outcome"] for line in callbacks] == ["rejected"]
