"""Message statistics, computed in SQL: counts grouped several ways, and a time series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callbox.graphql.data.filters import BucketSize, StatsQuery, TimeRange
from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import KeyCount, MessageCounts, SeriesBucket
from callbox.graphql.data.runner import Sql
from callbox.graphql.errors import InvalidInput

MAX_BUCKETS = 10_000
_FIRST_INSTANT = datetime(1, 1, 1, tzinfo=UTC)
_LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
"""The first and last instants Python (and so asyncpg) can hand back."""
_MICROSECOND = timedelta(microseconds=1)
_STEP = {BucketSize.HOUR: timedelta(hours=1), BucketSize.DAY: timedelta(days=1)}
_DIMENSIONS = ("provider", "receiver", "direction", "channel", "status", "failure_reason")
_ENGAGED = (
    "count(*) FILTER (WHERE m.opened_at IS NOT NULL) AS opened,"
    " count(*) FILTER (WHERE m.clicked_at IS NOT NULL) AS clicked"
)
"""E-mail: messages opened, and clicked, at least once (in the same scan as the counts)."""


def _conditions(query: StatsQuery, receivers: tuple[str, ...] | None, p: Params) -> list[str]:
    conditions = []
    if receivers is not None:
        conditions.append(one_of("m.receiver", receivers, p))
    if query.occurred.since is not None:
        conditions.append(f"m.occurred_at >= {p(query.occurred.since, 'timestamptz')}")
    if query.occurred.until is not None:
        conditions.append(f"m.occurred_at < {p(query.occurred.until, 'timestamptz')}")
    return conditions


async def message_counts(
    sql: Sql, query: StatsQuery, *, receivers: tuple[str, ...] | None
) -> MessageCounts:
    """One scan, one grouping set per dimension plus the grand total."""
    p = Params()
    groupings = ", ".join(f"GROUPING(m.{name}) AS grouped_{name}" for name in _DIMENSIONS)
    columns = ", ".join(f"m.{name}" for name in _DIMENSIONS)
    sets = ", ".join(f"(m.{name})" for name in _DIMENSIONS)
    records = await sql.fetch(
        f"SELECT {groupings}, {columns}, count(*) AS n, {_ENGAGED} FROM callbox_message m"
        f" {where(_conditions(query, receivers, p))}"
        f" GROUP BY GROUPING SETS ({sets}, ()) ORDER BY n DESC",
        *p.values,
    )
    total = opened = clicked = 0
    counts: dict[str, list[KeyCount]] = {name: [] for name in _DIMENSIONS}
    for record in records:
        grouped_by = [name for name in _DIMENSIONS if record[f"grouped_{name}"] == 0]
        if not grouped_by:
            total, opened, clicked = record["n"], record["opened"], record["clicked"]
        elif record[grouped_by[0]] is not None:  # messages without a failure reason
            counts[grouped_by[0]].append(KeyCount(record[grouped_by[0]], record["n"]))
    return MessageCounts(
        total=total,
        by_provider=counts["provider"],
        by_receiver=counts["receiver"],
        by_direction=counts["direction"],
        by_channel=counts["channel"],
        by_status=counts["status"],
        by_failure_reason=counts["failure_reason"],
        opened=opened,
        clicked=clicked,
    )


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: {name!r} is not an IANA time zone") from None


def _too_many() -> InvalidInput:
    return InvalidInput(
        f"series: more than {MAX_BUCKETS} buckets from since to until (until defaults to now);"
        " narrow them or use DAY"
    )


async def message_series(
    sql: Sql,
    query: StatsQuery,
    bucket: BucketSize,
    zone: ZoneInfo,
    *,
    receivers: tuple[str, ...] | None,
    now: datetime,
) -> list[SeriesBucket]:
    """Counts per hour or day (in ``zone``), with empty buckets filled in, from ``since``
    to ``until``, at most :data:`MAX_BUCKETS` of them.

    ``until`` defaults to ``now``: stored dates, whatever they are (year 9999), never widen
    the window. Without ``since`` the series starts at the first message's bucket, but no
    earlier than ``MAX_BUCKETS`` buckets before the last one: a message dated year 1 does
    not make the series fail, it falls outside it. A window given wider than that is
    refused before any SQL runs. Bucket starts before 0001-01-01T00:00Z (a day of year 1 in
    a zone west of UTC) are given as that instant.
    """
    since = query.occurred.since
    until = query.occurred.until if query.occurred.until is not None else now
    # asyncpg sends the first and last instants Python has (0001-01-01T00:00Z and
    # 9999-12-31T23:59:59.999999Z) as -infinity and infinity, and a series to infinity
    # never ends: keep the window one microsecond inside them.
    if since is not None:
        since = max(since, _FIRST_INSTANT + _MICROSECOND)
    until = min(until, _LAST_INSTANT - _MICROSECOND)
    step = _STEP[bucket]
    if since is not None:
        if until <= since:
            return []
        if (until - since) / step > MAX_BUCKETS:
            raise _too_many()
    window = StatsQuery(receivers=query.receivers, occurred=TimeRange(since, until))
    p = Params()
    unit, interval, tz = p(bucket.value, "text"), p(step, "interval"), p(zone.key, "text")
    first = f"date_trunc({unit}, {p(since, 'timestamptz')} AT TIME ZONE {tz})"
    last = f"date_trunc({unit}, ({p(until, 'timestamptz')} - interval '1 microsecond')"
    last += f" AT TIME ZONE {tz})"
    earliest = f"{last} - {p(MAX_BUCKETS - 1, 'int')} * {interval}"
    records = await sql.fetch(
        f"WITH counted AS (SELECT date_trunc({unit}, m.occurred_at AT TIME ZONE {tz}) AS bucket,"
        " count(*) AS n,"
        " count(*) FILTER (WHERE m.direction = 'INBOUND') AS inbound,"
        " count(*) FILTER (WHERE m.direction = 'OUTBOUND') AS outbound,"
        " count(*) FILTER (WHERE m.status = 'DELIVERED') AS delivered,"
        " count(*) FILTER (WHERE m.status = 'FAILED') AS failed,"
        f" {_ENGAGED}"
        f" FROM callbox_message m {where(_conditions(window, receivers, p))} GROUP BY 1),"
        f" bounds AS (SELECT COALESCE({first}, CASE WHEN min(bucket) IS NOT NULL"
        f" THEN GREATEST(min(bucket), {earliest}) END) AS first_bucket,"
        f" {last} AS last_bucket FROM counted)"
        # The first instant as SQL text: as a parameter asyncpg would send it as -infinity.
        f" SELECT GREATEST(slot.bucket AT TIME ZONE {tz}, timestamptz '0001-01-01 00:00:00+00')"
        " AS start, COALESCE(c.n, 0) AS n,"
        " COALESCE(c.inbound, 0) AS inbound, COALESCE(c.outbound, 0) AS outbound,"
        " COALESCE(c.delivered, 0) AS delivered, COALESCE(c.failed, 0) AS failed,"
        " COALESCE(c.opened, 0) AS opened, COALESCE(c.clicked, 0) AS clicked"
        " FROM bounds CROSS JOIN generate_series(bounds.first_bucket, bounds.last_bucket,"
        f" {interval}) AS slot(bucket) LEFT JOIN counted c ON c.bucket = slot.bucket"
        f" ORDER BY slot.bucket LIMIT {MAX_BUCKETS + 1}",
        *p.values,
    )
    if len(records) > MAX_BUCKETS:
        raise _too_many()
    return [
        SeriesBucket(
            start=record["start"],
            count=record["n"],
            inbound=record["inbound"],
            outbound=record["outbound"],
            delivered=record["delivered"],
            failed=record["failed"],
            opened=record["opened"],
            clicked=record["clicked"],
        )
        for record in records
    ]
