"""Subscription benchmark: POST-to-subscriber latency with 1, 100 and 1,000 subscribers on one
Callbox process, and the memory each idle subscriber costs.

    uv run python -m bench.subscriptions.run [--events 100] [--rate 20] [--counts 1,100,1000]

Starts ``callbox serve`` (one worker) on a fresh database on CALLBOX_BENCH_SERVER_URL (default:
the PostgreSQL at 127.0.0.1:5432). For each subscriber count it opens that many WebSocket
connections (graphql-transport-ws, one ``messageEvents`` subscription each, from this
process), measures the server's resident memory before and after (idle), then posts Notify
inbound callbacks at a fixed rate. Latency is from just before the POST is sent to when a
subscriber has the event (every subscriber, every event: one sample each); "last" is when the
last subscriber has it. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
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
API_KEY = "bench-key-" + secrets.token_hex(16)
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


@dataclass
class Round:
    subscribers: int
    events: int
    latencies_ms: list[float] = field(default_factory=list)
    last_ms: list[float] = field(default_factory=list)
    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    missing: int = 0

    @property
    def per_subscriber_kib(self) -> float:
        return (self.rss_idle_kib - self.rss_before_kib) / self.subscribers


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Subscriber:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.received: dict[str, float] = {}  # message body -> when it arrived
        self.task: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for raw in self.socket:
            now = time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "next":
                body = message["payload"]["data"]["messageEvents"]["message"]["body"]
                self.received[body] = now
            elif message["type"] == "ping":
                await self.socket.send('{"type": "pong"}')


async def open_subscriber(url: str) -> Subscriber:
    socket = await websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=None,
        open_timeout=60,
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {API_KEY}"}})
    )
    ack = json.loads(await socket.recv())
    assert ack["type"] == "connection_ack", ack
    await socket.send(json.dumps(SUBSCRIBE))
    return Subscriber(socket)


async def measure(base: str, pid: int, count: int, events: int, rate: float) -> Round:
    result = Round(count, events)
    gc.collect()
    await asyncio.sleep(1.0)
    result.rss_before_kib = rss_kib(pid)
    ws_url = base.replace("http://", "ws://") + "/graphql"
    subscribers: list[Subscriber] = []
    for start in range(0, count, 50):  # 50 handshakes at a time
        batch = [open_subscriber(ws_url) for _ in range(start, min(count, start + 50))]
        subscribers += await asyncio.gather(*batch)
    for subscriber in subscribers:
        subscriber.task = asyncio.create_task(subscriber.read())
    await asyncio.sleep(2.0)  # every subscription started, the server idle
    result.rss_idle_kib = rss_kib(pid)

    sent: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for index in range(events):
            body = f"bench {count} {index} {secrets.token_hex(4)}"
            payload = {
                "id": secrets.token_hex(16),
                "source_number": f"0770090{index % 10_000:04d}",
                "destination_number": "+447700900999",
                "message": body,
                "date_received": "2026-11-20T10:00:00.000000Z",
            }
            started = time.perf_counter()
            sent[body] = started
            response = await http.post("/hooks/notify", json=payload, headers=headers)
            assert response.status_code == 200, response.text
            await asyncio.sleep(max(0.0, started + 1 / rate - time.perf_counter()))
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        if all(len(subscriber.received) >= events for subscriber in subscribers):
            break
        await asyncio.sleep(0.1)
    for body, started in sent.items():
        arrivals = [s.received[body] for s in subscribers if body in s.received]
        result.missing += count - len(arrivals)
        result.latencies_ms += [(arrival - started) * 1000 for arrival in arrivals]
        if arrivals:
            result.last_ms.append((max(arrivals) - started) * 1000)
    for subscriber in subscribers:
        await subscriber.socket.close()
        if subscriber.task is not None:
            subscriber.task.cancel()
    await asyncio.sleep(1.0)
    return result


def start_callbox(database_url: str, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLBOX_")}
    env.update(CALLBOX_DATABASE_URL=database_url, CALLBOX_CONFIG=str(config))
    return subprocess.Popen(
        [sys.executable, "-m", "callbox", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def server_pid(process: subprocess.Popen[bytes]) -> int:
    """The process answering requests (with one worker, uvicorn serves in the process it
    was started in)."""
    return process.pid


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(300):
            try:
                if (await http.get(f"{base}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("callbox serve was not ready in 60 s")


async def main_async(args: argparse.Namespace) -> list[Round]:
    server_url = os.environ.get(
        "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    database_url = await fresh_database(server_url)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "callbox.toml"
        config.write_text(CONFIG)
        port = free_port()
        process = start_callbox(database_url, config, port)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(base)
            for count in args.counts:
                result = await measure(base, server_pid(process), count, args.events, args.rate)
                rounds.append(result)
                print_round(result, file=sys.stderr)
        finally:
            process.terminate()
            process.wait(timeout=30)
    await drop_database(server_url, database_url)
    return rounds


def print_round(result: Round, file: object = sys.stdout) -> None:
    latencies = result.latencies_ms or [float("nan")]
    line = (
        f"| {result.subscribers:>5} | {result.events:>6} | {len(result.latencies_ms):>8} |"
        f" {statistics.median(latencies):7.1f} | {percentile(latencies, 0.99):7.1f} |"
        f" {percentile(result.last_ms or [float('nan')], 0.99):8.1f} | {result.missing:>7} |"
        f" {result.per_subscriber_kib:8.1f} |"
    )
    print(line, file=file)  # type: ignore[call-overload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100, help="callbacks per round")
    parser.add_argument("--rate", type=float, default=20, help="callbacks per second")
    parser.add_argument(
        "--counts",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 100, 1000],
        help="subscriber counts, comma-separated",
    )
    args = parser.parse_args()
    rounds = asyncio.run(main_async(args))
    print(
        f"\ncallbox serve, 1 worker; {args.events} Notify callbacks per round at {args.rate:g}/s;"
        " latency from before the POST to the subscriber having the event"
    )
    print(
        "| subscribers | events | samples | p50 ms | p99 ms | p99 last ms | missing |"
        " KiB per idle subscriber |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in rounds:
        print_round(result)


if __name__ == "__main__":
    main()
