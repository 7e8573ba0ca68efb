"""/health and /ready: what Kubernetes probes see, with the database up, down and unmigrated."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from callbox.ops.readiness import NotReady, ReadinessChecks
from callbox.ops.request_id import request_id_from
from callbox.settings import Database
from tests.ops.support import notify_receiver
from tests.support import ProxyThread, callbox_client, settings_for


def through_proxy(database_url: str, proxy: ProxyThread) -> str:
    parts = urlsplit(database_url)
    netloc = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}"))


@pytest.fixture
def proxy(database_url: str) -> Iterator[ProxyThread]:
    parts = urlsplit(database_url)
    if parts.hostname is None or parts.port is None:
        pytest.skip("the test database is not reached over TCP (embedded: unix socket)")
    proxy = ProxyThread(parts.hostname, parts.port)
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.close()


async def test_health_and_ready_need_no_receiver_credentials(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings_for(database_url, [notify_receiver()])) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert health.headers["cache-control"] == "no-store"
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "apply": "ok", "listener": "ok"},
    }


async def test_ready_fails_while_the_database_is_down_and_recovers(
    db: asyncpg.Connection, database_url: str, proxy: ProxyThread
) -> None:
    settings = settings_for(through_proxy(database_url, proxy), [notify_receiver()])
    async with callbox_client(settings) as client:
        assert (await client.get("/ready")).status_code == 200

        proxy.cut()
        for _ in range(2):  # first the pool's dead connection, then a refused new one
            ready = await client.get("/ready")
            assert ready.status_code == 503
            body = ready.json()
            assert body["status"] == "unavailable"
            # The subscriptions' listener loses its connection too (once it notices).
            assert body["failing"] in (["database"], ["database", "listener"])
            assert body["checks"]["database"].startswith(("failed: ", "no answer"))
            assert body["checks"]["migrations"] == "ok"  # known current: not asked again
            # The process itself is alive: liveness must not restart it for a database outage.
            assert (await client.get("/health")).status_code == 200

        proxy.restore()
        for _ in range(100):  # the listener reconnects with a backoff of up to 5 s
            ready = await client.get("/ready")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert ready.status_code == 200, ready.text


async def test_ready_fails_until_migrations_are_applied(create_database: object) -> None:
    url: str = await create_database()  # type: ignore[operator]
    settings = settings_for(url, [notify_receiver()])
    settings = settings.__class__(
        receivers=settings.receivers,
        server=settings.server,
        database=Database(url=url, migrate_on_start=False, pool_min_size=1),
        development=True,  # (GraphQL without keys, from loopback)
    )
    async with callbox_client(settings) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        # The listener cannot read the event log before its table exists either.
        assert ready.json()["failing"] in (["migrations"], ["migrations", "listener"])
        assert "pending (run `callbox migrate`)" in ready.json()["checks"]["migrations"]
        assert ready.json()["checks"]["database"] == "ok"
        # GraphQL says why it cannot answer (its ids need the instance key's table).
        read = await client.post("/graphql", json={"query": "{ messages { totalCount } }"})
        assert read.status_code == 503, read.text
        assert "run `callbox migrate`" in read.text

        # As an operator would; in this process the app's pool runs on the client's loop.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
        migrate = subprocess.run(
            [sys.executable, "-m", "callbox", "migrate"],
            env={**env, "CALLBOX_DATABASE_URL": url},
            capture_output=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        for _ in range(100):  # the listener retries with a backoff of up to 5 s
            ready = await client.get("/ready")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert ready.status_code == 200, ready.text


async def test_ready_names_a_registered_check_that_fails() -> None:
    """The hook a NOTIFY listener registers into: a failing check makes the replica unready."""
    checks = ReadinessChecks(timeout_seconds=0.2)
    connected = False

    async def listener() -> None:
        if not connected:
            raise NotReady("not connected")

    async def hangs() -> None:
        await asyncio.sleep(10)

    async def broken() -> None:
        raise OSError("password=hunter2 host=db")

    checks.register("listener", listener)
    checks.register("slow", hangs)
    checks.register("broken", broken)
    with pytest.raises(ValueError, match="already registered"):
        checks.register("listener", listener)
    results = {result.name: result for result in await checks.run()}
    assert results["listener"].detail == "not connected"
    assert results["slow"].detail == "no answer within 0.2 s"
    assert results["broken"].detail == "failed: OSError"  # never the error's text
    assert not any(result.ok for result in results.values())

    connected = True
    checks.unregister("slow")
    checks.unregister("broken")
    assert [(r.name, r.ok) for r in await checks.run()] == [("listener", True)]


async def test_request_id_is_echoed_when_well_formed_and_made_otherwise(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with callbox_client(settings_for(database_url, [notify_receiver()])) as client:
        echoed = await client.get("/health", headers={"X-Request-ID": "req-42.abc"})
        made = await client.get("/health")
        replaced = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
        on_a_callback = await client.post("/hooks/notify", content=b"{}")
    assert echoed.headers["x-request-id"] == "req-42.abc"
    assert len(made.headers["x-request-id"]) == 32
    assert replaced.headers["x-request-id"] not in ("bad id\twith spaces", "")
    assert on_a_callback.status_code == 401
    assert len(on_a_callback.headers["x-request-id"]) == 32


def test_a_made_request_id_is_a_random_uuid4_in_hex() -> None:
    made = [request_id_from(()) for _ in range(2_000)]
    assert len(set(made)) == len(made)
    for request_id in made:
        parsed = uuid.UUID(hex=request_id)
        assert parsed.hex == request_id  # 32 lower-case hex digits, as uuid4().hex
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
