"""Concurrent migrations apply once, and the wheel carries the migrations, the SQL function
files and the inbox page. (The Piccolo tables are checked against the database in
tests/store/test_tables_match_database.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import zipfile
from pathlib import Path

import asyncpg

from callbox.store.migrate import pending_migrations, run_migrations

REPO = Path(__file__).resolve().parents[2]


async def test_concurrent_migrations_on_an_empty_database_apply_once(create_database) -> None:  # type: ignore[no-untyped-def]
    url = await create_database()
    await asyncio.gather(*(run_migrations(url) for _ in range(4)))
    assert await pending_migrations(url) == []
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM migration") == len(
            list((REPO / "migrations").glob("*.py"))
        )
    finally:
        await connection.close()


def test_wheel_ships_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("callbox-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(name).name for name in names if name.startswith("callbox/_migrations/")}
    expected = {path.name for path in (REPO / "migrations").glob("*.py")}
    assert expected and expected <= shipped
    assert "callbox/providers/notify.py" in names
    # The inbox page's files (served from the package by callbox.inbox.routes).
    static = REPO / "app" / "callbox" / "inbox" / "static"
    page_files = {f"callbox/inbox/static/{path.name}" for path in static.iterdir()}
    assert "callbox/inbox/static/main.js" in page_files
    assert page_files <= set(names)
    # The SQL functions, applied from the package after the migrations.
    sql = REPO / "app" / "callbox" / "store" / "sql"
    function_files = {f"callbox/store/sql/{path.name}" for path in sql.glob("*.sql")}
    assert "callbox/store/sql/callbox_apply_status.sql" in function_files
    assert function_files <= set(names)
