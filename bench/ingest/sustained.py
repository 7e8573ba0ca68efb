"""Apply-lag runs against one Callbox server: the sustained rate and the burst.

- ``search``: paced Notify load (``loadgen``, open loop) in short steps, binary search on the
  rate, then one long run (60 s by default) at the best rate found, confirmed or stepped
  down. A step passes when every callback is answered 200, the acknowledgement p99 (from
  the planned send time) and the apply-lag p99 are both under 1 s, and every callback is
  applied afterwards; a failed step names what failed.
- ``burst``: N Notify callbacks queued at once: acknowledged? latencies, then the time
  until all are applied.

While a step runs, the backlog (stored, not yet applied) is sampled twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg

from bench.ingest import lag
from bench.ingest.cpu import CpuMeter
from bench.ingest.loadgen import LoadResult, drive, notify_request

LIMIT_MS = 1000.0


@dataclass
class Target:
    """A running Callbox server with a Notify receiver."""

    host: str
    port: int
    path: str
    token: str
    database_url: str
    server_pid: int
    receiver: str = "notify"


@dataclass
class Step:
    rate: float
    seconds: float
    load: LoadResult
    lag: lag.AckLag
    max_backlog: int
    applied_after_s: float
    """Seconds waited after the last answer until the backlog was empty."""
    server_ms: float | None = None
    postgres_ms: float | None = None

    @property
    def failures(self) -> list[str]:
        """Why the step did not pass (empty when it did)."""
        lag_p99 = self.lag.lag.p99_ms
        reasons = [
            f"{self.load.planned - self.load.ok:,} not answered 200"
            if self.load.ok != self.load.planned
            else "",
            "ack p99" if not self.load.percentile_ms(0.99) < LIMIT_MS else "",
            "lag p99" if lag_p99 is None or lag_p99 >= LIMIT_MS else "",
            "not all applied"
            if self.lag.lag.applied != self.lag.lag.rows or self.lag.missing
            else "",
        ]
        return [reason for reason in reasons if reason]

    @property
    def passed(self) -> bool:
        return not self.failures

    def row(self) -> str:
        load = self.load
        cpu = (
            f"- / - / {load.client_ms:.2f}"
            if self.server_ms is None or self.postgres_ms is None
            else f"{self.server_ms:.2f} / {self.postgres_ms:.2f} / {load.client_ms:.2f}"
        )
        return (
            f"| {self.rate:,.0f} | {self.seconds:.0f} | {load.rate:,.0f} "
            f"| {load.ok:,}/{load.planned:,} | {load.percentile_ms(0.5):.1f} "
            f"| {load.percentile_ms(0.99):.1f} | {self.lag.lag.cells()} | {self.max_backlog:,} "
            f"| {cpu} | {'yes' if self.passed else 'no: ' + ', '.join(self.failures)} |"
        )


STEP_HEADER = (
    "| target req/s | s | answered req/s | 200s | ack p50 ms | ack p99 ms"
    " | lag p50 / p99 / max ms | max backlog | CPU ms/req server / PG / load generator | passed |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |"
)


async def _sample_backlog(target: Target, after_id: int, peak: list[int]) -> None:
    connection = await asyncpg.connect(target.database_url)
    try:
        while True:
            peak[0] = max(peak[0], await lag.backlog(connection, target.receiver, after_id))
            await asyncio.sleep(0.5)
    finally:
        await connection.close()


DRAIN_LIMIT_S = 600.0
"""How long a step waits for an earlier step's backlog to be applied before it starts."""


async def _last_id(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return await lag.last_id(connection)
    finally:
        await connection.close()


async def paced_step(
    target: Target, rate: float, seconds: float, connections: int, *, measure_cpu: bool = False
) -> Step:
    build = notify_request(target.host, target.port, target.path, target.token)
    # A step starts with nothing left to apply: an earlier step that outran the applier
    # would otherwise hand its backlog on, and fail the next one.
    await lag.wait_applied(target.database_url, target.receiver, 0, limit_s=DRAIN_LIMIT_S)
    after_id = await _last_id(target.database_url)
    meter = CpuMeter(target.server_pid, target.database_url)
    if measure_cpu:
        await meter.start()
    peak = [0]
    sampler = asyncio.create_task(_sample_backlog(target, after_id, peak))
    load = await drive(
        target.host,
        target.port,
        build,
        connections=connections,
        count=max(1, round(rate * seconds)),
        rate=rate,
        deadline=seconds + 5,
    )
    waited = await lag.wait_applied(target.database_url, target.receiver, after_id, limit_s=60)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    step = Step(
        rate=rate,
        seconds=seconds,
        load=load,
        lag=await lag.ack_lag(target.database_url, target.receiver, after_id, load.acks),
        max_backlog=peak[0],
        applied_after_s=waited,
    )
    if measure_cpu:
        await meter.stop()
        step.server_ms, step.postgres_ms = meter.per_request_ms(load.ok)
    return step


@dataclass
class Search:
    steps: list[Step]
    final: Step | None
    """The long run that confirmed the rate, or None when no rate passed."""
    ceiling_hit: bool
    """Every probe and the first long run passed: the limit may be above the range searched."""


async def search(
    target: Target,
    hint: float,
    *,
    probes: int,
    probe_seconds: float,
    final_seconds: float,
    connections: int,
) -> Search:
    """Binary search on (0, 1.2 x ``hint``] with short probes, then a long run at the best
    rate; if the long run fails, step down (at most three times) to 85 % of the rate or to
    90 % of what the failed run got answered, whichever is lower."""
    low, high = 0.0, 1.2 * hint
    steps: list[Step] = []
    for _ in range(probes):
        rate = (low + high) / 2
        step = await paced_step(target, rate, probe_seconds, connections)
        steps.append(step)
        print(step.row(), flush=True)
        if step.passed:
            low = rate
        else:
            high = rate
    probes_passed = all(step.passed for step in steps)
    rate = low
    final: Step | None = None
    for _ in range(4):
        if rate <= 0:
            break
        step = await paced_step(target, rate, final_seconds, connections, measure_cpu=True)
        steps.append(step)
        print(step.row(), flush=True)
        if step.passed:
            final = step
            break
        rate = min(0.85 * rate, 0.9 * step.load.ok / step.seconds)
    # Every probe and the first long run passed: the limit may lie above the range searched.
    ceiling_hit = probes_passed and final is not None and final is steps[probes]
    return Search(steps=steps, final=final, ceiling_hit=ceiling_hit)


@dataclass
class Burst:
    load: LoadResult
    lag: lag.AckLag
    applied_after_s: float
    """From the last acknowledgement to the last application (0 when applied in the request)."""
    server_ms: float
    postgres_ms: float

    @property
    def all_applied(self) -> bool:
        return self.lag.missing == 0 and self.lag.lag.applied == self.lag.lag.rows


async def burst(target: Target, count: int, connections: int) -> Burst:
    build = notify_request(target.host, target.port, target.path, target.token)
    # A step starts with nothing left to apply: an earlier step that outran the applier
    # would otherwise hand its backlog on, and fail the next one.
    await lag.wait_applied(target.database_url, target.receiver, 0, limit_s=DRAIN_LIMIT_S)
    after_id = await _last_id(target.database_url)
    meter = CpuMeter(target.server_pid, target.database_url)
    await meter.start()
    load = await drive(
        target.host, target.port, build, connections=connections, count=count, rate=None
    )
    await lag.wait_applied(target.database_url, target.receiver, after_id, limit_s=300)
    await meter.stop()
    measured = await lag.ack_lag(target.database_url, target.receiver, after_id, load.acks)
    last_ack = max((acked for _, acked in load.acks), default=None)
    applied_after = (
        max(0.0, (measured.last_applied - last_ack).total_seconds())
        if measured.last_applied is not None and last_ack is not None
        else float("nan")
    )
    server_ms, postgres_ms = meter.per_request_ms(load.ok)
    return Burst(
        load=load,
        lag=measured,
        applied_after_s=applied_after,
        server_ms=server_ms,
        postgres_ms=postgres_ms,
    )


async def warm_up(target: Target, connections: int) -> None:
    """A short burst, not counted: imports, pools and caches settle."""
    build = notify_request(target.host, target.port, target.path, target.token)
    await drive(target.host, target.port, build, connections=connections, count=2000, rate=None)
    await lag.wait_applied(target.database_url, target.receiver, 0, limit_s=60)
