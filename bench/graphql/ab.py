"""Compare two checkouts of Callbox on the GraphQL reads of timing.py, in interleaved rounds.

    uv run python -m bench.graphql.ab --a /path/to/old/checkout --b . [--rounds 6] [--runs 30]

Each round runs ``bench.graphql.timing --json --in-loop`` once with checkout A's ``app/``
first on the Python path, then once with B's (the order alternates between rounds, so drift
on a shared machine falls on both sides); the timing script itself and the virtual
environment are this checkout's. Prints, per query, the median over rounds of each side's
median wall-clock time and of its median CPU time per request (client and app, one process:
steadier than the wall clock on a busy machine), and the ratios B / A (below 1: B is
faster). The database is timing.py's (CALLBOX_BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]


def run(checkout: Path, runs: int) -> dict[str, dict[str, float]]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(checkout / "app"), str(HERE)])
    output = subprocess.run(
        [sys.executable, "-m", "bench.graphql.timing", "--json", "--in-loop", "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
        cwd=HERE,
    ).stdout
    figures: dict[str, dict[str, float]] = json.loads(output.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--b", type=Path, default=HERE, help="the checkout measured")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sides = {"A": args.a.resolve(), "B": args.b.resolve()}
    medians: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
    cpu: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
    statements: dict[str, dict[str, int]] = {"A": {}, "B": {}}
    for index in range(args.rounds):
        order = ["A", "B"] if index % 2 == 0 else ["B", "A"]
        for side in order:
            for name, timing in run(sides[side], args.runs).items():
                medians[side].setdefault(name, []).append(timing["median_ms"])
                cpu[side].setdefault(name, []).append(timing["cpu_ms"])
                statements[side][name] = int(timing["statements"])
        print(
            f"round {index + 1}/{args.rounds}:",
            {side: [round(values[-1], 1) for values in medians[side].values()] for side in order},
            file=sys.stderr,
            flush=True,
        )
    names = list(medians["A"])
    width = max(len(name) for name in names)
    print(f"A = {sides['A']}\nB = {sides['B']}\n{args.rounds} rounds x {args.runs} runs")
    print(f"{'query':<{width}}  A ms (SQL)  B ms (SQL)  B / A  A cpu  B cpu  B / A")
    for name in names:
        a = statistics.median(medians["A"][name])
        b = statistics.median(medians["B"][name])
        a_cpu = statistics.median(cpu["A"][name])
        b_cpu = statistics.median(cpu["B"][name])
        print(
            f"{name:<{width}}  {a:5.1f} ({statements['A'][name]:2d})"
            f"  {b:5.1f} ({statements['B'][name]:2d})  {b / a:5.2f}"
            f"  {a_cpu:5.1f}  {b_cpu:5.1f}  {b_cpu / a_cpu:5.2f}"
        )


if __name__ == "__main__":
    main()
