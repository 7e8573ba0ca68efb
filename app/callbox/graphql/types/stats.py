"""Stats: message counts over a time window, grouped, and as a time series."""

from __future__ import annotations

from datetime import datetime

import strawberry

from callbox.graphql.context import Info
from callbox.graphql.data.filters import StatsQuery
from callbox.graphql.data.rows import KeyCount, MessageCounts, SeriesBucket
from callbox.graphql.data.stats import time_zone
from callbox.graphql.types.enums import BucketSize
from callbox.graphql.types.fields import field


@strawberry.type(description="How many messages have this value.")
class CountByKey:
    key: str
    count: int

    @classmethod
    def many(cls, counts: list[KeyCount]) -> list[CountByKey]:
        return [cls(key=count.key, count=count.count) for count in counts]


@strawberry.type(description="Messages that occurred in one bucket of time.")
class StatsBucket:
    start: datetime
    count: int
    inbound: int
    outbound: int
    delivered: int
    failed: int
    opened: int = strawberry.field(description="E-mail: messages opened at least once.")
    clicked: int = strawberry.field(description="E-mail: messages clicked at least once.")

    @classmethod
    def from_row(cls, row: SeriesBucket) -> StatsBucket:
        return cls(
            start=row.start,
            count=row.count,
            inbound=row.inbound,
            outbound=row.outbound,
            delivered=row.delivered,
            failed=row.failed,
            opened=row.opened,
            clicked=row.clicked,
        )


@strawberry.type(
    description="Messages whose occurredAt is in [since, until). Every count is one SQL scan,"
    " shared by all count fields of the object."
)
class Stats:
    since: datetime | None
    until: datetime | None
    query: strawberry.Private[StatsQuery]

    async def _counts(self, info: Info) -> MessageCounts:
        return await info.context.loaders.message_counts.load(self.query)

    @strawberry.field
    async def total(self, info: Info) -> int:
        return (await self._counts(info)).total

    @strawberry.field
    async def by_provider(self, info: Info) -> list[CountByKey]:
        return CountByKey.many((await self._counts(info)).by_provider)

    @strawberry.field
    async def by_receiver(self, info: Info) -> list[CountByKey]:
        return CountByKey.many((await self._counts(info)).by_receiver)

    @strawberry.field
    async def by_direction(self, info: Info) -> list[CountByKey]:
        return CountByKey.many((await self._counts(info)).by_direction)

    @strawberry.field
    async def by_channel(self, info: Info) -> list[CountByKey]:
        return CountByKey.many((await self._counts(info)).by_channel)

    @strawberry.field
    async def by_status(self, info: Info) -> list[CountByKey]:
        return CountByKey.many((await self._counts(info)).by_status)

    @field(
        description="E-mail: messages opened at least once (an open never changes a status,"
        " so opens are counted here)."
    )
    async def opened(self, info: Info) -> int:
        return (await self._counts(info)).opened

    @field(description="E-mail: messages with at least one click.")
    async def clicked(self, info: Info) -> int:
        return (await self._counts(info)).clicked

    @field(description="FAILED messages by reason.")
    async def by_failure_reason(self, info: Info) -> list[CountByKey]:
        return CountByKey.many((await self._counts(info)).by_failure_reason)

    @field(
        description="Counts per hour or day (in timezone), empty buckets included, from since"
        " (default: the first message's bucket, at most 10,000 buckets back) to until"
        " (default: now); a window of more than 10,000 buckets is refused."
    )
    async def series(
        self, info: Info, bucket: BucketSize = BucketSize.DAY, timezone: str = "UTC"
    ) -> list[StatsBucket]:
        rows = await info.context.data.message_series(self.query, bucket, time_zone(timezone))
        return [StatsBucket.from_row(row) for row in rows]
