"""What the GraphQL benchmark scripts share: where the database is, and its shape."""

from __future__ import annotations

import os

SERVER_URL = os.environ.get(
    "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE_NAME = "callbox_graphql_bench"

MESSAGES = int(os.environ.get("CALLBOX_BENCH_MESSAGES", "1000000"))
"""CALLBOX_BENCH_MESSAGES: a smaller database (20 messages per conversation either way)."""
CONVERSATIONS = max(1, MESSAGES // 20)
OUR_NUMBERS = [f"+4477009009{n:02d}" for n in range(10)]
"""Our side of every conversation: each of these numbers is in a tenth of the messages."""
BUSY_ADDRESS = OUR_NUMBERS[0]


def database_url() -> str:
    """CALLBOX_BENCH_DATABASE_URL, else the bench database on the bench server."""
    configured = os.environ.get("CALLBOX_BENCH_DATABASE_URL")
    if configured:
        return configured
    head, _, tail = SERVER_URL.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{DATABASE_NAME}" + (f"?{tail}" if tail else "")
