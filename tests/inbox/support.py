"""Inbox test helpers: ``callbox serve`` as a process on a fixed port (so a test can stop
and restart it under an open browser), Chromium through Playwright, real callbacks."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("CALLBOX_TEST_CHROMIUM", "/usr/bin/chromium"))
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "inbox.png"
WAIT_MS = 15_000
"""How long the page may take to show what the server has (milliseconds)."""

NOTIFY_TOKEN = "inbox-notify-token-0123456789"
API_KEY = "inbox-reader-key-0123456789"
WRITE_ONLY_KEY = "inbox-writer-key-0123456789"
OUR_NUMBER = "+447700900999"


def require_chromium() -> None:
    """Skip (with the reason) when the browser test cannot run here."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; "
            "or set CALLBOX_TEST_CHROMIUM): the inbox browser test needs it"
        )
    pytest.importorskip("playwright", reason="playwright is a dev dependency: run uv sync")


def keyed_config(database_url: str) -> str:
    """A production-like instance: authenticated receivers, an API key for the page."""
    return f"""
[database]
url = "{database_url}"

[inbox]
enabled = true

[[graphql.api_keys]]
name = "inbox"
key = "{API_KEY}"
scopes = ["read"]

[[graphql.api_keys]]
name = "sender"
key = "{WRITE_ONLY_KEY}"
scopes = ["write"]

[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "{OUR_NUMBER}"
auth = {{ bearer = ["{NOTIFY_TOKEN}"] }}

[[receivers]]
name = "esendex"
provider = "esendex"
default_region = "GB"
auth = {{ url_token = ["inbox-esendex-url-token"] }}
"""


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


class PageWatch:
    """What a page said: console errors, uncaught exceptions, WebSocket frames."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )
        page.on("websocket", self._socket)

    def _socket(self, socket: Any) -> None:
        socket.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        socket.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def subscribes(self) -> list[dict[str, Any]]:
        return [frame for frame in self.sent if frame.get("type") == "subscribe"]

    def event_payloads(self) -> list[dict[str, Any]]:
        """The messageEvents received, in order."""
        return [
            frame["payload"]["data"]["messageEvents"]
            for frame in self.received
            if frame.get("type") == "next" and frame["payload"].get("data")
        ]

    def event_cursors(self) -> list[str]:
        return [event["cursor"] for event in self.event_payloads()]

    def error_cursors(self) -> list[str]:
        """Cursors of the errors that ended a subscription (SHUTTING_DOWN on a restart)."""
        return [
            error["extensions"]["cursor"]
            for frame in self.received
            if frame.get("type") in ("next", "error")
            for error in (
                frame["payload"].get("errors", [])
                if isinstance(frame.get("payload"), dict)
                else frame.get("payload") or []
            )
            if isinstance(error, dict) and error.get("extensions", {}).get("cursor")
        ]

    def unexpected_errors(self) -> list[str]:
        # A server going away is expected in the restart test; the browser logs the failed
        # socket and requests, which is not a fault of the page.
        noise = ("WebSocket connection to", "Failed to load resource", "ERR_CONNECTION_REFUSED")
        return [error for error in self.errors if not any(n in error for n in noise)]


# Real callbacks -----------------------------------------------------------------------------


async def post_notify_receipt(
    http: httpx.AsyncClient,
    base: str,
    *,
    status: str = "delivered",
    to: str = "07700900123",
    bearer: str | None = None,
    sent_at: str | None = None,
) -> str:
    """A Notify receipt; ``sent_at`` (ISO 8601) is its every time, else 20 Nov 2026 10:00."""
    message_id = str(uuid.uuid4())
    body = {
        "id": message_id,
        "reference": "appointment-reminder",
        "to": to,
        "status": status,
        "notification_type": "sms",
        "created_at": sent_at or "2026-11-20T10:00:00.000000Z",
        "completed_at": sent_at or "2026-11-20T10:00:05.000000Z",
        "sent_at": sent_at or "2026-11-20T10:00:01.000000Z",
    }
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    response = await http.post(f"{base}/hooks/notify", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return message_id


async def post_esendex_inbound(
    http: httpx.AsyncClient,
    base: str,
    *,
    text: str,
    sender: str = "447700900555",
    path: str = "/hooks/esendex",
) -> str:
    message_id = str(uuid.uuid4())
    body = (
        f"<InboundMessage><Id>{message_id}-push</Id><MessageId>{message_id}</MessageId>"
        f"<AccountId>EX0123456</AccountId><MessageText>{text}</MessageText>"
        f"<From>{sender}</From><To>447700900456</To></InboundMessage>"
    )
    response = await http.post(
        f"{base}{path}", content=body.encode(), headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 200, response.text
    return message_id
