"""stats { series }: a bounded window whatever the arguments and whatever dates are stored.

Issue 16, item 1: without until (or with a far since) a series generated millions of
buckets, and one message dated year 1 broke every series without since for good.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.graphql.support import Api

RECORD = """mutation($input: RecordOutboundMessageInput!) {
  recordOutboundMessage(input: $input) { created } }"""
SERIES = """query($since: DateTime, $until: DateTime, $bucket: Bucket!, $tz: String!) {
  stats(since: $since, until: $until) { total series(bucket: $bucket, timezone: $tz) {
    start count } } }"""


async def sent(api: Api, n: int, at: str) -> None:
    variables = {
        "input": {"receiver": "notify", "providerMessageId": f"p-{n}", "to": "07700900123",
                  "sentAt": at}
    }  # fmt: skip
    assert (await api.query(RECORD, variables))["recordOutboundMessage"]["created"]


async def series(api: Api, **variables: Any) -> list[tuple[str, int]]:
    arguments = {"bucket": "DAY", "tz": "UTC"} | variables
    data = await api.query(SERIES, arguments)
    return [(bucket["start"], bucket["count"]) for bucket in data["stats"]["series"]]


def day(value: datetime) -> str:
    return value.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


async def test_a_message_dated_year_1_does_not_break_series(api: Api) -> None:
    now = datetime.now(UTC)
    await sent(api, 1, "0001-01-01T00:00:00Z")
    await sent(api, 2, (now - timedelta(days=1)).isoformat())
    buckets = await series(api)
    assert len(buckets) == 10_000  # the last 10,000 days; year 1 falls outside
    assert buckets[-2:] == [(day(now - timedelta(days=1)), 1), (day(now), 0)]
    assert sum(count for _, count in buckets) == 1
    assert len(await series(api, bucket="HOUR")) == 10_000


async def test_a_message_dated_9999_does_not_widen_or_break_series(api: Api) -> None:
    now = datetime.now(UTC)
    await sent(api, 1, "9999-12-31T23:59:59Z")
    await sent(api, 2, (now - timedelta(days=1)).isoformat())
    since = (now - timedelta(days=2)).isoformat()
    assert await series(api, since=since) == [
        (day(now - timedelta(days=2)), 0),
        (day(now - timedelta(days=1)), 1),
        (day(now), 0),
    ]
    assert (await series(api))[-1] == (day(now), 0)


@pytest.mark.parametrize("bucket", ["HOUR", "DAY"])
async def test_a_far_since_without_until_is_refused_at_once(api: Api, bucket: str) -> None:
    started = time.monotonic()
    document = await api.post(
        SERIES, {"bucket": bucket, "tz": "UTC", "since": "0001-01-01T00:00:00Z"}
    )
    assert time.monotonic() - started < 2
    (error,) = document["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "more than 10000 buckets" in error["message"]
    assert "until defaults to now" in error["message"]


async def test_windows_at_the_first_and_last_instants_answer_at_once(api: Api) -> None:
    """asyncpg sends 0001-01-01T00:00Z and 9999-12-31T23:59:59.999999Z as -infinity and
    infinity; a series to infinity never ended (the read timed out)."""
    await sent(api, 1, "0001-01-02T12:00:00Z")
    started = time.monotonic()
    late = await series(api, since="9999-12-29T00:00:00Z", until="9999-12-31T23:59:59.999999Z")
    assert [start for start, _ in late] == [
        "9999-12-29T00:00:00+00:00",
        "9999-12-30T00:00:00+00:00",
        "9999-12-31T00:00:00+00:00",
    ]
    early = await series(
        api, since="0001-01-01T00:00:00Z", until="0001-01-05T00:00:00Z", tz="America/New_York"
    )
    assert sum(count for _, count in early) == 1
    assert len(early) == 5  # 31 Dec of year 0 (given as the first instant) to 4 January
    assert time.monotonic() - started < 5
