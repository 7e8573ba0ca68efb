"""How ingest cost grows with table size: Notify throughput on an empty database and on one
holding 5,000,000 messages (with their status events, conversations and raw notifications).

    uv run python -m bench.ingest.table_size [--messages 5000000] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.ingest.run import (
    CONFIG,
    drop_database,
    free_port,
    fresh_database,
    run_wrk,
    start_server,
    to_result,
    wait_ready,
)

# Realistic shape: 100,000 people, each message with one status event and one raw request.
SEED = """
INSERT INTO callbox_conversation (channel, our_address, their_address, created_at,
                                  last_activity_at, message_count)
SELECT 'SMS', '+447700900999', '+44770' || lpad(n::text, 7, '0'),
       now() - interval '400 days', now() - (n % 1000) * interval '1 minute', 0
FROM generate_series(1, 100000) AS n;

INSERT INTO callbox_notification (receiver, provider, received_at, peer_address,
    client_address, method, content_type, headers, body, body_size, query_string, state,
    event_count, processed_at)
SELECT 'notify', 'notify', now() - n * interval '5 seconds', '127.0.0.1', '127.0.0.1', 'POST',
       'application/json', '{}', convert_to('{"id":"seed-' || n || '"}', 'UTF8'), 20, '',
       'ACCEPTED', 1, now()
FROM generate_series(1, {count}) AS n;

INSERT INTO callbox_message (provider, receiver, provider_message_id, direction, channel,
    sender, recipient, body, status, provider_status, status_occurred_at, created_at,
    sent_at, delivered_at, updated_at, occurred_at, conversation, metadata, is_test)
SELECT 'notify', 'notify', 'seed-' || n, 'OUTBOUND', 'SMS', '+447700900999',
       '+44770' || lpad((n % 100000 + 1)::text, 7, '0'), 'Your appointment is confirmed',
       'DELIVERED', 'delivered', now() - n * interval '5 seconds',
       now() - n * interval '5 seconds', now() - n * interval '5 seconds',
       now() - n * interval '5 seconds', now(), now() - n * interval '5 seconds',
       n % 100000 + 1, '{}', false
FROM generate_series(1, {count}) AS n;

INSERT INTO callbox_status_event (message, status, provider_status, occurred_at, received_at,
                                  notification, is_test)
SELECT id, 'DELIVERED', 'delivered', occurred_at, occurred_at, id, false
FROM callbox_message;

INSERT INTO callbox_applied_event (receiver, dedupe_key, notification, applied_at)
SELECT 'notify', 'receipt:' || provider_message_id || ':delivered', id, occurred_at
FROM callbox_message;

UPDATE callbox_conversation c SET message_count = s.n, last_message_id = s.last
FROM (SELECT conversation, count(*) AS n, max(id) AS last FROM callbox_message
      GROUP BY conversation) s
WHERE c.id = s.conversation;
"""


async def seed(url: str, count: int) -> float:
    started = time.monotonic()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(SEED.replace("{count}", str(count)))
        # Measure steady state, not the aftermath of a bulk load: set hint bits and the
        # visibility map, refresh statistics, and flush the load's WAL before the run.
        await connection.execute("VACUUM (ANALYZE)")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    return time.monotonic() - started


def measure(url: str, duration: int, connections: int) -> tuple[float, float]:
    config = Path(tempfile.mkdtemp()) / "callbox.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    env.update(
        CALLBOX_DATABASE_URL=url,
        CALLBOX_CONFIG=str(config),
        CALLBOX_MIGRATE="0",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    port = free_port()
    process = start_server("callbox.app:app_from_environment", port, 1, env)
    try:
        target = f"http://127.0.0.1:{port}/hooks/notify"
        wait_ready(target, process)
        run_wrk(target, "notify.lua", 2, connections, env)
        result = to_result("notify", run_wrk(target, "notify.lua", duration, connections, env))
        return result.rate, result.p99_ms
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    server_url = os.environ.get(
        "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    empty = asyncio.run(fresh_database(server_url))
    try:
        empty_rate, empty_p99 = measure(empty, args.duration, args.connections)
    finally:
        asyncio.run(drop_database(server_url, empty))
    full = asyncio.run(fresh_database(server_url))
    try:
        seconds = asyncio.run(seed(full, args.messages))
        full_rate, full_p99 = measure(full, args.duration, args.connections)
    finally:
        asyncio.run(drop_database(server_url, full))
    print(f"\nseeded {args.messages:,} messages in {seconds:.0f} s\n")
    print("| database | Notify req/s | p99 ms |")
    print("| --- | ---: | ---: |")
    print(f"| empty | {empty_rate:,.0f} | {empty_p99:.1f} |")
    print(f"| {args.messages:,} messages | {full_rate:,.0f} | {full_p99:.1f} |")
    print(f"\nratio: {full_rate / empty_rate:.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
