"""Fixtures for the GraphQL tests: an API on the emptied session database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.graphql.support import Api, graphql_api


@pytest.fixture
async def api(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    async with graphql_api(database_url, monkeypatch) as client:
        yield client
