"""Live updates: the event log, one supervised NOTIFY listener per process, local fan-out.

Every applied change writes a ``callbox_event`` row in its own transaction and sends
``pg_notify('callbox_events', …)``, which listeners hear only after commit (see the migration
``callbox_2026_11_22t21_00_00_000000`` and ``callbox_emit_event`` in ``store/sql/``). Here:

- ``position``: where a reader is in the log, ``(xid, id)``, and its opaque cursor;
- ``log``: the SQL reading the log in that order, below the oldest running transaction;
- ``filters``: which events one subscriber wants (receivers already confined by its key);
- ``subscriber``: one subscription's bounded queue, replay from a cursor, then live rows;
- ``hub``: the process's one listening connection (reconnecting with backoff) and the
  reader that feeds every local subscriber from the table;
- ``errors``: why a subscription ends, each with a cursor to resume from;
- ``retention``: deleting rows past the replay window;
- ``readiness``: the ``listener`` check for ``/ready``.
"""
