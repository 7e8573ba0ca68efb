"""The pool's connections: handed back without a reset round trip unless they need one.

asyncpg resets every connection released to a pool with ``SELECT pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL``: one round trip per release, which GraphQL reads and
callbacks paid on every statement. Callbox's pool users leave none of that state behind, so
:class:`PooledConnection` sends nothing on release, except on a connection that was marked
with :func:`keeps_session_state`, which gets asyncpg's whole reset. Why that is safe, state
by state:

- advisory locks: the only session-level one taken on a pooled connection is the purge
  lock (``store/purge.py``), which marks its connection; the migration lock is taken on a
  connection of its own, and the lock of ``callbox_apply_inbound_part`` is transaction-level
  (``pg_advisory_xact_lock``), gone at commit or rollback;
- cursors: Callbox declares none (``connection.cursor()`` needs a transaction, and its cursor
  ends with it); a transaction left open is always rolled back by asyncpg on release;
- ``LISTEN``: the event hub listens on a connection of its own (``events/hub.py``); a
  listener added on a pooled connection marks it (:meth:`PooledConnection.add_listener`);
- settings: nothing runs ``SET`` on a pooled connection except ``SET LOCAL`` inside a
  transaction (the purge's lock timeout), which ends with it; statement time limits are
  asyncpg's (``command_timeout``, per-statement ``timeout``), not server settings.

``tests/store/test_pool_reset.py`` checks that a purge lock or a ``LISTEN`` left behind does
not reach the next user, and that a plain release sends nothing.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from callbox.db.connection import Connection


class PooledConnection(asyncpg.Connection):
    """The connection class of Callbox's pool (``connection_class=``)."""

    __slots__ = ("_keeps_session_state",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keeps_session_state = False

    def keep_session_state(self) -> None:
        """This session now holds state a later user must not inherit (see the module)."""
        self._keeps_session_state = True

    def get_reset_query(self) -> str:
        """asyncpg's whole reset for a marked connection (once), else nothing to send."""
        if not self._keeps_session_state:
            return ""
        self._keeps_session_state = False
        query: str = super().get_reset_query()
        return query

    async def add_listener(self, channel: str, callback: Any) -> None:
        self.keep_session_state()  # LISTEN outlives the callback: UNLISTEN * on release
        await super().add_listener(channel, callback)


def keeps_session_state(connection: Connection) -> None:
    """Mark a pooled connection whose session will hold state beyond its transaction (a
    session advisory lock): released to the pool, it gets asyncpg's whole reset. A
    connection not from Callbox's pool needs no mark (asyncpg's own pools reset fully, and a
    connection of its own is closed)."""
    mark = getattr(connection, "keep_session_state", None)
    if mark is not None:
        mark()
