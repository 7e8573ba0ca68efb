"""Fault test helpers: a private PostgreSQL to stop and freeze, settings with short time
limits, and the callback every fault test sends."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec

from callbox.db.embedded import EmbeddedPostgres
from callbox.settings import ApiKey, GraphQL, Settings
from tests.graphql.support import KEYS, NOTIFY_TOKEN, receivers
from tests.support import notify_receipt, settings_for

NOTIFY_HEADERS = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {KEYS['admin']}"}
PHONE = "+447700900123"

UNAVAILABLE_TEXT = "not confirmed"
DUPLICATES_TEXT = "duplicates are recognised"


def receipt(notification_id: str) -> bytes:
    return notify_receipt(notification_id, reference=None, to=PHONE)


def fault_settings(database_url: str, **database: Any) -> Settings:
    """The GraphQL test receivers and keys, with ``[database]`` values overridden."""
    settings = settings_for(
        database_url,
        receivers(),
        graphql=GraphQL(api_keys=[ApiKey(name="admin", key=KEYS["admin"], scopes=["read"])]),
    )
    return msgspec.structs.replace(
        settings, database=msgspec.structs.replace(settings.database, **database)
    )


async def post_receipt(
    http: httpx.AsyncClient, base: str, notification_id: str, *, wait: float = 20
) -> httpx.Response:
    return await http.post(
        f"{base}/hooks/notify",
        content=receipt(notification_id),
        headers=NOTIFY_HEADERS,
        timeout=wait,
    )


def assert_unavailable(response: httpx.Response, retry_after: int) -> None:
    """503 with the kind's Retry-After, and a body that claims nothing it cannot know."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["retry-after"] == str(retry_after), response.headers
    assert UNAVAILABLE_TEXT in response.text and DUPLICATES_TEXT in response.text
    assert "nothing was stored" not in response.text


def server_processes(server: EmbeddedPostgres) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, WAL writer...)."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(entry.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen(server: EmbeddedPostgres) -> Iterator[None]:
    """The whole server stopped (SIGSTOP), as a hung host or a network partition looks to
    Callbox: connections stay open and nothing answers. SIGCONT when the block ends."""
    processes = server_processes(server)
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
