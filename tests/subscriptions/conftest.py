"""Fixtures for the subscription tests: Callbox served with WebSockets on the emptied
session database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.graphql.support import CONFINED_KEY_ENV, KEYS
from tests.subscriptions.support import Live, live_server, live_settings


@pytest.fixture(autouse=True)
def confined_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFINED_KEY_ENV, KEYS["esendex-only"])


@pytest.fixture
async def live(db: asyncpg.Connection, database_url: str) -> AsyncIterator[Live]:
    async with live_server(live_settings(database_url)) as server:
        yield server
