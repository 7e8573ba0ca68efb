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


async def test_serve_stops_its_embedded_server_on_sigterm(tmp_path: Path) -> None:
    """``callbox serve`` without a database URL: a SIGTERM (what Docker, systemd and
    Kubernetes send) shuts the app down and stops the embedded server with it."""
    import signal
    import subprocess

    import httpx

    from tests.support import free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLBOX_")}
    env["CALLBOX_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "callbox", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    postmaster_pid = tmp_path / "data" / "postgres" / "postmaster.pid"
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                assert process.poll() is None, "callbox serve exited early"
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("callbox serve was not ready in 60 s")
        assert postmaster_pid.exists()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, STEP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    left_running = postmaster_pid.exists()
    if left_running:  # do not leave it behind when the test fails
        os.kill(int(postmaster_pid.read_text().split()[0]), signal.SIGTERM)
    assert code in (0, 128 + signal.SIGTERM)
    assert not left_running, "the embedded PostgreSQL was still running"
