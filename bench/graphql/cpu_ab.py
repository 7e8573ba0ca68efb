"""Server CPU per GraphQL request, two running servers in turn (A B A B ...).

    uv run python -m bench.graphql.cpu_ab --a URL PID --b URL PID --body BODY.json \
        [--key KEY] [--rounds 2] [--connections 16] [--duration 5]

Each round sends BODY (a JSON request body; ``__ANY__`` in it becomes a different number
on every request, see side_by_side.lua) to A with wrk, then to B, and divides each server
process tree's CPU time over the run (``/proc``, bench/ingest/cpu.py) by the answers that
were a 200 without errors. Start the servers yourself (``callbox serve`` of two trees on
the same database, e.g. ``git worktree add`` of the commit to compare with).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

from bench.graphql.common import MESSAGES
from bench.ingest.cpu import server_snapshot, spent

WRK_SCRIPT = Path(__file__).resolve().parent / "side_by_side.lua"


def measure(
    url: str, pid: int, body: Path, key: str, connections: int, duration: float
) -> tuple[float, float]:
    """(CPU ms per good answer, good answers per second)."""
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body),
        "BENCH_AUTHORIZATION": f"Bearer {key}" if key else "",
        "BENCH_ANY_COUNT": str(MESSAGES),
    }
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "-s", str(WRK_SCRIPT), url]
    before = server_snapshot(pid)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    after = server_snapshot(pid)
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRK_JSON "))
    summary = json.loads(line.removeprefix("WRK_JSON "))
    good = summary["ok"]
    if not good:
        raise SystemExit(f"cpu_ab: no good answer from {url}:\n{result.stdout}")
    return spent(before, after) * 1000 / good, good / (summary["duration_us"] / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", nargs=2, metavar=("URL", "PID"), required=True)
    parser.add_argument("--b", nargs=2, metavar=("URL", "PID"), required=True)
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--key", default="bench-side-by-side-key")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5)
    args = parser.parse_args()
    figures: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    for _ in range(args.rounds):
        for side, (url, pid) in (("A", args.a), ("B", args.b)):
            cpu, rate = measure(url, int(pid), args.body, args.key, args.connections, args.duration)
            figures[side].append((cpu, rate))
            print(f"{side}: {cpu:.3f} CPU ms per request, {rate:,.0f} req/s", flush=True)
    a_cpu = statistics.median(cpu for cpu, _ in figures["A"])
    b_cpu = statistics.median(cpu for cpu, _ in figures["B"])
    print(f"median CPU ms per request: A {a_cpu:.3f}, B {b_cpu:.3f}, B / A {b_cpu / a_cpu:.2f}")


if __name__ == "__main__":
    main()
