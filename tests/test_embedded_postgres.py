"""The embedded PostgreSQL server: first start, data surviving a restart, long paths.

Each test runs initdb once (about half a second to a second here); every step is bounded by
``STEP_TIMEOUT`` so a hung server fails the test instead of stalling the run.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="embedded postgres is POSIX only")

STEP_TIMEOUT = 60.0


async def _start(data_dir: Path) -> EmbeddedPostgres:
    async with asyncio.timeout(STEP_TIMEOUT):
        return await asyncio.to_thread(start_embedded_postgres, data_dir)


async def _stop(pg: EmbeddedPostgres) -> None:
    async with asyncio.timeout(STEP_TIMEOUT):
        await asyncio.to_thread(pg.stop)


async def test_start_stop_restart_keeps_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "pg"

    pg = await _start(data_dir)
    try:
        assert pg.url.startswith("postgresql://")
        assert pg.data_dir == data_dir.resolve()
        assert (data_dir / "PG_VERSION").is_file()
        conn = await asyncpg.connect(pg.url, timeout=STEP_TIMEOUT)
        try:
            assert await conn.fetchval("select 1") == 1
            assert await conn.fetchval("select current_database()") == "callbox"
            await conn.execute("create table survivor (note text not null)")
            await conn.execute("insert into survivor (note) values ('kept')")
        finally:
            await conn.close()
    finally:
        await _stop(pg)
    pg.stop()  # idempotent

    with pytest.raises(OSError):
        await asyncpg.connect(pg.url, timeout=5)

    # Same cluster again, named by a relative path this time.
    monkeypatch.chdir(tmp_path)
    again = await _start(Path("pg"))
    try:
        assert again.data_dir == pg.data_dir
        assert again.url == pg.url
        conn = await asyncpg.connect(again.url, timeout=STEP_TIMEOUT)
        try:
            assert await conn.fetch("select note from survivor") == [("kept",)]
            databases = await conn.fetchval(
                "select count(*) from pg_database where datname = 'callbox'"
            )
            assert databases == 1
        finally:
            await conn.close()
    finally:
        await _stop(again)


async def test_data_dir_too_long_for_a_socket_path(tmp_path: Path) -> None:
    data_dir = tmp_path.joinpath(*(["a-rather-long-directory-name"] * 4), "pg")
    assert len(os.fsencode(data_dir / ".s.PGSQL.5432")) > 108

    pg = await _start(data_dir)
    try:
        assert pg.socket_dir != pg.data_dir
        assert len(os.fsencode(pg.socket_dir / f".s.PGSQL.{pg.port}")) < 108
        conn = await asyncpg.connect(pg.url, timeout=STEP_TIMEOUT)
        try:
            assert await conn.fetchval("select current_database()") == "callbox"
        finally:
            await conn.close()
    finally:
        await _stop(pg)


async def test_stale_pidfile_with_reused_pid_is_ignored(tmp_path: Path) -> None:
    """A ``postmaster.pid`` left by a crash whose PID now belongs to another process."""
    data_dir = tmp_path / "pg"
    pg = await _start(data_dir)
    pidfile_lines = (data_dir / "postmaster.pid").read_text().splitlines()
    await _stop(pg)

    squatter = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(120)"
    )
    try:
        pidfile_lines[0] = str(squatter.pid)
        (data_dir / "postmaster.pid").write_text("\n".join(pidfile_lines) + "\n")

        again = await _start(data_dir)
        try:
            conn = await asyncpg.connect(again.url, timeout=STEP_TIMEOUT)
            try:
                assert await conn.fetchval("select 1") == 1
            finally:
                await conn.close()
        finally:
            await _stop(again)
        assert squatter.returncode is None
    finally:
        squatter.kill()
        await squatter.wait()
