"""Ingest benchmark: Callbox's receivers against two ceilings, in one run on one machine.

    uv run python -m bench.ingest.run [--duration 10] [--connections 32] [--workers 1,2]
        [--parts throughput,sustained,burst] [--quick]

Starts each server with the same server software (uvicorn, uvloop, httptools) and worker
count, drives it with wrk (a unique id per request, so nothing is a duplicate), checks that
Callbox stored one notification per 200 answer, and prints a table with ratios, the server's
and PostgreSQL's CPU per request (``cpu``) and the apply lag (``lag``). Then, against Callbox
Notify, a sustained run that finds the highest paced rate at which apply lag stays under 1 s,
and a burst of 20,000 callbacks (``sustained``, ``loadgen``). With ``--workers 1,2`` every part
runs once per worker count, and a last table sets the counts side by side. The database is a
fresh one on CALLBOX_BENCH_SERVER_URL (default: the PostgreSQL at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import uvloop

from bench.ingest import sustained
from bench.ingest.cpu import CpuMeter
from bench.ingest.lag import Lag, arrival_lag, last_id, wait_applied
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
    server_ms: float | None = None
    """Server CPU milliseconds per request (all its processes)."""
    postgres_ms: float | None = None
    """CPU milliseconds per request of the PostgreSQL backends serving the benchmark database."""
    lag: Lag | None = None
    """Arrival to applied (wrk cannot say when each request was answered)."""

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
    target: str,
    port: int,
    workers: int,
    env: dict[str, str],
    *,
    python: str = sys.executable,
    cwd: Path = REPO,
) -> subprocess.Popen[bytes]:
    """uvicorn serving ``target`` the way every server of the harness is served; ``python``
    and ``cwd``: another checkout's (bench/ingest/cpu_ab.py)."""
    return subprocess.Popen(
        [
            python,
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
        cwd=cwd,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180  # several workers start slowly on a busy machine
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


T = TypeVar("T")


def arun(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh uvloop event loop (the load generator's, too)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


@contextlib.contextmanager
def serving(
    target: str, path: str, workers: int, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A started server (``target``, ``workers`` uvicorn workers), ready on ``path``."""
    port = free_port()
    process = start_server(target, port, workers, env)
    try:
        wait_ready(f"http://127.0.0.1:{port}{path}", process)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Server:
    name: str
    target: str
    path: str
    script: str
    receiver: str | None


def servers(batch: int) -> list[Server]:
    return [
        Server("ceiling A (bare Litestar)", "bench.ingest.ceilings:bare_app", "/hooks/bare",
               "bare.lua", None),
        Server("ceiling B (+1 INSERT)", "bench.ingest.ceilings:naive_app", "/hooks/naive",
               "bare.lua", None),
        Server("Callbox notify (JSON+bearer)", "callbox.app:app_from_environment",
               "/hooks/notify", "notify.lua", "notify"),
        Server("Callbox esendex (XML)", "callbox.app:app_from_environment", "/hooks/esendex",
               "esendex.lua", "esendex"),
        Server(f"Callbox wiraya ({batch}-item JSON batches)", "callbox.app:app_from_environment",
               "/hooks/wiraya", "wiraya.lua", "wiraya"),
    ]  # fmt: skip


CALLBOX = "callbox.app:app_from_environment"
PARTS = ("throughput", "sustained", "burst")


@dataclass
class WorkerRun:
    """Everything measured with one worker count."""

    workers: int
    results: list[Result]
    half_rate: list[Result]
    search: sustained.Search | None = None
    half_b: sustained.Step | None = None
    """Notify paced at half of ceiling B's rate (ack and apply-lag latency there)."""
    burst: sustained.Burst | None = None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=None, help="wrk seconds (10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--workers", default="1", help="uvicorn workers, or a list to compare: 1,2")
    parser.add_argument("--batch", type=int, default=100, help="Wiraya items per request")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="which of throughput,sustained,burst to run"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs: wrk 5 s, probes 5 s, final sustained run 15 s, burst of 5,000",
    )
    parser.add_argument("--probes", type=int, default=None, help="sustained search probes (5)")
    parser.add_argument("--probe-seconds", type=float, default=None, help="(10)")
    parser.add_argument(
        "--sustained-seconds", type=float, default=None, help="final sustained run (60)"
    )
    parser.add_argument(
        "--sustained-connections", type=int, default=64, help="load generator connections"
    )
    parser.add_argument(
        "--sustained-hint",
        type=float,
        default=1500,
        help="req/s to search under when the throughput part did not run (x 1.2)",
    )
    parser.add_argument("--burst", type=int, default=None, help="burst size (20000)")
    parser.add_argument("--burst-connections", type=int, default=64)
    args = parser.parse_args()
    quick = args.quick
    defaults = {
        "duration": (5, 10),
        "probes": (3, 5),
        "probe_seconds": (5.0, 10.0),
        "sustained_seconds": (15.0, 60.0),
        "burst": (5000, 20000),
    }
    for name, (short, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, short if quick else full)
    args.worker_counts = [int(count) for count in str(args.workers).split(",")]
    args.part_set = {part.strip() for part in args.parts.split(",")}
    if unknown := args.part_set - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def bench_environment(batch: int) -> tuple[str, str, dict[str, str]]:
    """The PostgreSQL server (CALLBOX_BENCH_SERVER_URL, default the local one), a fresh
    database on it, and the environment the servers run in: Callbox's configuration pointing
    at it, nothing else of this shell's CALLBOX_ variables, Wiraya batches of ``batch``
    items."""
    server_url = os.environ.get(
        "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    database_url = arun(fresh_database(server_url))
    config = Path(tempfile.mkdtemp()) / "callbox.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    env.update(
        BENCH_DATABASE_URL=database_url,
        CALLBOX_DATABASE_URL=database_url,
        CALLBOX_CONFIG=str(config),
        CALLBOX_MIGRATE="0",
        BENCH_BATCH=str(batch),
    )
    return server_url, database_url, env


def main() -> None:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # tables as they come
    if "throughput" in args.part_set and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    server_url, database_url, env = bench_environment(args.batch)
    env["PYTHONPATH"] = str(REPO)
    runs: list[WorkerRun] = []
    try:
        for workers in args.worker_counts:
            run = WorkerRun(workers, [], [])
            if "throughput" in args.part_set:
                run.results, run.half_rate = run_servers(
                    servers(args.batch), database_url, env, args, workers
                )
                print_table(run.results, run.half_rate, args, workers)
            if args.part_set & {"sustained", "burst"}:
                run_lag_parts(run, database_url, env, args)
            runs.append(run)
    finally:
        arun(drop_database(server_url, database_url))
    if len(runs) > 1:
        print_workers(runs)


def run_servers(
    servers: list[Server],
    database_url: str,
    env: dict[str, str],
    args: argparse.Namespace,
    workers: int,
) -> tuple[list[Result], list[Result]]:
    results: list[Result] = []
    half_rate: list[Result] = []
    for server in servers:
        with serving(server.target, server.path, workers, env) as (process, port):
            url = f"http://127.0.0.1:{port}{server.path}"
            run_wrk(url, server.script, 2, args.connections, env)  # warm-up, not counted
            time.sleep(1)  # let the warm-up's last requests commit before counting
            if server.receiver:
                arun(wait_applied(database_url, server.receiver, 0))
            before = arun(count_stored(database_url, server.receiver)) if server.receiver else 0
            after_id = arun(last_id_of(database_url))
            meter = CpuMeter(process.pid, database_url)
            arun(meter.start())
            result = to_result(
                server.name,
                run_wrk(url, server.script, args.duration, args.connections, env),
                items=args.batch if server.receiver == "wiraya" else 1,
            )
            if server.receiver:
                time.sleep(1)
                arun(wait_applied(database_url, server.receiver, after_id))
            arun(meter.stop())
            result.server_ms, result.postgres_ms = meter.per_request_ms(result.ok)
            if server.receiver:
                result.stored = arun(count_stored(database_url, server.receiver)) - before
                result.lag = arun(arrival_lag(database_url, server.receiver, after_id))
            results.append(result)
            if server.receiver == "notify" or server.name.startswith("ceiling B"):
                # The latency target is for Notify at half its maximum rate; the naive
                # receiver paced the same way shows what the machine itself gives.
                half = to_result(
                    server.name,
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
    return results, half_rate


async def last_id_of(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return await last_id(connection)
    finally:
        await connection.close()


def run_lag_parts(
    run: WorkerRun, database_url: str, env: dict[str, str], args: argparse.Namespace
) -> None:
    """The sustained search and the burst, against one Callbox server with Notify."""
    with serving(CALLBOX, "/hooks/notify", run.workers, env) as (process, port):
        target = sustained.Target(
            host="127.0.0.1",
            port=port,
            path="/hooks/notify",
            token=TOKEN,
            database_url=database_url,
            server_pid=process.pid,
        )
        arun(sustained.warm_up(target, args.sustained_connections))
        if "sustained" in args.part_set:
            notify = next((r for r in run.results if r.name.startswith("Callbox notify")), None)
            hint = notify.rate if notify else args.sustained_hint
            print(
                f"\nSustained Notify, uvicorn --workers {run.workers}: paced (open loop,"
                f" {args.sustained_connections} connections), binary search on"
                f" (0, {1.2 * hint:,.0f}] req/s in {args.probe_seconds:.0f} s probes,"
                f" then {args.sustained_seconds:.0f} s at the best rate:\n"
            )
            print(sustained.STEP_HEADER, flush=True)
            run.search = arun(
                sustained.search(
                    target,
                    hint,
                    probes=args.probes,
                    probe_seconds=args.probe_seconds,
                    final_seconds=args.sustained_seconds,
                    connections=args.sustained_connections,
                )
            )
            print_search(run.search)
            ceiling_b = next((r for r in run.results if r.name.startswith("ceiling B")), None)
            if ceiling_b and ceiling_b.rate > 0:
                # Issue #15's latency targets are at half of ceiling B's maximum rate.
                print(
                    f"\nNotify paced at half of ceiling B's maximum ({ceiling_b.rate / 2:,.0f}"
                    f" req/s) for {args.duration} s:\n"
                )
                print(sustained.STEP_HEADER)
                run.half_b = arun(
                    sustained.paced_step(
                        target,
                        ceiling_b.rate / 2,
                        args.duration,
                        args.sustained_connections,
                        measure_cpu=True,
                    )
                )
                print(run.half_b.row())
        if "burst" in args.part_set:
            run.burst = arun(sustained.burst(target, args.burst, args.burst_connections))
            print_burst(run.burst, args.burst_connections, run.workers)


def zero_loss(result: Result, connections: int) -> str:
    """Every 200 must be stored. wrk stops counting at its deadline, so up to one request
    per connection may be stored (committed) without its 200 having been counted."""
    assert result.stored is not None
    in_flight = result.stored - result.ok
    if 0 <= in_flight <= connections:
        return f"yes (+{in_flight} in flight)"
    return f"NO: {result.stored} stored for {result.ok} answers"


def cpu_cells(server_ms: float | None, postgres_ms: float | None) -> str:
    if server_ms is None or postgres_ms is None:
        return " | "
    return f"{server_ms:.3f} | {postgres_ms:.3f}"


def print_table(
    results: list[Result], half_rate: list[Result], args: argparse.Namespace, workers: int
) -> None:
    ceiling_a, ceiling_b = results[0].rate, results[1].rate
    print(f"\nwrk -t2 -c{args.connections} -d{args.duration}s, uvicorn --workers {workers}\n")
    print(
        "| server | req/s | items/s | p50 ms | p99 ms | max ms | non-200 | socket errors"
        " | every 200 stored | vs A | vs B | server CPU ms/req | PG CPU ms/req"
        " | lag p50 / p99 / max ms |"
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: "
        "| --- |"
    )
    for result in results:
        stored = "" if result.stored is None else zero_loss(result, args.connections)
        print(
            f"| {result.name} | {result.rate:,.0f} | {result.rate * result.items_per_request:,.0f} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.max_ms:.1f} "
            f"| {result.non_200} | {result.socket_errors} "
            f"| {stored} | {result.rate / ceiling_a:.2f} | {result.rate / ceiling_b:.2f} "
            f"| {cpu_cells(result.server_ms, result.postgres_ms)} "
            f"| {result.lag.cells() if result.lag else ''} |"
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


def print_search(search: sustained.Search) -> None:
    if search.final is None:
        print("\nNo rate passed (every callback answered 200, ack and apply-lag p99 under 1 s).")
        return
    note = " (every probe passed: the limit may be higher; raise --sustained-hint)"
    print(
        f"\nHighest sustained rate (all answered, ack and apply-lag p99 < 1 s):"
        f" {search.final.rate:,.0f} req/s"
        f" for {search.final.seconds:.0f} s{note if search.ceiling_hit else ''}"
    )


def print_burst(burst: sustained.Burst, connections: int, workers: int) -> None:
    load = burst.load
    print(
        f"\nBurst of {load.planned:,} Notify callbacks at once ({connections} connections,"
        f" uvicorn --workers {workers}):\n"
    )
    print(
        "| answered 200 | non-200 | errors | seconds | req/s | ack p50 ms | ack p99 ms"
        " | ack max ms | lag p50 / p99 / max ms | all applied | last applied after last ack s"
        " | CPU ms/req server / PG / load generator |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |")
    applied = "yes" if burst.all_applied else f"NO ({burst.lag.lag.applied:,} applied)"
    print(
        f"| {load.ok:,}/{load.planned:,} | {load.non_200} | {load.errors} | {load.seconds:.1f} "
        f"| {load.rate:,.0f} | {load.percentile_ms(0.5):.1f} | {load.percentile_ms(0.99):.1f} "
        f"| {load.max_ms:.1f} | {burst.lag.lag.cells()} | {applied} "
        f"| {burst.applied_after_s:.2f} | {burst.server_ms:.3f} / {burst.postgres_ms:.3f}"
        f" / {load.client_ms:.3f} |"
    )


def print_workers(runs: list[WorkerRun]) -> None:
    print("\nBy worker count (req/s, p99 ms of the wrk runs; sustained and burst of Notify):\n")
    names = [result.name for result in runs[0].results]
    print("| server | " + " | ".join(f"{run.workers} worker(s)" for run in runs) + " |")
    print("| --- |" + " ---: |" * len(runs))
    for index, name in enumerate(names):
        cells = [
            f"{run.results[index].rate:,.0f} req/s, p99 {run.results[index].p99_ms:.1f} ms"
            if run.results[index].ok
            else "none answered in the run"
            for run in runs
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if any(run.search and run.search.final for run in runs):
        cells = [
            f"{run.search.final.rate:,.0f} req/s" if run.search and run.search.final else "-"
            for run in runs
        ]
        print("| Notify sustained (lag p99 < 1 s) | " + " | ".join(cells) + " |")
    if any(run.half_b for run in runs):
        cells = [
            f"ack p99 {run.half_b.load.percentile_ms(0.99):.1f} ms,"
            f" lag p99 {run.half_b.lag.lag.p99_ms or 0:.1f} ms"
            if run.half_b
            else "-"
            for run in runs
        ]
        print("| Notify at half of ceiling B | " + " | ".join(cells) + " |")
    if any(run.burst for run in runs):
        cells = [
            f"p99 {run.burst.load.percentile_ms(0.99):.1f} ms,"
            f" {run.burst.load.ok:,}/{run.burst.load.planned:,} answered"
            if run.burst
            else "-"
            for run in runs
        ]
        print("| Notify burst | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
