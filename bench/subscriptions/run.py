"""Subscription benchmark: POST-to-subscriber latency and loss with 1,000 and 5,000
subscribers on one Callbox process, the server's CPU, and the memory each idle subscriber
costs; A/B between code trees (interleaved rounds).

    uv run python -m bench.subscriptions.run [--events 100] [--rate 10] [--counts 1000,5000]
        [--rounds 1] [--variant NAME=APP_DIR[:deflate]] ...

Each variant is a ``callbox serve`` (one worker) on a database of its own on
CALLBOX_BENCH_SERVER_URL (default: the PostgreSQL at 127.0.0.1:5432); ``APP_DIR`` is put first
on its PYTHONPATH, so another checkout's ``app`` directory (``git archive main app | tar -x
-C /tmp/main``) runs the code of main with this environment. Default: one variant, this
tree. ``:deflate``: the clients offer per-message deflate (permessage-deflate), which
uvicorn accepts; without it they do not.

For each round, subscriber count and variant (in that order: the variants interleave), the
subscribers are real WebSocket connections (graphql-transport-ws, one ``messageEvents``
subscription each) held by client processes of their own (``--per-client`` connections
each; one Python process cannot read 50,000 frames a second). The server's resident memory
is read before and after they connect (idle); then Notify inbound callbacks are posted at a
fixed rate. Latency is from just before the POST is sent to when a subscriber has the event
(every subscriber, every event: one sample each; CLOCK_MONOTONIC is shared by the
processes); "last" is when the last subscriber has it; "missing" counts the (subscriber,
event) pairs that never arrived. CPU is the share of one core the server (and all client
processes together) used from the first POST to the last arrival, and the server's CPU time
per event posted (robust to a machine shared with other work, where a starved server's
latency says more about the machine than about it). Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from bench.ingest.run import drop_database, free_port, fresh_database

TOKEN = "bench-token-" + secrets.token_hex(8)
API_KEY = os.environ.get("CALLBOX_BENCH_SUBSCRIPTIONS_KEY") or "bench-key-" + secrets.token_hex(16)
"""(The client processes get the coordinating process's key through the environment.)"""
CONFIG = f"""
[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "+447700900999"
auth = {{ bearer = ["{TOKEN}"] }}

[[graphql.api_keys]]
name = "bench"
key = "{API_KEY}"
scopes = ["read"]

[subscriptions]
max_per_connection = 1
"""
SUBSCRIBE = {
    "id": "1",
    "type": "subscribe",
    "payload": {"query": "subscription { messageEvents { cursor kind message { id body } } }"},
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Variant:
    name: str
    app_dir: str | None
    deflate: bool
    database_url: str = ""
    process: subprocess.Popen[bytes] | None = None
    base: str = ""

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, rest = text.partition("=")
        app_dir, _, option = rest.partition(":")
        if option not in ("", "deflate"):
            raise SystemExit(f"--variant {text}: unknown option {option!r}")
        return cls(name, str(Path(app_dir).resolve()) if app_dir else None, option == "deflate")


@dataclass
class Round:
    variant: str
    subscribers: int
    events: int
    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    last_ms: list[float] = field(default_factory=list)
    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    missing: int = 0
    closed: int = 0
    retried: int = 0
    """POSTs answered 503 (the server too busy to get a database connection) and sent again."""
    server_cpu: float = 0.0
    server_cpu_seconds: float = 0.0
    client_cpu: float = 0.0

    @property
    def per_subscriber_kib(self) -> float:
        return (self.rss_idle_kib - self.rss_before_kib) / self.subscribers


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# The client processes -----------------------------------------------------------------------


class Subscriber:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.received: dict[str, float] = {}  # message body -> when it arrived
        self.closed = False

    async def read(self) -> None:
        try:
            async for raw in self.socket:
                now = time.monotonic()
                text = raw if isinstance(raw, str) else raw.decode()
                start = text.find('"body":"')
                if start >= 0:  # a next message (found without decoding all of it)
                    start += 8
                    self.received[text[start : text.index('"', start)]] = now
                elif '"ping"' in text:
                    await self.socket.send('{"type":"pong"}')
                elif '"next"' in text or '"error"' in text or '"complete"' in text:
                    print(text[:300], file=sys.stderr)
        except websockets.ConnectionClosed:
            pass
        self.closed = True


async def open_subscriber(url: str, deflate: bool) -> Subscriber:
    socket = await websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=None,
        open_timeout=120,
        compression="deflate" if deflate else None,
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {API_KEY}"}})
    )
    ack = json.loads(await socket.recv())
    assert ack["type"] == "connection_ack", ack
    await socket.send(json.dumps(SUBSCRIBE))
    return Subscriber(socket)


async def client_main(url: str, count: int, events: int, deflate: bool) -> None:
    """Hold ``count`` subscriptions; on stdin: ``start`` (the posting begins), ``done`` (the
    last was posted); then report the arrivals and the CPU used meanwhile as JSON."""
    subscribers: list[Subscriber] = []
    for start in range(0, count, 50):  # 50 handshakes at a time
        batch = [open_subscriber(url, deflate) for _ in range(start, min(count, start + 50))]
        subscribers += await asyncio.gather(*batch)
    tasks = [asyncio.create_task(subscriber.read()) for subscriber in subscribers]
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    assert line.strip() == "start", line
    cpu_start = time.process_time()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    assert line.strip() == "done", line
    deadline = time.monotonic() + 120  # a busy server may still be sending
    while time.monotonic() < deadline:
        if all(len(s.received) >= events or s.closed for s in subscribers):
            break
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu_start
    arrivals: dict[str, list[float]] = {}
    for subscriber in subscribers:
        for body, at in subscriber.received.items():
            arrivals.setdefault(body, []).append(at)
    report = {
        "arrivals": arrivals,
        "cpu": cpu,
        "closed": sum(subscriber.closed for subscriber in subscribers),
    }
    print(json.dumps(report), flush=True)
    for subscriber in subscribers:
        await subscriber.socket.close()
    for task in tasks:
        task.cancel()


# The coordinating process -------------------------------------------------------------------


def start_client(url: str, count: int, events: int, deflate: bool) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.subscriptions.run", "--client", url]
    command += ["--count", str(count), "--events", str(events)]
    if deflate:
        command.append("--deflate")
    env = dict(os.environ, CALLBOX_BENCH_SUBSCRIPTIONS_KEY=API_KEY)
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def tell(clients: list[subprocess.Popen[str]], line: str) -> None:
    for client in clients:
        assert client.stdin is not None
        client.stdin.write(line + "\n")
        client.stdin.flush()


async def read_line(client: subprocess.Popen[str]) -> str:
    assert client.stdout is not None
    return await asyncio.get_running_loop().run_in_executor(None, client.stdout.readline)


async def measure(variant: Variant, count: int, events: int, rate: float, per_client: int) -> Round:
    assert variant.process is not None
    pid = variant.process.pid
    clients_needed = max(1, math.ceil(count / per_client))
    result = Round(variant.name, count, events, clients_needed)
    gc.collect()
    await asyncio.sleep(1.0)
    result.rss_before_kib = rss_kib(pid)
    ws_url = variant.base.replace("http://", "ws://") + "/graphql"
    shares = [count // clients_needed + (i < count % clients_needed) for i in range(clients_needed)]
    clients = [start_client(ws_url, share, events, variant.deflate) for share in shares]
    try:
        for client in clients:
            line = await read_line(client)
            assert line.strip() == "ready", f"client failed: {line!r}"
        await asyncio.sleep(2.0)  # every subscription started, the server idle
        result.rss_idle_kib = rss_kib(pid)

        sent: dict[str, float] = {}
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        tell(clients, "start")
        cpu_start, wall_start = cpu_seconds(pid), time.monotonic()
        async with httpx.AsyncClient(base_url=variant.base, timeout=300) as http:
            for index in range(events):
                body = f"bench {count} {index} {secrets.token_hex(4)}"
                payload = {
                    "id": secrets.token_hex(16),
                    "source_number": f"0770090{index % 10_000:04d}",
                    "destination_number": "+447700900999",
                    "message": body,
                    "date_received": "2026-11-20T10:00:00.000000Z",
                }
                started = time.monotonic()
                sent[body] = started
                for _ in range(10):  # a 503 (pool wait timed out) is retried: not stored
                    response = await http.post("/hooks/notify", json=payload, headers=headers)
                    if response.status_code != 503:
                        break
                    result.retried += 1
                assert response.status_code == 200, response.text
                await asyncio.sleep(max(0.0, started + 1 / rate - time.monotonic()))
        tell(clients, "done")
        reports = [json.loads(await read_line(client)) for client in clients]
    finally:
        for client in clients:
            try:
                client.wait(timeout=60)
            except subprocess.TimeoutExpired:
                client.kill()
    arrivals: dict[str, list[float]] = {}
    for report in reports:
        for body, times in report["arrivals"].items():
            arrivals.setdefault(body, []).extend(times)
        result.client_cpu += report["cpu"]
        result.closed += report["closed"]
    last_arrival = max((max(times) for times in arrivals.values()), default=time.monotonic())
    wall = max(last_arrival - wall_start, 1e-9)
    result.server_cpu_seconds = cpu_seconds(pid) - cpu_start
    result.server_cpu = result.server_cpu_seconds / max(time.monotonic() - wall_start, 1e-9)
    result.client_cpu /= wall
    for body, started in sent.items():
        times = arrivals.get(body, [])
        result.missing += count - len(times)
        result.latencies_ms += [(arrival - started) * 1000 for arrival in times]
        if times:
            result.last_ms.append((max(times) - started) * 1000)
    await asyncio.sleep(1.0)
    return result


def start_callbox(variant: Variant, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLBOX_")}
    env.update(CALLBOX_DATABASE_URL=variant.database_url, CALLBOX_CONFIG=str(config))
    if variant.app_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [variant.app_dir, env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "callbox", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


async def wait_ready(base: str, log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(600):
            try:
                if (await http.get(f"{base}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"callbox serve was not ready in 120 s:\n{log_tail(log)}")


def log_tail(log: Path) -> str:
    return log.read_text()[-2000:]


async def main_async(args: argparse.Namespace) -> list[Round]:
    server_url = os.environ.get(
        "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    variants: list[Variant] = args.variant or [Variant("this tree", None, False)]
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "callbox.toml"
        config.write_text(CONFIG)
        logs = Path(directory)
        try:
            for variant in variants:
                variant.database_url = await fresh_database(server_url)
                port = free_port()
                variant.process = start_callbox(variant, config, port, logs / variant.name)
                variant.base = f"http://127.0.0.1:{port}"
            for variant in variants:
                await wait_ready(variant.base, logs / variant.name)
            for _ in range(args.rounds):
                for count in args.counts:
                    for variant in variants:
                        result = await measure(
                            variant, count, args.events, args.rate, args.per_client
                        )
                        rounds.append(result)
                        print_round(result, file=sys.stderr)
        finally:
            for variant in variants:
                if variant.process is not None:
                    variant.process.terminate()
                    variant.process.wait(timeout=30)
                if variant.database_url:
                    await drop_database(server_url, variant.database_url)
    return rounds


HEADER = (
    "| variant | subscribers | client processes | events | samples | p50 ms | p99 ms |"
    " p99 last ms | missing | server CPU | server CPU ms per event | clients' CPU |"
    " KiB per idle subscriber | POSTs retried |"
)


def print_round(result: Round, file: object = sys.stdout) -> None:
    latencies = result.latencies_ms or [float("nan")]
    line = (
        f"| {result.variant} | {result.subscribers:>5} | {result.clients} | {result.events:>4} |"
        f" {len(result.latencies_ms):>7} | {statistics.median(latencies):7.1f} |"
        f" {percentile(latencies, 0.99):7.1f} |"
        f" {percentile(result.last_ms or [float('nan')], 0.99):8.1f} | {result.missing:>6} |"
        f" {result.server_cpu:4.0%} | {result.server_cpu_seconds * 1000 / result.events:6.1f} |"
        f" {result.client_cpu:4.0%} |"
        f" {result.per_subscriber_kib:6.1f} | {result.retried} |"
    )
    print(line, file=file)  # type: ignore[call-overload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100, help="callbacks per round")
    parser.add_argument("--rate", type=float, default=10, help="callbacks per second")
    parser.add_argument(
        "--counts",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1000, 5000],
        help="subscriber counts, comma-separated",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds (variants interleaved)")
    parser.add_argument(
        "--per-client", type=int, default=1250, help="subscribers per client process"
    )
    parser.add_argument(
        "--variant",
        type=Variant.parse,
        action="append",
        help="NAME=APP_DIR[:deflate] (repeatable; APP_DIR empty: this tree)",
    )
    # A client process (started by the coordinating one).
    parser.add_argument("--client", metavar="WS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--deflate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_main(args.client, args.count, args.events, args.deflate))
        return
    rounds = asyncio.run(main_async(args))
    print(
        f"\ncallbox serve, 1 worker; {args.events} Notify callbacks per round at {args.rate:g}/s;"
        " latency from before the POST to the subscriber having the event"
    )
    print(HEADER)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in rounds:
        print_round(result)


if __name__ == "__main__":
    main()
