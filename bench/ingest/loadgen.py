"""A small HTTP/1.1 load generator for Notify callbacks that records when each one was answered.

wrk cannot say when a given request was acknowledged, which apply lag needs, and it paces by
waiting after each answer (a slow server slows the load). This one keeps persistent
connections (keep-alive, one request at a time each) and has two modes:

- ``paced``: an open loop at a fixed average rate. Send times are drawn in advance
  (exponential gaps, as from independent senders); a request waits for a free connection
  if all are busy, and its latency counts from its planned send time, so a server that
  falls behind shows in the latency instead of slowing the load (as wrk2 does).
- ``burst``: every request queued at once and sent as fast as the connections allow;
  latency counts from the actual send.

It runs in the harness's own process on uvloop, with raw asyncio streams: a few tens of
microseconds of CPU per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

TIMEOUT = 10.0
"""Seconds before a request counts as an error, as wrk's ``--timeout 10s``."""


@dataclass
class LoadResult:
    planned: int
    ok: int = 0
    non_200: int = 0
    errors: int = 0
    unsent: int = 0
    """Planned but not sent before the deadline (the server fell that far behind)."""
    seconds: float = 0.0
    """From the first planned send to the last answer."""
    latencies: list[float] = field(default_factory=list)
    """Seconds, of the 200 answers."""
    acks: list[tuple[str, datetime]] = field(default_factory=list)
    """(request id, wall-clock time of the 200 answer)."""
    client_cpu_s: float = 0.0
    """CPU seconds of the load generator's process (to show it was not the bottleneck)."""

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    @property
    def client_ms(self) -> float:
        """The load generator's CPU milliseconds per answered request."""
        return self.client_cpu_s * 1000 / self.ok if self.ok else float("nan")

    @property
    def max_ms(self) -> float:
        return max(self.latencies, default=float("nan")) * 1000


def notify_request(host: str, port: int, path: str, token: str) -> Callable[[str, int], bytes]:
    """A Notify delivery receipt with id ``request_id`` (the body of ``notify.lua``)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n"
    )

    def build(request_id: str, sequence: int) -> bytes:
        body = (
            f'{{"id":"{request_id}","reference":"bench","to":"+4477009{sequence % 10000:05d}",'
            '"status":"delivered","notification_type":"sms",'
            '"created_at":"2026-11-22T10:00:00.000000Z",'
            '"completed_at":"2026-11-22T10:00:05.000000Z",'
            '"sent_at":"2026-11-22T10:00:01.000000Z"}'
        ).encode()
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    return build


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str,
    port: int,
    queue: asyncio.Queue[tuple[float | None, int] | None],
    build: Callable[[str, int], bytes],
    run_id: str,
    result: LoadResult,
) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (item := await queue.get()) is not None:
            planned, sequence = item
            request_id = f"{run_id}-{sequence:09d}"
            sent = loop.time()
            try:
                async with asyncio.timeout(TIMEOUT):
                    status = await _exchange(reader, writer, build(request_id, sequence))
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            finally:
                queue.task_done()
            if status != 200:
                result.non_200 += 1
                continue
            answered = loop.time()
            result.ok += 1
            result.latencies.append(answered - (planned if planned is not None else sent))
            result.acks.append((request_id, datetime.now(UTC)))
    finally:
        writer.close()


async def drive(
    host: str,
    port: int,
    build: Callable[[str, int], bytes],
    *,
    connections: int,
    count: int,
    rate: float | None,
    deadline: float | None = None,
) -> LoadResult:
    """Send ``count`` requests over ``connections`` connections: paced at ``rate`` per second,
    or all at once (a burst) when ``rate`` is None. Planned sends still queued ``deadline``
    seconds after the start are dropped (counted as unsent)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float | None, int] | None] = asyncio.Queue()
    result = LoadResult(planned=count)
    run_id = "load-" + secrets.token_hex(6)
    workers = [
        asyncio.create_task(_connection(host, port, queue, build, run_id, result))
        for _ in range(connections)
    ]
    await asyncio.sleep(0.2)  # let the connections open
    start = loop.time()
    cpu_start = time.process_time()
    if rate is None:
        for sequence in range(count):
            queue.put_nowait((None, sequence))
    else:
        randomness = random.Random(count)
        planned = start
        for sequence in range(count):
            planned += randomness.expovariate(rate)
            wait = planned - loop.time()
            if wait > 0.001:
                await asyncio.sleep(wait)
            queue.put_nowait((planned, sequence))
    if deadline is not None:
        remaining = max(0.0, start + deadline - loop.time())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await queue.join()
        while not queue.empty():
            queue.get_nowait()
            result.unsent += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = loop.time() - start
    result.client_cpu_s = time.process_time() - cpu_start
    return result
