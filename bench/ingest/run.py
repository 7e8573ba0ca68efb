"""Ingest benchmark: Callbox's receivers against two ceilings, in one run on one machine.

    uv run python -m bench.ingest.run [--duration 10] [--connections 32] [--workers 1]

Starts each server with the same server software (uvicorn, uvloop, httptools) and worker
count, drives it with wrk (a unique id per request, so nothing is a duplicate), checks that
Callbox stored one notification per 200 answer, and prints a table with ratios. The database
is a fresh one on CALLBOX_BENCH_SERVER_URL (default: the PostgreSQL at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from callbox.store.migrate import run_migrations

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOKEN = "bench-token-" + secrets.token_hex(8)
CONFIG = f"""
[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "+447700900999"
auth = {{ bearer = ["{TOKEN}"] }}

[[receivers]]
name = "esendex"
provider = "esendex"

[[receivers]]
name = "wiraya"
provider = "wiraya"
max_body_bytes = 8388608
"""


@dataclass
class Result:
    name: str
    requests: int
    ok: int
    non_200: int
    socket_errors: int
    """Connect, read, write errors and timeouts (wrk gives up on a request after 10 s)."""
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    items_per_request: int = 1
    stored: int | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def fresh_database(server_url: str) -> str:
    name = f"callbox_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = server_url.rsplit("/", 1)[0] + "/" + name
    await run_migrations(url)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "CREATE TABLE bench_raw (id bigserial PRIMARY KEY, body bytea NOT NULL,"
            " received_at timestamptz NOT NULL DEFAULT now())"
        )
    finally:
        await connection.close()
    return url


async def drop_database(server_url: str, database_url: str) -> None:
    """Drop a database ``fresh_database`` made (benchmark databases can be gigabytes)."""
    admin = await asyncpg.connect(server_url)
    try:
        name = database_url.rsplit("/", 1)[1]
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def start_server(
    target: str, port: int, workers: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--no-proxy-headers",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=REPO,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server for {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server for {url} did not start")


def run_wrk(
    url: str,
    script: str,
    duration: int,
    connections: int,
    env: dict[str, str],
    rate: float | None = None,
) -> dict[str, int]:
    wrk_env = {
        **env,
        "BENCH_LUA_DIR": str(HERE),
        "BENCH_TOKEN": TOKEN,
        "BENCH_RUN_ID": secrets.token_hex(6),
    }
    if rate:
        wrk_env["BENCH_DELAY_MS"] = f"{connections / rate * 1000:.3f}"
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / script),
            url,
        ],
        env=wrk_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    summary: dict[str, int] = json.loads(line.removeprefix("WRK_JSON "))
    return summary


def to_result(name: str, summary: dict[str, int], items: int = 1) -> Result:
    return Result(
        name=name,
        requests=summary["requests"],
        ok=summary["ok"],
        non_200=summary["other"],
        socket_errors=summary["errors"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        items_per_request=items,
    )


async def count_stored(url: str, receiver: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM callbox_notification WHERE receiver = $1 AND state = 'ACCEPTED'",
            receiver,
        )
        return count
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100, help="Wiraya items per request")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    server_url = os.environ.get(
        "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    database_url = asyncio.run(fresh_database(server_url))
    config = Path(tempfile.mkdtemp()) / "callbox.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    env.update(
        BENCH_DATABASE_URL=database_url,
        CALLBOX_DATABASE_URL=database_url,
        CALLBOX_CONFIG=str(config),
        CALLBOX_MIGRATE="0",
        BENCH_BATCH=str(args.batch),
        PYTHONPATH=str(REPO),
    )
    servers = [
        (
            "ceiling A (bare Litestar)",
            "bench.ingest.ceilings:bare_app",
            "/hooks/bare",
            "bare.lua",
            None,
        ),
        (
            "ceiling B (+1 INSERT)",
            "bench.ingest.ceilings:naive_app",
            "/hooks/naive",
            "bare.lua",
            None,
        ),
        (
            "Callbox notify (JSON+bearer)",
            "callbox.app:app_from_environment",
            "/hooks/notify",
            "notify.lua",
            "notify",
        ),
        (
            "Callbox esendex (XML)",
            "callbox.app:app_from_environment",
            "/hooks/esendex",
            "esendex.lua",
            "esendex",
        ),
        (
            f"Callbox wiraya ({args.batch}-item JSON batches)",
            "callbox.app:app_from_environment",
            "/hooks/wiraya",
            "wiraya.lua",
            "wiraya",
        ),
    ]
    try:
        results, half_rate = run_servers(servers, database_url, env, args)
    finally:
        asyncio.run(drop_database(server_url, database_url))
    print_table(results, half_rate, args)


def run_servers(
    servers: list[tuple[str, str, str, str, str | None]],
    database_url: str,
    env: dict[str, str],
    args: argparse.Namespace,
) -> tuple[list[Result], list[Result]]:
    results: list[Result] = []
    half_rate: list[Result] = []
    for name, target, path, script, receiver in servers:
        port = free_port()
        process = start_server(target, port, args.workers, env)
        try:
            url = f"http://127.0.0.1:{port}{path}"
            wait_ready(url, process)
            run_wrk(url, script, 2, args.connections, env)  # warm-up, not counted
            time.sleep(1)  # let the warm-up's last requests commit before counting
            before = asyncio.run(count_stored(database_url, receiver)) if receiver else 0
            result = to_result(
                name,
                run_wrk(url, script, args.duration, args.connections, env),
                items=args.batch if receiver == "wiraya" else 1,
            )
            if receiver:
                time.sleep(1)
                result.stored = asyncio.run(count_stored(database_url, receiver)) - before
            results.append(result)
            if receiver == "notify" or name.startswith("ceiling B"):
                # The latency target is for Notify at half its maximum rate; the naive
                # receiver paced the same way shows what the machine itself gives.
                half = to_result(
                    name,
                    run_wrk(
                        url,
                        "notify_paced.lua",
                        args.duration,
                        args.connections,
                        env,
                        rate=result.rate / 2,
                    ),
                )
                half_rate.append(half)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return results, half_rate


def zero_loss(result: Result, connections: int) -> str:
    """Every 200 must be stored. wrk stops counting at its deadline, so up to one request
    per connection may be stored (committed) without its 200 having been counted."""
    assert result.stored is not None
    in_flight = result.stored - result.ok
    if 0 <= in_flight <= connections:
        return f"yes (+{in_flight} in flight)"
    return f"NO: {result.stored} stored for {result.ok} answers"


def print_table(results: list[Result], half_rate: list[Result], args: argparse.Namespace) -> None:
    ceiling_a, ceiling_b = results[0].rate, results[1].rate
    print(f"\nwrk -t2 -c{args.connections} -d{args.duration}s, uvicorn --workers {args.workers}\n")
    print(
        "| server | req/s | items/s | p50 ms | p99 ms | max ms | non-200 | socket errors"
        " | every 200 stored | vs A | vs B |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for result in results:
        stored = "" if result.stored is None else zero_loss(result, args.connections)
        print(
            f"| {result.name} | {result.rate:,.0f} | {result.rate * result.items_per_request:,.0f} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.max_ms:.1f} "
            f"| {result.non_200} | {result.socket_errors} "
            f"| {stored} | {result.rate / ceiling_a:.2f} | {result.rate / ceiling_b:.2f} |"
        )
    if half_rate:
        print(
            "\nPaced at about half its own maximum rate (wrk; each connection waits a random,"
            " exponentially distributed time between requests):\n"
        )
        print("| server | req/s | p50 ms | p99 ms | max ms |")
        print("| --- | ---: | ---: | ---: | ---: |")
    for half in half_rate:
        print(
            f"| {half.name} | {half.rate:,.0f} | {half.p50_ms:.1f} | {half.p99_ms:.1f} "
            f"| {half.max_ms:.1f} |"
        )


if __name__ == "__main__":
    main()
