"""Server CPU per callback, A/B: Callbox from another checkout against this one, interleaved.

    uv run python -m bench.ingest.cpu_ab --base /path/to/other/checkout [--pairs 3]
        [--duration 8] [--receivers notify,esendex]

Each round measures ceiling A (bare Litestar, ``bench.ingest.ceilings``), then, for every
receiver, Callbox from the base checkout and from this one (the order within a pair
alternates between rounds, so a drift in the machine's load does not favour either). Every
server is started the way ``bench.ingest.run`` starts it (uvicorn, one worker, uvloop,
httptools), with its own checkout's environment (``<checkout>/.venv/bin/python``), warmed up
with 2 s of wrk, then driven by wrk for ``--duration`` seconds; the server's CPU (its process
tree, from ``/proc``, ``bench.ingest.cpu``) is counted from the start of that run until every
callback of it is applied, and divided by the callbacks answered 200. All servers share one
fresh database. Prints each measurement, then the medians and their ratio to ceiling A.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.ingest.cpu import CpuMeter
from bench.ingest.lag import wait_applied
from bench.ingest.run import (
    CALLBOX,
    REPO,
    arun,
    bench_environment,
    drop_database,
    free_port,
    last_id_of,
    run_wrk,
    start_server,
    wait_ready,
)

SCRIPTS = {"notify": "notify.lua", "esendex": "esendex.lua", "wiraya": "wiraya.lua"}
CEILING_A = ("bench.ingest.ceilings:bare_app", "/hooks/bare", "bare.lua")


@dataclass
class Checkout:
    label: str
    root: Path

    @property
    def python(self) -> str:
        return str(self.root / ".venv" / "bin" / "python")


@contextlib.contextmanager
def serving(
    checkout: Checkout, target: str, path: str, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = start_server(
        target,
        port,
        1,
        {**env, "PYTHONPATH": str(checkout.root)},
        python=checkout.python,
        cwd=checkout.root,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}{path}", process)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(
    checkout: Checkout,
    target: str,
    path: str,
    script: str,
    receiver: str | None,
    database_url: str,
    env: dict[str, str],
    args: argparse.Namespace,
) -> tuple[float, int]:
    """(server CPU ms per request answered 200, requests answered 200)."""
    with serving(checkout, target, path, env) as (process, port):
        url = f"http://127.0.0.1:{port}{path}"
        run_wrk(url, script, 2, args.connections, env)  # warm-up, not counted
        time.sleep(1)
        after_id = arun(last_id_of(database_url))
        if receiver:
            arun(wait_applied(database_url, receiver, 0))
        meter = CpuMeter(process.pid, database_url)
        arun(meter.start())
        summary = run_wrk(url, script, args.duration, args.connections, env)
        if receiver:
            arun(wait_applied(database_url, receiver, after_id))
        arun(meter.stop())
        server_ms, _ = meter.per_request_ms(summary["ok"])
        if summary["other"] or summary["errors"]:
            print(f"  ({summary['other']} non-200, {summary['errors']} socket errors)")
        return server_ms, summary["ok"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, type=Path, help="the checkout to compare with")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="wrk seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--receivers", default="notify,esendex")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    base = Checkout("base", args.base.resolve())
    this = Checkout("this", REPO)
    receivers = [name.strip() for name in args.receivers.split(",")]
    server_url, database_url, env = bench_environment(batch=100)
    figures: dict[str, list[float]] = {}
    try:
        for round_ in range(args.pairs):
            ms, ok = measure(this, *CEILING_A, None, database_url, env, args)
            figures.setdefault("ceiling A", []).append(ms)
            print(f"round {round_ + 1} ceiling A: {ms:.3f} ms/req ({ok} requests)")
            for receiver in receivers:
                pair = (base, this) if round_ % 2 == 0 else (this, base)
                for checkout in pair:
                    ms, ok = measure(
                        checkout,
                        CALLBOX,
                        f"/hooks/{receiver}",
                        SCRIPTS[receiver],
                        receiver,
                        database_url,
                        env,
                        args,
                    )
                    figures.setdefault(f"{receiver} {checkout.label}", []).append(ms)
                    print(
                        f"round {round_ + 1} {receiver} {checkout.label}: {ms:.3f} ms/req"
                        f" ({ok} callbacks)"
                    )
    finally:
        arun(drop_database(server_url, database_url))
    ceiling = statistics.median(figures["ceiling A"])
    print(f"\nbase: {base.root}; this: {this.root}; {args.pairs} rounds of {args.duration} s\n")
    print("| server | runs (ms/req) | median ms/req | x ceiling A |")
    print("| --- | --- | ---: | ---: |")
    for name, values in figures.items():
        median = statistics.median(values)
        runs = ", ".join(f"{value:.3f}" for value in values)
        print(f"| {name} | {runs} | {median:.3f} | {median / ceiling:.2f} |")


if __name__ == "__main__":
    main()
