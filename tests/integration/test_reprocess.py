"""Reprocessing stored raw requests: a Wiraya template the receiver's mapping did not know.

The customer's template nests its fields (``{"kind": ..., "data": {"sms": {...}}, ...}``); a
receiver without a mapping rejects it (400, stored as REJECTED). Once the mapping is fixed,
``callbox reprocess`` applies the stored request, once, keeping its original receipt time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callbox.cli import main
from callbox.providers import PROVIDERS
from callbox.providers.base import Event, InboundRequest, ReceiverContext
from callbox.receivers import ReadyReceiver, prepare_receiver
from callbox.settings import Receiver
from callbox.store.reprocess import reprocess_receiver
from tests.support import callbox_client, callbox_environment, run_callbox, settings_for

RECEIVER = "wiraya-customer"
JSON = {"Content-Type": "application/json"}
TABLES = (
    "callbox_notification",
    "callbox_message",
    "callbox_status_event",
    "callbox_conversation",
    "callbox_opt_out",
    "callbox_applied_event",
)

CUSTOMER_MAPPING = {
    "type": "kind",
    "id": "data.sms.id",
    "recipient": "data.sms.to",
    "sender": "data.sms.from",
    "status": "result.code",
    "done_dateiso": "result.at",
}
MAPPING_TOML = (
    "{ " + ", ".join(f'{key} = "{value}"' for key, value in CUSTOMER_MAPPING.items()) + " }"
)


def customer_item(message_id: str, to: str, code: str, at: str) -> dict[str, Any]:
    return {
        "kind": "outgoing sms",
        "data": {"sms": {"id": message_id, "to": to, "from": "46769440100"}},
        "result": {"code": code, "at": at},
    }


CUSTOMER_BATCH = json.dumps(
    {
        "batch": [
            customer_item("1000007", "46710000123", "DELIVERED", "2024-03-15T10:30:04Z"),
            customer_item("1000105", "46710000789", "OPTOUT", "2024-03-15T10:30:01Z"),
        ]
    }
).encode()
REJECTION = (
    "batch item 0: cannot tell incoming from outgoing: no 'type' field, "
    "and the receiver sets no direction"
)
# A request in the recommended template: the unmapped receiver accepts it, and a receiver
# whose mapping reads ``type`` from ``kind`` no longer can.
RECOMMENDED = json.dumps(
    {
        "type": "outgoing sms",
        "id": "1000200",
        "recipient": "46710000555",
        "sender": "46769440100",
        "status": "DELIVERED",
        "done_dateiso": "2024-03-15T11:00:00Z",
    }
).encode()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def unmapped() -> Receiver:
    return Receiver(name=RECEIVER, provider="wiraya")


def fixed() -> Receiver:
    return Receiver(name=RECEIVER, provider="wiraya", options={"mapping": CUSTOMER_MAPPING})


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield created
    finally:
        await created.close()


LATER_ITEM = json.dumps(
    customer_item("1000300", "46710000999", "DELIVERED", "2024-03-15T12:00:00Z")
).encode()


async def receive_with_unmapped_receiver(database_url: str) -> None:
    async with callbox_client(settings_for(database_url, [unmapped()])) as client:
        rejected = await client.post(f"/hooks/{RECEIVER}", content=CUSTOMER_BATCH, headers=JSON)
    assert (rejected.status_code, rejected.text) == (400, REJECTION)


async def receive_with_fixed_receiver(database_url: str) -> None:
    """The provider's next push, once the configuration is fixed."""
    async with callbox_client(settings_for(database_url, [fixed()])) as client:
        accepted = await client.post(f"/hooks/{RECEIVER}", content=LATER_ITEM, headers=JSON)
    assert (accepted.status_code, accepted.content) == (200, b"")


async def counts(db: asyncpg.Connection) -> dict[str, int]:
    return {table: await db.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def notifications(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "SELECT id, state, reason, event_count FROM callbox_notification ORDER BY id"
    )
    return [tuple(row) for row in rows]


async def model_rows(db: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    return {
        table: [dict(row) for row in await db.fetch(f"SELECT * FROM {table} ORDER BY id")]
        for table in TABLES[1:]
    }


async def assert_customer_batch_applied(db: asyncpg.Connection, notification_id: int) -> None:
    received_at = await db.fetchval(
        "SELECT received_at FROM callbox_notification WHERE id = $1", notification_id
    )
    rows = await db.fetch(
        "SELECT * FROM callbox_message WHERE provider_message_id IN ('1000007', '1000105')"
        " ORDER BY id"
    )
    assert [
        (
            row["receiver"],
            row["provider_message_id"],
            row["direction"],
            row["channel"],
            row["sender"],
            row["recipient"],
            row["status"],
            row["provider_status"],
            row["failure_reason"],
            row["status_occurred_at"],
            json.loads(row["metadata"]),
        )
        for row in rows
    ] == [
        (
            RECEIVER,
            "1000007",
            "OUTBOUND",
            "SMS",
            "+46769440100",
            "+46710000123",
            "DELIVERED",
            "DELIVERED",
            None,
            utc("2024-03-15T10:30:04"),
            {"type": "outgoing sms"},
        ),
        (
            RECEIVER,
            "1000105",
            "OUTBOUND",
            "SMS",
            "+46769440100",
            "+46710000789",
            "FAILED",
            "OPTOUT",
            "BLOCKED",
            utc("2024-03-15T10:30:01"),
            {"type": "outgoing sms"},
        ),
    ]
    # Applied as of the original request: its receipt time, linked to its notification.
    assert [row["created_at"] for row in rows] == [received_at, received_at]
    assert [row["received_at"] for row in rows] == [received_at, received_at]  # retention's
    events = await db.fetch(
        "SELECT received_at, notification FROM callbox_status_event WHERE message = ANY($1)",
        [row["id"] for row in rows],
    )
    assert [tuple(row) for row in events] == [(received_at, notification_id)] * 2
    opt_out = await db.fetchrow("SELECT * FROM callbox_opt_out")
    assert (opt_out["address"], opt_out["source"], opt_out["message"]) == (
        "+46710000789",
        "status",
        rows[1]["id"],
    )
    assert (opt_out["received_at"], opt_out["notification"]) == (received_at, notification_id)


async def test_rejected_request_is_accepted_after_the_mapping_is_fixed(
    db: asyncpg.Connection, pool: asyncpg.Pool, database_url: str
) -> None:
    await receive_with_unmapped_receiver(database_url)
    [(rejected_id, *_)] = await notifications(db)
    assert await notifications(db) == [(rejected_id, "REJECTED", REJECTION, 0)]
    assert (
        bytes(await db.fetchval("SELECT body FROM callbox_notification WHERE id = $1", rejected_id))
        == CUSTOMER_BATCH
    )
    first_processed = await db.fetchval(
        "SELECT processed_at FROM callbox_notification WHERE id = $1", rejected_id
    )

    # Reprocessing with the same (unfixed) receiver: still rejected, nothing applied.
    still = await reprocess_receiver(pool, prepare_receiver(unmapped(), 0), include_accepted=False)
    assert [(o.notification_id, o.state.value, o.reason, o.applied) for o in still] == [
        (rejected_id, "REJECTED", REJECTION, 0)
    ]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0

    # With the mapping fixed.
    progress: list[tuple[int, int]] = []
    outcomes = await reprocess_receiver(
        pool,
        prepare_receiver(fixed(), 0),
        include_accepted=False,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert [(o.notification_id, o.state.value, o.reason, o.applied) for o in outcomes] == [
        (rejected_id, "ACCEPTED", None, 3)  # two status reports and one opt-out
    ]
    assert progress == [(1, 1)]
    assert await notifications(db) == [(rejected_id, "ACCEPTED", None, 3)]
    assert (
        await db.fetchval(
            "SELECT processed_at FROM callbox_notification WHERE id = $1", rejected_id
        )
        > first_processed
    )
    await assert_customer_batch_applied(db, rejected_id)

    await receive_with_fixed_receiver(database_url)
    [_, (later_id, *_)] = await notifications(db)
    after_fix = await counts(db)
    assert after_fix == {
        "callbox_notification": 2,
        "callbox_message": 3,
        "callbox_status_event": 3,
        "callbox_conversation": 3,
        "callbox_opt_out": 1,
        "callbox_applied_event": 4,
    }
    rows = await model_rows(db)

    # Nothing is left to reprocess by default; with include_accepted nothing changes either.
    assert (
        await reprocess_receiver(pool, prepare_receiver(fixed(), 0), include_accepted=False) == []
    )
    again = await reprocess_receiver(pool, prepare_receiver(fixed(), 0), include_accepted=True)
    assert [(o.notification_id, o.state.value, o.reason, o.applied) for o in again] == [
        (rejected_id, "ACCEPTED", None, 0),
        (later_id, "ACCEPTED", None, 0),
    ]
    assert await notifications(db) == [
        (rejected_id, "ACCEPTED", None, 3),
        (later_id, "ACCEPTED", None, 1),
    ]
    assert await counts(db) == after_fix
    assert await model_rows(db) == rows


async def test_a_provider_retry_after_reprocessing_is_a_duplicate(
    db: asyncpg.Connection, pool: asyncpg.Pool, database_url: str
) -> None:
    await receive_with_unmapped_receiver(database_url)
    await reprocess_receiver(pool, prepare_receiver(fixed(), 0), include_accepted=False)
    before = await counts(db)
    async with callbox_client(settings_for(database_url, [fixed()])) as client:
        retry = await client.post(f"/hooks/{RECEIVER}", content=CUSTOMER_BATCH, headers=JSON)
    assert (retry.status_code, retry.content) == (200, b"")
    assert [row[1] for row in await notifications(db)] == ["ACCEPTED", "DUPLICATE"]
    assert await counts(db) == {**before, "callbox_notification": 2}


async def test_reprocessing_all_keeps_an_accepted_request_the_new_mapping_cannot_read(
    db: asyncpg.Connection, pool: asyncpg.Pool, database_url: str
) -> None:
    """BUG: ``reprocess --all`` turns an applied, ACCEPTED notification into REJECTED.

    The request was accepted and its event applied; after the mapping changes (``type`` now
    read from ``kind``) it no longer parses, and reprocess_notification overwrites its state
    with REJECTED and its event_count with 0, although its event stays applied and linked to
    it. The module promises "reprocessing accepted notifications changes nothing"; a plain
    ``callbox reprocess`` would now also pick it up again on every run.
    """
    async with callbox_client(settings_for(database_url, [unmapped()])) as client:
        response = await client.post(f"/hooks/{RECEIVER}", content=RECOMMENDED, headers=JSON)
    assert response.status_code == 200
    [(notification_id, *_)] = await notifications(db)
    before = await counts(db)

    await reprocess_receiver(pool, prepare_receiver(fixed(), 0), include_accepted=True)

    assert await counts(db) == before
    assert (
        await db.fetchval("SELECT notification FROM callbox_status_event") == notification_id
    )  # its event is still applied, from this notification
    assert await notifications(db) == [(notification_id, "ACCEPTED", None, 1)]


async def test_reprocessing_a_request_postgres_refuses_does_not_abort_the_run(
    db: asyncpg.Connection, pool: asyncpg.Pool, database_url: str
) -> None:
    """One stored request whose values Postgres refuses must not stop ``callbox reprocess``.

    A NUL character is valid JSON but cannot be stored in text or jsonb. The ingest path
    answers such a request 400 and stores it REJECTED; reprocessing it must leave it REJECTED
    and go on with the next one (it used to raise asyncpg.DataError out of
    reprocess_receiver, so the later rejected requests were never reprocessed).
    """
    nul_item = customer_item("1000400", "46710000123", "DELIVERED", "2024-03-15T10:30:04Z")
    nul_item["data"]["sms"]["from"] = "Clinic\x00"  # JSON "\u0000": valid JSON, not valid text
    nul_body = json.dumps({"batch": [nul_item]}).encode()
    async with callbox_client(settings_for(database_url, [fixed()])) as client:
        refused = await client.post(f"/hooks/{RECEIVER}", content=nul_body, headers=JSON)
    assert refused.status_code == 400
    await receive_with_unmapped_receiver(database_url)  # a fixable request after it
    [(refused_id, *_), (fixable_id, *_)] = await notifications(db)

    outcomes = await reprocess_receiver(pool, prepare_receiver(fixed(), 0), include_accepted=False)

    assert [(o.notification_id, o.state.value) for o in outcomes] == [
        (refused_id, "REJECTED"),
        (fixable_id, "ACCEPTED"),
    ]
    await assert_customer_batch_applied(db, fixable_id)


def write_config(tmp_path: Path, *, with_mapping: bool) -> Path:
    config = tmp_path / "callbox.toml"
    lines = [
        "[database]",
        "pool_min_size = 1",
        "pool_max_size = 2",
        "",
        "[[receivers]]",
        f'name = "{RECEIVER}"',
        'provider = "wiraya"',
    ]
    if with_mapping:
        lines.append(f"mapping = {MAPPING_TOML}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


async def run_cli(*argv: str) -> int:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    return await asyncio.to_thread(main, list(argv))


async def test_cli_reprocess_prints_progress_and_a_summary(
    db: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await receive_with_unmapped_receiver(database_url)
    [(rejected_id, *_)] = await notifications(db)
    monkeypatch.setenv("CALLBOX_DATABASE_URL", database_url)
    capsys.readouterr()

    # Still the old config: the request stays rejected.
    unfixed = write_config(tmp_path, with_mapping=False)
    assert await run_cli("--config", str(unfixed), "reprocess", RECEIVER) == 0
    output = capsys.readouterr()
    assert "reprocessed 1/1" in output.err
    assert output.out.strip() == f"{RECEIVER}: 1 notification reprocessed (1 rejected)"
    assert await notifications(db) == [(rejected_id, "REJECTED", REJECTION, 0)]
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0

    config = write_config(tmp_path, with_mapping=True)
    assert await run_cli("--config", str(config), "reprocess", RECEIVER) == 0
    output = capsys.readouterr()
    assert "reprocessed 1/1" in output.err
    assert output.out.strip() == f"{RECEIVER}: 1 notification reprocessed (1 accepted)"
    assert await notifications(db) == [(rejected_id, "ACCEPTED", None, 3)]
    await assert_customer_batch_applied(db, rejected_id)

    await receive_with_fixed_receiver(database_url)
    [_, (later_id, *_)] = await notifications(db)
    after_fix = await counts(db)
    rows = await model_rows(db)

    # Again, rejected only: nothing to do.
    assert await run_cli("--config", str(config), "reprocess", RECEIVER) == 0
    assert capsys.readouterr().out.strip() == f"{RECEIVER}: 0 notifications reprocessed (none)"

    # Again, everything: both stay accepted and nothing changes.
    assert await run_cli("--config", str(config), "reprocess", RECEIVER, "--all") == 0
    output = capsys.readouterr()
    assert "reprocessed 1/2" in output.err
    assert "reprocessed 2/2" in output.err
    assert output.out.strip() == f"{RECEIVER}: 2 notifications reprocessed (2 accepted)"
    assert await notifications(db) == [
        (rejected_id, "ACCEPTED", None, 3),
        (later_id, "ACCEPTED", None, 1),
    ]
    assert await counts(db) == after_fix
    assert await model_rows(db) == rows


async def test_cli_reprocess_progress_is_a_bar_in_a_terminal_and_lines_in_a_log(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """Issue 20, item 3: the bar's redraws (``\\r``) ran together into one line in a log."""
    await receive_with_unmapped_receiver(database_url)
    await receive_with_fixed_receiver(database_url)
    args = ("--config", str(write_config(tmp_path, with_mapping=True)), "reprocess", RECEIVER)
    env = callbox_environment(CALLBOX_DATABASE_URL=database_url)

    logged = await asyncio.to_thread(run_callbox, *args, "--all", env=env)
    assert logged.returncode == 0, logged.err
    assert "\r" not in logged.err
    progress = [line for line in logged.err.splitlines() if line.startswith("reprocessed")]
    assert progress == ["reprocessed 1/2", "reprocessed 2/2"]

    shown = await asyncio.to_thread(run_callbox, *args, "--all", env=env, terminal=True)
    assert shown.returncode == 0, shown.err
    assert f"\rreprocessed [{'#' * 15}{'-' * 15}] 1/2  50%" in shown.err
    assert f"\rreprocessed [{'#' * 30}] 2/2 100%\r\n" in shown.err  # (the terminal's \r\n)
    assert shown.out == f"{RECEIVER}: 2 notifications reprocessed (2 accepted)\n"


async def test_cli_reprocess_names_an_unknown_receiver(
    db: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLBOX_DATABASE_URL", database_url)
    config = write_config(tmp_path, with_mapping=True)
    assert await run_cli("--config", str(config), "reprocess", "nope") == 2
    assert "no receiver named 'nope'" in capsys.readouterr().err


# --- A row that cannot be reprocessed does not end the run (issue 16, item 5) ----------------

OUT_OF_RANGE_BATCH = json.dumps(
    {"batch": [customer_item("1000400", "46710000400", "DELIVERED", "0001-01-01T00:00:00+01:00")]}
).encode()


async def receive_out_of_range_then_fixable(database_url: str) -> None:
    """A request dated before year 1 in UTC, then a fixable one, both rejected on arrival."""
    async with callbox_client(settings_for(database_url, [unmapped()])) as client:
        first = await client.post(f"/hooks/{RECEIVER}", content=OUT_OF_RANGE_BATCH, headers=JSON)
    assert first.status_code == 400
    await receive_with_unmapped_receiver(database_url)


async def test_reprocessing_goes_on_after_a_request_dated_out_of_range(
    db: asyncpg.Connection, database_url: str, pool: asyncpg.Pool
) -> None:
    """Its timestamp overflowed when converted to UTC: OverflowError ended the run, and the
    fixable request after it was never reprocessed. Now it is rejected with a reason."""
    await receive_out_of_range_then_fixable(database_url)
    [(dated_id, *_), (fixable_id, *_)] = await notifications(db)

    outcomes = await reprocess_receiver(pool, prepare_receiver(fixed(), 0), include_accepted=False)

    assert [(o.notification_id, o.state.value, o.failed) for o in outcomes] == [
        (dated_id, "REJECTED", False),
        (fixable_id, "ACCEPTED", False),
    ]
    [dated] = [row for row in await notifications(db) if row[0] == dated_id]
    assert dated[1:] == (
        "REJECTED",
        "batch item 0: done_dateiso: timestamp out of range: '0001-01-01T00:00:00+01:00'",
        0,
    )
    await assert_customer_batch_applied(db, fixable_id)


def with_parser_bug(ready: ReadyReceiver) -> ReadyReceiver:
    """The receiver, with a parser that raises something else than PayloadRejected on one body."""
    provider = ready.provider

    def parse(request: InboundRequest, receiver: ReceiverContext) -> Sequence[Event]:
        if b"1000400" in request.body:
            raise KeyError("a parser bug")
        return provider.parse(request, receiver)

    return dataclasses.replace(ready, provider=dataclasses.replace(provider, parse=parse))


async def test_reprocessing_reports_a_row_it_cannot_apply_and_goes_on(
    db: asyncpg.Connection, database_url: str, pool: asyncpg.Pool
) -> None:
    await receive_out_of_range_then_fixable(database_url)
    before = await notifications(db)
    [(buggy_id, *_), (fixable_id, *_)] = before

    outcomes = await reprocess_receiver(
        pool, with_parser_bug(prepare_receiver(fixed(), 0)), include_accepted=False
    )

    assert [(o.notification_id, o.state.value, o.failed, o.reason) for o in outcomes] == [
        (buggy_id, "REJECTED", True, "cannot reprocess: KeyError: 'a parser bug'"),
        (fixable_id, "ACCEPTED", False, None),
    ]
    after = await notifications(db)
    assert after[0] == before[0]  # left as it was
    await assert_customer_batch_applied(db, fixable_id)


async def test_cli_reprocess_reports_rows_it_cannot_apply_and_goes_on(
    db: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await receive_out_of_range_then_fixable(database_url)
    [(dated_id, *_), (fixable_id, *_)] = await notifications(db)
    monkeypatch.setenv("CALLBOX_DATABASE_URL", database_url)
    config = write_config(tmp_path, with_mapping=True)
    capsys.readouterr()

    # A parser bug on the first row: reported, the run goes on, the exit status says so.
    wiraya = PROVIDERS["wiraya"]
    buggy = with_parser_bug(prepare_receiver(fixed(), 0)).provider
    monkeypatch.setitem(PROVIDERS, "wiraya", buggy)
    assert await run_cli("--config", str(config), "reprocess", RECEIVER) == 1
    output = capsys.readouterr()
    assert "reprocessed 2/2" in output.err
    assert (
        f"notification {dated_id}: not reprocessed, left REJECTED:"
        " cannot reprocess: KeyError: 'a parser bug'"
    ) in output.err
    assert output.out.strip() == (
        f"{RECEIVER}: 2 notifications reprocessed (1 accepted, 1 could not be reprocessed)"
    )
    await assert_customer_batch_applied(db, fixable_id)

    # The real parser rejects it with a reason: an ordinary rejection.
    monkeypatch.setitem(PROVIDERS, "wiraya", wiraya)
    assert await run_cli("--config", str(config), "reprocess", RECEIVER) == 0
    output = capsys.readouterr()
    assert output.out.strip() == f"{RECEIVER}: 1 notification reprocessed (1 rejected)"
    [dated, _] = await notifications(db)
    assert dated[1] == "REJECTED" and "timestamp out of range" in dated[2]


async def test_a_failed_request_is_applied_by_reprocessing(
    db: asyncpg.Connection, pool: asyncpg.Pool, database_url: str
) -> None:
    """A stored request whose application failed (FAILED, with its reason) is taken by a plain
    ``reprocess`` (not only with ``--all``) and applied once the cause is gone."""
    async with callbox_client(settings_for(database_url, [unmapped()])) as client:
        answer = await client.post(f"/hooks/{RECEIVER}", content=RECOMMENDED, headers=JSON)
    assert answer.status_code == 200
    # As the applier leaves a request PostgreSQL refused: FAILED, its events not applied.
    await db.execute(
        "TRUNCATE callbox_message, callbox_applied_event, callbox_status_event CASCADE"
    )
    await db.execute("UPDATE callbox_notification SET state = 'FAILED', reason = 'refused'")
    (outcome,) = await reprocess_receiver(
        pool, prepare_receiver(unmapped(), 0), include_accepted=False
    )
    assert (outcome.state.value, outcome.applied) == ("ACCEPTED", 1)
    row = await db.fetchrow("SELECT state, reason FROM callbox_notification")
    assert (row["state"], row["reason"]) == ("ACCEPTED", None)
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 1
