"""stats(since, until, receiver): grouped counts and time series; receivers without secrets."""

from __future__ import annotations

import json
from typing import Any

from tests.graphql.support import KEYS, NOTIFY_TOKEN, Api

STATS = """query($since: DateTime, $until: DateTime, $receiver: String) {
  stats(since: $since, until: $until, receiver: $receiver) {
    since until total
    byProvider { key count } byReceiver { key count } byDirection { key count }
    byChannel { key count } byStatus { key count } byFailureReason { key count }
  } }"""


async def scenario(api: Api) -> None:
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:00.000000Z")
    await api.notify_receipt("n-2", "permanent-failure", at="2026-11-20T11:30:00.000000Z")
    await api.notify_receipt("n-3", "temporary-failure", at="2026-11-21T09:00:00.000000Z")
    await api.notify_inbound("ni-1", sender="07700900123", text="hi", at="2026-11-23T00:30:00Z")
    await api.esendex_receipt("e-1", "MessageDelivered", at="2026-11-21T12:00:00Z")


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["key"]: row["count"] for row in rows}


async def test_counts_by_every_dimension(api: Api) -> None:
    await scenario(api)
    stats = (await api.query(STATS))["stats"]
    assert stats["total"] == 5
    assert counts(stats["byProvider"]) == {"notify": 4, "esendex": 1}
    assert counts(stats["byReceiver"]) == {"notify": 4, "esendex": 1}
    assert counts(stats["byDirection"]) == {"OUTBOUND": 4, "INBOUND": 1}
    assert counts(stats["byChannel"]) == {"SMS": 5}
    assert counts(stats["byStatus"]) == {"DELIVERED": 2, "FAILED": 2, "RECEIVED": 1}
    assert counts(stats["byFailureReason"]) == {"PERMANENT": 1, "TEMPORARY": 1}


async def test_counts_in_a_window_and_for_a_receiver(api: Api) -> None:
    await scenario(api)
    window = {"since": "2026-11-20T11:00:00Z", "until": "2026-11-21T12:00:00Z"}
    stats = (await api.query(STATS, window))["stats"]
    assert (stats["since"], stats["until"]) == (
        "2026-11-20T11:00:00+00:00",
        "2026-11-21T12:00:00+00:00",
    )
    assert stats["total"] == 2
    assert counts(stats["byStatus"]) == {"FAILED": 2}
    esendex = (await api.query(STATS, {"receiver": "esendex"}))["stats"]
    assert esendex["total"] == 1
    assert counts(esendex["byReceiver"]) == {"esendex": 1}
    assert counts(esendex["byFailureReason"]) == {}
    empty = (await api.query(STATS, {"receiver": "nobody"}))["stats"]
    assert (empty["total"], empty["byStatus"]) == (0, [])


SERIES = """query($since: DateTime, $until: DateTime, $bucket: Bucket!, $tz: String!) {
  stats(since: $since, until: $until) {
    series(bucket: $bucket, timezone: $tz) { start count inbound outbound delivered failed }
  } }"""


async def test_daily_series_fills_empty_days(api: Api) -> None:
    await scenario(api)
    until = "2026-11-24T00:00:00Z"
    window = {"bucket": "DAY", "tz": "UTC", "until": until}
    series = (await api.query(SERIES, window))["stats"]["series"]
    assert [(b["start"], b["count"]) for b in series] == [
        ("2026-11-20T00:00:00+00:00", 2),
        ("2026-11-21T00:00:00+00:00", 2),
        ("2026-11-22T00:00:00+00:00", 0),
        ("2026-11-23T00:00:00+00:00", 1),
    ]
    assert series[0] | {"start": None} == {
        "start": None, "count": 2, "inbound": 0, "outbound": 2, "delivered": 1, "failed": 1,
    }  # fmt: skip
    assert (series[3]["inbound"], series[3]["outbound"]) == (1, 0)


async def test_series_in_a_time_zone_and_by_hour_within_bounds(api: Api) -> None:
    await scenario(api)
    # 2026-11-23T00:30Z is still the 22nd in New York.
    window = {"bucket": "DAY", "tz": "America/New_York", "until": "2026-11-23T05:00:00Z"}
    new_york = (await api.query(SERIES, window))["stats"]
    assert [(b["start"], b["count"]) for b in new_york["series"]] == [
        ("2026-11-20T05:00:00+00:00", 2),
        ("2026-11-21T05:00:00+00:00", 2),
        ("2026-11-22T05:00:00+00:00", 1),
    ]
    hours = (
        await api.query(
            SERIES,
            {
                "bucket": "HOUR",
                "tz": "UTC",
                "since": "2026-11-20T09:00:00Z",
                "until": "2026-11-20T13:00:00Z",
            },
        )
    )["stats"]["series"]
    assert [(b["start"][11:16], b["count"]) for b in hours] == [
        ("09:00", 0),
        ("10:00", 1),
        ("11:00", 1),
        ("12:00", 0),
    ]


async def test_series_refuses_bad_zones_and_too_many_buckets(api: Api) -> None:
    assert await api.errors(SERIES, {"bucket": "DAY", "tz": "Mars/Olympus"}) == [
        "timezone: 'Mars/Olympus' is not an IANA time zone"
    ]
    wide = {
        "bucket": "HOUR",
        "tz": "UTC",
        "since": "2000-01-01T00:00:00Z",
        "until": "2026-01-01T00:00:00Z",
    }
    assert await api.errors(SERIES, wide) == [
        "series: more than 10000 buckets from since to until (until defaults to now);"
        " narrow them or use DAY"
    ]
    assert await api.errors(
        STATS, {"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}
    ) == ["stats: until is before since"]
    assert (await api.query(SERIES, {"bucket": "DAY", "tz": "UTC"}))["stats"]["series"] == []


async def test_receivers_are_listed_without_secrets(api: Api) -> None:
    data = await api.query(
        """{ receivers { name provider path defaultRegion timezone ourAddress authSchemes
            maxBodyBytes } }"""
    )
    assert data["receivers"] == [
        {
            "name": "notify",
            "provider": "notify",
            "path": "/hooks/notify",
            "defaultRegion": "GB",
            "timezone": "UTC",
            "ourAddress": "+447700900999",
            "authSchemes": ["bearer"],
            "maxBodyBytes": 1048576,
        },
        {
            "name": "esendex",
            "provider": "esendex",
            "path": "/hooks/esendex",
            "defaultRegion": "GB",
            "timezone": "UTC",
            "ourAddress": None,
            "authSchemes": [],
            "maxBodyBytes": 1048576,
        },
    ]
    text = json.dumps(data)
    assert NOTIFY_TOKEN not in text
    assert not any(key in text for key in KEYS.values())
