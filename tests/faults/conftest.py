"""One private embedded PostgreSQL for the tests that stop or freeze it (the
shared test server is never touched)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres
from tests.support import postgres_tmp_dir


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[list[EmbeddedPostgres]]:
    """A running server; the list holds the current one (a restart replaces it: same URL).

    Its directory is not below pytest's base temporary directory: as root, the server runs
    as another OS user that must reach it (``tests.support.postgres_tmp_dir``).
    """
    with postgres_tmp_dir() as base:
        current = [start_embedded_postgres(base / "pg")]
        try:
            yield current
        finally:
            current[0].stop()
