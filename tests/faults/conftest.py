"""One private embedded PostgreSQL for the tests that stop or freeze it (the
shared test server is never touched)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[list[EmbeddedPostgres]]:
    """A running server; the list holds the current one (a restart replaces it: same URL).

    Its directory is not below pytest's base temporary directory: as root, the server runs
    as another OS user that must traverse the path, and every pytest run (another session's
    too) makes ``/tmp/pytest-of-root`` private again.
    """
    base = Path(tempfile.mkdtemp(prefix="callbox-faults-"))
    current = [start_embedded_postgres(base / "pg")]
    try:
        yield current
    finally:
        current[0].stop()
        shutil.rmtree(base, ignore_errors=True)
