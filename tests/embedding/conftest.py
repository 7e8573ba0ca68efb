"""Fixtures for the embedding tests: the GraphQL test keys (one is read from the environment)."""

from __future__ import annotations

import pytest

from tests.graphql.support import CONFINED_KEY_ENV, KEYS


@pytest.fixture(autouse=True)
def confined_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFINED_KEY_ENV, KEYS["esendex-only"])
