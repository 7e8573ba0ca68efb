"""/metrics: off by default, its own bearer token, counters that match the traffic sent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from callbox.settings import Auth, ConfigError, Metrics, Receiver, settings_from_mapping
from tests.ops.support import (
    METRICS_TOKEN,
    NOTIFY_HEADERS,
    SCRAPE,
    Samples,
    notify_receipt,
    notify_receiver,
    samples,
)
from tests.ops.test_health import through_proxy
from tests.support import ProxyThread, callbox_client, settings_for


def callbacks(found: Samples, receiver: str, outcome: str, reason: str = "") -> float:
    labels = (("outcome", outcome), ("reason", reason), ("receiver", receiver))
    return found.get(("callbox_callbacks_received_total", labels), 0.0)


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


def mixed_receivers() -> list[Receiver]:
    return [
        notify_receiver(),
        # Allows only a documentation network: every request from the test client is refused.
        Receiver(name="locked", provider="esendex", auth=Auth(ip_allow=["192.0.2.0/24"])),
        Receiver(
            name="small", provider="notify", auth=Auth(url_token=["small-tok"]), max_body_bytes=64
        ),
    ]


async def test_metrics_count_mixed_traffic(
    db: asyncpg.Connection,
    database_url: str,
    proxy: ProxyThread,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLBOX_TEST_METRICS_TOKEN", METRICS_TOKEN)
    settings = settings_for(
        through_proxy(database_url, proxy),
        mixed_receivers(),
        metrics=Metrics(enabled=True, bearer=["env:CALLBOX_TEST_METRICS_TOKEN"]),
    )
    now = datetime.now(UTC)
    first, second, third = (notify_receipt(now) for _ in range(3))
    async with callbox_client(settings) as client:

        async def notify(body: bytes, headers: dict[str, str] = NOTIFY_HEADERS) -> int:
            return (await client.post("/hooks/notify", content=body, headers=headers)).status_code

        sent = [
            await notify(first),
            await notify(second),
            await notify(third),
            await notify(first),  # duplicate
            await notify(second),  # duplicate
            await notify(b'{"not": "a notify callback"}'),  # rejected: payload
            await notify(first, {"Content-Type": "application/json"}),  # unauthorised
            await notify(first, {**NOTIFY_HEADERS, "Authorization": "Bearer wrong"}),
        ]
        assert sent == [200, 200, 200, 200, 200, 400, 401, 401]
        forbidden = await client.post("/hooks/locked", content=b"<x/>")
        too_large = await client.post("/hooks/small/small-tok", content=b"{" + b" " * 200 + b"}")
        probe = await client.head("/hooks/notify", headers=NOTIFY_HEADERS)  # not a callback
        assert (forbidden.status_code, too_large.status_code, probe.status_code) == (403, 413, 200)

        proxy.cut()
        assert await notify(notify_receipt(now)) == 503
        assert await notify(notify_receipt(now)) == 503
        proxy.restore()
        for _ in range(150):  # /ready: the pool and the event listener are back
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.1)

        unauthenticated = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        scraped = await client.get("/metrics", headers=SCRAPE)

    assert unauthenticated.status_code == wrong.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    assert scraped.headers["content-type"].count("charset") == 1
    found = samples(scraped.text)
    assert callbacks(found, "notify", "accepted") == 3
    assert callbacks(found, "notify", "duplicate") == 2
    assert callbacks(found, "notify", "rejected", "payload") == 1
    assert callbacks(found, "notify", "unauthorised") == 2
    assert callbacks(found, "notify", "unavailable") == 2
    assert callbacks(found, "locked", "forbidden") == 1
    assert callbacks(found, "small", "too_large") == 1
    total = sum(
        value for (name, _), value in found.items() if name == "callbox_callbacks_received_total"
    )
    assert total == 12  # nothing else was counted: not the HEAD probe, not /metrics
    histogram_count = found[("callbox_ingest_duration_seconds_count", (("receiver", "notify"),))]
    assert histogram_count == 10
    assert found[("callbox_ingest_duration_seconds_sum", (("receiver", "notify"),))] > 0
    # No subscriber was open; the cut cost the event listener its connection, once.
    assert found[("callbox_subscriptions_open", ())] == 0
    assert found[("callbox_events_fanned_out_total", ())] == 0
    assert found[("callbox_listener_reconnects_total", ())] == 1
    # The pool, read from asyncpg at scrape time.
    assert found[("callbox_db_pool_max_size", ())] == settings.database.pool_max_size
    assert 1 <= found[("callbox_db_pool_size", ())] <= settings.database.pool_max_size
    assert 0 <= found[("callbox_db_pool_idle", ())] <= found[("callbox_db_pool_size", ())]
    # The stored rows agree with the counters.
    states = dict(await db.fetch("SELECT state, count(*) FROM callbox_notification GROUP BY state"))
    assert states == {"ACCEPTED": 3, "DUPLICATE": 2, "REJECTED": 2}  # 400 and 413


async def test_metrics_are_off_by_default(db: asyncpg.Connection, database_url: str) -> None:
    async with callbox_client(settings_for(database_url, [notify_receiver()])) as client:
        assert (await client.get("/metrics", headers=SCRAPE)).status_code == 404


def test_enabled_metrics_need_a_token() -> None:
    with pytest.raises(ConfigError, match=r"metrics\.bearer: enabled metrics need at least one"):
        settings_from_mapping({"metrics": {"enabled": True}})
    with pytest.raises(ConfigError, match="metrics"):
        settings_from_mapping({"metrics": {"enabled": True, "bearer": ["sha256:nothex"]}})
    digest = "sha256:" + "ab" * 32
    assert settings_from_mapping({"metrics": {"enabled": True, "bearer": [digest]}}).metrics


_RECORD_IN_A_WORKER = """
from callbox.ops.metrics import CallboxMetrics
metrics = CallboxMetrics()
metrics.record_callback("notify", "accepted", "", 0.01)
metrics.record_callback("notify", "accepted", "", 0.02)
metrics.subscriptions_open.set(3)
"""


def test_multiprocess_mode_sums_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, a scrape of any worker reports all of them."""
    from callbox.ops.metrics import CallboxMetrics, empty_multiprocess_dir

    directory = tmp_path / "prometheus"
    (directory).mkdir()
    (directory / "counter_999999.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    empty_multiprocess_dir()
    assert list(directory.iterdir()) == []
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for _ in range(2):  # two worker processes
        subprocess.run([sys.executable, "-c", _RECORD_IN_A_WORKER], env=env, check=True, timeout=60)
    found = samples(CallboxMetrics().exposition().decode())
    assert callbacks(found, "notify", "accepted") == 4
    assert found[("callbox_ingest_duration_seconds_count", (("receiver", "notify"),))] == 4
    # A live-summed gauge adds up the workers' values (until mark_process_dead drops one).
    assert found[("callbox_subscriptions_open", ())] == 6


async def test_recording_a_callback_is_cheap() -> None:
    """Recording one callback is a counter and a histogram: microseconds."""
    from callbox.ops.metrics import CallboxMetrics

    metrics = CallboxMetrics()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(10_000):
        metrics.record_callback("notify", "accepted", "", 0.003)
    assert (loop.time() - started) / 10_000 < 200e-6  # typically 2-5 µs


def test_check_config_resolves_the_metrics_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from callbox.cli import main

    config = tmp_path / "callbox.toml"
    config.write_text('[metrics]\nenabled = true\nbearer = ["env:CALLBOX_TEST_UNSET_TOKEN"]\n')
    monkeypatch.delenv("CALLBOX_TEST_UNSET_TOKEN", raising=False)
    assert main(["check-config", str(config)]) == 2
    assert "metrics.bearer[0]: environment variable CALLBOX_TEST_UNSET_TOKEN" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv("CALLBOX_TEST_UNSET_TOKEN", "now-set")
    assert main(["check-config", str(config)]) == 0
