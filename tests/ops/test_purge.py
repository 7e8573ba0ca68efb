"""``callbox purge``: exactly the rows past retention go, while callbacks keep arriving.

The seeded database has, for receiver ``notify`` (raw 30 days, normalised 400 days, from
``[retention]``), ancient data (500 days: everything goes), old data (100 days: the raw
requests go, the messages stay) and recent data (1 day: all stays); receiver ``esendex``
keeps everything (0 days). Conversation B mixes ancient, old, recent and live messages, so
its counts must be recomputed while callbacks add to it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from callbox.cli import main
from callbox.settings import ConfigError, Receiver, Retention, settings_from_mapping
from callbox.store.event_log_purge import event_purge_cutoff, purge_expired_events
from callbox.store.purge import PURGE_LOCK_KEY, PurgeProgress, purge
from callbox.store.retention import RetentionPolicy, retention_policies
from tests.conftest import CALLBOX_TABLES
from tests.ops.seeding import seeder
from tests.ops.support import (
    NOTIFY_HEADERS,
    NOTIFY_TOKEN,
    notify_inbound,
    notify_receipt,
    notify_receiver,
)
from tests.support import (
    callbox_client,
    callbox_environment,
    run_callbox,
    served,
    settings_for,
)

NOW = datetime.now(UTC)
ANCIENT = NOW - timedelta(days=500)
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=1)
RAW_CUTOFF = NOW - timedelta(days=30)
NORMALISED_CUTOFF = NOW - timedelta(days=400)

NUMBER_A = "+447700900001"  # only ancient messages: its conversation goes
NUMBER_B = "+447700900002"  # ancient, old, recent and live messages
NUMBER_C = "+447700900003"  # old only
NUMBER_D = "+447700900004"  # recent only

CONFIG = f"""
[retention]
raw_days = 30
normalised_days = 400

[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "+447700900999"
auth = {{ bearer = ["{NOTIFY_TOKEN}"] }}

[[receivers]]
name = "esendex"
provider = "esendex"
default_region = "GB"
raw_retention_days = 0
normalised_retention_days = 0
"""


def esendex_inbound(message_id: str, at: datetime) -> bytes:
    return f"""<InboundMessage><Id>{message_id}-push</Id><MessageId>{message_id}</MessageId>
<AccountId>EX1</AccountId><MessageText>Hi</MessageText><From>07700900555</From>
<To>447700900999</To><ReceivedAt>{at.strftime("%Y-%m-%dT%H:%M:%SZ")}</ReceivedAt>
</InboundMessage>""".encode()


def receivers() -> list[Receiver]:
    return [
        notify_receiver(),
        Receiver(
            name="esendex",
            provider="esendex",
            default_region="GB",
            raw_retention_days=0,
            normalised_retention_days=0,
        ),
    ]


def purge_settings(database_url: str, **retention: Any) -> Any:
    return settings_for(
        database_url,
        receivers(),
        retention=Retention(raw_days=30, normalised_days=400, **retention),
    )


async def seed(database_url: str) -> None:
    settings = purge_settings(database_url)
    async with seeder(database_url, settings) as s:
        json, xml = "application/json", "application/xml"
        ancient_receipt = notify_receipt(ANCIENT, to=NUMBER_A)
        for at, to in [
            (ANCIENT, NUMBER_A),
            (ANCIENT, NUMBER_A),
            (ANCIENT + timedelta(1), NUMBER_B),
        ]:
            await s.post("notify", notify_receipt(at, to=to), at, json)
        await s.post("notify", ancient_receipt, ANCIENT, json)
        await s.post("notify", ancient_receipt, ANCIENT, json)  # a duplicate
        await s.post(
            "notify", notify_inbound(ANCIENT, sender="07700900002", text="STOP"), ANCIENT, json
        )
        for offset in range(2):
            at = OLD + timedelta(hours=offset)
            await s.post("notify", notify_receipt(at, to=NUMBER_B), at, json)
        await s.post("notify", notify_inbound(OLD, sender="07700900003"), OLD, json)
        await s.post("notify", notify_receipt(RECENT, to=NUMBER_B), RECENT, json)
        await s.post("notify", notify_receipt(RECENT, to=NUMBER_D), RECENT, json)
        await s.post("esendex", esendex_inbound("e-ancient", ANCIENT), ANCIENT, xml)
        await s.post("esendex", esendex_inbound("e-recent", RECENT), RECENT, xml)


async def snapshot(db: asyncpg.Connection) -> dict[str, dict[int, dict[str, Any]]]:
    tables = (
        "callbox_notification",
        "callbox_message",
        "callbox_status_event",
        "callbox_opt_out",
        "callbox_applied_event",
        "callbox_conversation",
    )
    return {
        table: {row["id"]: dict(row) for row in await db.fetch(f"SELECT * FROM {table}")}
        for table in tables
    }


async def assert_conversations_consistent(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        """
        SELECT c.id, c.message_count, c.last_message_id,
            (SELECT count(*) FROM callbox_message m WHERE m.conversation = c.id) AS counted
        FROM callbox_conversation c
        """
    )
    for row in rows:
        assert row["message_count"] == row["counted"], dict(row)
        assert row["counted"] > 0, f"empty conversation {row['id']} was kept"
        newest = await db.fetchval(
            "SELECT id FROM callbox_message WHERE conversation = $1"
            " ORDER BY occurred_at DESC, id DESC LIMIT 1",
            row["id"],
        )
        assert row["last_message_id"] == newest, dict(row)


async def test_purge_removes_exactly_what_is_past_retention_while_callbacks_arrive(
    db: asyncpg.Connection, database_url: str
) -> None:
    await seed(database_url)
    before = await snapshot(db)
    settings = purge_settings(database_url)
    policies = retention_policies(settings)
    progress: list[PurgeProgress] = []
    live_ids: list[str] = []
    live_to_b = 0
    answered_while_purging = 0

    async with served(settings) as base, httpx.AsyncClient(base_url=base) as client:
        purging = asyncio.Event()
        purged = asyncio.Event()

        async def traffic() -> None:
            nonlocal live_to_b, answered_while_purging
            index = 0
            while not purged.is_set() or index < 40:
                # Half to conversation B, whose counts the purge recomputes meanwhile.
                to = NUMBER_B if index % 2 else f"+4477009001{index:02d}"
                body = notify_receipt(datetime.now(UTC), to=to)
                response = await client.post("/hooks/notify", content=body, headers=NOTIFY_HEADERS)
                assert response.status_code == 200, response.text
                live_ids.append(body.decode())
                live_to_b += to == NUMBER_B
                answered_while_purging += purging.is_set() and not purged.is_set()
                index += 1
                if index == 5:
                    purging.set()
                await asyncio.sleep(0)

        async def purge_meanwhile() -> None:
            await purging.wait()
            connection = await asyncpg.connect(database_url)
            try:
                # One row per transaction: many short transactions interleave with ingest.
                await purge(connection, policies, batch_size=1, now=NOW, progress=progress.append)
            finally:
                await connection.close()
                purged.set()

        await asyncio.gather(traffic(), purge_meanwhile())

    assert answered_while_purging > 0
    after = await snapshot(db)
    notifications, messages = before["callbox_notification"], before["callbox_message"]

    def is_notify(row: dict[str, Any]) -> bool:
        return row["receiver"] == "notify"

    raw_gone = {
        i for i, r in notifications.items() if is_notify(r) and r["received_at"] < RAW_CUTOFF
    }
    messages_gone = {
        i for i, r in messages.items() if is_notify(r) and r["received_at"] < NORMALISED_CUTOFF
    }
    assert len(raw_gone) == 9 and len(messages_gone) == 5  # what the seed made
    # Raw requests: exactly the old notify ones went; every other row is as it was.
    after_notifications = after["callbox_notification"]
    assert raw_gone.isdisjoint(after_notifications)
    for id_, row in notifications.items():
        if id_ not in raw_gone:
            assert after_notifications[id_] == row
    live = set(after_notifications) - set(notifications)
    assert len(live) == len(live_ids)  # every live callback is there, none was purged
    # Messages: the ancient notify ones went, with their status history.
    after_messages = after["callbox_message"]
    assert messages_gone.isdisjoint(after_messages)
    for id_, row in messages.items():
        if id_ not in messages_gone:
            assert after_messages[id_] == row
    for id_, row in before["callbox_status_event"].items():
        if row["message"] in messages_gone:
            assert id_ not in after["callbox_status_event"]
            continue
        kept = dict(after["callbox_status_event"][id_])
        if row["notification"] in raw_gone:
            assert kept.pop("notification") is None  # ON DELETE SET NULL: the link goes
            row = {k: v for k, v in row.items() if k != "notification"}
        assert kept == row
    # Dedupe keys live exactly as long as their raw request.
    for id_, row in before["callbox_applied_event"].items():
        if row["notification"] in raw_gone:
            assert id_ not in after["callbox_applied_event"]
        else:
            assert after["callbox_applied_event"][id_] == row
    # The opt-out ledger is never purged; its links to purged rows become NULL.
    assert set(after["callbox_opt_out"]) == set(before["callbox_opt_out"])
    (opt_out,) = after["callbox_opt_out"].values()
    assert (opt_out["message"], opt_out["notification"], opt_out["action"]) == (
        None,
        None,
        "OPT_OUT",
    )
    # Conversations: A emptied and deleted; C and D untouched; every count is right.
    conversations = {r["their_address"]: r for r in before["callbox_conversation"].values()}
    after_conversations = {r["their_address"]: r for r in after["callbox_conversation"].values()}
    assert NUMBER_A not in after_conversations
    for number in (NUMBER_C, NUMBER_D, "+447700900555"):
        assert after_conversations[number] == conversations[number]
    # Two old, one recent and the live ones; its ancient receipt and STOP reply went.
    assert after_conversations[NUMBER_B]["message_count"] == 2 + 1 + live_to_b
    await assert_conversations_consistent(db)
    # Progress was reported per batch, up to the totals counted at the start.
    assert progress[-1].receiver == "notify"
    raw_steps = [step for step in progress if step.kind == "raw"]
    assert [step.deleted for step in raw_steps] == list(range(1, 10))
    assert {step.total for step in raw_steps} == {9}


async def test_dry_run_counts_and_touches_nothing(
    db: asyncpg.Connection, database_url: str
) -> None:
    await seed(database_url)
    before = await snapshot(db)
    connection = await asyncpg.connect(database_url)
    try:
        policies = retention_policies(purge_settings(database_url))
        report = await purge(connection, policies, now=NOW, dry_run=True)
    finally:
        await connection.close()
    assert (report.raw_requests, report.messages, report.conversations) == (9, 5, 0)
    assert await snapshot(db) == before


async def test_messages_age_from_their_arrival_not_from_the_providers_dates(
    db: asyncpg.Connection, database_url: str
) -> None:
    """A receipt dated 2017 that arrives today is kept for the whole retention; one that
    arrived 40 days ago goes with a 30-day retention, whatever its dates say."""
    settings = settings_for(database_url, receivers(), retention=Retention(normalised_days=30))
    dated = datetime(2017, 5, 14, 12, 15, 30, tzinfo=UTC)
    async with seeder(database_url, settings) as s:
        for message_id, arrived in [("today", NOW), ("40 days ago", NOW - timedelta(days=40))]:
            receipt = notify_receipt(dated, message_id=message_id)
            await s.post("notify", receipt, arrived, "application/json")
    assert (
        await db.fetchval("SELECT count(*) FROM callbox_message WHERE occurred_at < $1", NOW) == 2
    )
    connection = await asyncpg.connect(database_url)
    try:
        report = await purge(connection, retention_policies(settings), now=NOW)
    finally:
        await connection.close()
    assert (report.messages, report.conversations) == (1, 0)
    left = await db.fetch("SELECT provider_message_id, received_at FROM callbox_message")
    assert [(row["provider_message_id"], row["received_at"]) for row in left] == [("today", NOW)]
    await assert_conversations_consistent(db)


@pytest.fixture
def config_file(tmp_path: Path, database_url: str) -> Iterator[Path]:
    path = tmp_path / "callbox.toml"
    path.write_text(CONFIG)
    saved = dict(os.environ)
    os.environ["CALLBOX_DATABASE_URL"] = database_url
    os.environ.pop("CALLBOX_CONFIG", None)
    try:
        yield path
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def test_cli_purge_shows_progress_and_a_summary(
    db: asyncpg.Connection, database_url: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(database_url)
    args = ["--config", str(config_file), "purge", "--batch-size", "4"]
    assert await asyncio.to_thread(main, [*args, "--dry-run"]) == 0
    dry = capsys.readouterr()
    assert "notify: would purge 9 raw requests (older than 30 days), 5 messages" in dry.out
    assert "esendex: keeps everything" in dry.out
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 13

    assert await asyncio.to_thread(main, args) == 0
    done = capsys.readouterr()
    assert "notify: raw requests 4/9" in done.err
    assert "notify: raw requests 9/9" in done.err
    assert "notify: messages 4/5" in done.err
    assert "notify: messages 5/5" in done.err
    assert (
        "notify: purged 9 raw requests (older than 30 days), 5 messages (older than 400 days)"
        " and 1 emptied conversations" in done.out
    )
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 4
    await assert_conversations_consistent(db)

    assert await asyncio.to_thread(main, args) == 0  # nothing left: a no-op
    assert "notify: purged 0 raw requests" in capsys.readouterr().out


async def test_cli_purge_progress_is_a_bar_in_a_terminal_and_lines_in_a_log(
    db: asyncpg.Connection, database_url: str, config_file: Path
) -> None:
    """Issue 20, item 3: a bar redrawn in place in a terminal; in a log, one line per step
    shown (first, last, and at most one every few seconds between)."""
    env = callbox_environment(CALLBOX_DATABASE_URL=database_url)
    args = ("--config", str(config_file), "purge", "--batch-size", "4")
    await seed(database_url)
    shown = await asyncio.to_thread(run_callbox, *args, env=env, terminal=True)
    assert shown.returncode == 0, shown.err
    assert f"\rnotify: raw requests [{'#' * 13}{'-' * 17}] 4/9  44%" in shown.err
    assert f"\rnotify: raw requests [{'#' * 30}] 9/9 100%\r\n" in shown.err
    assert f"\rnotify: messages [{'#' * 30}] 5/5 100%\r\n" in shown.err

    await db.execute(f"TRUNCATE {', '.join(CALLBOX_TABLES)} RESTART IDENTITY CASCADE")
    await seed(database_url)
    logged = await asyncio.to_thread(run_callbox, *args, env=env)
    assert logged.returncode == 0, logged.err
    assert "\r" not in logged.err
    assert [line for line in logged.err.splitlines() if line.startswith("notify:")] == [
        "notify: raw requests 4/9",
        "notify: raw requests 9/9",
        "notify: messages 4/5",
        "notify: messages 5/5",
    ]


async def test_only_one_purge_runs_at_a_time(
    db: asyncpg.Connection, database_url: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(database_url)
    holder = await asyncpg.connect(database_url)  # another replica, purging
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", PURGE_LOCK_KEY)
        assert await asyncio.to_thread(main, ["--config", str(config_file), "purge"]) == 1
        assert "another purge is running" in capsys.readouterr().err
        assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 13
    finally:
        await holder.close()
    assert await asyncio.to_thread(main, ["--config", str(config_file), "purge"]) == 0
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 4


async def test_in_process_job_purges_on_one_replica_at_a_time(
    db: asyncpg.Connection, database_url: str
) -> None:
    await seed(database_url)
    settings = purge_settings(database_url, purge_interval_minutes=0.002)  # every 0.12 s
    holder = await asyncpg.connect(database_url)
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", PURGE_LOCK_KEY)
        async with callbox_client(settings) as client:
            await asyncio.sleep(0.5)  # several ticks: each finds the lock taken
            assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 13
            await holder.execute("SELECT pg_advisory_unlock($1)", PURGE_LOCK_KEY)
            for _ in range(100):
                if await db.fetchval("SELECT count(*) FROM callbox_notification") == 4:
                    break
                await asyncio.sleep(0.05)
            assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 4
            assert (await client.get("/health")).status_code == 200
    finally:
        await holder.close()
    await assert_conversations_consistent(db)


def test_retention_resolution_and_validation() -> None:
    settings = settings_from_mapping(
        {
            "retention": {"raw_days": 30, "normalised_days": 400},
            "receivers": [
                {"name": "a", "provider": "notify"},
                {"name": "b", "provider": "notify", "raw_retention_days": 7},
                {"name": "c", "provider": "esendex", "normalised_retention_days": 0},
            ],
        }
    )
    assert retention_policies(settings) == [
        RetentionPolicy("a", 30, 400),
        RetentionPolicy("b", 7, 400),
        RetentionPolicy("c", 30, None),
    ]
    assert retention_policies(
        settings_from_mapping({"receivers": [{"name": "a", "provider": "notify"}]})
    ) == [RetentionPolicy("a", None, None)]
    with pytest.raises(ConfigError, match="raw_retention_days must be 0"):
        settings_from_mapping(
            {"receivers": [{"name": "a", "provider": "notify", "raw_retention_days": -1}]}
        )
    with pytest.raises(ConfigError, match="retention: batch_size"):
        settings_from_mapping({"retention": {"batch_size": 0}})


async def test_cli_purge_deletes_event_log_rows_past_the_replay_window_only(
    db: asyncpg.Connection, database_url: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Default window: 7 days, kept a day longer. Rows of 9 days go, of 7.5 days stay."""
    now = datetime.now(UTC)
    ages = {"ancient": 30, "just past": 9, "inside the margin": 7.5, "fresh": 0}
    for kind, days in ages.items():
        await db.execute(
            "INSERT INTO callbox_event (kind, receiver, address, created_at)"
            " VALUES ($1, 'notify', '+447700900123', $2)",
            kind[:16],
            now - timedelta(days=days),
        )
    assert await asyncio.to_thread(main, ["--config", str(config_file), "purge"]) == 0
    assert "event log: purged 2 events (older than 7 days and a day)" in capsys.readouterr().out
    left = await db.fetch("SELECT kind FROM callbox_event ORDER BY created_at")
    assert [row["kind"] for row in left] == ["inside the margi", "fresh"]


async def test_event_purge_deletes_batch_after_batch_up_to_the_cutoff_exactly(
    db: asyncpg.Connection,
) -> None:
    """Batches of one: every row a minute past the cutoff goes, the row a minute inside it
    and a fresh one stay."""
    now = datetime.now(UTC)
    cutoff = event_purge_cutoff(now, replay_days=7)
    stamps = {
        "old 1": cutoff - timedelta(days=3),
        "old 2": cutoff - timedelta(hours=1),
        "old 3": cutoff - timedelta(minutes=1),
        "inside": cutoff + timedelta(minutes=1),
        "fresh": now,
    }
    for kind, at in stamps.items():
        await db.execute(
            "INSERT INTO callbox_event (kind, receiver, address, created_at)"
            " VALUES ($1, 'notify', '+447700900123', $2)",
            kind,
            at,
        )
    deleted = await purge_expired_events(db, replay_days=7, batch_size=1, now=now)
    assert deleted == 3
    left = await db.fetch("SELECT kind FROM callbox_event ORDER BY created_at")
    assert [row["kind"] for row in left] == ["inside", "fresh"]


async def test_a_request_waiting_to_be_applied_is_not_purged(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Past its retention but not applied yet (its events would be lost): kept."""
    await seed(database_url)
    old = await db.fetchval("SELECT min(id) FROM callbox_notification")
    await db.execute(
        "INSERT INTO callbox_pending_apply (notification, receiver, provider, received_at, events)"
        " SELECT id, receiver, provider, received_at, '[]' FROM callbox_notification WHERE id = $1",
        old,
    )
    connection = await asyncpg.connect(database_url)
    try:
        report = await purge(connection, retention_policies(purge_settings(database_url)), now=NOW)
    finally:
        await connection.close()
    assert report.raw_requests == 8  # of the 9 past retention (test_dry_run)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification WHERE id = $1", old) == 1
