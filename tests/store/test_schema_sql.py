"""schema.sql tells the truth: it is the schema of a database migrated from scratch."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from callbox.store.schema_dump import dump_schema

SCHEMA_SQL = Path(__file__).resolve().parents[2] / "schema.sql"


async def test_schema_sql_is_fresh(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        dumped = await dump_schema(connection)
    finally:
        await connection.close()
    if os.environ.get("CALLBOX_WRITE_SCHEMA_SQL") == "1":
        SCHEMA_SQL.write_text(dumped, encoding="utf-8")
    checked_in = SCHEMA_SQL.read_text(encoding="utf-8") if SCHEMA_SQL.exists() else ""
    assert dumped == checked_in, (
        "schema.sql is stale: regenerate it with"
        " CALLBOX_WRITE_SCHEMA_SQL=1 uv run pytest tests/store/test_schema_sql.py"
    )
