"""Two ``callbox serve`` processes on one fresh database, started together: their
migrations race (an advisory lock makes one wait), both serve, and a callback delivered to
both is applied once (the dedupe key's unique constraint decides)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.ops.support import NOTIFY_HEADERS, NOTIFY_TOKEN, notify_inbound, notify_receipt
from tests.subscriptions.support import transport_ws
from tests.support import callbox_environment

REPO = Path(__file__).resolve().parents[2]
READ_KEY = "replicas-read-key-0123456789abcdef"
CONFIG = f"""
[server]
host = "127.0.0.1"

[logging]
callbacks = "all"

[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "+447700900999"
auth = {{ bearer = ["{NOTIFY_TOKEN}"] }}

[[graphql.api_keys]]
name = "reader"
key = "{READ_KEY}"
scopes = ["read"]
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.communicate()[0].decode()
            raise AssertionError(f"callbox serve exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} was not ready in 90 s")


async def test_two_replicas_share_one_database(create_database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url: str = await create_database()  # fresh: neither replica finds it migrated
    config = tmp_path / "callbox.toml"
    config.write_text(CONFIG)
    env = callbox_environment(CALLBOX_DATABASE_URL=url)
    ports = [_free_port(), _free_port()]
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "callbox", "--config", str(config), "serve", "--port", str(p)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for p in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    outputs: list[str] = []
    try:
        await asyncio.gather(
            *(
                asyncio.to_thread(_wait_until_ready, b, r)
                for b, r in zip(bases, replicas, strict=True)
            )
        )
        bodies = [notify_receipt(datetime.now(UTC), to=f"+4477009002{i:02d}") for i in range(20)]
        async with httpx.AsyncClient(timeout=30) as client:
            # Every callback to both replicas at once, as a provider's retry might arrive.
            responses = await asyncio.gather(
                *(
                    client.post(f"{base}/hooks/notify", content=body, headers=NOTIFY_HEADERS)
                    for body in bodies
                    for base in bases
                )
            )
            assert [r.status_code for r in responses] == [200] * 40
            request_ids = {r.headers["x-request-id"] for r in responses}
            assert len(request_ids) == 40
            # Both hand out the same (sealed) ids: the instance key is in the database.
            query = {"query": "{ messages(first: 100) { edges { cursor node { id } } } }"}
            answers = [
                await client.post(
                    f"{base}/graphql",
                    json=query,
                    headers={"Authorization": f"Bearer {READ_KEY}"},
                )
                for base in bases
            ]
            pages = [answer.json()["data"]["messages"]["edges"] for answer in answers]
            assert len(pages[0]) == 20 and pages[0] == pages[1]
    finally:
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            outputs.append(replica.communicate(timeout=30)[0].decode())

    connection = await asyncpg.connect(url)
    try:
        migrations = await connection.fetchval("SELECT count(*) FROM migration")
        states = dict(
            await connection.fetch(
                "SELECT state, count(*) FROM callbox_notification GROUP BY state"
            )
        )
        messages = await connection.fetchval("SELECT count(*) FROM callbox_message")
        events = await connection.fetchval("SELECT count(*) FROM callbox_status_event")
        keys = await connection.fetchval("SELECT count(*) FROM callbox_applied_event")
        per_message = await connection.fetch(
            "SELECT m.provider_message_id, count(se.id) FROM callbox_message m"
            " JOIN callbox_status_event se ON se.message = m.id GROUP BY 1"
        )
    finally:
        await connection.close()
    assert migrations == len(list((REPO / "migrations").glob("*.py")))  # each applied once
    assert states == {"ACCEPTED": 20, "DUPLICATE": 20}
    assert (messages, events, keys) == (20, 20, 20)
    assert {count for _, count in per_message} == {1}
    # Both replicas served callbacks, each logged as one JSON line, never with the token.
    for output in outputs:
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        callbacks = [line for line in lines if line.get("event") == "callback"]
        assert len(callbacks) == 20
        assert {line["outcome"] for line in callbacks} <= {"accepted", "duplicate"}
        assert NOTIFY_TOKEN not in output


def _serve(config: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "callbox", "--config", str(config), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
async def test_docker_nginx_config_balances_two_replicas(
    create_database,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """docker/nginx.conf itself, with the replicas' addresses made local: both replicas get
    callbacks, the caller's X-Request-ID survives, X-Forwarded-For from the balancer is
    believed (and only from it), /metrics is not reachable through it."""
    url: str = await create_database()
    config = tmp_path / "callbox.toml"
    config.write_text(CONFIG.replace('host = "127.0.0.1"', 'trusted_proxies = ["127.0.0.1"]'))
    env = callbox_environment(CALLBOX_DATABASE_URL=url)
    ports = [_free_port(), _free_port()]
    lb_port = _free_port()
    nginx_conf = (REPO / "docker" / "nginx.conf").read_text()
    nginx_conf = nginx_conf.replace("callbox-1:8000", f"127.0.0.1:{ports[0]}")
    nginx_conf = nginx_conf.replace("callbox-2:8000", f"127.0.0.1:{ports[1]}")
    nginx_conf = nginx_conf.replace("listen 80;", f"listen 127.0.0.1:{lb_port};")
    nginx_conf = nginx_conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    access_log = tmp_path / "access.log"
    nginx_conf = nginx_conf.replace("access_log /dev/stdout", f"access_log {access_log}")
    nginx_conf = re.sub(
        r"http \{", f"http {{\n    client_body_temp_path {tmp_path}/body;", nginx_conf
    )
    (tmp_path / "nginx.conf").write_text(nginx_conf)
    replicas = [_serve(config, port, env) for port in ports]
    balancer = subprocess.Popen(
        [
            "nginx",
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            str(tmp_path / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    outputs: list[str] = []
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        await asyncio.gather(
            *(
                asyncio.to_thread(_wait_until_ready, b, r)
                for b, r in zip(bases, replicas, strict=True)
            )
        )
        lb = f"http://127.0.0.1:{lb_port}"
        async with httpx.AsyncClient(base_url=lb, timeout=30) as client:
            for _ in range(50):
                try:
                    if (await client.get("/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            # A subscriber through the balancer sees every callback, whichever replica
            # takes it (each replica's listener reads the shared event log).
            async with transport_ws(
                lb, None, payload={"authorization": f"Bearer {READ_KEY}"}
            ) as subscriber:
                events = await subscriber.events({"receiver": "notify"})
                now = datetime.now(UTC)
                answers = [
                    await client.post(
                        "/hooks/notify",
                        content=notify_inbound(now, sender=f"0770090030{i}"),
                        headers={
                            **NOTIFY_HEADERS,
                            "X-Request-ID": f"provider-{i}",
                            "X-Forwarded-For": "203.0.113.7",
                        },
                    )
                    for i in range(6)
                ]
                seen = [event["messageEvents"]["address"] for event in await events.take(6)]
                await events.silent_for(0.3)
            metrics = await client.get("/metrics")
        assert [a.status_code for a in answers] == [200] * 6
        assert seen == [f"+44770090030{i}" for i in range(6)]
        assert [a.headers["x-request-id"] for a in answers] == [f"provider-{i}" for i in range(6)]
        assert metrics.status_code == 404
    finally:
        balancer.terminate()
        balancer.communicate(timeout=30)
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            outputs.append(replica.communicate(timeout=30)[0].decode())
    # Round robin: both replicas took callbacks.
    for output in outputs:
        assert '"event": "callback"' in output
    connection = await asyncpg.connect(url)
    try:
        clients = await connection.fetch("SELECT DISTINCT client_address FROM callbox_notification")
    finally:
        await connection.close()
    # X-Forwarded-For is believed from the balancer: on loopback the test client has the
    # balancer's (trusted) address, so the hop before it, 203.0.113.7, is the client. (In
    # compose the provider's own address is the hop nginx appends.)
    assert [row["client_address"] for row in clients] == ["203.0.113.7"]
    log = access_log.read_text()
    assert "/hooks/" not in log and "provider-0" in log
