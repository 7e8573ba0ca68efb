"""Apply lag, in SQL, over the notifications of one run.

Apply lag is the time a callback became queryable (applied) minus the time it was
acknowledged. Where callbacks are applied behind the acknowledgement (the schema has
``callbox_pending_apply``, the queue of work), a request is applied once its queue row is gone,
at the latest ``applied_at`` of its dedupe keys (``callbox_applied_event``, taken in the
applying transaction, a little before its commit makes the rows queryable). Older schemas
applied inside the request: ``processed_at`` then, and the lag is zero. The run's rows are
those of one receiver with an id above the highest id before the run; the backlog is those
of them not applied yet.

Two measures:

- ``ack_lag``: applied minus the acknowledgement time the load generator recorded for each
  callback (matched by the Notify ``id`` in the stored body). Applied before the answer
  (inside the request) counts as 0.
- ``arrival_lag``: applied minus ``received_at`` (the arrival at the server), for runs whose
  load generator (wrk) cannot record a time per request; it includes the acknowledgement's
  own latency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg

QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class Lag:
    rows: int
    applied: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def cells(self) -> str:
        """``p50 / p99 / max`` in milliseconds, for a table."""
        if self.p50_ms is None or self.p99_ms is None or self.max_ms is None:
            return "n/a"
        return f"{self.p50_ms:,.1f} / {self.p99_ms:,.1f} / {self.max_ms:,.1f}"


APPLIED_BEHIND = """
CASE WHEN EXISTS (SELECT 1 FROM callbox_pending_apply w WHERE w.notification = n.id) THEN NULL
ELSE (SELECT max(a.applied_at) FROM callbox_applied_event a WHERE a.notification = n.id) END
"""


async def applied_column(connection: asyncpg.Connection) -> str:
    """The SQL expression (over ``callbox_notification n``) of when a request was applied;
    NULL while it waits."""
    behind: bool = await connection.fetchval(
        "SELECT to_regclass('callbox_pending_apply') IS NOT NULL"
    )
    return f"({APPLIED_BEHIND})" if behind else "n.processed_at"


async def last_id(connection: asyncpg.Connection) -> int:
    """The highest notification id so far: a run's rows are those above it."""
    value: int = await connection.fetchval("SELECT coalesce(max(id), 0) FROM callbox_notification")
    return value


async def backlog(
    connection: asyncpg.Connection,
    receiver: str,
    after_id: int,
) -> int:
    """Stored-but-unapplied notifications of the run (always 0 where the schema applies in the
    request). Rejected requests have nothing to apply; failed ones wait for a fix and
    ``callbox reprocess``, not for the applier."""
    behind: bool = await connection.fetchval(
        "SELECT to_regclass('callbox_pending_apply') IS NOT NULL"
    )
    if behind:  # the queue of work itself: small, and cheap to count while the run goes on
        waiting: int = await connection.fetchval(
            "SELECT count(*) FROM callbox_pending_apply WHERE receiver = $1 AND notification > $2",
            receiver,
            after_id,
        )
        return waiting
    count: int = await connection.fetchval(
        "SELECT count(*) FROM callbox_notification n WHERE receiver = $1 AND id > $2"
        " AND processed_at IS NULL AND state NOT IN ('REJECTED', 'FAILED')",
        receiver,
        after_id,
    )
    return count


async def wait_applied(
    database_url: str, receiver: str, after_id: int, limit_s: float = 120.0
) -> float:
    """Wait until the run's notifications are all applied; seconds waited. Gives up after
    ``limit_s``."""
    connection = await asyncpg.connect(database_url)
    try:
        start = time.monotonic()
        while True:
            waiting = await backlog(connection, receiver, after_id)
            if not waiting or time.monotonic() - start > limit_s:
                return time.monotonic() - start
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


def _lag(row: asyncpg.Record) -> Lag:
    quantiles = row["quantiles"] or [None] * len(QUANTILES)
    ms = [None if value is None else value * 1000 for value in quantiles]
    return Lag(
        rows=row["rows"],
        applied=row["applied"],
        p50_ms=ms[0],
        p90_ms=ms[1],
        p99_ms=ms[2],
        max_ms=None if row["max"] is None else row["max"] * 1000,
    )


async def arrival_lag(database_url: str, receiver: str, after_id: int) -> Lag:
    connection = await asyncpg.connect(database_url)
    try:
        column = await applied_column(connection)
        row = await connection.fetchrow(
            f"""
            SELECT count(*) AS rows, count(applied) AS applied,
                   percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY lag) AS quantiles,
                   max(lag) AS max
            FROM (SELECT applied,
                         extract(epoch FROM applied - received_at)::float8 AS lag
                  FROM (SELECT {column} AS applied, n.received_at
                        FROM callbox_notification n
                        WHERE receiver = $1 AND id > $2 AND state <> 'REJECTED') AS stored
                  ) AS run
            """,
            receiver,
            after_id,
            list(QUANTILES),
        )
    finally:
        await connection.close()
    assert row is not None
    return _lag(row)


@dataclass
class AckLag:
    lag: Lag
    last_applied: datetime | None
    """When the run's last callback was applied."""
    missing: int
    """Acknowledged callbacks with no stored notification (a loss)."""


async def ack_lag(
    database_url: str,
    receiver: str,
    after_id: int,
    acks: list[tuple[str, datetime]],
) -> AckLag:
    """Lag from each acknowledgement (``acks``: Notify id, answer time) to its application."""
    connection = await asyncpg.connect(database_url)
    try:
        column = await applied_column(connection)
        async with connection.transaction():
            await connection.execute(
                "CREATE TEMP TABLE bench_ack (id text PRIMARY KEY, acked_at timestamptz NOT NULL)"
                " ON COMMIT DROP"
            )
            await connection.copy_records_to_table("bench_ack", records=acks)
            await connection.execute("ANALYZE bench_ack")
            row = await connection.fetchrow(
                f"""
                WITH stored AS (
                    SELECT convert_from(body, 'UTF8')::jsonb ->> 'id' AS id,
                           {column} AS applied
                    FROM callbox_notification n
                    WHERE receiver = $1 AND id > $2 AND state <> 'REJECTED'
                ), run AS (
                    SELECT a.id, s.applied,
                           greatest(0, extract(epoch FROM s.applied - a.acked_at))::float8
                               AS lag,
                           s.id IS NULL AS missing
                    FROM bench_ack AS a LEFT JOIN stored AS s USING (id)
                )
                SELECT count(*) AS rows, count(applied) AS applied,
                       percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY lag)
                           AS quantiles,
                       max(lag) AS max, max(applied) AS last_applied,
                       count(*) FILTER (WHERE missing) AS missing
                FROM run
                """,
                receiver,
                after_id,
                list(QUANTILES),
            )
    finally:
        await connection.close()
    assert row is not None
    return AckLag(lag=_lag(row), last_applied=row["last_applied"], missing=row["missing"])
